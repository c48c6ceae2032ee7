"""Retention: images and per-number details of old sends are deleted; their counts stay.

The sweep works in short transactions (one send's rows a few thousand at a time), pausing between
them, so no other writer waits long behind it; it is resumable (a send is marked purged only when
its rows are gone) and capped per run.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.sending.records import SEND_DONE
from bot.store.base import Aggregate
from bot.store.clock import iso

CHUNK = 2000  # rows deleted per transaction


class Retention(Aggregate):
    def purge_older_than(self, days: float, *, max_rows: int = 2_000_000, pause: Callable[[], object] = lambda: None) -> int:
        """Purges sends finished more than ``days`` ago; returns how many sends were purged this run."""
        with self._read(None) as tx:
            cutoff = iso(tx.now - days * 86400)
            ids = tx.column("SELECT id FROM sends WHERE state = :done AND purged_at IS NULL AND finished_at < :cutoff ORDER BY id",
                            {"done": SEND_DONE, "cutoff": cutoff})
        purged = deleted = 0
        for send_id in ids:
            while deleted < max_rows:
                with self._tx(None) as tx:
                    gone = len(tx.all(f"DELETE FROM recipients WHERE id IN (SELECT id FROM recipients WHERE send_id = :id LIMIT {CHUNK})"
                                      " RETURNING id", {"id": send_id}))
                deleted += gone
                pause()
                if gone < CHUNK:
                    break
            else:
                break  # capped: the rest next run
            with self._tx(None) as tx:
                tx.execute("UPDATE batches SET contacts = '[]', queued = NULL, invalid = NULL, unsubscribed = NULL WHERE send_id = :id",
                           {"id": send_id})
                tx.execute("DELETE FROM reports WHERE send_id = :id AND done_at IS NOT NULL", {"id": send_id})
                tx.execute("UPDATE sends SET media = NULL, purged_at = :at WHERE id = :id", {"at": tx.now_iso, "id": send_id})
            purged += 1
            pause()
        return purged
