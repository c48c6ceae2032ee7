"""Where the store's "now" comes from: leases, due times and timestamps all read one clock.

On SQLite the host's clock is the only one there is. On PostgreSQL the database's clock is used, so
that processes on hosts whose clocks differ still agree on whose lease has run out. Tests inject a
clock of their own and move it instead of sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to (tests, benchmarks)."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


def iso(epoch: float) -> str:
    """The text form kept in the *_at columns: UTC, milliseconds, sortable as text."""
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
