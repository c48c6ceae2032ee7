"""What happened to every number of a send, worked out from what the store recorded.

The same summary serves a normal finish, a send resumed after a restart, and a later look-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.store import FINAL_BATCH_STATES, SendRecord, Store


@dataclass(frozen=True)
class NumberProblem:
    number: str
    reason: str


@dataclass(frozen=True)
class BatchProblem:
    seq: int
    state: str  # "failed" or "unknown"
    kind: str
    reason: str
    numbers: list[str]


@dataclass
class SendSummary:
    send: SendRecord
    batches_total: int
    batches_done: int
    queued: list[tuple[str, str]] = field(default_factory=list)  # (number, message id)
    refused_locally: list[NumberProblem] = field(default_factory=list)
    refused_by_gateway: list[NumberProblem] = field(default_factory=list)
    unsubscribed: list[str] = field(default_factory=list)
    batch_problems: list[BatchProblem] = field(default_factory=list)
    interrupted: int = 0  # batches caught mid-send by a restart

    @property
    def finished(self) -> bool:
        return self.batches_done == self.batches_total

    @property
    def failed_numbers(self) -> list[str]:
        return [n for p in self.batch_problems if p.state == "failed" for n in p.numbers]

    @property
    def unknown_numbers(self) -> list[str]:
        return [n for p in self.batch_problems if p.state == "unknown" for n in p.numbers]


def summarise(store: Store, send_id: int) -> SendSummary:
    send = store.get_send(send_id)
    batches = store.batches(send_id)
    summary = SendSummary(
        send=send,
        batches_total=len(batches),
        batches_done=sum(b.state in FINAL_BATCH_STATES for b in batches),
        refused_locally=[NumberProblem(entry, reason) for entry, reason in send.rejected],
    )
    for batch in batches:
        if batch.state == "queued":
            summary.queued.extend(batch.queued)
            summary.refused_by_gateway.extend(NumberProblem(contact, error) for contact, error, _type in batch.invalid)
            summary.unsubscribed.extend(batch.unsubscribed)
        elif batch.state in ("failed", "unknown"):
            summary.batch_problems.append(BatchProblem(batch.seq, batch.state, batch.error_kind or "", batch.error_message or "", batch.contacts))
            summary.interrupted += batch.error_kind == "interrupted"
    return summary
