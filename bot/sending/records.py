"""What the domain reads back from the store: plain records, defined here so that the domain never
imports the store (as with the gateway: the domain defines what it needs, the adapter provides it)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from bot.sending.outcomes import OUTCOMES


@dataclass(frozen=True)
class SendRecord:
    id: int
    view_id: str  # the draft it came from (or resend-of-N): recorded once
    user_id: str
    channel_id: str
    message: str
    sender: str | None
    gif_url: str | None
    media_name: str | None
    media_type: str | None
    media_note: str
    dry_run: int
    resend_of: int | None
    created_at: str
    finished_at: str | None
    state: str  # SEND_SCHEDULED until due, SEND_OPEN while batches may run, SEND_DONE once every number has an
    # outcome, SEND_CANCELLED when cancelled before its time
    total_contacts: int  # numbers to send (suppressed and invalid ones excluded)
    duplicates: int
    batches_total: int
    batches_done: int
    resumed: int
    report_channel: str | None  # where the channel message went (the channel, or a DM)
    report_ts: str | None
    report_note: str  # why the report went elsewhere, if it did
    images_ok: int  # 0 once Slack refused the message's image blocks
    reported_at: str | None  # when Slack accepted the thread summary
    purged_at: str | None
    stop_kind: str | None
    stop_message: str | None
    n_queued: int
    n_invalid: int
    n_rejected: int
    n_unsubscribed: int
    n_suppressed: int
    n_unconfirmed: int
    n_failed: int
    n_unknown: int
    n_expired: int
    review_suppressed: int  # numbers left out at review because they were on the suppression list
    n_delivered: int  # of the queued: Cellcast's report says delivered
    n_undelivered: int  # of the queued: a final status other than delivered
    delivery_done_at: str | None  # when the final delivery tally was made (all final, or the window ran out)
    send_at: float | None  # a scheduled send's time (epoch seconds); None: sent when confirmed
    schedule_tz: str | None  # the zone its sender picked the time in, to show it as they see it
    cancelled_by: str | None
    cancelled_at: str | None
    medium: str | None  # SMS for an answer sent as text; MMS (or None, sends before answers existed) otherwise
    answer_to: int | None  # the reply this send answers (one number, posted in the reply's thread)
    approval_id: int | None  # the approval request it was sent on

    @property
    def delivery_pending(self) -> int:
        return max(0, self.n_queued - self.n_delivered - self.n_undelivered)

    def count(self, outcome: str) -> int:
        return getattr(self, f"n_{outcome}")

    @property
    def entries(self) -> int:
        """Everything the send accounts for: numbers to send, plus entries refused or suppressed at review."""
        return self.total_contacts + self.n_invalid + self.review_suppressed

    @property
    def settled(self) -> int:
        return sum(self.count(o) for o in OUTCOMES)


SEND_FIELDS = [f.name for f in fields(SendRecord)]
SEND_COUNT_FIELDS = {f.name for f in fields(SendRecord) if f.type == "int"}


@dataclass(frozen=True)
class ClaimedBatch:
    id: int
    send_id: int
    seq: int
    contacts: list[str]
    message: str | None = None  # a personal send's text for these numbers; None: the send's message


@dataclass(frozen=True)
class ProblemGroup:
    outcome: str
    reason: str
    count: int
    examples: list[str]


INBOUND, OUTBOUND = "in", "out"  # a recipient's reply; an answer to them


@dataclass(frozen=True)
class Exchange:
    """One message of a conversation with a recipient."""

    number: str
    at: str
    direction: str  # INBOUND or OUTBOUND
    text: str
    by: str | None  # who answered (OUTBOUND)
    outcome: str | None  # QUEUED when the answer reached the gateway; None otherwise (or not yet)
