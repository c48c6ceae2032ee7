"""The sync loop's state (where it got to) and its claim: one process at a time talks to Cellcast."""

from __future__ import annotations

from bot.store.base import Aggregate
from bot.store.engine import Tx


class SyncState(Aggregate):
    def sync_value(self, name: str, *, tx: Tx | None = None) -> str | None:
        with self._read(tx) as tx:
            return tx.scalar("SELECT value FROM sync_state WHERE name = :name", {"name": name})

    def set_sync_value(self, name: str, value: str | None, *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute(
                "INSERT INTO sync_state (name, value, updated_at) VALUES (:name, :value, :at)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                {"name": name, "value": value, "at": tx.now_iso},
            )

    def claim_sync(self, owner: str, lease: float, *, tx: Tx | None = None) -> bool:
        """The claim lapses ``lease`` seconds after it was last taken, if its owner dies."""
        with self._tx(tx) as tx:
            tx.execute(
                "INSERT INTO sync_state (name, value, updated_at) VALUES ('leader', NULL, :at) ON CONFLICT (name) DO "
                "NOTHING",
                {"at": tx.now_iso},
            )
            return (
                tx.one(
                    "UPDATE sync_state SET owner = :owner, lease_until = :until WHERE name = 'leader'"
                    " AND (owner IS NULL OR owner = :owner OR lease_until < :now) RETURNING name",
                    {"owner": owner, "until": tx.now + lease, "now": tx.now},
                )
                is not None
            )
