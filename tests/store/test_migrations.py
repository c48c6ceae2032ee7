"""Migrations: a file made by 0.1.0 upgrades in place; several processes starting together migrate once."""

import sqlite3
import threading
from pathlib import Path

from bot.sending import outcomes as o
from bot.store import Store
from bot.store.migrations import MIGRATIONS

MADE_BY_0_1_0 = Path(__file__).parent / "data" / "made-by-0.1.0.sql"


def test_a_database_made_by_0_1_0_upgrades_in_place_and_keeps_everything(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(MADE_BY_0_1_0.read_text())
    store = Store(str(path))
    send = store.get_send(1)
    assert (send.n_queued, send.n_invalid, send.n_delivered, send.batches_done, send.batches_total) == (2, 1, 0, 1, 2)
    assert store.get_media(1) == b"\x89PNGimg" and store.is_allowed("UCAROL")
    assert store.suppressed_among(["400000009", "400000008"]) == {"400000009": "cellcast"}
    assert [a["action"] for a in store.suppression_audit()] == ["suppress", "suppress", "unsuppress"]
    assert store.get_reply(1)["body"] == "STOP" and store.sync_value("replies_newest") == "poll:1"
    batch = store.claim_next_batch("new-host", 10)  # the half-sent send goes on
    assert batch.contacts == ["400000003"] and store.finish_batch(
        batch.id, "queued", o.all_of(batch.contacts, o.QUEUED, ""), owner="new-host"
    )
    assert store.get_send(1).state == "done"
    store.suppress("400000007", "admin")
    assert Store(str(path)).suppressed_among(["400000007", "400000009"]) == {
        "400000007": "admin",
        "400000009": "cellcast",
    }
    with sqlite3.connect(path) as conn:
        assert [n for (n,) in conn.execute("SELECT id FROM schema_migrations ORDER BY id")] == [
            m[0] for m in MIGRATIONS
        ]


def test_processes_starting_together_apply_each_migration_once(database):
    errors, opened = [], []
    start = threading.Barrier(4)

    def open_store():
        start.wait()
        try:
            opened.append(Store(database.url))
        except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(opened) == 4
    assert database.rows("SELECT id, COUNT(*) FROM schema_migrations GROUP BY id ORDER BY id") == [
        (m[0], 1) for m in MIGRATIONS
    ]
    for store in opened:
        store.close()
