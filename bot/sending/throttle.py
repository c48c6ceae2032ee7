"""Keep gateway calls under Cellcast's limit of 15 calls per second per account."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Starts calls at least 1/rate seconds apart, across all threads.

    With starts spaced evenly, any one-second window holds at most rate + 1 starts, so a rate of 14
    never exceeds the gateway's 15 and leaves no bursts for it to punish.
    """

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self._interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)
