"""Approval requests: a reviewed send waiting for an approver, decided once.

Every decision is one conditional change (``UPDATE … WHERE state = 'waiting'``): two approvers pressing at
once, a double click, Slack's retry, an approval racing a rejection, a withdrawal or the expiry sweep:
the first to commit decides, the others change nothing. An approval's send is recorded in the same
transaction as the decision (the caller passes ``tx`` on), so an approved request always has its send
and a request decided otherwise never does. The request's message(s) and the requester's notice are made
due in that transaction too.
"""

from __future__ import annotations

import json

from bot.sending.reports import ApprovalReport, Notice, ReportKind, approval_key, approval_notice_key
from bot.sending.states import APPROVAL_APPROVED, APPROVAL_EXPIRED, APPROVAL_WAITING, SEND_CANCELLED
from bot.store import outbox
from bot.store.base import Aggregate
from bot.store.engine import Tx
from bot.store.step_links import step_approval_decided, step_approval_sent

_COLUMNS = (
    "id, draft_id, requester, channel_id, state, why, review, numbers, total, created_at, expires_at,"
    " decided_by, decided_at, decision_reason, send_id, posts"
)


def _approval(row: dict) -> dict:
    return {
        **row,
        "review": json.loads(row["review"]),
        "numbers": json.loads(row["numbers"]),
        "posts": json.loads(row["posts"]) if row.get("posts") else [],
    }


class Approvals(Aggregate):
    def create_approval(
        self,
        draft_id: str,
        requester: str,
        channel_id: str,
        review: dict,
        numbers: list[str],
        media: bytes | None,
        why: str,
        lifetime: float,
        *,
        tx: Tx | None = None,
    ) -> int | None:
        """The request and its messages due (to the approvers, and the requester's copy); None when this draft
        was asked for before."""
        with self._tx(tx) as tx:
            approval_id = tx.scalar(
                "INSERT INTO approvals (draft_id, requester, channel_id, state, why, review, numbers, media, total,"
                " created_at, expires_at) VALUES (:draft, :requester, :channel, :waiting, :why, :review, :numbers,"
                " :media, :total, :at, :expires) ON CONFLICT (draft_id) DO NOTHING RETURNING id",
                {
                    "draft": draft_id,
                    "requester": requester,
                    "channel": channel_id,
                    "waiting": APPROVAL_WAITING,
                    "why": why,
                    "review": json.dumps(review),
                    "numbers": json.dumps(numbers),
                    "media": media,
                    "total": len(numbers),
                    "at": tx.now_iso,
                    "expires": tx.now + lifetime,
                },
            )
            if approval_id is None:
                return None
            self._due(tx, approval_id, APPROVAL_WAITING, requester, None)
        return approval_id

    def find_approval(self, approval_id: int, *, tx: Tx | None = None) -> dict | None:
        with self._read(tx) as tx:
            rows = tx.dicts(f"SELECT {_COLUMNS} FROM approvals WHERE id = :id", {"id": approval_id})
        return _approval(rows[0]) if rows else None

    def approval_media(self, approval_id: int, *, tx: Tx | None = None) -> bytes | None:
        with self._read(tx) as tx:
            media = tx.scalar("SELECT media FROM approvals WHERE id = :id", {"id": approval_id})
        return bytes(media) if media is not None else None

    def decide_approval(
        self, approval_id: int, state: str, user: str, reason: str, notice: str, *, tx: Tx | None = None
    ) -> bool:
        """waiting → ``state``, once; False when it was decided (or expired, or withdrawn) first."""
        with self._tx(tx) as tx:
            requester = tx.scalar(
                "UPDATE approvals SET state = :state, decided_by = :user, decided_at = :at, decision_reason = :reason"
                " WHERE id = :id AND state = :waiting RETURNING requester",
                {
                    "state": state,
                    "user": user,
                    "at": tx.now_iso,
                    "reason": reason or None,
                    "id": approval_id,
                    "waiting": APPROVAL_WAITING,
                },
            )
            if requester is None:
                return False
            if state != APPROVAL_APPROVED:  # an approved one's step follows its send (approval_sent)
                step_approval_decided(tx, approval_id, state, reason or state)
            self._due(tx, approval_id, state, requester, notice)
        return True

    def approval_sent(self, approval_id: int, send_id: int, *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute("UPDATE approvals SET send_id = :send WHERE id = :id", {"send": send_id, "id": approval_id})
            tx.execute("UPDATE sends SET approval_id = :id WHERE id = :send", {"send": send_id, "id": approval_id})
            step_approval_sent(tx, approval_id, send_id)

    def expire_approvals(self, notice: str, *, tx: Tx | None = None) -> list[int]:
        """Requests left undecided past their time: expired, their messages and requesters told."""
        with self._tx(tx) as tx:
            rows = tx.all(
                "UPDATE approvals SET state = :expired, decided_at = :at WHERE state = :waiting AND expires_at < :now"
                " RETURNING id, requester",
                {"expired": APPROVAL_EXPIRED, "at": tx.now_iso, "waiting": APPROVAL_WAITING, "now": tx.now},
            )
            for approval_id, requester in rows:
                step_approval_decided(tx, approval_id, APPROVAL_EXPIRED, "no approver decided in time")
                self._due(tx, approval_id, APPROVAL_EXPIRED, requester, notice)
        return [approval_id for approval_id, _ in rows]

    def set_approval_posts(self, approval_id: int, posts: list[list[str]], *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute(
                "UPDATE approvals SET posts = :posts WHERE id = :id", {"posts": json.dumps(posts), "id": approval_id}
            )

    def approvals_of(self, requester: str | None, limit: int = 10, *, tx: Tx | None = None) -> list[dict]:
        """The latest requests, one person's or everyone's, newest first."""
        with self._read(tx) as tx:
            mine = "WHERE requester = :user" if requester is not None else ""
            rows = tx.dicts(
                f"SELECT {_COLUMNS} FROM approvals {mine} ORDER BY id DESC LIMIT :limit",
                {"user": requester, "limit": limit},
            )
        return [_approval(row) for row in rows]

    def numbers_recorded_since(self, user_id: str, since: str, *, tx: Tx | None = None) -> int:
        """Numbers of a person's sends recorded since ``since`` (ISO, UTC), cancelled ones not counted: what a
        daily limit counts."""
        with self._read(tx) as tx:
            return int(
                tx.scalar(
                    "SELECT COALESCE(SUM(total_contacts), 0) FROM sends WHERE user_id = :user AND created_at >= :since"
                    " AND state != :cancelled",
                    {"user": user_id, "since": since, "cancelled": SEND_CANCELLED},
                )
            )

    @staticmethod
    def _due(tx: Tx, approval_id: int, state: str, requester: str, notice: str | None) -> None:
        outbox.due(tx, approval_key(approval_id), None, ReportKind.APPROVAL, payload=ApprovalReport(approval_id))
        if notice is None:
            return
        outbox.due(
            tx,
            approval_notice_key(approval_id, state),
            None,
            ReportKind.NOTICE,
            payload=Notice(notice, user_id=requester),
        )
