"""Moving up (copy-database), retention in short steps, delivery counters as statuses change."""

import pytest

from bot.__main__ import main
from bot.sending import outcomes as o
from bot.store import Store
from bot.store.copy import TargetNotEmpty, copy_database
from tests.store.conftest import make_send, queued


def _fill(store):
    store.allow("UCAROL", "UADMIN")
    send_id = make_send(store, "K1", batches=2)
    batch = store.claim_next_batch("p1", 10)
    store.finish_batch(batch.id, "queued", queued(batch), owner="p1")
    store.suppress_many(["400000009", "400000008"], "cellcast")
    store.unsuppress("400000008", "UADMIN", "typo")
    store.record_reply("poll:1", "400000001", "thanks", "2026-11-30T01:00:00+00:00", "poll")
    return send_id


def test_copy_database_copies_everything_into_an_empty_database_and_refuses_a_full_one(tmp_path, database, capsys):
    source = Store(str(tmp_path / "source.db"))
    send_id = _fill(source)
    assert main(["copy-database", "--from", f"sqlite:///{tmp_path / 'source.db'}", "--to", database.url]) == 0
    printed = capsys.readouterr().out
    assert "recipients: 4 rows" in printed and "suppression_audit: 3 rows" in printed
    target = Store(database.url)
    assert target.get_send(send_id) == source.get_send(send_id) and target.get_media(send_id) == b"img"
    assert target.is_allowed("UCAROL") and target.suppressed_among(["400000009", "400000008"]) == {
        "400000009": "cellcast"
    }
    assert target.suppression_audit() == source.suppression_audit()
    assert target.claim_reports("p2", 10)  # the reports still due came along
    batch = target.claim_next_batch("p2", 10)  # and the batch still pending
    assert batch is not None and target.finish_batch(batch.id, "queued", queued(batch), owner="p2")
    assert make_send(target, "K2", batches=1) == send_id + 1  # new rows are numbered after the copied ones
    target.suppress("400000007", "admin")
    assert Store(database.url).suppressed_among(["400000007"]) == {"400000007": "admin"}
    with pytest.raises(TargetNotEmpty):
        copy_database(source, target)
    assert main(["copy-database", "--from", f"sqlite:///{tmp_path / 'source.db'}", "--to", database.url]) == 2
    assert "not empty" in capsys.readouterr().err


def test_retention_purges_in_short_steps_and_keeps_the_counts(store, clock):
    old, _ = make_send(store, "OLD", batches=3, size=6000), make_send(store, "NEW", batches=1)
    for _ in range(4):
        batch = store.claim_next_batch("p1", 10)
        store.finish_batch(batch.id, "queued", queued(batch), owner="p1")
    clock.advance(91 * 86400)
    make_send(store, "RECENT", batches=0)
    steps = []
    assert store.purge_older_than(90, max_rows=10000, wait=steps.append) == 0  # capped: resumes next run
    assert store.get_send(old).purged_at is None
    assert store.purge_older_than(90, wait=steps.append) == 2
    assert len(steps) >= 5  # one short transaction per 5,000 rows, with a pause after each
    assert store.get_media(old) is None and list(store.iter_recipients(old)) == []
    assert store.get_send(old).n_queued == 18000 and store.get_send(old).purged_at
    assert store.purge_older_than(90, wait=steps.append) == 0
    assert min(steps) >= 0.1  # every pause at least 100 ms: a waiting writer gets in


def test_delivery_statuses_move_the_counters_without_recounting(store):
    send_id = make_send(store, batches=1, size=3)
    batch = store.claim_next_batch("p1", 10)
    store.finish_batch(
        batch.id,
        "queued",
        [o.NumberOutcome(n, o.QUEUED, "", f"m{i}") for i, n in enumerate(batch.contacts)],
        owner="p1",
    )
    rows = store.undelivered_messages([send_id], ["queued", "sent"])
    ids = sorted(row_id for row_id, _ in rows.values())
    good, bad = ["delivered"], ["failed"]
    assert store.set_deliveries([(ids[0], "sent"), (ids[1], "delivered")], good, bad) == [send_id]
    assert store.set_deliveries([(ids[1], "delivered")], good, bad) == []  # no change, no count
    store.set_deliveries([(ids[0], "failed"), (ids[2], "delivered")], good, bad)
    send = store.get_send(send_id)
    assert (send.n_delivered, send.n_undelivered, send.delivery_pending) == (2, 1, 0)
    # A report page read before the webhook's "delivered" still says "queued": stale, and never undoes it.
    assert store.set_deliveries([(ids[1], "queued"), (ids[0], "sent")], good, bad) == []
    send = store.get_send(send_id)
    assert (send.n_delivered, send.n_undelivered) == (2, 1)
    assert [row[4] for row in store.iter_recipients(send_id)][-3:] == ["failed", "delivered", "delivered"]
