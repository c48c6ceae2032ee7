"""The hot queries on large tables use an index (SQLite's EXPLAIN QUERY PLAN): no full scans of
recipients or batches, which hold millions of rows after months of use."""

import pytest

from bot.store import Store

HOT = {  # query → the large tables it must not scan whole
    "SELECT number FROM recipients WHERE batch_id = :id AND outcome = 'unknown'": ("recipients",),
    "SELECT id FROM recipients WHERE message_id = :m AND number = :n AND outcome = 'queued'": ("recipients",),
    "SELECT MAX(send_id) FROM recipients WHERE number = :n AND outcome = 'queued'": ("recipients",),
    "SELECT number, outcome FROM recipients WHERE send_id = :id ORDER BY id": ("recipients",),
    "SELECT outcome, COUNT(*) FROM recipients WHERE send_id = :id AND outcome != 'queued' GROUP BY outcome": (
        "recipients",
    ),
    "DELETE FROM recipients WHERE id IN (SELECT id FROM recipients WHERE send_id = :id LIMIT 2000)": ("recipients",),
    "SELECT id FROM batches WHERE state = 'sending' AND lease_until < :now": ("batches",),
    (
        "SELECT b.id FROM batches b JOIN sends s ON s.id = b.send_id WHERE b.state = 'pending' "
        "ORDER BY s.turn, s.id, b.seq LIMIT 1"
    ): ("batches",),
    "SELECT b.id FROM batches b JOIN sends s ON s.id = b.send_id WHERE b.state = 'unknown' AND b.finished_at >= :t": (
        "batches",
    ),
    "SELECT id FROM sends WHERE state = 'done' AND purged_at IS NULL AND finished_at < :t": ("sends",),
    "SELECT id FROM reports WHERE done_at IS NULL AND due_at <= :now ORDER BY due_at LIMIT 1": ("reports",),
    "SELECT version FROM suppression_audit WHERE version > :seen ORDER BY version": ("suppression_audit",),
}


@pytest.mark.parametrize("query", sorted(HOT))
def test_hot_queries_use_an_index(tmp_path, query):
    store = Store(str(tmp_path / "plan.db"))
    with store.transaction(write=False) as tx:
        plan = " | ".join(
            row[-1]
            for row in tx.all("EXPLAIN QUERY PLAN " + query, {k: 1 for k in ("id", "m", "n", "now", "t", "seen")})
        )
    for table in HOT[query]:
        assert f"SCAN {table}" not in plan and f"SCAN {table[0]} " not in plan + " ", plan
