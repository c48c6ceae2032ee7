from hypothesis import given, strategies as st

from bot.sending.throttle import RateLimiter


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds > 0
        self.now += seconds


@given(st.integers(1, 15), st.lists(st.floats(0, 0.5), min_size=1, max_size=80))
def test_never_more_than_the_limit_in_any_window(limit, pauses):
    time = FakeTime()
    limiter = RateLimiter(limit, window=1.0, clock=time.clock, sleep=time.sleep)
    starts = []
    for pause in pauses:
        time.now += pause
        limiter.acquire()
        starts.append(time.now)
    for start in starts:
        assert sum(1 for t in starts if start <= t < start + 1.0) <= limit


def test_a_burst_up_to_the_limit_goes_at_once():
    time = FakeTime()
    limiter = RateLimiter(14, window=1.0, clock=time.clock, sleep=time.sleep)
    for _ in range(14):
        limiter.acquire()
    assert time.now == 0.0
    limiter.acquire()
    assert time.now == 1.0
