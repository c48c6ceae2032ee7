"""What polling delivery reports costs: Cellcast calls and bot CPU per hour for 100 open sends of 1,000 numbers.

The sync (bot/sending/sync.py) runs every CELLCAST_SYNC_SECONDS (300 s: 12 rounds an hour) against a
loopback Cellcast holding the sends' 100,000 messages. Two cases: every message still in flight all
hour (the worst: each round reads the report's pages), and the usual one, where the reports turn
final after the first round (polling then stops for those sends). The gateway's rate is not the
point here, so the limiter is wide open; CPU is the sync thread's own (the loopback server's excluded).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.rig import table
from bot.cellcast import CellcastClient
from bot.sending import outcomes as o
from bot.sending.sync import CellcastSync
from bot.store import Store
from tests.fakes.cellcast import FakeCellcast, _iso_now

ROUNDS_PER_HOUR = 3600 / 300


def seed(store: Store, cellcast: FakeCellcast, sends: int, size: int, status: str) -> None:
    for s in range(sends):
        numbers = [f"4{s:04d}{i:04d}" for i in range(size)]
        send_id = store.create_send(
            {"view_id": f"B{s}", "user_id": "U1", "channel_id": "C1", "message": "hi"}, None, [numbers]
        )
        batch = store.claim_next_batch("bench", time.time() + 60)
        outcomes = [o.NumberOutcome(n, o.QUEUED, "", f"m{s:04d}{i:04d}") for i, n in enumerate(numbers)]
        store.finish_batch(batch.id, "queued", outcomes, owner="bench")
        for item in outcomes:
            cellcast.add_message(
                {
                    "_id": item.message_id,
                    "status": status,
                    "message": "hi",
                    "sender": "x",
                    "receiver": item.number,
                    "createdAt": _iso_now(),
                }
            )
        assert store.get_send(send_id).state == "done"


def rounds(sync: CellcastSync, cellcast: FakeCellcast, count: int, after_first=None) -> tuple[int, float]:
    calls_before = len(cellcast.reads)
    cpu = 0.0
    for index in range(count):
        started = time.thread_time()
        sync.run()
        cpu += time.thread_time() - started
        if index == 0 and after_first:
            after_first()
    return len(cellcast.reads) - calls_before, cpu


def one(case: str, sends: int, size: int, count: int) -> tuple:
    # Calls and CPU are counted, not time: the sync runs without the bot's rate limiter, so the fake
    # does not enforce Cellcast's 15 a second here (an hour's rounds would otherwise take 15 minutes).
    cellcast = FakeCellcast(calls_per_second=None).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(str(Path(tmp) / "bench.db"))
            seed(store, cellcast, sends, size, "sent")
            client = CellcastClient("k", cellcast.base_url, timeout=30)
            sync = CellcastSync(store, client, owner="bench", every=300)

            def all_delivered():
                for record in cellcast.messages.values():
                    record["status"] = "delivered"

            calls, cpu = rounds(sync, cellcast, count, all_delivered if case == "final after the first round" else None)
            client.close()
    finally:
        cellcast.stop()
    scale = ROUNDS_PER_HOUR / count  # 1 when a full hour's 12 rounds were run
    return (
        case,
        f"{sends} × {size:,}",
        count,
        f"{calls:,}",
        f"{calls * scale:,.0f}",
        f"{cpu:.2f} s",
        f"{cpu * scale:.1f} s",
    )


def run(quick: bool = False) -> None:
    sends, size, count = (10, 200, 3) if quick else (100, 1000, 12)
    rows = [("case", "sends × numbers", "rounds", "calls", "calls per hour", "CPU", "CPU per hour")]
    rows.append(one("all in flight all hour", sends, size, count))
    rows.append(one("final after the first round", sends, size, count))
    table("Delivery report polling (every 300 s: 12 rounds an hour; report pages of 100)", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args().quick)
