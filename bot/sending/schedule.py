"""Sending later: the time a person picked, checked and shown in their zone; quiet hours; and what
happens when a scheduled send falls due (every check made again, one process starting it).

A time is an instant (epoch seconds, as Slack's datetime picker gives it); zones only matter for
showing it and for quiet hours, so a local time that does not exist or happens twice (the changes to
and from daylight saving) never needs resolving: the instant says which.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.sending import outcomes as o
from bot.sending.records import SendRecord
from bot.sending.states import EXPIRED, FAILED

if TYPE_CHECKING:
    from bot.sending.review import Balance  # the review uses this module's checks

log = logging.getLogger(__name__)
UTC_ZONE = ZoneInfo("UTC")


def zone(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    """A zone by its IANA name (Slack's ``tz``), or the fallback for none or one this machine lacks."""
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; using %s", name[:40], fallback.key)
        return fallback


def local(at: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(at, tz)


def describe(at: float, tz: ZoneInfo) -> str:
    """``Tue 3 Dec, 9:00 am AEDT``: the zone named, as it was then (daylight saving or not)."""
    when = local(at, tz)
    hour = when.hour % 12 or 12
    name = when.tzname() or tz.key
    if name[:1] in "+-":  # a zone without an abbreviation: its offset, said as one
        name = f"UTC{name}"
    return f"{when:%a} {when.day} {when:%b}, {hour}:{when:%M} {'am' if when.hour < 12 else 'pm'} {name}"


def how_far(seconds: float) -> str:
    """``in 14 hours``, ``in 25 minutes``, ``in 3 days``: rounded as people say it."""
    if seconds < 90:
        return "in a minute" if seconds > 0 else "now"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"in {minutes} minutes"
    hours = round(seconds / 3600)
    if hours < 48:
        return f"in {hours} hours"
    return f"in {round(seconds / 86400)} days"


GRACE = 60.0  # the picker has minutes: a time in the minute just gone is "now", not "in the past"


def check_send_at(at: float, now: float, max_days: int) -> str | None:
    """Why a picked time cannot be used, for the form, or None."""
    if at < now - GRACE:
        return "That time has passed. Pick a later one, or leave it empty to send now."
    if at > now + max_days * 86400:
        return f"Sends can be scheduled up to {max_days} days ahead (MMS_SCHEDULE_MAX_DAYS). Pick an earlier time."
    return None


def is_now(at: float, now: float) -> bool:
    """A picked time not in the future (within the grace minute) means "send when confirmed"."""
    return at <= now


@dataclass(frozen=True)
class QuietHours:
    """Local hours (in the organisation's zone) when people should not get marketing messages."""

    start: time
    end: time
    tz: ZoneInfo

    def contains(self, at: float) -> bool:
        now = local(at, self.tz).time()
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end  # across midnight: 20:00-08:00

    def describe(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M} {self.tz.key}"


_HOURS = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


def parse_quiet_hours(text: str, tz: ZoneInfo) -> QuietHours | None:
    """``20:00-08:00`` (across midnight) or ``12:00-13:00``; empty is off. ValueError names the form."""
    if not text.strip():
        return None
    match = _HOURS.match(text)
    if not match:
        raise ValueError(f"quiet hours must look like 20:00-08:00 (HH:MM-HH:MM, 24-hour), got {text[:40]!r}")
    start = time(int(match[1]), int(match[2]))
    end = time(int(match[3]), int(match[4]))
    if start == end:
        raise ValueError(f"quiet hours must start and end at different times, got {text[:40]!r}")
    return QuietHours(start, end, tz)


def quiet_warning(at: float, quiet: QuietHours | None, scheduled: bool) -> str | None:
    """A warning for the review when the send goes out in quiet hours; the sender may go on."""
    if quiet is None or not quiet.contains(at):
        return None
    when = f"It goes out at {describe(at, quiet.tz)}" if scheduled else "It would go out now"
    return (
        f"{when}, within quiet hours ({quiet.describe()}): people may not want messages then, and the "
        "Spam Act expects marketing at reasonable hours. Send anyway, or pick another time."
    )


# -- falling due ----------------------------------------------------------------------------------


REVOKED = (
    "Not sent: the person who scheduled it could no longer send MMS when it was due (an admin removed them "
    "from the list)."
)
BALANCE_TOO_LOW = (
    "Not sent: when it was due, the account's MMS balance ({credits:,g} credits) was lower than it needs "
    "(about {needed:,g}). Recharge, then press Send again."
)
TOO_LATE = (
    "Not sent: the bot was not running at its time ({when}) and came back more than {minutes} minute{s} later "
    "(MMS_RESUME_WITHIN), so it did not send this late. Press Send again if it should still go out."
)


@dataclass(frozen=True)
class Settled:
    """What a due send's numbers get instead of being sent: a batch state, an outcome, and why."""

    state: str
    outcome: str
    reason: str


class ScheduleStore(Protocol):
    """What falling due needs of the store (bot/store/schedules.py provides it)."""

    def due_sends(self, limit: int = 50, *, tx=None) -> list[SendRecord]: ...
    def start_scheduled(self, send_id: int, settled: Settled | None = None, *, tx=None) -> bool: ...


class DueSends:
    """Starts the scheduled sends whose time has come, each once whichever process looks first.

    Everything a review checked that can change is checked again: the sender may still send, the balance
    covers it, and it is not too late (a bot down at its time sends when back within ``resume_within``).
    Numbers suppressed since the review are left out by the dispatcher, as for any batch. Start and
    cancel are the same conditional change of the send's row (``scheduled`` → ``open`` or ``cancelled``):
    exactly one wins, on every engine.
    """

    def __init__(
        self,
        store: ScheduleStore,
        *,
        can_send: Callable[[str], bool],
        balance: Callable[[], Balance],
        credits_per_mms: float,
        resume_within: float,
        clock: Callable[[], float],
        zone_of: Callable[[SendRecord], ZoneInfo],
        on_started: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._can_send = can_send
        self._balance = balance
        self._credits_per_mms = credits_per_mms
        self._resume_within = resume_within
        self._clock = clock
        self._zone_of = zone_of
        self._on_started = on_started

    def run(self) -> int:
        """Every half second: the sends now due. Returns how many this process settled or started.

        The balance is read once a round, however many sends fall due together, and what this round starts
        counts against it: two sends that each fit but not together do not both go out."""
        started = 0
        credits = _Credits(self._balance)
        for send in self._store.due_sends():
            settled = self._verdict(send, credits)
            if self._store.start_scheduled(send.id, settled):
                started += 1
                if settled is None:
                    log.info("scheduled send %d is due: sending %d numbers", send.id, send.total_contacts)
                    if not send.dry_run:
                        credits.spend(send.total_contacts * self._credits_per_mms)
                else:
                    log.warning("scheduled send %d is due but not sent (%s)", send.id, settled.state)
        if started:
            self._on_started()
        return started

    def _verdict(self, send: SendRecord, credits: _Credits) -> Settled | None:
        """None: send it. Otherwise what its numbers get instead."""
        late = self._clock() - (send.send_at or 0)
        if late > self._resume_within:
            minutes = round(self._resume_within / 60)
            reason = TOO_LATE.format(
                when=describe(send.send_at or 0, self._zone_of(send)), minutes=minutes, s="s" if minutes != 1 else ""
            )
            return Settled(EXPIRED, o.EXPIRED, reason)
        if not self._can_send(send.user_id):
            return Settled(FAILED, o.FAILED, REVOKED)
        if not send.dry_run:
            left, needed = credits.left(), send.total_contacts * self._credits_per_mms
            if left is not None and left < needed:
                return Settled(FAILED, o.FAILED, BALANCE_TOO_LOW.format(credits=left, needed=needed))
            # Unreadable: sent; the gateway refuses what it cannot charge for, and that refusal is reported.
        return None


class _Credits:
    """One round's balance: read when a send first needs it, less what the round has started since."""

    def __init__(self, read: Callable[[], Balance]) -> None:
        self._read = read
        self._left: float | None = None
        self._known = False

    def left(self) -> float | None:
        if not self._known:
            self._left, self._known = self._read().credits, True
        return self._left

    def spend(self, credits: float) -> None:
        if self._left is not None:
            self._left -= credits
