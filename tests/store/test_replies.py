"""A reply is recorded once whether the poll, the webhook or both bring it, in any order (both engines)."""

import threading

from bot.store.clock import iso

NUMBER = "400000001"


def poll(store, body, at, n=0):
    return store.record_reply(f"poll:{NUMBER}|{iso(at)}|{body}|{n}", NUMBER, body, iso(at), "poll")


def webhook(store, body, ident):
    return store.record_reply(f"webhook:{ident}", NUMBER, body, "", "webhook")


def test_polled_then_pushed_or_pushed_then_polled_is_one_reply(store, clock):
    first = poll(store, "Who is this?", clock.now())
    clock.advance(5)
    assert first is not None and webhook(store, "Who is this?", "w1") is None
    assert webhook(store, "Who is this?", "w1") is None  # Cellcast retrying the webhook
    second = webhook(store, "Thanks", "w2")
    clock.advance(30)
    assert second is not None and poll(store, "Thanks", clock.now() - 29) is None
    assert poll(store, "Thanks", clock.now() - 29) is None  # the poll reading it again


def test_two_replies_of_the_same_text_are_two_however_they_arrive(store, clock):
    assert webhook(store, "Yes", "w1") is not None
    clock.advance(60)
    assert webhook(store, "Yes", "w2") is not None
    # The poll then reads both: each pairs with one webhook, nearest in time.
    assert poll(store, "Yes", clock.now() - 60, 1) is None
    assert poll(store, "Yes", clock.now(), 2) is None
    assert poll(store, "Yes", clock.now() + 5, 3) is not None  # a third "Yes" the webhook never brought


def test_the_same_text_long_after_is_a_new_reply(store, clock):
    assert webhook(store, "Yes", "w1") is not None
    clock.advance(3600)
    assert poll(store, "Yes", clock.now()) is not None


def test_a_poll_and_a_webhook_in_two_processes_at_once_record_it_once(stores, clock):
    first, second = stores(), stores()
    for round_ in range(15):
        start = threading.Barrier(2)
        recorded: list = []
        at = clock.now()

        def take(record, start=start, recorded=recorded):
            start.wait()
            recorded.append(record())

        threads = [
            threading.Thread(target=take, args=(lambda text=f"hello {round_}", at=at: poll(first, text, at),)),
            threading.Thread(target=take, args=(lambda n=round_: webhook(second, f"hello {n}", f"w{n}"),)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(r is not None for r in recorded) == 1, recorded
