"""Every call to Cellcast takes a slot: at most ``per_second`` calls start in any window, sends first.

Cellcast allows 15 calls a second per account, whatever the call. The slot is taken immediately
before a request leaves (the gateway client asks for it), so nothing slow sits between the
decision and the wire. Sends go first when slots are short; a read (balance, opt-outs, reports)
waits while a send waits, but never more than ``read_patience`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

SEND = "send"
READ = "read"


class RateLimiter:
    def __init__(
        self,
        per_second: int,
        window: float = 1.02,
        clock: Callable[[], float] = time.monotonic,
        read_patience: float = 1.0,
        wait: Callable[[threading.Condition, float], object] | None = None,
        min_gap: float | None = None,
    ) -> None:
        """``window`` is a little over a second, and grants are at least ``min_gap`` apart (by default
        half the average spacing), so that requests leave one by one rather than in a burst whose
        members reach the gateway in a different order each time: arrivals then keep the spacing
        the limiter granted, and no second at the gateway sees more than ``per_second`` starts."""
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        self._limit = int(per_second)
        self._window = window
        self._clock = clock
        self._read_patience = read_patience
        self._min_gap = 1.0 / (2 * per_second) if min_gap is None else min_gap
        self._last = float("-inf")
        self._wait = wait or (lambda condition, seconds: condition.wait(seconds))
        self._cond = threading.Condition()
        self._starts: deque[float] = deque()
        self._senders_waiting = 0
        self._reads_waiting: list[float] = []  # when each waiting read asked: once overdue, it goes next
        self._closed = False
        self.granted: deque[tuple[float, str]] = deque(maxlen=100_000)  # (when, kind): what the limiter promised

    def acquire(self, kind: str = SEND) -> bool:
        """Wait for a slot; False once the limiter is closed (the bot is stopping): send nothing."""
        asked = self._clock()
        with self._cond:
            if kind == SEND:
                self._senders_waiting += 1
            else:
                self._reads_waiting.append(asked)
            try:
                while not self._closed:
                    now = self._clock()
                    while self._starts and self._starts[0] + self._window <= now:
                        self._starts.popleft()
                    overdue_read = bool(self._reads_waiting) and min(self._reads_waiting) + self._read_patience <= now
                    if kind == SEND:
                        patient = not overdue_read
                    else:
                        patient = self._senders_waiting == 0 or (overdue_read and asked == min(self._reads_waiting))
                    spaced = now >= self._last + self._min_gap
                    if len(self._starts) < self._limit and patient and spaced:
                        self._starts.append(now)
                        self._last = now
                        self.granted.append((now, kind))
                        return True
                    if len(self._starts) >= self._limit:
                        wait = self._starts[0] + self._window - now
                    elif not spaced:
                        wait = self._last + self._min_gap - now
                    elif kind == READ and not overdue_read:
                        wait = asked + self._read_patience - now
                    else:
                        wait = 1.0  # behind an overdue read (or another): woken when it is granted
                    self._wait(self._cond, max(wait, 0.001))
                return False
            finally:
                if kind == SEND:
                    self._senders_waiting -= 1
                else:
                    self._reads_waiting.remove(asked)
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def most_in_any_window(self, window: float = 1.0) -> int:
        """The most slots granted in any ``window`` seconds so far (for tests and benchmarks)."""
        return most_in_any_window([t for t, _ in self.granted], window)


def most_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most of ``times`` that fall within any ``window`` seconds: the count Cellcast's limit is about."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] + window <= t:  # the same test the limiter applies
            start += 1
        best = max(best, end - start + 1)
    return best
