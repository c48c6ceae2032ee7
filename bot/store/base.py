"""What every aggregate shares: the engine, and a transaction that is the caller's or a new one."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from bot.store.engine import Engine, Tx


def in_list(prefix: str, values: list) -> tuple[str, dict]:
    """``:p0, :p1, …`` and their values, for ``IN (…)`` with named parameters on both engines."""
    return ", ".join(f":{prefix}{i}" for i in range(len(values))), {f"{prefix}{i}": v for i, v in enumerate(values)}


class Aggregate:
    engine: Engine

    def transaction(self, write: bool = True) -> AbstractContextManager[Tx]:
        """Open one to make several aggregate calls (each given ``tx=``) one transaction."""
        return self.engine.transaction(write)

    def _tx(self, tx: Tx | None) -> AbstractContextManager[Tx]:
        return nullcontext(tx) if tx is not None else self.engine.transaction()

    def _read(self, tx: Tx | None) -> AbstractContextManager[Tx]:
        return nullcontext(tx) if tx is not None else self.engine.transaction(write=False)
