"""Guardrails before money is spent: a second person's approval above a size, and a daily limit per sender.

The daily limit counts the numbers of a person's sends recorded since local midnight (in the
organisation's zone); cancelled sends do not count. A send over the limit is refused on the review, or,
when approvals are on, needs an approver's OK whatever its size. Admins are exempt unless the limit is set
for them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Assessment:
    approval: str | None = None  # why this send needs an approver's OK; None: it does not
    problem: str | None = None  # why it cannot be sent at all
    left_today: int | None = None  # numbers this sender may still send today, before this send; None: no limit


@dataclass(frozen=True)
class Guardrails:
    approval_above: int | None
    daily_limit: int | None
    limit_admins: bool
    tz: ZoneInfo

    @property
    def approvals_on(self) -> bool:
        return self.approval_above is not None

    def day_start(self, now: float) -> float:
        """Local midnight of the day ``now`` falls in (a day may be 23 or 25 hours long: the zone says)."""
        local = datetime.fromtimestamp(now, self.tz)
        return datetime.combine(local.date(), time(0), self.tz).timestamp()

    def assess(self, count: int, used_today: int, is_admin: bool) -> Assessment:
        limited = self.daily_limit is not None and (self.limit_admins or not is_admin)
        left = max(0, self.daily_limit - used_today) if limited else None
        approval = None
        if self.approval_above is not None and count > self.approval_above:
            approval = f"it goes to more than {self.approval_above:,} numbers (MMS_APPROVAL_ABOVE)"
        if left is not None and count > left:
            over = (
                f"it is more than the {left:,} numbers left of the {self.daily_limit:,} a sender may send today "
                f"({used_today:,} sent since midnight, MMS_DAILY_LIMIT)"
            )
            if not self.approvals_on:
                return Assessment(
                    problem=f"This send cannot go out today: {over}. Send fewer, or tomorrow.", left_today=left
                )
            approval = approval or over
        return Assessment(approval=approval, left_today=left)
