"""Cellcast's delivery statuses, and what a send's tally says once polling ends."""

from __future__ import annotations

DELIVERED = frozenset({"delivered"})
NOT_DELIVERED = frozenset({"failed", "blocked", "rejected", "expired", "canceled", "cancelled", "dead"})
IN_FLIGHT = frozenset({"queued", "scheduled", "sent"})
CONFIRMED = "queued (confirmed by Cellcast's report)"


def is_final(status: str) -> bool:
    return status in DELIVERED or status in NOT_DELIVERED


def tally(delivered: int, undelivered: int, queued: int, hours: float) -> str:
    """The thread's last word on a send's delivery."""
    pending = max(0, queued - delivered - undelivered)
    if delivered == undelivered == 0:
        return (
            f":mailbox_with_no_mail: *Delivery not reported.* Cellcast sent no delivery report for this send within "
            f"{hours:g} hours; “queued” is as far as the bot knows."
        )
    parts = [f"{delivered:,} delivered", f"{undelivered:,} not delivered"]
    if pending:
        parts.append(f"{pending:,} with no final report after {hours:g} hours")
    return ":mailbox_with_mail: *Delivery:* " + ", ".join(parts) + "."
