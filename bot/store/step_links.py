"""How a Workflow Builder step's run follows what its Send made, in the transaction of each change there: the
send finishing (its last batch settled, ``batches.py``) finishes the run with the send's figures; an approval
request decided (``approvals.py``) links the approved send, or refuses the run."""

from __future__ import annotations

from bot.sending.reports import ReportKind, StepReport, step_key
from bot.sending.states import (
    APPROVAL_WITHDRAWN,
    SEND_DONE,
    STEP_CANCELLED,
    STEP_FAILED,
    STEP_FINISHED,
    STEP_REFUSED,
    STEP_SENDING,
    STEP_SENT,
)
from bot.store import outbox
from bot.store.engine import Tx

# A run that ends without sending: nothing queued, every entry left out (those the review left out, and the rest).
NOTHING_SENT = "queued = 0, left_out = COALESCE(left_out, 0) + COALESCE(total, 0), numbers = NULL, media = NULL"


def due(tx: Tx, draft_id: str) -> None:
    outbox.due(tx, step_key(draft_id), None, ReportKind.STEP, payload=StepReport(draft_id))


def step_send_finished(tx: Tx, send_id: int) -> None:
    """In the transaction that finished ``send_id`` (or linked it): its run, if a step made it, finishes with the
    send's figures: queued, and left out (everything else: invalid, suppressed, refused, failed…)."""
    row = tx.one(
        "SELECT state, n_queued, total_contacts + n_invalid + review_suppressed FROM sends WHERE id = :id",
        {"id": send_id},
    )
    if row is None or row[0] != SEND_DONE:
        return
    queued, entries = int(row[1] or 0), int(row[2] or 0)
    ids = tx.column(
        "UPDATE steps SET state = :finished, outcome = :outcome, queued = :queued, left_out = :left_out"
        " WHERE send_id = :send AND state = :sending RETURNING draft_id",
        {
            "finished": STEP_FINISHED,
            "outcome": STEP_SENT if queued else STEP_FAILED,
            "queued": queued,
            "left_out": max(0, entries - queued),
            "send": send_id,
            "sending": STEP_SENDING,
        },
    )
    for draft_id in ids:
        due(tx, draft_id)


def step_approval_decided(tx: Tx, approval_id: int, state: str, why: str) -> None:
    """An approval request decided other than approved (rejected, expired, withdrawn…): a run waiting on it is
    refused (withdrawn by the person it sends for: cancelled). An approved one's send is linked instead."""
    ids = tx.column(
        f"UPDATE steps SET state = :finished, outcome = :outcome, note = :note, {NOTHING_SENT}"
        " WHERE approval_id = :approval AND state = :sending RETURNING draft_id",
        {
            "finished": STEP_FINISHED,
            "outcome": STEP_CANCELLED if state == APPROVAL_WITHDRAWN else STEP_REFUSED,
            "note": "because its approval request was withdrawn" if state == APPROVAL_WITHDRAWN else why,
            "approval": approval_id,
            "sending": STEP_SENDING,
        },
    )
    for draft_id in ids:
        due(tx, draft_id)


def step_approval_sent(tx: Tx, approval_id: int, send_id: int) -> None:
    """An approved request's send, recorded in the decision's transaction: a run waiting on it follows the send."""
    tx.execute(
        "UPDATE steps SET send_id = :send WHERE approval_id = :approval AND state = :sending",
        {"send": send_id, "approval": approval_id, "sending": STEP_SENDING},
    )
    step_send_finished(tx, send_id)
