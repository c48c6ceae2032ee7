"""What one background check may spend: a time budget, and a turn at the gate for memory-heavy work.

Parsers and the image pipeline call ``budget.check()`` as they go (every few thousand rows, between
steps of an image), so a file that would take minutes is stopped at the budget and named on the
review, and a process that is stopping abandons a check at once. Decoding an image or reading a
workbook takes a turn at a ``Gate`` shared by every check of the process: however many people submit
at once, only that many decodes hold their memory together.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class OutOfTime(Exception):
    """The check used up its time budget."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"over the {seconds:g} s budget")
        self.seconds = seconds


class Abandoned(Exception):
    """The process is stopping: the check is dropped, to be redone by a live process."""


class Gate:
    """At most ``turns`` memory-heavy steps at once in this process."""

    def __init__(self, turns: int) -> None:
        self._turns = threading.BoundedSemaphore(turns)

    @contextmanager
    def turn(self, budget: Budget) -> Iterator[None]:
        while not self._turns.acquire(timeout=0.1):
            budget.check()  # waiting counts against the budget, and a stop ends the wait
        try:
            yield
        finally:
            self._turns.release()


class Budget:
    def __init__(
        self,
        seconds: float = math.inf,
        *,
        gate: Gate | None = None,
        stopping: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self._deadline = clock() + seconds
        self._gate = gate
        self._stopping = stopping
        self._clock = clock

    def check(self) -> None:
        if self._stopping is not None and self._stopping.is_set():
            raise Abandoned()
        if self._clock() > self._deadline:
            raise OutOfTime(self.seconds)

    @contextmanager
    def heavy(self) -> Iterator[None]:
        """A step that holds a lot of memory for a while (an image decode, a workbook's read)."""
        self.check()
        if self._gate is None:
            yield
            return
        with self._gate.turn(self):
            yield


UNLIMITED = Budget()
