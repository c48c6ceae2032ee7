"""Drafts: a checked form waiting for its sender to confirm the review (for an hour at most)."""

from __future__ import annotations

import json

from bot.store.base import Aggregate
from bot.store.clock import iso
from bot.store.engine import Tx

CHECKING, READY, PROBLEMS, SENT = "checking", "ready", "problems", "sent"


class Drafts(Aggregate):
    def create_draft(self, draft_id: str, user_id: str, channel_id: str, *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute("INSERT INTO drafts (id, user_id, channel_id, state, created_at) VALUES (:id, :user, :channel, :state, :at)",
                       {"id": draft_id, "user": user_id, "channel": channel_id, "state": CHECKING, "at": tx.now_iso})

    def draft_checked(self, draft_id: str, review: dict, numbers: list[str], media: bytes | None, *, tx: Tx | None = None) -> bool:
        """checking → ready; False when the draft is gone (expired) meanwhile."""
        with self._tx(tx) as tx:
            return tx.one("UPDATE drafts SET state = :ready, review = :review, numbers = :numbers, media = :media"
                          " WHERE id = :id AND state = :checking RETURNING id",
                          {"ready": READY, "review": json.dumps(review), "numbers": json.dumps(numbers), "media": media,
                           "id": draft_id, "checking": CHECKING}) is not None

    def draft_has_problems(self, draft_id: str, problems: dict[str, str], *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute("UPDATE drafts SET state = :problems_state, problems = :problems WHERE id = :id AND state = :checking",
                       {"problems_state": PROBLEMS, "problems": json.dumps(problems), "id": draft_id, "checking": CHECKING})

    def get_draft(self, draft_id: str, *, tx: Tx | None = None) -> dict | None:
        with self._read(tx) as tx:
            rows = tx.dicts("SELECT * FROM drafts WHERE id = :id", {"id": draft_id})
        if not rows:
            return None
        row = rows[0]
        for name in ("review", "numbers", "problems"):
            row[name] = json.loads(row[name]) if row[name] else None
        if row["media"] is not None:
            row["media"] = bytes(row["media"])
        return row

    def draft_sent(self, draft_id: str, *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute("UPDATE drafts SET state = :sent, numbers = NULL, media = NULL WHERE id = :id", {"sent": SENT, "id": draft_id})

    def delete_drafts_older_than(self, seconds: float, *, tx: Tx | None = None) -> int:
        """Drafts are only for the hour a review may stay open; a confirmed one lives on as its send."""
        with self._tx(tx) as tx:
            return len(tx.all("DELETE FROM drafts WHERE created_at < :cutoff RETURNING id", {"cutoff": iso(tx.now - seconds)}))
