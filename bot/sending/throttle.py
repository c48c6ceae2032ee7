"""Keep gateway calls under Cellcast's limit of 15 calls per second per account."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``per_second`` call starts in any sliding window of ``window`` seconds, across threads.

    A sliding window (rather than even spacing) lets a small send start all its batches at once
    while a large one still runs at the gateway's rate. The default window is a little longer than
    a second, so that network jitter cannot squeeze more than the limit into the gateway's second.
    """

    def __init__(
        self,
        per_second: float,
        window: float = 1.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        self._limit = int(per_second)
        self._window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._starts: deque[float] = deque()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and self._starts[0] + self._window <= now:
                    self._starts.popleft()
                if len(self._starts) < self._limit:
                    self._starts.append(now)
                    return
                wait = self._starts[0] + self._window - now
            self._sleep(wait)
