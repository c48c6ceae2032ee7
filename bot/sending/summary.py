"""What happened to a send, worked out from what the store recorded.

Progress is read from the counters the store keeps as batches finish (no per-number work); the
full summary adds the problems grouped by reason. The same summary serves a normal finish, a
send resumed after a restart, and a later look-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.sending import outcomes as o
from bot.sending.ports import SummaryStore
from bot.sending.records import ProblemGroup, SendRecord
from bot.sending.states import SEND_DONE


@dataclass
class SendSummary:
    send: SendRecord
    groups: list[ProblemGroup] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.send.state == SEND_DONE

    def count(self, outcome: str) -> int:
        return self.send.count(outcome)

    @property
    def resendable(self) -> int:
        return sum(self.count(outcome) for outcome in o.RESENDABLE)


def progress(store: SummaryStore, send_id: int) -> SendSummary:
    return SendSummary(store.get_send(send_id))


def summarise(store: SummaryStore, send_id: int, examples: int = 5) -> SendSummary:
    return SendSummary(store.get_send(send_id), store.problem_groups(send_id, examples))
