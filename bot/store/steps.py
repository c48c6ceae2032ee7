"""Workflow Builder steps: a ``send_mms`` run, from its inputs to what the workflow is told, decided once.

A run is recorded once per ``function_execution_id`` (Slack may deliver the event twice). Its check is held
by one process with a lease, like a draft's, and taken up by another when that process stops. Every change
of state is one conditional ``UPDATE … WHERE state = …``: Send and Cancel pressed at once, a double click,
another instance, the expiry sweep: the first to commit decides, the others change nothing. Send records
the send in the decision's transaction (the caller passes ``tx`` on). The run's message and the workflow's
completion are one report (``step:<draft>``), made due in the transaction of each change.

A run's send finishing, or its approval being decided, finishes the run in that same transaction
(``step_links.py``).
"""

from __future__ import annotations

import json

from bot.sending.states import (
    STEP_CANCELLED,
    STEP_CHECKING,
    STEP_FINISHED,
    STEP_REVIEWING,
    STEP_SENDING,
)
from bot.store.base import Aggregate
from bot.store.engine import Tx
from bot.store.step_links import NOTHING_SENT, due, step_send_finished

_COLUMNS = (
    "draft_id, execution_id, workflow_execution_id, channel_id, sent_by, inputs, state, checks, review, numbers,"
    " total, created_at, expires_at, review_ts, decided_by, decided_at, send_id, approval_id, outcome, error, note,"
    " queued, left_out, completed_at, completion_error"
)


def _step(row: dict) -> dict:
    for name in ("inputs", "review", "numbers"):
        row[name] = json.loads(row[name]) if row.get(name) else None
    return row


