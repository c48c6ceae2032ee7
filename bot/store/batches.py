"""Batches: claimed one at a time (owner + lease), fairly across sends, settled exactly once."""

from __future__ import annotations

import json

from bot.sending.outcomes import NumberOutcome
from bot.sending.outcomes import tally as counts
from bot.sending.records import ClaimedBatch
from bot.sending.reports import Notice, ReportKind, corrected_key, send_key
from bot.sending.states import FINAL_BATCH_STATES, PENDING, SEND_DONE, SEND_OPEN, SENDING, UNKNOWN
from bot.store import outbox
from bot.store.base import Aggregate
from bot.store.engine import Tx
from bot.store.sends import insert_outcomes
from bot.store.step_links import step_send_finished

_CLAIMED = "id, send_id, seq, contacts, message"


def _claimed(rows: list[tuple]) -> list[ClaimedBatch]:
    return [ClaimedBatch(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]


class Batches(Aggregate):
    def has_pending(self, *, tx: Tx | None = None) -> bool:
        """A batch to send now: pending, of an open send (a scheduled send's batches wait; they are not work).
        From the open sends (few, by index) to their batches, so a thousand scheduled sends cost nothing here."""
        with self._read(tx) as tx:
            return (
                tx.one(
                    "SELECT 1 FROM sends s WHERE s.state = :open AND EXISTS (SELECT 1 FROM batches b"
                    " WHERE b.send_id = s.id AND b.state = :pending) LIMIT 1",
                    {"pending": PENDING, "open": SEND_OPEN},
                )
                is not None
            )

    def claim_next_batch(
        self, owner: str, lease: float, resume_within: float | None = None, *, tx: Tx | None = None
    ) -> ClaimedBatch | None:
        """pending → sending for the next batch in turn, only once: no two processes send the same batch,
        and a claimer that loses a race takes the next batch instead (SKIP LOCKED on PostgreSQL; on
        SQLite the write lock makes the loser wait and then see the winner's claim).

        Turns go round the open sends (the one served longest ago first), so a small send waits at
        most one round of slots behind a big one. A send idle longer than ``resume_within`` (the bot
        was down) is not taken: it expires instead.
        """
        with self._tx(tx) as tx:
            args = {
                "owner": owner,
                "until": tx.now + lease,
                "at": tx.now_iso,
                "pending": PENDING,
                "sending": SENDING,
                "active_since": tx.now - resume_within if resume_within is not None else 0.0,
                "now": tx.now,
                "open": SEND_OPEN,
            }
            row = tx.one(
                f"""UPDATE batches SET state = :sending, owner = :owner, lease_until = :until, started_at = :at,
                    attempts = attempts + 1
                    WHERE id = (SELECT b.id FROM batches b JOIN sends s ON s.id = b.send_id
                                WHERE b.state = :pending AND s.state = :open AND s.active_at >= :active_since
                                ORDER BY s.turn, s.id, b.seq
                                LIMIT 1 {tx.dialect.claim_suffix})
                      AND state = :pending
                    RETURNING {_CLAIMED}""",
                args,
            )
            if row is None:
                return None
            # A send taken over from another process (a restart, or a second copy) says so in its summary.
            tx.execute(
                "UPDATE sends SET turn = (SELECT COALESCE(MAX(turn), 0) + 1 FROM sends), active_at = :now,"
                " resumed = resumed + CASE WHEN worked_by IS NOT NULL AND worked_by != :owner THEN 1 ELSE 0 END,"
                " worked_by = :owner WHERE id = :send_id",
                {**args, "send_id": row[1]},
            )
        return _claimed([row])[0]

    def release_batch(self, batch_id: int, owner: str, *, tx: Tx | None = None) -> bool:
        """sending → pending: provably nothing left (e.g. stopped while waiting out a 429)."""
        with self._tx(tx) as tx:
            return (
                tx.one(
                    "UPDATE batches SET state = :pending, owner = NULL, lease_until = NULL"
                    " WHERE id = :id AND owner = :owner AND state = :sending RETURNING id",
                    {"pending": PENDING, "id": batch_id, "owner": owner, "sending": SENDING},
                )
                is not None
            )

    def finish_batch(
        self,
        batch_id: int,
        state: str,
        outcomes: list[NumberOutcome],
        *,
        owner: str | None,
        error_kind: str | None = None,
        error_message: str | None = None,
        from_state: str = SENDING,
        tx: Tx | None = None,
    ) -> bool:
        """Settle a batch and each of its numbers, count them on the send, and make the reports due:
        one transaction. Only the batch's owner may settle it (``owner`` None: a sweep settling a dead
        owner's batch). When it was the send's last batch, the send is done and its summary due."""
        assert state in FINAL_BATCH_STATES
        settled_counts = counts(outcomes)
        with self._tx(tx) as tx:
            owned = "AND owner = :owner" if owner is not None else ""
            row = tx.one(
                f"UPDATE batches SET state = :state, error_kind = :kind, error_message = :message, finished_at = :at,"
                f" owner = NULL, lease_until = NULL WHERE id = :id AND state = :from_state {owned} RETURNING send_id",
                {
                    "state": state,
                    "kind": error_kind,
                    "message": error_message,
                    "at": tx.now_iso,
                    "id": batch_id,
                    "from_state": from_state,
                    "owner": owner,
                },
            )
            if row is None:
                return False
            send_id = row[0]
            insert_outcomes(tx, send_id, batch_id, outcomes)
            sets = "".join(f", n_{o} = n_{o} + {int(n)}" for o, n in settled_counts.items())
            remaining = tx.scalar(
                f"UPDATE sends SET batches_done = batches_done + 1, active_at = :now{sets} WHERE id = :id"
                " RETURNING batches_total - batches_done",
                {"now": tx.now, "id": send_id},
            )
            if remaining <= 0:
                tx.execute(
                    "UPDATE sends SET state = :done, finished_at = :at WHERE id = :id AND state = :open",
                    {"done": SEND_DONE, "at": tx.now_iso, "id": send_id, "open": SEND_OPEN},
                )
                outbox.settle(tx, send_key(ReportKind.PROGRESS, send_id))
                outbox.due(tx, send_key(ReportKind.SUMMARY, send_id), send_id, ReportKind.SUMMARY)
                step_send_finished(tx, send_id)  # a Workflow Builder step waiting on it completes
            else:
                outbox.due_paced(tx, send_key(ReportKind.PROGRESS, send_id), send_id, ReportKind.PROGRESS)
        return True

    def confirm_claim(self, batch_id: int, owner: str, lease: float, *, tx: Tx | None = None) -> bool:
        """Immediately before a request leaves: the claim still holds (and now runs ``lease`` more seconds)."""
        with self._tx(tx) as tx:
            return (
                tx.one(
                    "UPDATE batches SET lease_until = :until WHERE id = :id AND owner = :owner AND state = :sending"
                    " AND lease_until >= :now RETURNING id",
                    {"until": tx.now + lease, "id": batch_id, "owner": owner, "sending": SENDING, "now": tx.now},
                )
                is not None
            )

    def correct_batch(
        self,
        batch_id: int,
        state: str,
        outcomes: list[NumberOutcome],
        *,
        error_kind: str | None,
        error_message: str | None,
        notice: str,
        tx: Tx | None = None,
    ) -> bool:
        """A batch settled as unknown (its owner seemed dead) whose real answer came later: the answer
        replaces the unknown outcomes, the send's counts move with it, and the thread is told."""
        with self._tx(tx) as tx:
            row = tx.one(
                "UPDATE batches SET state = :state, error_kind = :kind, error_message = :message WHERE id = :id"
                " AND state = :unknown RETURNING send_id",
                {"state": state, "kind": error_kind, "message": error_message, "id": batch_id, "unknown": UNKNOWN},
            )
            if row is None:
                return False
            send_id = row[0]
            before = dict(
                tx.all(
                    "SELECT outcome, COUNT(*) FROM recipients WHERE batch_id = :id GROUP BY outcome", {"id": batch_id}
                )
            )
            tx.execute("DELETE FROM recipients WHERE batch_id = :id", {"id": batch_id})
            insert_outcomes(tx, send_id, batch_id, outcomes)
            after = counts(outcomes)
            moves = {o: after.get(o, 0) - before.get(o, 0) for o in set(before) | set(after)}
            sets = ", ".join(f"n_{o} = n_{o} + {int(n)}" for o, n in moves.items() if n)
            if sets:
                tx.execute(f"UPDATE sends SET {sets}, delivery_done_at = NULL WHERE id = :id", {"id": send_id})
            outbox.due(tx, corrected_key(batch_id), send_id, ReportKind.NOTICE, payload=Notice(notice))
            outbox.due(tx, send_key(ReportKind.CSV, send_id), send_id, ReportKind.CSV)
        return True

    def lapsed_batches(self, *, tx: Tx | None = None) -> list[ClaimedBatch]:
        """Batches in 'sending' whose owner stopped renewing its lease (it crashed or was killed)."""
        with self._read(tx) as tx:
            return _claimed(
                tx.all(
                    f"SELECT {_CLAIMED} FROM batches WHERE state = :sending AND lease_until < :now",
                    {"sending": SENDING, "now": tx.now},
                )
            )

    def stale_pending_batches(self, idle_for: float, *, tx: Tx | None = None) -> list[ClaimedBatch]:
        """Pending batches of open sends nobody has worked on for ``idle_for`` seconds: the bot was down.
        (A scheduled send's batches are not stale while it waits: it opens when due, active from then.)"""
        with self._read(tx) as tx:
            return _claimed(
                tx.all(
                    "SELECT b.id, b.send_id, b.seq, b.contacts, b.message FROM batches b"
                    " JOIN sends s ON s.id = b.send_id"
                    " WHERE b.state = :pending AND s.state = :open AND s.active_at < :since",
                    {"pending": PENDING, "since": tx.now - idle_for, "open": SEND_OPEN},
                )
            )

    def pending_of(self, send_id: int, *, tx: Tx | None = None) -> list[ClaimedBatch]:
        with self._read(tx) as tx:
            return _claimed(
                tx.all(
                    f"SELECT {_CLAIMED} FROM batches WHERE send_id = :id AND state = :pending",
                    {"id": send_id, "pending": PENDING},
                )
            )
