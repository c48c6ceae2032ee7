"""Every call to Cellcast takes a slot: at most ``per_second`` calls start in any window, sends first.

Cellcast allows 15 calls a second per account, whatever the call. A batch worker reserves its slot
before it claims a batch (so it never claims one it cannot send soon) and marks it started
immediately before the request leaves; a reserved slot counts against the window until then, so the
work between the two (claiming, building the request) can never let more than ``per_second``
requests start in any window. Sends go first when slots are short; a read (balance, opt-outs,
reports) waits while a send waits, but never more than ``read_patience`` seconds.

Cellcast counts the account, not the process: with a ``shared`` log (the store's, one row for every
process on the database) a slot granted here is also taken there, on the database's clock, so all
processes together keep to the limit and an idle one leaves the whole rate to the busy ones.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

SEND = "send"
READ = "read"


class SharedRate(Protocol):
    """The account's log of call starts, kept where every process sees it (bot/store/rate.py)."""

    def take_slot(self, token: str, limit: int, window: float, send: bool, overdue: bool = False) -> float:
        """0 when granted; otherwise seconds until a slot may be free."""

    def slot_started(self, token: str) -> None: ...
    def slot_released(self, token: str) -> None: ...


class RateLimiter:
    def __init__(
        self,
        per_second: int,
        window: float = 1.005,
        clock: Callable[[], float] = time.monotonic,
        read_patience: float = 1.0,
        wait: Callable[[threading.Condition, float], object] | None = None,
        min_gap: float | None = None,
        shared: SharedRate | None = None,
    ) -> None:
        """``window`` is a hair over a second (the few milliseconds between a start and its arrival at
        the gateway vary), and grants are at least ``min_gap`` apart (by default half the average
        spacing), so that requests leave one by one rather than in a burst whose members reach the
        gateway in a different order each time."""
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        self._per_second = int(per_second)
        self._window = window
        self._clock = clock
        self._read_patience = read_patience
        self._min_gap = 1.0 / (2 * per_second) if min_gap is None else min_gap
        self._last = float("-inf")
        self._wait = wait or (lambda condition, seconds: condition.wait(seconds))
        self._cond = threading.Condition()
        self._starts: deque[float] = deque()
        self._held = 0  # reserved slots whose request has not started yet: they count as starting now
        self._senders_waiting = 0
        self._reads_waiting: list[float] = []  # when each waiting read asked: once overdue, it goes next
        self._closed = False
        self._shared = shared
        self.starts_log: deque[tuple[float, str]] = deque(
            maxlen=100_000
        )  # (when, kind) of each start: what the limiter promises about

    def acquire(self, kind: str = SEND) -> bool:
        """Wait for a slot and start it now; False once the limiter is closed (the bot is stopping)."""
        slot = self.reserve(kind)
        if slot is None:
            return False
        slot.start()
        return True

    def reserve(self, kind: str = SEND) -> Slot | None:
        """Wait for a slot and hold it until ``start()`` or ``release()``; None once the limiter is closed."""
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
                    if len(self._starts) + self._held < self._per_second and patient and spaced:
                        self._held += 1
                        self._last = now
                        if self._shared is None:
                            return Slot(self, kind)
                        token = uuid.uuid4().hex[:12]
                        wait = self._take_shared(token, kind, overdue_read)
                        if wait == 0.0:
                            return Slot(self, kind, token)
                        self._held -= 1
                        self._wait(self._cond, min(wait, 0.1))  # a waiting send asks often: reads elsewhere stand back
                        continue
                    if len(self._starts) + self._held >= self._per_second and self._starts:
                        wait = self._starts[0] + self._window - now
                    elif not spaced:
                        wait = self._last + self._min_gap - now
                    elif kind == READ and not overdue_read:
                        wait = asked + self._read_patience - now
                    else:
                        wait = 1.0  # behind an overdue read (or another): woken when it is granted
                    self._wait(self._cond, max(wait, 0.001))
                return None
            finally:
                if kind == SEND:
                    self._senders_waiting -= 1
                else:
                    self._reads_waiting.remove(asked)
                self._cond.notify_all()

    def _take_shared(self, token: str, kind: str, overdue: bool) -> float:
        """Asks the shared log outside this limiter's lock (a database call may wait)."""
        self._cond.release()
        try:
            return self._shared.take_slot(token, self._per_second, self._window, kind == SEND, overdue)
        except Exception:
            log.exception("the shared rate limit could not be read; trying again")
            return 0.5
        finally:
            self._cond.acquire()

    def _tell_shared(self, started: bool, token: str | None) -> None:
        if self._shared is None or token is None:
            return
        try:
            (self._shared.slot_started if started else self._shared.slot_released)(token)
        except Exception:  # the log keeps the grant's time, or the entry ages out: never more calls
            log.exception("the shared rate limit could not record a slot %s", "start" if started else "release")

    @property
    def limit(self) -> int:
        return self._per_second

    def _settle(self, kind: str, started: bool, token: str | None = None) -> None:
        self._tell_shared(started, token)
        with self._cond:
            self._held -= 1
            if started:
                now = self._clock()
                self._starts.append(now)
                self.starts_log.append((now, kind))
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def most_in_any_window(self, window: float = 1.0) -> int:
        """The most starts in any ``window`` seconds so far (for tests and benchmarks)."""
        return most_in_any_window([t for t, _ in self.starts_log], window)


class Slot:
    """One reserved slot: ``start()`` as the request leaves, or ``release()`` it unused (a no-op after either)."""

    def __init__(self, limiter: RateLimiter, kind: str, token: str | None = None) -> None:
        self._per_seconder = limiter
        self._kind = kind
        self._token = token
        self.started = False
        self._settled = False

    def start(self) -> None:
        if not self._settled:
            self._settled = self.started = True
            self._per_seconder._settle(self._kind, started=True, token=self._token)

    def release(self) -> None:
        if not self._settled:
            self._settled = True
            self._per_seconder._settle(self._kind, started=False, token=self._token)


def most_in_any_window(times: list[float], window: float = 1.0) -> int:
    """The most of ``times`` that fall within any ``window`` seconds: the count Cellcast's limit is about."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] + window <= t:  # the same test the limiter applies
            start += 1
        best = max(best, end - start + 1)
    return best