class Steps(Aggregate):
    def create_step(
        self,
        draft_id: str,
        execution_id: str,
        workflow_execution_id: str | None,
        channel_id: str,
        sent_by: str,
        inputs: dict,
        *,
        owner: str,
        lease: float,
        tx: Tx | None = None,
    ) -> str | None:
        """The run, being checked by ``owner``; None when this execution was recorded before (its draft stays)."""
        with self._tx(tx) as tx:
            return tx.scalar(
                "INSERT INTO steps (draft_id, execution_id, workflow_execution_id, channel_id, sent_by, inputs, state,"
                " owner, lease_until, checks, created_at) VALUES (:draft, :execution, :workflow, :channel, :sent_by,"
                " :inputs, :checking, :owner, :until, 1, :at) ON CONFLICT (execution_id) DO NOTHING RETURNING draft_id",
                {
                    "draft": draft_id,
                    "execution": execution_id,
                    "workflow": workflow_execution_id,
                    "channel": channel_id,
                    "sent_by": sent_by,
                    "inputs": json.dumps(inputs),
                    "checking": STEP_CHECKING,
                    "owner": owner,
                    "until": tx.now + lease,
                    "at": tx.now_iso,
                },
            )

    def find_step(self, draft_id: str, *, tx: Tx | None = None) -> dict | None:
        with self._read(tx) as tx:
            rows = tx.dicts(f"SELECT {_COLUMNS} FROM steps WHERE draft_id = :id", {"id": draft_id})
        return _step(rows[0]) if rows else None

    def step_media(self, draft_id: str, *, tx: Tx | None = None) -> bytes | None:
        with self._read(tx) as tx:
            media = tx.scalar("SELECT media FROM steps WHERE draft_id = :id", {"id": draft_id})
        return bytes(media) if media is not None else None

    # -- the check -----------------------------------------------------------------------------

    def renew_step_leases(self, owner: str, lease: float, *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute(
                "UPDATE steps SET lease_until = :until WHERE owner = :owner AND state = :checking",
                {"until": tx.now + lease, "owner": owner, "checking": STEP_CHECKING},
            )

    def release_steps(self, owner: str, *, tx: Tx | None = None) -> int:
        """Checks this process gives up (it is stopping): another process may take them at once."""
        with self._tx(tx) as tx:
            return len(
                tx.all(
                    "UPDATE steps SET lease_until = 0 WHERE owner = :owner AND state = :checking RETURNING draft_id",
                    {"owner": owner, "checking": STEP_CHECKING},
                )
            )

    def claim_stranded_steps(self, owner: str, lease: float, limit: int = 4, *, tx: Tx | None = None) -> list[dict]:
        """Runs left in ``checking`` by a process that stopped (their lease ran out), now this one's."""
        if tx is None and not self._any_step("state = :state AND lease_until < :now", STEP_CHECKING):
            return []
        with self._tx(tx) as tx:
            rows = tx.dicts(
                "UPDATE steps SET owner = :owner, lease_until = :until, checks = COALESCE(checks, 1) + 1"
                " WHERE draft_id IN (SELECT draft_id FROM steps WHERE state = :checking AND lease_until < :now"
                f" ORDER BY created_at LIMIT :limit {tx.dialect.skip_locked})"
                f" AND state = :checking AND lease_until < :now RETURNING {_COLUMNS}",
                {"owner": owner, "until": tx.now + lease, "checking": STEP_CHECKING, "now": tx.now, "limit": limit},
            )
        return [_step(row) for row in rows]

    def step_checked(
        self,
        draft_id: str,
        review: dict,
        numbers: list[str],
        media: bytes | None,
        left_out: int,
        lifetime: float,
        *,
        tx: Tx | None = None,
    ) -> bool:
        """checking → reviewing: the review is due in the channel, undecided until ``lifetime`` seconds from now.
        ``left_out``: the entries the review left out (invalid, suppressed)."""
        with self._tx(tx) as tx:
            return _changed(
                tx,
                draft_id,
                "UPDATE steps SET state = :reviewing, review = :review, numbers = :numbers, media = :media,"
                " total = :total, left_out = :left_out, expires_at = :expires, owner = NULL"
                " WHERE draft_id = :id AND state = :checking RETURNING draft_id",
                {
                    "reviewing": STEP_REVIEWING,
                    "review": json.dumps(review),
                    "numbers": json.dumps(numbers),
                    "media": media,
                    "total": len(numbers),
                    "left_out": left_out,
                    "expires": tx.now + lifetime,
                    "id": draft_id,
                    "checking": STEP_CHECKING,
                },
            )

    def step_failed(self, draft_id: str, error: str, *, tx: Tx | None = None) -> bool:
        """A problem the workflow's builder must fix (its inputs, the bot's access): the step fails with it.
        Only a run not yet decided fails; False when it was decided (or failed) first."""
        with self._tx(tx) as tx:
            return _changed(
                tx,
                draft_id,
                "UPDATE steps SET state = :finished, error = :error, owner = NULL, numbers = NULL, media = NULL"
                " WHERE draft_id = :id AND state IN (:checking, :reviewing) RETURNING draft_id",
                {
                    "finished": STEP_FINISHED,
                    "error": error,
                    "id": draft_id,
                    "checking": STEP_CHECKING,
                    "reviewing": STEP_REVIEWING,
                },
            )

    # -- the decision --------------------------------------------------------------------------

    def step_decided(
        self, draft_id: str, user: str, outcome: str | None, note: str = "", *, tx: Tx | None = None
    ) -> bool:
        """reviewing → sending (``outcome`` None: Send was pressed; the caller records the send or the approval
        request in this transaction) or → finished with ``outcome`` (cancelled, refused), once; False when it
        was decided first."""
        with self._tx(tx) as tx:
            nothing_sent = f", {NOTHING_SENT}" if outcome is not None else ""
            return _changed(
                tx,
                draft_id,
                "UPDATE steps SET state = :state, outcome = :outcome, note = :note, decided_by = :user,"
                f" decided_at = :at{nothing_sent} WHERE draft_id = :id AND state = :reviewing RETURNING draft_id",
                {
                    "state": STEP_SENDING if outcome is None else STEP_FINISHED,
                    "outcome": outcome,
                    "note": note or None,
                    "user": user,
                    "at": tx.now_iso,
                    "id": draft_id,
                    "reviewing": STEP_REVIEWING,
                },
            )

    def step_send_recorded(
        self, draft_id: str, *, send_id: int | None = None, approval_id: int | None = None, tx: Tx | None = None
    ) -> None:
        """The send (or the approval request) Send made; a send already done finishes the run now."""
        with self._tx(tx) as tx:
            tx.execute(
                "UPDATE steps SET send_id = :send, approval_id = :approval, numbers = NULL, media = NULL"
                " WHERE draft_id = :id",
                {"send": send_id, "approval": approval_id, "id": draft_id},
            )
            if send_id is not None:
                step_send_finished(tx, send_id)
            due(tx, draft_id)

    def expire_steps(self, note: str, *, tx: Tx | None = None) -> list[str]:
        """Reviews nobody decided in time: cancelled, and the workflow told."""
        if tx is None and not self._any_step("state = :state AND expires_at < :now", STEP_REVIEWING):
            return []
        with self._tx(tx) as tx:
            ids = tx.column(
                "UPDATE steps SET state = :finished, outcome = :cancelled, note = :note, decided_at = :at,"
                f" {NOTHING_SENT} WHERE state = :reviewing AND expires_at < :now RETURNING draft_id",
                {
                    "finished": STEP_FINISHED,
                    "cancelled": STEP_CANCELLED,
                    "note": note,
                    "at": tx.now_iso,
                    "reviewing": STEP_REVIEWING,
                    "now": tx.now,
                },
            )
            for draft_id in ids:
                due(tx, draft_id)
        return list(ids)

    def _any_step(self, where: str, state: str) -> bool:
        """A read first: the sweeps run every few seconds in every process, and a write transaction that
        changes nothing still takes SQLite's one write lock from the senders."""
        with self._read(None) as tx:
            return tx.one(f"SELECT 1 FROM steps WHERE {where} LIMIT 1", {"state": state, "now": tx.now}) is not None

    # -- what Slack was told -------------------------------------------------------------------

    def set_step_review_ts(self, draft_id: str, ts: str, *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute("UPDATE steps SET review_ts = :ts WHERE draft_id = :id", {"ts": ts, "id": draft_id})

    def step_completed(self, draft_id: str, refused: str | None = None, *, tx: Tx | None = None) -> None:
        """Slack took the step's completion (or refused it for good, with ``refused``): it is not tried again."""
        with self._tx(tx) as tx:
            tx.execute(
                "UPDATE steps SET completed_at = :at, completion_error = :refused WHERE draft_id = :id",
                {"at": tx.now_iso, "refused": refused, "id": draft_id},
            )


def _changed(tx: Tx, draft_id: str, query: str, params: dict) -> bool:
    """One conditional change of a run (``… RETURNING draft_id``); when it changed, its report is due."""
    if tx.scalar(query, params) is None:
        return False
    due(tx, draft_id)
    return True
