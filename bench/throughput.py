"""Bulk throughput: submission → final thread summary, against the gateway's floor, plus peak memory.

The gateway answers each call after 250 ms. Floor = max(0.25 s × ceil(batches / in-flight),
batches / 15 per second). Beside it: a plain httpx loop posting the same batches one after another.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import httpx

from bench.rig import contacts_csv, running_bot, table
from tests.e2e.harness import form
from tests.fakes.server import wait_for

LATENCY = 0.25


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def plain_loop(base_url: str, batches: int) -> float:
    """What a person scripting the gateway by hand would get: one call after another."""
    started = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        for b in range(batches):
            contacts = json.dumps([f"+614{(b * 1000 + i):08d}" for i in range(1000)])
            client.post(base_url + "/api/v1/gatewaymms", headers={"Authorization": "Bearer k"},
                        files=[("message", (None, b"hi")), ("contacts", (None, contacts.encode())), ("countryCode", (None, b"61"))])
    return time.perf_counter() - started


def one(contacts: int, in_flight: int) -> tuple:
    with running_bot(CELLCAST_MAX_IN_FLIGHT=str(in_flight)) as (bot, slack, cellcast):
        cellcast.latency = LATENCY
        file = slack.host_file("FCSV", "contacts.csv", contacts_csv(contacts))
        bot.submit(form(contacts_file=file), view_id=f"VT{contacts}")
        review = bot.review(f"VT{contacts}", timeout=120)
        started = time.perf_counter()
        bot.confirm(review)
        wait_for(lambda: slack.thread_replies(), timeout=600, interval=0.01)
        elapsed = time.perf_counter() - started
        rss = peak_rss_mb(bot.process.pid)
        batches = math.ceil(contacts / 1000)
        assert len(cellcast.calls) == batches
        starts = sorted(call.at for call in cellcast.calls)
        busiest = max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts)
        cellcast.calls.clear()
        loop = plain_loop(cellcast.base_url, batches)
    floor = max(LATENCY * math.ceil(batches / in_flight), batches / 15)
    return (f"{contacts:,}", batches, f"{elapsed:.2f} s", f"{floor:.2f} s", f"{elapsed / floor:.2f}×", f"{loop:.2f} s",
            busiest, f"{rss:.0f} MB")


def run(quick: bool = False) -> None:
    sizes = [2_000] if quick else [10_000, 100_000]
    rows = [("contacts", "batches", "bot", "floor", "bot/floor", "plain loop", "max calls in 1 s", "peak RSS")]
    rows += [one(size, in_flight=8) for size in sizes]
    table(f"Bulk throughput (gateway latency {LATENCY * 1000:.0f} ms, 8 in flight, 14 calls/s; target ≤ 1.25× floor, RSS < 200 MB)", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args().quick)
