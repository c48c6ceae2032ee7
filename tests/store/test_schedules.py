"""Scheduled sends in the store, on both engines: they wait (no claim, no expiry), fall due by the store's
clock, and start once or are cancelled, never both, whichever process or person comes first."""

import threading

from bot.sending import outcomes as o
from bot.sending.schedule import Settled
from tests.store.conftest import queued


def schedule(store, clock, key="S1", ahead=3600.0, batches=2, size=3):
    numbers = [[f"4{b:02d}{i:06d}" for i in range(size)] for b in range(batches)]
    return store.create_send(
        {
            "view_id": key,
            "user_id": "U1",
            "channel_id": "C1",
            "message": "hi",
            "send_at": clock.now() + ahead,
            "schedule_tz": "Australia/Sydney",
        },
        b"img",
        numbers,
    )


def due_kinds(database, send_id):
    return [k for (k,) in database.rows(f"SELECT kind FROM reports WHERE send_id = {send_id} AND done_at IS NULL")]


def test_a_scheduled_send_waits_unclaimed_and_unexpired_until_its_time_then_is_due(store, clock, database):
    send_id = schedule(store, clock)
    assert store.get_send(send_id).state == "scheduled"
    assert due_kinds(database, send_id) == ["post", "image"]  # its channel message at once
    clock.advance(3599)
    assert not store.has_pending() and store.claim_next_batch("p1", 10) is None
    assert store.stale_pending_batches(900) == [] and store.due_sends() == []
    clock.advance(1)
    assert [s.id for s in store.due_sends()] == [send_id]
    assert store.start_scheduled(send_id)
    assert store.has_pending() and store.due_sends() == []
    batch = store.claim_next_batch("p1", 10, resume_within=900)
    assert batch is not None and batch.send_id == send_id
    assert "schedule" in due_kinds(database, send_id)  # the channel message says it started


def test_a_send_started_once_whoever_of_many_processes_tries(stores, clock):
    processes = [stores() for _ in range(4)]
    send_id = schedule(processes[0], clock, ahead=0)
    start = threading.Barrier(8)
    won = []

    def starter(store):
        start.wait()
        if store.start_scheduled(send_id):
            won.append(1)

    threads = [threading.Thread(target=starter, args=(processes[i % 4],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert won == [1]


def test_cancel_and_start_racing_one_wins_and_the_send_is_one_or_the_other(stores, clock):
    """Twenty rounds of a cancel and a start at the same moment, from two processes."""
    a, b = stores(), stores()
    for round_ in range(20):
        send_id = schedule(a, clock, key=f"R{round_}", ahead=0, batches=1)
        start = threading.Barrier(2)
        results = {}

        def cancel(send_id=send_id, start=start, results=results):
            start.wait()
            results["cancel"] = a.cancel_scheduled(send_id, "UADMIN")

        def begin(send_id=send_id, start=start, results=results):
            start.wait()
            results["start"] = b.start_scheduled(send_id)

        threads = [threading.Thread(target=cancel), threading.Thread(target=begin)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results.values()) == [False, True], results
        send = a.get_send(send_id)
        states = a.batch_states(send_id)
        if results["cancel"]:
            assert send.state == "cancelled" and send.cancelled_by == "UADMIN" and states == {"cancelled": 1}
        else:
            assert send.state == "open" and states == {"pending": 1}


def test_a_cancelled_send_is_never_claimed_and_a_second_cancel_or_a_start_changes_nothing(store, clock, database):
    send_id = schedule(store, clock, ahead=60)
    assert store.cancel_scheduled(send_id, "U1")
    assert not store.cancel_scheduled(send_id, "UADMIN") and store.get_send(send_id).cancelled_by == "U1"
    clock.advance(120)
    assert store.due_sends() == [] and not store.start_scheduled(send_id)
    assert not store.has_pending() and store.claim_next_batch("p1", 10) is None
    assert store.batch_states(send_id) == {"cancelled": 2}
    assert store.upcoming_sends(None) == []
    assert "schedule" in due_kinds(database, send_id)


def test_a_send_settled_unsent_when_due_is_done_with_every_number_failed_and_its_summary_due(store, clock, database):
    send_id = schedule(store, clock, ahead=0)
    assert store.start_scheduled(send_id, Settled("failed", o.FAILED, "Not sent: revoked"))
    send = store.get_send(send_id)
    assert send.state == "done" and send.n_failed == 6 and send.stop_message == "Not sent: revoked"
    assert store.batch_states(send_id) == {"failed": 2} and store.resendable(send_id, o.RESENDABLE)
    assert "summary" in due_kinds(database, send_id)


def test_upcoming_sends_are_a_persons_own_or_everyones_soonest_first(store, clock):
    late = schedule(store, clock, key="LATE", ahead=7200)
    soon = schedule(store, clock, key="SOON", ahead=600)
    other = store.create_send(
        {"view_id": "O", "user_id": "U2", "channel_id": "C2", "message": "x", "send_at": clock.now() + 60},
        None,
        [["400000009"]],
    )
    assert [s.id for s in store.upcoming_sends("U1")] == [soon, late]
    assert [s.id for s in store.upcoming_sends(None)] == [other, soon, late]


def test_a_batch_of_an_open_send_is_still_claimed_beside_scheduled_ones(store, clock):
    schedule(store, clock, key="LATER")
    now = store.create_send(
        {"view_id": "NOW", "user_id": "U1", "channel_id": "C1", "message": "x"}, None, [["400000001"]]
    )
    batch = store.claim_next_batch("p1", 10)
    assert batch.send_id == now and store.finish_batch(batch.id, "queued", queued(batch), owner="p1")
    assert not store.has_pending()
