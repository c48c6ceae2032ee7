"""Bulk sending against the gateway's floor, fair turns, CPU, memory and database growth.

Floor = gateway latency + (ceil(batches / 15) − 1) s: Cellcast takes 15 calls a second and a burst
within a second is allowed, so the last batch cannot start before that and ends one latency later.
For each size and gateway latency: confirm → thread summary, the ratio to the floor, the most calls
that *arrived* at the gateway in any 1 s and how many it refused with 429 (the fake enforces Cellcast's
15 a second), the bot's CPU seconds over the send, its peak RSS, and the database's growth. Beside the
100,000 send: a 5-number send confirmed 2 s into it, confirm → summary.

Targets: 100,000 ≤ 1.20× floor, 1,000,000 ≤ 1.15×; never more than 15 calls in any 1 s at the gateway;
peak RSS < 250 MB at 1M; the small send's summary within 1.5 s.
"""

from __future__ import annotations

import argparse
import math
import os
import threading
import time
from pathlib import Path

from bench.rig import GatewayProcess, contacts_csv, postgres_server, running_bot, table
from bot.sending.throttle import most_in_any_window
from tests.e2e.harness import form
from tests.fakes.server import wait_for

TICK = os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def summary_at(slack, channel: str, timeout: float) -> float:
    return wait_for(lambda: slack.thread_replies(channel), timeout=timeout, interval=0.01)[-1].at


SMALL_FIRST = "+61499000001"


def one(contacts: int, latency: float, with_small: bool, server=None) -> tuple[tuple, str]:
    gateway = GatewayProcess(latency)
    try:
        return _measure(gateway, contacts, latency, with_small, server)
    finally:
        gateway.stop()


def _measure(gateway: GatewayProcess, contacts: int, latency: float, with_small: bool, server) -> tuple[tuple, str]:
    with running_bot(cellcast=gateway, server=server) as (bot, slack, _):
        file = slack.host_file("FCSV", "contacts.csv", contacts_csv(contacts))
        bot.submit(form(contacts_file=file), view_id="VBIG", channel="CBIG")
        review = bot.review("VBIG", timeout=300)
        pid = bot.process.pid
        size_before, cpu_before = bot.db_bytes(), cpu_seconds(pid)
        confirmed = time.monotonic()
        bot.confirm(review)
        small = ""
        if with_small:

            def small_send():
                time.sleep(2.0)
                bot.submit(
                    form(contacts="0499000001, 0499000002, 0499000003, 0499000004, 0499000005"),
                    view_id="VSMALL",
                    channel="CSMALL",
                )
                small_review = bot.review("VSMALL", timeout=60)
                started = time.monotonic()
                bot.confirm(small_review)
                nonlocal small
                small = f"{summary_at(slack, 'CSMALL', 60) - started:.2f} s"

            thread = threading.Thread(target=small_send)
            thread.start()
        elapsed = summary_at(slack, "CBIG", 900) - confirmed
        if with_small:
            thread.join()
        cpu = cpu_seconds(pid) - cpu_before
        rss = peak_rss_mb(pid)
        growth = bot.db_bytes() - size_before
        batches = math.ceil(contacts / 1000)
        arrivals = gateway.arrivals()
        refused = gateway.over_limit()
    big_calls = [a for a in arrivals if a.contacts and a.first != SMALL_FIRST]
    assert len(big_calls) == batches, (len(big_calls), batches)
    busiest = most_in_any_window(
        [a.at for a in arrivals] + refused, 1.0
    )  # sends, reads and refused calls: every call counts
    floor = latency + (math.ceil(batches / 15) - 1)
    row = (
        f"{contacts:,}",
        f"{latency * 1000:.0f} ms",
        batches,
        f"{elapsed:.2f} s",
        f"{floor:.2f} s",
        f"{elapsed / floor:.2f}×",
        busiest,
        len(refused),
        f"{cpu:.1f} s",
        f"{rss:.0f} MB",
        f"{growth / contacts * 100_000 / 1e6:.1f} MB",
    )
    return row, small


def run(quick: bool = False, database_url: str | None = None, sizes: list[int] | None = None) -> None:
    plan = (
        [(3_000, 0.25, True)]
        if quick
        else [(100_000, 0.25, True), (100_000, 0.05, False), (1_000_000, 0.25, False), (1_000_000, 0.05, False)]
    )
    if sizes:
        plan = [p for p in plan if p[0] in sizes]
    rows = [
        (
            "contacts",
            "latency",
            "batches",
            "bot",
            "floor",
            "bot/floor",
            "max calls in 1 s",
            "429s",
            "bot CPU",
            "peak RSS",
            "DB per 100k",
        )
    ]
    smalls = []
    with postgres_server(database_url) as server:
        for contacts, latency, with_small in plan:
            row, small = one(contacts, latency, with_small, server)
            rows.append(row)
            if small:
                smalls.append(
                    f"5-number send confirmed 2 s into the {contacts:,} send ({latency * 1000:.0f} ms): confirm → "
                    f"summary {small}"
                )
    engine = "SQLite" if database_url is None else "PostgreSQL"
    table(
        f"Bulk throughput on {engine} (14 calls/s, 8 in flight; targets: 100k ≤ 1.20×, 1M ≤ 1.15×, ≤ 15 calls in any 1 "
        "s, RSS < 250 MB at 1M)",
        rows,
    )
    for line in smalls:
        print("  " + line + " (target < 1.5 s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to run on (a database is made per run), or 'throwaway' "
        "for a cluster of the benchmark's own; default: a SQLite file",
    )
    parser.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")], help="only these sizes, e.g. 100000")
    args = parser.parse_args()
    run(args.quick, args.database_url, args.sizes)
