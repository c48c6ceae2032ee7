"""A thread that runs small tasks every so often (lease renewal, sweeps, sync), each apart from the others."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(self, name: str = "periodic") -> None:
        self._name = name
        self._tasks: list[list] = []  # [every, next due (monotonic), name, fn]
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: dict[str, str] = {}

    def every(self, seconds: float, name: str, fn: Callable[[], None], *, first_in: float = 0.0) -> None:
        self._tasks.append([seconds, time.monotonic() + first_in, name, fn])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            now = time.monotonic()
            for task in self._tasks:
                every, due, name, fn = task
                if now < due:
                    continue
                task[1] = now + every
                try:
                    fn()
                    self.last_error.pop(name, None)
                except Exception as exc:
                    self.last_error[name] = f"{type(exc).__name__}: {exc}"
                    log.exception("%s failed; it runs again in %.0f s", name, every)
            next_due = min((task[1] for task in self._tasks), default=now + 1.0)
            self._stopping.wait(max(0.05, min(1.0, next_due - time.monotonic())))
