"""Claims, settling and the multi-step writes of a batch, on both engines."""

import threading

import pytest

from tests.store.conftest import Crash, make_send, queued


def test_a_batch_is_claimed_by_one_process_and_settled_only_by_its_owner(stores):
    a, b = stores(), stores()
    make_send(a, batches=1)
    first = a.claim_next_batch("p1", 10)
    assert first is not None and b.claim_next_batch("p2", 10) is None
    assert not b.finish_batch(first.id, "queued", [], owner="p2")
    assert a.finish_batch(first.id, "queued", queued(first), owner="p1")
    assert not a.finish_batch(first.id, "queued", queued(first), owner="p1")  # settled once


def test_concurrent_claimers_each_get_a_different_batch_and_no_loser_comes_back_empty(stores):
    """16 claimers on 4 processes race for 64 batches: 64 claims, all different, none empty-handed."""
    processes = [stores() for _ in range(4)]
    make_send(processes[0], "BIG", batches=64, size=1)
    start = threading.Barrier(16)
    claimed, empty = [], []

    def claimer(store, name):
        start.wait()
        for _ in range(4):
            batch = store.claim_next_batch(name, 10)
            (claimed if batch else empty).append(batch.id if batch else name)

    threads = [threading.Thread(target=claimer, args=(processes[i % 4], f"c{i}")) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 64
    assert empty == []


def test_turns_go_round_the_open_sends(store):
    big, small = make_send(store, "BIG", batches=3), make_send(store, "SMALL", batches=1)
    order = []
    while (batch := store.claim_next_batch("p1", 10)) is not None:
        order.append(batch.send_id)
        store.finish_batch(batch.id, "queued", queued(batch), owner="p1")
    assert order == [big, small, big, big]


def test_the_last_batch_makes_the_summary_due_once_and_counts_add_up(store, database):
    send_id = make_send(store)
    for _ in range(2):
        batch = store.claim_next_batch("p1", 10)
        store.finish_batch(batch.id, "queued", queued(batch), owner="p1")
    send = store.get_send(send_id)
    assert send.state == "done" and send.n_queued == 6 and send.n_invalid == 1 and send.entries == send.settled == 7
    due = [kind for (kind,) in database.rows("SELECT kind FROM reports WHERE done_at IS NULL ORDER BY id")]
    assert due.count("summary") == 1 and "progress" not in due


def test_a_crash_between_a_batch_and_its_counts_and_summary_leaves_nothing_half_done(store, database, crash_on):
    send_id = make_send(store, batches=1)
    batch = store.claim_next_batch("p1", 10)
    crash_on("INSERT INTO reports")  # the summary due: the last step of the finish
    with pytest.raises(Crash):
        store.finish_batch(batch.id, "queued", queued(batch), owner="p1")
    send = store.get_send(send_id)
    assert store.batch_states(send_id) == {"sending": 1} and send.n_queued == 0 and send.state == "open"
    assert database.rows("SELECT COUNT(*) FROM recipients WHERE batch_id = ?", (batch.id,)) == [(0,)]
    assert store.finish_batch(batch.id, "queued", queued(batch), owner="p1")  # the retry then commits it whole
    assert store.get_send(send_id).n_queued == 3 and store.get_send(send_id).state == "done"


def test_a_crash_between_a_claim_and_the_sends_turn_leaves_the_batch_pending(store, crash_on):
    send_id = make_send(store, batches=1)
    crash_on("UPDATE sends SET turn")
    with pytest.raises(Crash):
        store.claim_next_batch("p1", 10)
    assert store.batch_states(send_id) == {"pending": 1}
    assert store.claim_next_batch("p1", 10) is not None


def test_leases_run_on_the_stores_clock_and_only_held_batches_are_renewed(store, clock):
    make_send(store, batches=2)
    held, dropped = store.claim_next_batch("p1", 10), store.claim_next_batch("p1", 10)
    clock.advance(9)
    store.renew_leases("p1", 10, [held.id])  # the worker of `dropped` is gone: its claim must lapse
    assert store.lapsed_batches() == []
    clock.advance(2)
    assert [b.id for b in store.lapsed_batches()] == [dropped.id]


def test_a_send_idle_longer_than_the_resume_window_is_not_claimed(store, clock):
    send_id = make_send(store, batches=1)
    clock.advance(901)
    assert store.claim_next_batch("p1", 10, resume_within=900) is None
    assert [b.send_id for b in store.stale_pending_batches(900)] == [send_id]


def test_the_same_confirmation_is_recorded_once(store):
    assert make_send(store, "SAME") is not None
    with store.transaction() as tx:  # a duplicate does not abort the transaction it is in (PostgreSQL would)
        assert (
            store.create_send(
                {"view_id": "SAME", "user_id": "U1", "channel_id": "C1", "message": "hi"}, None, [["400000001"]], tx=tx
            )
            is None
        )
        store.allow("UOTHER", "UADMIN", tx=tx)
    assert store.is_allowed("UOTHER")
