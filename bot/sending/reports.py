"""What people must be told, as the outbox keeps it: the kinds of report, their order and pacing, their
keys, and what each carries. No Slack here: the reporter (bot/slack/reporting/) decides how each is shown.

A report is due under a key: making the same key due again while it waits keeps one report (a send's
progress, its CSV), and a key already delivered is re-armed. Keys are built here and nowhere else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum


class ReportKind(StrEnum):
    """In delivery order: a send's reports go out in this order (a later one needs the earlier ones)."""

    POST = "post"  # the channel message (everything else goes in its thread)
    IMAGE = "image"  # the image as it was sent
    SCHEDULE = "schedule"  # a scheduled send's channel message: it started, or was cancelled
    PROGRESS = "progress"  # the channel message's progress line
    SUMMARY = "summary"  # the thread summary (and the send marked reported)
    CSV = "csv"  # every number and its outcome, as a file in the thread
    DELIVERY = "delivery"  # the channel message's delivery counts
    NOTICE = "notice"  # a line in the thread, or a DM when the report belongs to no send
    REPLY = "reply"  # a recipient's reply
    SUPPRESSION_CSV = "suppression_csv"  # the suppression list, by DM to an admin who asked
    SEND_CSV = "send_csv"  # one send's CSV, by DM to a person who asked
    APPROVAL = "approval"  # an approval request's message(s), posted or updated to show its decision
    STEP = "step"  # a Workflow Builder step's review in its channel, then the step completed (or failed)

    @property
    def order(self) -> int:
        return list(ReportKind).index(self)

    @property
    def pacing(self) -> float:
        """Seconds between two deliveries of one key at least: Slack paces edits of one message."""
        return _PACING.get(self, 0.0)


_PACING = {ReportKind.PROGRESS: 2.0, ReportKind.DELIVERY: 10.0}


# -- keys ---------------------------------------------------------------------------------------


def send_key(kind: ReportKind, send_id: int) -> str:
    """The one report of this kind a send has (its post, image, progress, summary, CSV, delivery counts)."""
    return f"{kind}:{send_id}"


def delivery_final_key(send_id: int) -> str:
    return f"delivery_final:{send_id}"


def corrected_key(batch_id: int) -> str:
    return f"corrected:{batch_id}"


def confirmed_key(batch_id: int, confirmed: int) -> str:
    return f"confirmed:{batch_id}:{confirmed}"


def reply_key(reply_id: int) -> str:
    return f"reply:{reply_id}"


def stranded_check_key(draft_id: str) -> str:
    return f"check:{draft_id}"


def answer_refused_key(answer_key: str) -> str:
    """An answer whose image could not be used: said once in the thread."""
    return f"answer_refused:{answer_key}"


def approval_key(approval_id: int) -> str:
    return f"approval:{approval_id}"


def approval_notice_key(approval_id: int, state: str) -> str:
    """The requester told of a request's state once (waiting, then its decision)."""
    return f"approval_notice:{approval_id}:{state}"


def step_key(draft_id: str) -> str:
    return f"step:{draft_id}"


def asked_key(kind: ReportKind, user_id: str, at: float, send_id: int | None = None) -> str:
    """A file a person asked for: a new report each time they ask."""
    return f"{kind}:{'' if send_id is None else f'{send_id}:'}{user_id}:{at}"


# -- what each carries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """A line for people: in the send's thread, else in ``channel``, else by DM to ``user_id``."""

    text: str
    user_id: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class ReplyReport:
    reply_id: int
    channel: str | None = None  # for a reply that matches no send: MMS_REPLIES_CHANNEL


@dataclass(frozen=True)
class ApprovalReport:
    approval_id: int


@dataclass(frozen=True)
class StepReport:
    draft_id: str


@dataclass(frozen=True)
class FileFor:
    """A CSV by DM to the person who asked (the suppression list, or one send's numbers)."""

    user_id: str
    send_id: int | None = None


# The other kinds carry nothing: they are read from the store when delivered.
Payload = Notice | ReplyReport | FileFor | ApprovalReport | StepReport
_PAYLOADS: dict[ReportKind, type] = {
    ReportKind.NOTICE: Notice,
    ReportKind.REPLY: ReplyReport,
    ReportKind.SUPPRESSION_CSV: FileFor,
    ReportKind.SEND_CSV: FileFor,
    ReportKind.APPROVAL: ApprovalReport,
    ReportKind.STEP: StepReport,
}


def payload_record(payload: Payload | None) -> dict | None:
    """As the outbox keeps it (JSON); None keeps what a report already due carries."""
    return None if payload is None else dataclasses.asdict(payload)


def payload_of(kind: ReportKind, record: dict | None) -> Payload | None:
    cls = _PAYLOADS.get(kind)
    if cls is None:
        return None
    fields = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in (record or {}).items() if k in fields})


@dataclass(frozen=True)
class Report:
    """A report claimed for delivery."""

    id: int
    send_id: int | None
    kind: ReportKind
    attempts: int
    payload: Payload | None
    wanted: int = 0  # how often it had been made due when claimed (see the outbox's ``report_done``)
