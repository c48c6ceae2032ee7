"""Scheduled sends: waiting for their time, started once when due, or cancelled before it.

Starting and cancelling are the same conditional change of the send's row (``WHERE state = 'scheduled'``),
so whichever commits first wins and the other changes nothing: two processes falling due together, or a
cancel pressed as the send starts, on either engine (PostgreSQL's row lock makes the second wait and then
find the row changed; SQLite's write lock admits one at a time). What follows the change (batches settled,
the channel message due) is in the same transaction.
"""

from __future__ import annotations

from bot.sending import outcomes as o
from bot.sending.records import SendRecord
from bot.sending.reports import ReportKind, send_key
from bot.sending.schedule import Settled
from bot.sending.states import CANCELLED, PENDING, SEND_CANCELLED, SEND_OPEN, SEND_SCHEDULED
from bot.store import outbox
from bot.store.batches import Batches
from bot.store.engine import Tx
from bot.store.sends import SEND_COLUMNS, record


class Schedules(Batches):
    def due_sends(self, limit: int = 50, *, tx: Tx | None = None) -> list[SendRecord]:
        """Scheduled sends whose time has come, the earliest first (an index on state and send_at)."""
        with self._read(tx) as tx:
            rows = tx.all(
                f"SELECT {SEND_COLUMNS} FROM sends WHERE state = :scheduled AND send_at <= :now"
                " ORDER BY send_at, id LIMIT :limit",
                {"scheduled": SEND_SCHEDULED, "now": tx.now, "limit": limit},
            )
        return [record(row) for row in rows]

    def upcoming_sends(self, user_id: str | None, limit: int = 20, *, tx: Tx | None = None) -> list[SendRecord]:
        """Sends still waiting for their time, soonest first: one person's, or everyone's (None)."""
        with self._read(tx) as tx:
            mine = "AND user_id = :user" if user_id is not None else ""
            rows = tx.all(
                f"SELECT {SEND_COLUMNS} FROM sends WHERE state = :scheduled {mine} ORDER BY send_at, id LIMIT :limit",
                {"scheduled": SEND_SCHEDULED, "user": user_id, "limit": limit},
            )
        return [record(row) for row in rows]

    def start_scheduled(self, send_id: int, settled: Settled | None = None, *, tx: Tx | None = None) -> bool:
        """scheduled → open, once; False if it was started, or cancelled, first. With ``settled``, its batches
        are settled at once instead of being sent (too late, the sender revoked, the balance too low), the
        reason kept on the send as a refusal, so the summary says it and offers Send again."""
        with self._tx(tx) as tx:
            row = tx.one(
                "UPDATE sends SET state = :open, active_at = :now WHERE id = :id AND state = :scheduled RETURNING id",
                {"open": SEND_OPEN, "now": tx.now, "id": send_id, "scheduled": SEND_SCHEDULED},
            )
            if row is None:
                return False
            outbox.due(tx, send_key(ReportKind.SCHEDULE, send_id), send_id, ReportKind.SCHEDULE)
            if settled is None:
                return True
            self.stop_send(send_id, settled.state, settled.reason, tx=tx)
            for batch in self.pending_of(send_id, tx=tx):
                self.finish_batch(
                    batch.id,
                    settled.state,
                    o.all_of(batch.contacts, settled.outcome, settled.reason),
                    owner=None,
                    error_kind=settled.state,
                    error_message=settled.reason,
                    from_state=PENDING,
                    tx=tx,
                )
        return True

    def cancel_scheduled(self, send_id: int, user_id: str, *, tx: Tx | None = None) -> bool:
        """scheduled → cancelled, once; False if it had started (or was cancelled) first. Nothing was sent:
        its batches are cancelled and its numbers get no outcome; the channel message says who cancelled."""
        with self._tx(tx) as tx:
            row = tx.one(
                "UPDATE sends SET state = :cancelled, cancelled_by = :user, cancelled_at = :at, finished_at = :at"
                " WHERE id = :id AND state = :scheduled RETURNING id",
                {
                    "cancelled": SEND_CANCELLED,
                    "user": user_id,
                    "at": tx.now_iso,
                    "id": send_id,
                    "scheduled": SEND_SCHEDULED,
                },
            )
            if row is None:
                return False
            tx.execute(
                "UPDATE batches SET state = :cancelled, finished_at = :at WHERE send_id = :id AND state = :pending",
                {"cancelled": CANCELLED, "at": tx.now_iso, "id": send_id, "pending": PENDING},
            )
            outbox.due(tx, send_key(ReportKind.SCHEDULE, send_id), send_id, ReportKind.SCHEDULE)
        return True
