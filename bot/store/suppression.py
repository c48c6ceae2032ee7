"""The suppression list: numbers never sent to, every change audited, and a copy in memory.

The copy answers a review of 100,000 numbers with dictionary look-ups. It follows the list through
the audit's *versions*, which are commit-ordered (see migration 2): a reader that has seen version v
has seen every change up to v, on both engines, so the copy can never skip an entry.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Iterator

from bot.store.base import Aggregate
from bot.store.engine import Tx

SUPPRESS, UNSUPPRESS = "suppress", "unsuppress"


def _next_version(tx: Tx) -> int:
    """Held until commit (the counter row's lock): the next writer waits, so versions commit in order."""
    return int(tx.scalar("UPDATE counters SET value = value + 1 WHERE name = 'suppression' RETURNING value"))


def _audit(tx: Tx, version: int, rows: list[dict]) -> None:
    tx.executemany(
        "INSERT INTO suppression_audit (action, number, source, reason, actor, at, version)"
        " VALUES (:action, :number, :source, :reason, :actor, :at, :version)",
        [{**r, "version": version} for r in rows],
    )


class Suppression(Aggregate):
    def __init__(self) -> None:
        self._suppression_lock = threading.Lock()
        self._suppressions: dict[str, str] = {}  # number → source (interned)
        self._suppressions_seen = -1  # the last version applied to the copy

    def suppressed_among(self, numbers: Iterable[str]) -> dict[str, str]:
        """{number: where its suppression came from} for the given numbers on the suppression list."""
        with self._suppression_lock:
            self._catch_up_suppressions()
            listed = self._suppressions
            return {n: listed[n] for n in numbers if n in listed}

    def load_suppressions(self) -> int:
        """At start, so that the first review is as fast as the second. Returns the list's size."""
        with self._suppression_lock:
            self._catch_up_suppressions()
            return len(self._suppressions)

    def _catch_up_suppressions(self) -> None:
        with self._read(None) as tx:
            if self._suppressions_seen == -1:
                # The version first, then the list: changes committed between the two are replayed
                # below; replaying them again is harmless (each sets or removes one number).
                seen = int(tx.scalar("SELECT value FROM counters WHERE name = 'suppression'"))
                self._suppressions = {
                    n: sys.intern(source or "") for n, source in tx.stream("SELECT number, source FROM suppression")
                }
                self._suppressions_seen = seen
            rows = tx.all(
                "SELECT version, action, number, source FROM suppression_audit WHERE version > :seen ORDER BY version, "
                "id",
                {"seen": self._suppressions_seen},
            )
        for version, action, number, source in rows:
            if action == SUPPRESS:
                self._suppressions[number] = sys.intern(source or "")
            elif action == UNSUPPRESS:
                self._suppressions.pop(number, None)
            self._suppressions_seen = version

    def suppress(self, number: str, source: str, reason: str = "", actor: str = "", *, tx: Tx | None = None) -> bool:
        return self.suppress_many([number], source, reason, actor, tx=tx) == 1

    def suppress_many(
        self, numbers: Iterable[str], source: str, reason: str = "", actor: str = "", *, tx: Tx | None = None
    ) -> int:
        """Add numbers (national form); those already listed keep their first source. Returns how many were new."""
        numbers = list(dict.fromkeys(numbers))
        with self._tx(tx) as tx:
            added = []
            for start in range(0, len(numbers), 500):
                chunk = numbers[start : start + 500]
                values = ", ".join(f"(:n{i}, :source, :reason, :actor, :at)" for i in range(len(chunk)))
                added += tx.column(
                    f"INSERT INTO suppression (number, source, reason, added_by, added_at) VALUES {values}"
                    " ON CONFLICT (number) DO NOTHING RETURNING number",
                    {
                        **{f"n{i}": n for i, n in enumerate(chunk)},
                        "source": source,
                        "reason": reason,
                        "actor": actor,
                        "at": tx.now_iso,
                    },
                )
            if added:
                _audit(
                    tx,
                    _next_version(tx),
                    [
                        {
                            "action": SUPPRESS,
                            "number": n,
                            "source": source,
                            "reason": reason,
                            "actor": actor,
                            "at": tx.now_iso,
                        }
                        for n in added
                    ],
                )
        return len(added)

    def unsuppress(self, number: str, actor: str, reason: str, *, tx: Tx | None = None) -> bool:
        with self._tx(tx) as tx:
            source = tx.one("DELETE FROM suppression WHERE number = :number RETURNING source", {"number": number})
            _audit(
                tx,
                _next_version(tx),
                [
                    {
                        "action": UNSUPPRESS if source else "unsuppress (not listed)",
                        "number": number,
                        "source": source[0] if source else "",
                        "reason": reason,
                        "actor": actor,
                        "at": tx.now_iso,
                    }
                ],
            )
        return source is not None

    def suppression_entry(self, number: str, *, tx: Tx | None = None) -> dict | None:
        with self._read(tx) as tx:
            rows = tx.dicts("SELECT * FROM suppression WHERE number = :number", {"number": number})
        return rows[0] if rows else None

    def suppression_count(self, *, tx: Tx | None = None) -> int:
        with self._read(tx) as tx:
            return int(tx.scalar("SELECT COUNT(*) FROM suppression"))

    def latest_suppressions(self, limit: int = 10, *, tx: Tx | None = None) -> list[dict]:
        with self._read(tx) as tx:
            return tx.dicts(
                "SELECT * FROM suppression ORDER BY added_at DESC, number DESC LIMIT :limit", {"limit": limit}
            )

    def iter_suppressions(self) -> Iterator[tuple]:
        with self._read(None) as tx:
            yield from tx.stream(
                "SELECT number, source, reason, added_by, added_at FROM suppression ORDER BY added_at, number"
            )

    def suppression_audit(self, *, tx: Tx | None = None) -> list[dict]:
        with self._read(tx) as tx:
            return tx.dicts(
                "SELECT action, number, source, reason, actor, at FROM suppression_audit ORDER BY version, id"
            )
