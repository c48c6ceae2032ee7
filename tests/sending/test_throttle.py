"""The rate limiter's promise, checked against its own clock: what it grants, not when packets arrive."""

import threading
import time

from hypothesis import example, given
from hypothesis import strategies as st

from bot.sending.throttle import READ, SEND, RateLimiter


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def wait(self, condition, seconds):
        assert seconds > 0
        self.now += seconds


def limiter_on(fake, limit, **kwargs):
    return RateLimiter(limit, window=1.0, clock=fake.clock, wait=fake.wait, min_gap=0.0, **kwargs)


@given(
    st.integers(1, 15), st.lists(st.tuples(st.floats(0, 0.5), st.sampled_from([SEND, READ])), min_size=1, max_size=80)
)
def test_never_more_than_the_limit_in_any_window(limit, steps):
    fake = FakeTime()
    limiter = limiter_on(fake, limit)
    for pause, kind in steps:
        fake.now += pause
        assert limiter.acquire(kind)
    starts = [t for t, _ in limiter.starts_log]
    for start in starts:
        assert sum(1 for t in starts if start <= t < start + 1.0) <= limit
    assert limiter.most_in_any_window(1.0) <= limit


@given(
    st.integers(1, 15),
    st.lists(
        st.tuples(st.floats(0, 0.3), st.sampled_from(["reserve", "start", "release"]), st.integers(0, 20)),
        min_size=1,
        max_size=120,
    ),
)
@example(
    2, [(0, "reserve", 0), (0, "reserve", 0), (0, "start", 0), (0, "reserve", 0), (0, "start", 0), (0, "start", 0)]
)
def test_a_slot_started_late_still_counts_in_its_window(limit, steps):
    """A worker reserves, claims and builds its request, then starts: the wait in between never lets
    more than the limit start in any window."""
    fake = FakeTime()
    limiter = limiter_on(fake, limit)
    held = []
    for pause, action, pick in steps:
        fake.now += pause
        if action == "reserve" and len(held) < limit:
            held.append(limiter.reserve())
        elif held:
            slot = held.pop(pick % len(held))
            slot.start() if action == "start" else slot.release()
    for slot in held:
        slot.start()
    assert limiter.most_in_any_window(1.0) <= limit


def test_a_held_slot_keeps_its_place_in_the_window():
    fake = FakeTime()
    limiter = limiter_on(fake, 2)
    first, second = limiter.reserve(), limiter.reserve()
    first.start()
    third = limiter.reserve()  # the second is held (its worker is building its request): the window is full
    assert fake.now == 1.0
    second.start()
    third.start()
    assert limiter.most_in_any_window(1.0) == 2


def test_a_released_slot_goes_to_the_next_request_at_once():
    fake = FakeTime()
    limiter = limiter_on(fake, 2)
    first, second = limiter.reserve(), limiter.reserve()
    first.release()  # the worker found nothing to send
    second.start()
    second.release()  # no-op once started
    limiter.acquire()
    assert fake.now == 0.0 and limiter.most_in_any_window(1.0) == 2


def test_a_burst_up_to_the_limit_goes_at_once_then_the_window_decides():
    fake = FakeTime()
    limiter = limiter_on(fake, 14)
    for _ in range(14):
        limiter.acquire()
    assert fake.now == 0.0
    limiter.acquire()
    assert fake.now == 1.0


def test_closing_the_limiter_releases_waiters_without_a_slot():
    limiter = RateLimiter(1, window=60.0)
    assert limiter.acquire()
    answers = []
    waiter = threading.Thread(target=lambda: answers.append(limiter.acquire()))
    waiter.start()
    time.sleep(0.1)
    limiter.close()
    waiter.join(2)
    assert answers == [False] and not limiter.acquire()


def test_sends_go_before_reads_when_slots_are_short_but_an_overdue_read_goes_next():
    limiter = RateLimiter(2, window=0.3, read_patience=0.5, min_gap=0.0)
    assert limiter.acquire(SEND) and limiter.acquire(SEND)  # the window is full
    stop = threading.Event()

    def sender():
        while not stop.is_set() and limiter.acquire(SEND):
            pass

    asked = []

    def reader():
        asked.append(time.monotonic())
        limiter.acquire(READ)

    senders = [threading.Thread(target=sender) for _ in range(3)]
    [t.start() for t in senders]
    time.sleep(0.05)
    read = threading.Thread(target=reader)
    read.start()
    read.join(5)
    stop.set()
    limiter.close()
    [t.join(2) for t in senders]
    grants = list(limiter.starts_log)
    read_at = next(t for t, kind in grants if kind == READ)
    assert read_at >= asked[0] + 0.5  # sends went first while the read was within its patience
    sends_while_overdue = [t for t, kind in grants if kind == SEND and asked[0] + 0.5 < t < read_at]
    assert len(sends_while_overdue) <= 1  # once overdue, the read takes the next slot (one send may be mid-grant)
    assert limiter.most_in_any_window(0.3) <= 2


class SharedLog:
    """The shared log's contract, in memory: what the store's rate_limits row does for every process."""

    def __init__(self, fake):
        self.fake, self.starts = fake, []

    def take_slot(self, token, limit, window, send, overdue=False):
        self.starts = [(at, t) for at, t in self.starts if at + window > self.fake.now]
        if len(self.starts) < limit:
            self.starts.append((self.fake.now, token))
            return 0.0
        return min(at for at, _ in self.starts) + window - self.fake.now

    def slot_started(self, token):
        self.starts = [(self.fake.now if t == token else at, t) for at, t in self.starts]

    def slot_released(self, token):
        self.starts = [(at, t) for at, t in self.starts if t != token]


def test_processes_sharing_the_log_keep_to_one_limit_and_an_idle_one_leaves_its_share():
    fake = FakeTime()
    log = SharedLog(fake)
    busy, idle = limiter_on(fake, 14, shared=log), limiter_on(fake, 14, shared=log)
    for _ in range(14):
        busy.acquire()
    assert fake.now == 0.0  # the idle process takes nothing: the busy one has the whole rate
    idle.acquire()
    assert fake.now == 1.0  # the other process's fifteenth waited for the window
    released = busy.reserve()
    released.release()
    assert [t for _, t in log.starts].count(released._token) == 0  # an unused slot goes back to the account
