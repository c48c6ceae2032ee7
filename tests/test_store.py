"""The store's own promises: claims across connections, reports due exactly once, retention."""

import time

from bot.sending import outcomes as o
from bot.store import Store


def make_send(store, key="K1", batches=2, size=3):
    numbers = [[f"4{b:02d}{i:06d}" for i in range(size)] for b in range(batches)]
    settled = [o.NumberOutcome("hello (row 2)", o.INVALID, "has letters")]
    return store.create_send({"view_id": key, "user_id": "U1", "channel_id": "C1", "message": "hi"}, b"img", numbers, settled)


def test_a_batch_is_claimed_by_one_process_only(tmp_path):
    a, b = Store(str(tmp_path / "s.db")), Store(str(tmp_path / "s.db"))
    make_send(a, batches=1)
    first = a.claim_next_batch("p1", time.time() + 10)
    assert first is not None and b.claim_next_batch("p2", time.time() + 10) is None
    assert not b.finish_batch(first.id, "queued", [], owner="p2")  # only the owner settles it
    assert a.finish_batch(first.id, "queued", o.all_of(first.contacts, o.QUEUED, ""), owner="p1")


def test_the_last_batch_makes_the_summary_due_once_and_counts_add_up(tmp_path):
    store = Store(str(tmp_path / "s.db"))
    send_id = make_send(store)
    for _ in range(2):
        batch = store.claim_next_batch("p1", time.time() + 10)
        store.finish_batch(batch.id, "queued", o.all_of(batch.contacts, o.QUEUED, ""), owner="p1")
    send = store.get_send(send_id)
    assert send.state == "done" and send.n_queued == 6 and send.n_invalid == 1 and send.entries == send.settled == 7
    due = store.db.execute("SELECT kind FROM reports WHERE done_at IS NULL ORDER BY id").fetchall()
    assert [k for (k,) in due].count("summary") == 1


def test_retention_deletes_details_and_images_but_keeps_counts(tmp_path):
    store = Store(str(tmp_path / "s.db"))
    old, new = make_send(store, "OLD", batches=1), make_send(store, "NEW", batches=1)
    for _ in range(2):
        batch = store.claim_next_batch("p1", time.time() + 10)
        store.finish_batch(batch.id, "queued", o.all_of(batch.contacts, o.QUEUED, ""), owner="p1")
    store.db.execute("UPDATE sends SET finished_at = '2000-01-01T00:00:00.000+00:00' WHERE id = ?", [old])
    assert store.purge_finished_before("2001-01-01") == 1
    assert store.get_media(old) is None and list(store.iter_recipients(old)) == []
    assert store.get_send(old).n_queued == 3 and store.get_send(old).purged_at
    assert store.get_media(new) == b"img" and len(list(store.iter_recipients(new))) == 4
    assert store.purge_finished_before("2001-01-01") == 0
