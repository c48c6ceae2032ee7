"""The account's rate limit, shared by every process: a sliding log of the last call starts in one row.

A process takes a slot under the row's lock (``FOR UPDATE`` on PostgreSQL, the write lock on SQLite),
on the database's clock, so all instances together start at most ``limit`` calls in any window. A
slot is logged when granted and moved to the moment its request leaves (``slot_started``), or
removed if it goes unused; a process that dies holding one loses it when the window passes it by.
Sends go first: a send refused a slot marks the row, and reads then wait (up to their patience).
"""

from __future__ import annotations

import json

from bot.store.base import Aggregate
from bot.store.engine import Tx

ACCOUNT = "cellcast"
SENDS_FIRST_FOR = 0.25  # seconds after a send was refused a slot during which reads stand back


class RateLog(Aggregate):
    def _log(self, tx: Tx) -> tuple[list[list], float | None]:
        row = tx.one(
            f"SELECT starts, sends_waiting_at FROM rate_limits WHERE name = :name {tx.dialect.lock_suffix}",
            {"name": ACCOUNT},
        )
        return json.loads(row[0]), row[1]

    def _write(self, tx: Tx, starts: list[list], **extra) -> None:
        sets = "".join(f", {name} = :{name}" for name in extra)
        tx.execute(
            f"UPDATE rate_limits SET starts = :starts{sets} WHERE name = :name",
            {"starts": json.dumps(starts), "name": ACCOUNT, **extra},
        )

    def take_slot(self, token: str, limit: int, window: float, send: bool, overdue: bool = False) -> float:
        """0 when granted (logged as starting now); otherwise how many seconds until one may be free."""
        with self._tx(None) as tx:
            starts, sends_waiting_at = self._log(tx)
            now = tx.now
            starts = [entry for entry in starts if entry[0] + window > now]
            if not send and not overdue and sends_waiting_at is not None and now - sends_waiting_at < SENDS_FIRST_FOR:
                return max(0.01, sends_waiting_at + SENDS_FIRST_FOR - now)
            if len(starts) < limit:
                starts.append([now, token])
                self._write(tx, starts)
                return 0.0
            if send:
                self._write(tx, starts, sends_waiting_at=now)
            return max(0.001, min(entry[0] for entry in starts) + window - now)

    def slot_started(self, token: str) -> None:
        """The request leaves now: its entry counts from now (it was logged when granted)."""
        with self._tx(None) as tx:
            starts, _ = self._log(tx)
            self._write(tx, [[max(at, tx.now), t] if t == token else [at, t] for at, t in starts])

    def slot_released(self, token: str) -> None:
        with self._tx(None) as tx:
            starts, _ = self._log(tx)
            self._write(tx, [entry for entry in starts if entry[1] != token])

    def starts_in_window(self, window: float) -> int:
        """How many calls started (or were granted) in the last ``window`` seconds, by every process."""
        with self._read(None) as tx:
            starts = json.loads(tx.scalar("SELECT starts FROM rate_limits WHERE name = :name", {"name": ACCOUNT}))
            return sum(1 for at, _ in starts if at + window > tx.now)
