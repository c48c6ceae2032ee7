"""Threads that run one loop body until the process stops: the bot's long-running work in one shape.

``body()`` does one round of work and says whether there may be more at once (True) or it is idle
(False: the thread waits for ``wake()`` or ``idle`` seconds). An exception is logged and the thread
pauses ``error_pause`` seconds before the next round: a failing database or Slack never spins a
core, and never kills the worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Workers:
    def __init__(
        self,
        name: str,
        body: Callable[[], bool],
        *,
        count: int = 1,
        idle: float = 1.0,
        error_pause: float = 2.0,
        stopping: threading.Event | None = None,
    ) -> None:
        self.name = name
        self._body = body
        self._count = count
        self._idle = idle
        self._error_pause = error_pause
        self._wake = threading.Condition()
        self.stopping = stopping or threading.Event()  # may be shared with the owner, who stops other work by it
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for index in range(self._count):
            thread = threading.Thread(target=self._run, name=f"{self.name}-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def pause(self, seconds: float) -> None:
        """Wait, but no longer than until the workers are told to stop."""
        self.stopping.wait(seconds)

    def stop(self, grace: float) -> None:
        """No new rounds; a round under way gets ``grace`` seconds to finish (the threads are daemons)."""
        self.stopping.set()
        self.wake()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                busy = self._body()
            except Exception:
                log.exception("%s: a round failed; trying again in %.0f s", self.name, self._error_pause)
                self.pause(self._error_pause)
                continue
            if not busy:
                with self._wake:
                    self._wake.wait(self._idle)
