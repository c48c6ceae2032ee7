"""Bot processes sharing the database: who is alive (seen recently), and their leases."""

from __future__ import annotations

from bot.sending.states import SENDING
from bot.store.base import Aggregate
from bot.store.engine import HEALTH_ROW, StoreError, Tx


class Instances(Aggregate):
    def register_instance(self, instance_id: str, pid: int, host: str, *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute(
                "INSERT INTO instances (id, pid, host, started_at, seen_at) VALUES (:id, :pid, :host, :at, :now)"
                " ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
                {"id": instance_id, "pid": pid, "host": host, "at": tx.now_iso, "now": tx.now},
            )

    def renew_leases(
        self, owner: str, lease: float, batch_ids: list[int] | None = None, *, tx: Tx | None = None
    ) -> None:
        """The owner is alive: extend the claims its workers still hold (only those: a batch nobody
        works on any more must lapse), and its report claims, and say it was seen."""
        with self._tx(tx) as tx:
            until = tx.now + lease
            if batch_ids is None:
                tx.execute(
                    "UPDATE batches SET lease_until = :until WHERE owner = :owner AND state = :sending",
                    {"until": until, "owner": owner, "sending": SENDING},
                )
            else:
                for batch_id in batch_ids:
                    tx.execute(
                        "UPDATE batches SET lease_until = :until WHERE id = :id AND owner = :owner AND state = "
                        ":sending",
                        {"until": until, "id": batch_id, "owner": owner, "sending": SENDING},
                    )
            tx.execute(
                "UPDATE reports SET lease_until = :until WHERE owner = :owner AND done_at IS NULL",
                {"until": until, "owner": owner},
            )
            tx.execute("UPDATE instances SET seen_at = :now WHERE id = :owner", {"now": tx.now, "owner": owner})

    def live_instances(self, within: float, *, tx: Tx | None = None) -> int:
        """Bot processes seen in the last ``within`` seconds (the health probe's row is not one)."""
        with self._read(tx) as tx:
            return int(
                tx.scalar(
                    "SELECT COUNT(*) FROM instances WHERE seen_at >= :since AND id != :health",
                    {"since": tx.now - within, "health": HEALTH_ROW},
                )
            )

    def retire_instance(self, owner: str, *, tx: Tx | None = None) -> None:
        """A clean stop hands this process's report and sync claims to the others at once (its waiting
        batches went back to pending already), rather than after their leases."""
        with self._tx(tx) as tx:
            tx.execute(
                "UPDATE reports SET owner = NULL, lease_until = NULL WHERE owner = :owner AND done_at IS NULL",
                {"owner": owner},
            )
            tx.execute("UPDATE sync_state SET owner = NULL, lease_until = NULL WHERE owner = :owner", {"owner": owner})
            tx.execute("DELETE FROM instances WHERE id = :owner", {"owner": owner})

    def checkpoint(self) -> None:
        self.engine.checkpoint()

    def check_writable(self, timeout: float = 2.0) -> None:
        """Raises StoreError naming the database when nothing can be written within ``timeout``, or when the
        latest write failed (a full disk refuses a send's rows while a one-row probe still fits)."""
        self.engine.check_writable(timeout)
        failure = self.engine.write_failure
        if failure:
            raise StoreError(f"writes to {self.engine.description} are failing ({failure})")
