"""One rate limit for the account across processes, kept in the database (both engines)."""

import threading
import time

from bot.sending.throttle import SEND, RateLimiter, most_in_any_window


def test_four_processes_together_never_start_more_than_the_limit_in_any_second(stores):
    limiters = [RateLimiter(14, window=1.02, shared=stores(live=True)) for _ in range(4)]
    stop = time.monotonic() + 2.5

    def caller(limiter):
        while time.monotonic() < stop:
            limiter.acquire(SEND)

    threads = [threading.Thread(target=caller, args=(limiters[i % 4],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    starts = [at for limiter in limiters for at, _ in limiter.starts_log]
    assert most_in_any_window(starts, 1.0) <= 14
    assert len(starts) >= 2 * 14  # and the rate was used: about 14 a second between them


def test_an_idle_process_leaves_the_whole_rate_to_a_busy_one(stores):
    busy, idle = RateLimiter(14, shared=stores(live=True)), RateLimiter(14, shared=stores(live=True))
    began = time.monotonic()
    for _ in range(14):
        busy.acquire(SEND)
    assert time.monotonic() - began < 0.9 and idle.most_in_any_window() == 0


def test_a_slot_given_back_unused_is_free_for_another_process(stores):
    first, second = stores(live=True), stores(live=True)
    slot = RateLimiter(1, shared=first).reserve(SEND)
    assert second.take_slot("t", 1, 1.0, send=True) > 0  # held by the first process
    slot.release()
    assert second.take_slot("t", 1, 1.0, send=True) == 0.0


def test_reads_stand_back_while_a_send_is_waiting_in_another_process(stores, clock):
    store = stores()
    assert store.take_slot("s1", 1, 1.0, send=True) == 0.0
    assert store.take_slot("s2", 1, 1.0, send=True) > 0  # a send waits: it marks the row
    clock.advance(0.9)
    assert store.take_slot("s2", 1, 1.0, send=True) > 0  # and asks again (every 0.1 s at most): still waiting
    clock.advance(0.15)  # a slot is free again, but a send is waiting for it
    assert store.take_slot("r1", 1, 1.0, send=False) > 0
    assert store.take_slot("r1", 1, 1.0, send=False, overdue=True) == 0.0  # an overdue read goes next
