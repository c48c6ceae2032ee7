"""Replies from recipients, recorded once (by Cellcast's id, or as the webhook twin of a polled one)."""

from __future__ import annotations

from datetime import datetime

from bot.store.base import Aggregate
from bot.store.clock import iso
from bot.store.engine import Tx


def _epoch(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return None


class Replies(Aggregate):
    def record_reply(self, key: str, number: str, body: str, received_at: str, source: str, *, near_seconds: float = 600,
                     tx: Tx | None = None) -> int | None:
        """A reply, once: None when this key was recorded before, or (polled after a webhook) the same
        text from the same number was recorded within ``near_seconds``."""
        with self._tx(tx) as tx:
            at = _epoch(received_at) if source == "poll" and received_at else None
            if at is not None and tx.one(
                    "SELECT 1 FROM replies WHERE number = :number AND body = :body AND source = 'webhook'"
                    " AND created_at BETWEEN :lo AND :hi", {"number": number, "body": body, "lo": iso(at - near_seconds),
                                                            "hi": iso(at + near_seconds)}):
                return None
            return tx.scalar("INSERT INTO replies (key, number, body, received_at, source, created_at)"
                             " VALUES (:key, :number, :body, :received_at, :source, :at) ON CONFLICT (key) DO NOTHING RETURNING id",
                             {"key": key, "number": number, "body": body, "received_at": received_at or tx.now_iso, "source": source,
                              "at": tx.now_iso})

    def settle_reply(self, reply_id: int, send_id: int | None, kind: str | None, *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute("UPDATE replies SET send_id = :send_id, kind = :kind WHERE id = :id", {"send_id": send_id, "kind": kind, "id": reply_id})

    def get_reply(self, reply_id: int, *, tx: Tx | None = None) -> dict:
        with self._read(tx) as tx:
            return tx.dicts("SELECT * FROM replies WHERE id = :id", {"id": reply_id})[0]

    def latest_send_to(self, number: str, *, tx: Tx | None = None) -> int | None:
        """The latest send that queued an MMS for this number: where its replies belong."""
        with self._read(tx) as tx:
            return tx.scalar("SELECT MAX(send_id) FROM recipients WHERE number = :number AND outcome = 'queued'", {"number": number})
