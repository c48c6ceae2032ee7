"""Retention: images and per-number details of old sends are deleted; their counts stay.

The sweep works in short transactions (one send's rows a few thousand at a time), pausing between
them, so no other writer waits long behind it; it is resumable (a send is marked purged only when
its rows are gone) and capped per run. The pause is at least 100 ms, twice the transaction's length:
SQLite has no queue for its write lock, and a waiting writer's busy handler looks again every 100 ms
at the most, so shorter pauses would let the sweep take the lock again and again before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.sending.states import APPROVAL_WAITING, SEND_CANCELLED, SEND_DONE
from bot.store.base import Aggregate
from bot.store.clock import iso

CHUNK = 5000  # rows deleted per transaction (tens of milliseconds)
PAUSE = 0.1  # seconds between two of them, at least


class Retention(Aggregate):
    def purge_older_than(
        self, days: float, *, max_rows: int = 2_000_000, wait: Callable[[float], object] = time.sleep
    ) -> int:
        """Purges sends finished more than ``days`` ago; returns how many sends were purged this run.
        ``wait(seconds)`` makes the pauses (the bot's returns early when it stops)."""

        def pause(began: float) -> None:
            wait(max(PAUSE, 2 * (time.monotonic() - began)))

        with self._read(None) as tx:
            cutoff = iso(tx.now - days * 86400)
            ids = tx.column(
                "SELECT id FROM sends WHERE state IN (:done, :cancelled) AND purged_at IS NULL"
                " AND finished_at < :cutoff ORDER BY id",
                {"done": SEND_DONE, "cancelled": SEND_CANCELLED, "cutoff": cutoff},
            )
        with self._tx(None) as tx:  # decided approval requests: their copied numbers and image too
            tx.execute(
                "UPDATE approvals SET media = NULL, numbers = '[]' WHERE state != :waiting AND created_at < :cutoff"
                " AND (media IS NOT NULL OR numbers != '[]')",
                {"waiting": APPROVAL_WAITING, "cutoff": cutoff},
            )
        purged = deleted = 0
        for send_id in ids:
            while deleted < max_rows:
                began = time.monotonic()
                with self._tx(None) as tx:
                    gone = len(
                        tx.all(
                            f"DELETE FROM recipients WHERE id IN (SELECT id FROM recipients WHERE send_id = :id LIMIT "
                            f"{CHUNK})"
                            " RETURNING id",
                            {"id": send_id},
                        )
                    )
                deleted += gone
                pause(began)
                if gone < CHUNK:
                    break
            else:
                break  # capped: the rest next run
            began = time.monotonic()
            with self._tx(None) as tx:
                tx.execute(
                    "UPDATE batches SET contacts = '[]', message = NULL, queued = NULL, invalid = NULL,"
                    " unsubscribed = NULL WHERE send_id = :id",
                    {"id": send_id},
                )
                tx.execute("DELETE FROM reports WHERE send_id = :id AND done_at IS NOT NULL", {"id": send_id})
                tx.execute(
                    "UPDATE sends SET media = NULL, purged_at = :at WHERE id = :id", {"at": tx.now_iso, "id": send_id}
                )
            purged += 1
            pause(began)
        return purged
