"""Drafts: a checked form waiting for its sender to confirm the review (for an hour at most)."""

from __future__ import annotations

import json

from bot.sending.states import DRAFT_CHECKING as CHECKING
from bot.sending.states import DRAFT_PROBLEMS as PROBLEMS
from bot.sending.states import DRAFT_READY as READY
from bot.sending.states import DRAFT_SENT as SENT
from bot.store.base import Aggregate
from bot.store.clock import iso
from bot.store.engine import Tx


class Drafts(Aggregate):
    """A draft being checked is held by one process (``owner``, ``lease_until``, renewed every 2 s);
    one whose holder stopped is claimed by a live process (``SKIP LOCKED`` on PostgreSQL, the write
    lock on SQLite), which checks its form again: ``checks`` counts the attempts."""

    def create_draft(
        self,
        draft_id: str,
        user_id: str,
        channel_id: str,
        *,
        form: dict | None = None,
        owner: str | None = None,
        lease: float = 0.0,
        tx: Tx | None = None,
    ) -> None:
        with self._tx(tx) as tx:
            tx.execute(
                "INSERT INTO drafts (id, user_id, channel_id, state, created_at, form, owner, lease_until, checks)"
                " VALUES (:id, :user, :channel, :state, :at, :form, :owner, :lease_until, 1)",
                {
                    "id": draft_id,
                    "user": user_id,
                    "channel": channel_id,
                    "state": CHECKING,
                    "at": tx.now_iso,
                    "form": json.dumps(form) if form is not None else None,
                    "owner": owner,
                    "lease_until": tx.now + lease,
                },
            )

    def claim_stranded_drafts(
        self, owner: str, lease: float, max_age: float, limit: int = 4, *, tx: Tx | None = None
    ) -> list[dict]:
        """Drafts left in ``checking`` by a process that stopped (its lease ran out), now this one's."""
        with self._tx(tx) as tx:
            rows = tx.dicts(
                "UPDATE drafts SET owner = :owner, lease_until = :until, checks = COALESCE(checks, 1) + 1"
                " WHERE id IN (SELECT id FROM drafts WHERE state = :checking AND form IS NOT NULL AND lease_until < "
                ":now"
                f" AND created_at > :cutoff ORDER BY created_at LIMIT :limit {tx.dialect.skip_locked})"
                " AND state = :checking AND lease_until < :now RETURNING id, user_id, channel_id, form, checks",
                {
                    "owner": owner,
                    "until": tx.now + lease,
                    "checking": CHECKING,
                    "now": tx.now,
                    "cutoff": iso(tx.now - max_age),
                    "limit": limit,
                },
            )
        for row in rows:
            row["form"] = json.loads(row["form"])
        return rows

    def renew_draft_leases(self, owner: str, lease: float, *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute(
                "UPDATE drafts SET lease_until = :until WHERE owner = :owner AND state = :checking",
                {"until": tx.now + lease, "owner": owner, "checking": CHECKING},
            )

    def release_drafts(self, owner: str, *, tx: Tx | None = None) -> int:
        """Checks this process gives up (it is stopping): another process may take them at once."""
        with self._tx(tx) as tx:
            return len(
                tx.all(
                    "UPDATE drafts SET lease_until = 0 WHERE owner = :owner AND state = :checking RETURNING id",
                    {"owner": owner, "checking": CHECKING},
                )
            )

    def draft_checked(
        self, draft_id: str, review: dict, numbers: list[str], media: bytes | None, *, tx: Tx | None = None
    ) -> bool:
        """checking → ready; False when the draft is gone (expired) meanwhile."""
        with self._tx(tx) as tx:
            return (
                tx.one(
                    "UPDATE drafts SET state = :ready, review = :review, numbers = :numbers, media = :media"
                    " WHERE id = :id AND state = :checking RETURNING id",
                    {
                        "ready": READY,
                        "review": json.dumps(review),
                        "numbers": json.dumps(numbers),
                        "media": media,
                        "id": draft_id,
                        "checking": CHECKING,
                    },
                )
                is not None
            )

    def draft_has_problems(self, draft_id: str, problems: dict[str, str], *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute(
                "UPDATE drafts SET state = :problems_state, problems = :problems WHERE id = :id AND state = :checking",
                {"problems_state": PROBLEMS, "problems": json.dumps(problems), "id": draft_id, "checking": CHECKING},
            )

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
            tx.execute(
                "UPDATE drafts SET state = :sent, numbers = NULL, media = NULL WHERE id = :id",
                {"sent": SENT, "id": draft_id},
            )

    def delete_drafts_older_than(self, seconds: float, *, tx: Tx | None = None) -> int:
        """Drafts are only for the hour a review may stay open; a confirmed one lives on as its send."""
        with self._tx(tx) as tx:
            return len(
                tx.all("DELETE FROM drafts WHERE created_at < :cutoff RETURNING id", {"cutoff": iso(tx.now - seconds)})
            )
