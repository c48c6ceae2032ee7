"""Replies from recipients, recorded once (by Cellcast's id, or as the webhook twin of a polled one)."""

from __future__ import annotations

from datetime import datetime

from bot.sending.optouts import OPTOUT
from bot.sending.outcomes import QUEUED
from bot.sending.records import INBOUND, OUTBOUND, Exchange
from bot.store.base import Aggregate
from bot.store.engine import Tx


def _epoch(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


def _exchanges(tx: Tx, send_id: int, number: str | None, limit: int | None) -> list[Exchange]:
    """Replies to a send (from one number, or all) and the answers to them, the last ``limit``, oldest first."""
    one = "AND r.number = :number" if number is not None else ""
    rows = tx.all(
        f"""SELECT number, at, direction, body, by_user, outcome FROM (
                SELECT r.number AS number, r.created_at AS at, :inbound AS direction, r.body AS body,
                       NULL AS by_user, NULL AS outcome, r.id AS id
                FROM replies r WHERE r.send_id = :send_id {one}
                UNION ALL
                SELECT r.number, a.created_at, :outbound, a.message, a.user_id,
                       CASE WHEN a.n_queued > 0 THEN :queued ELSE NULL END, a.id
                FROM sends a JOIN replies r ON r.id = a.answer_to WHERE r.send_id = :send_id {one}) exchanges
            ORDER BY at DESC, id DESC {"LIMIT :limit" if limit is not None else ""}""",
        {
            "send_id": send_id,
            "number": number,
            "limit": limit,
            "inbound": INBOUND,
            "outbound": OUTBOUND,
            "queued": QUEUED,
        },
    )
    return [Exchange(*row) for row in reversed(rows)]


class Replies(Aggregate):
    def record_reply(
        self,
        key: str,
        number: str,
        body: str,
        received_at: str,
        source: str,
        *,
        near_seconds: float = 600,
        tx: Tx | None = None,
    ) -> int | None:
        """A reply, once, whichever of the poll and the webhook brings it first and however often.

        Polled replies have no id and webhooks no time, so a reply from the other source with the same
        number and text, heard within ``near_seconds`` and not yet paired, is this one: it is paired
        with this key (nearest in time first) and None is returned, as for a key seen before. Two
        replies of the same text pair with two, never one with both. Concurrency: the check and the
        insert run under a lock on the number (PostgreSQL: an advisory lock; SQLite: the write lock),
        so a poll and a webhook in two processes cannot both miss each other and both insert.
        """
        with self._tx(tx) as tx:
            tx.serialise(f"reply:{number}")
            if tx.one("SELECT 1 FROM replies WHERE key = :key OR twin_key = :key", {"key": key}):
                return None
            heard = (_epoch(received_at) if received_at else None) or tx.now
            twin = tx.scalar(
                "SELECT id FROM replies WHERE number = :number AND body = :body AND source <> :source AND twin_key IS "
                "NULL"
                " AND heard_at BETWEEN :lo AND :hi ORDER BY ABS(heard_at - :heard), id LIMIT 1",
                {
                    "number": number,
                    "body": body,
                    "source": source,
                    "lo": heard - near_seconds,
                    "hi": heard + near_seconds,
                    "heard": heard,
                },
            )
            if twin is not None:
                tx.execute("UPDATE replies SET twin_key = :key WHERE id = :id", {"key": key, "id": twin})
                return None
            return tx.scalar(
                "INSERT INTO replies (key, number, body, received_at, source, created_at, heard_at)"
                " VALUES (:key, :number, :body, :received_at, :source, :at, :heard) ON CONFLICT (key) DO NOTHING"
                " RETURNING id",
                {
                    "key": key,
                    "number": number,
                    "body": body,
                    "received_at": received_at or tx.now_iso,
                    "source": source,
                    "at": tx.now_iso,
                    "heard": heard,
                },
            )

    def settle_reply(self, reply_id: int, send_id: int | None, kind: str | None, *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute(
                "UPDATE replies SET send_id = :send_id, kind = :kind WHERE id = :id",
                {"send_id": send_id, "kind": kind, "id": reply_id},
            )

    def get_reply(self, reply_id: int, *, tx: Tx | None = None) -> dict:
        with self._read(tx) as tx:
            return tx.dicts("SELECT * FROM replies WHERE id = :id", {"id": reply_id})[0]

    def find_reply(self, reply_id: int, *, tx: Tx | None = None) -> dict | None:
        with self._read(tx) as tx:
            rows = tx.dicts("SELECT * FROM replies WHERE id = :id", {"id": reply_id})
        return rows[0] if rows else None

    def conversation(self, send_id: int, number: str, limit: int = 6, *, tx: Tx | None = None) -> list[Exchange]:
        """One recipient's replies to a send and the answers to them: the last ``limit``, oldest first."""
        with self._read(tx) as tx:
            return _exchanges(tx, send_id, number, limit)

    def conversations_of(self, send_id: int, *, tx: Tx | None = None) -> dict[str, list[Exchange]]:
        """Every recipient's replies to a send and the answers to them, by number, oldest first."""
        with self._read(tx) as tx:
            rows = _exchanges(tx, send_id, None, None)
        by_number: dict[str, list[Exchange]] = {}
        for exchange in rows:
            by_number.setdefault(exchange.number, []).append(exchange)
        return by_number

    def open_replies(self, user_id: str, limit: int = 10, *, tx: Tx | None = None) -> list[dict]:
        """Replies to a person's sends that nobody has answered yet (opt-outs need no answer), newest first."""
        with self._read(tx) as tx:
            return tx.dicts(
                """SELECT r.id, r.number, r.body, r.created_at, r.send_id, s.channel_id FROM replies r
                   JOIN sends s ON s.id = r.send_id
                   WHERE s.user_id = :user AND (r.kind IS NULL OR r.kind <> :optout)
                     AND NOT EXISTS (SELECT 1 FROM sends a WHERE a.answer_to = r.id)
                   ORDER BY r.id DESC LIMIT :limit""",
                {"user": user_id, "optout": OPTOUT, "limit": limit},
            )

    def latest_send_to(self, number: str, *, tx: Tx | None = None) -> int | None:
        """The latest send that queued an MMS for this number: where its replies belong. An answer to one of its
        replies is not such a send: a reply to the answer goes on the conversation, in the first send's thread."""
        with self._read(tx) as tx:
            return tx.scalar(
                "SELECT MAX(r.send_id) FROM recipients r JOIN sends s ON s.id = r.send_id"
                " WHERE r.number = :number AND r.outcome = :queued AND s.answer_to IS NULL",
                {"number": number, "queued": QUEUED},
            )
