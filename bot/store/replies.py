"""Replies from recipients, recorded once (by Cellcast's id, or as the webhook twin of a polled one)."""

from __future__ import annotations

from datetime import datetime

from bot.sending.outcomes import QUEUED
from bot.store.base import Aggregate
from bot.store.engine import Tx


def _epoch(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


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

    def latest_send_to(self, number: str, *, tx: Tx | None = None) -> int | None:
        """The latest send that queued an MMS for this number: where its replies belong."""
        with self._read(tx) as tx:
            return tx.scalar(
                "SELECT MAX(send_id) FROM recipients WHERE number = :number AND outcome = :queued",
                {"number": number, "queued": QUEUED},
            )
