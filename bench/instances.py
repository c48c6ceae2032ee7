"""Several instances on one PostgreSQL database: the same send with 1 and with 3 bot processes.

For each: confirm → thread summary of a 100,000- and a 1,000,000-number send, the ratio to the floor
(Cellcast's 15 calls a second), the busiest second at the gateway (every call: sends, reads, refusals),
and the p99 ack of ``/mms`` on each instance while the send runs; then, with 3 instances, how long after
a SIGKILL the killed instance's batches are settled by the others. Targets: 3 instances within 5 % of
one, ≤ 15 calls in any second (target ≤ 14), a killed instance's work settled within 30 s.

``--database-url`` names a PostgreSQL server (a database is made per run); the default starts a
throwaway cluster.
"""

from __future__ import annotations

import argparse
import math
import signal
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg

from bench.rig import GatewayProcess, contacts_csv, fresh_database, percentile, postgres_server, table
from bot.sending.throttle import most_in_any_window
from tests.e2e.harness import BotProcess, form
from tests.fakes.server import wait_for
from tests.fakes.slack import FakeSlack

LATENCY = 0.25


def start_bots(count: int, slack, gateway, url: str, tmp: str) -> list[BotProcess]:
    return [
        BotProcess(slack, gateway, url, Path(tmp) / f"bot{i}.log", LOG_LEVEL="WARNING", MMS_LEASE_SECONDS="5").start()
        for i in range(count)
    ]


def probe_acks(bots: list[BotProcess], done: threading.Event) -> dict[int, list[float]]:
    acks: dict[int, list[float]] = {i: [] for i in range(len(bots))}

    def probe(index: int, bot: BotProcess) -> None:
        while not done.is_set():
            started = time.perf_counter()
            try:
                bot.command("help")
            except httpx.TransportError:
                if done.is_set():  # the bot stopped under a probe still in flight: the measuring is over
                    return
                raise
            acks[index].append(time.perf_counter() - started)
            time.sleep(0.1)

    for index, bot in enumerate(bots):
        threading.Thread(target=probe, args=(index, bot), daemon=True).start()
    return acks


def one_send(instances: int, contacts: int, server) -> tuple:
    gateway = GatewayProcess(LATENCY)
    slack = FakeSlack().start()
    try:
        with tempfile.TemporaryDirectory() as tmp, fresh_database(server, tmp) as (url, _):
            bots = start_bots(instances, slack, gateway, url, tmp)
            try:
                slack_file = slack.host_file("FCSV", "contacts.csv", contacts_csv(contacts))
                bots[0].submit(form(contacts_file=slack_file), view_id="VBIG", channel="CBIG")
                review = bots[0].review("VBIG", timeout=300)
                done = threading.Event()
                acks = probe_acks(bots, done)
                confirmed = time.monotonic()
                bots[-1].confirm(review)  # confirmed through another instance than the one that checked it
                elapsed = wait_for(lambda: slack.thread_replies("CBIG"), timeout=900, interval=0.01)[-1].at - confirmed
                done.set()
            finally:
                for bot in bots:
                    bot.stop()
        arrivals = gateway.arrivals()
        busiest = most_in_any_window([a.at for a in arrivals] + gateway.over_limit(), 1.0)
    finally:
        gateway.stop()
        slack.stop()
    floor = LATENCY + (math.ceil(contacts / 1000 / 15) - 1)
    p99 = " / ".join(f"{percentile(a, 99) * 1000:.0f}" for a in acks.values() if a)
    return (
        instances,
        f"{contacts:,}",
        f"{elapsed:.2f} s",
        f"{floor:.2f} s",
        f"{elapsed / floor:.3f}×",
        busiest,
        f"{p99} ms",
    )


def killed_instance(contacts: int, server) -> str:
    gateway = GatewayProcess(LATENCY)
    slack = FakeSlack().start()
    try:
        with tempfile.TemporaryDirectory() as tmp, fresh_database(server, tmp) as (url, _):
            bots = start_bots(3, slack, gateway, url, tmp)
            try:
                slack_file = slack.host_file("FCSV", "contacts.csv", contacts_csv(contacts))
                victim = bots[0]  # it checks and confirms the send, so it is woken first and holds batches
                victim.submit(form(contacts_file=slack_file), view_id="VBIG", channel="CBIG")
                victim.confirm(victim.review("VBIG", timeout=300))

                def held() -> int:
                    with psycopg.connect(url, autocommit=True) as conn:
                        return conn.execute(
                            "SELECT COUNT(*) FROM batches WHERE state = 'sending' AND owner LIKE %s",
                            (f"%-{victim.process.pid}-%",),
                        ).fetchone()[0]

                wait_for(lambda: held() > 0, timeout=60, interval=0.02)
                killed = time.monotonic()
                victim.stop(signal.SIGKILL)
                wait_for(lambda: held() == 0, timeout=120, interval=0.1)
                settled = time.monotonic() - killed
                wait_for(lambda: slack.thread_replies("CBIG"), timeout=900)
            finally:
                for bot in bots:
                    bot.stop()
    finally:
        gateway.stop()
        slack.stop()
    return f"{settled:.1f} s"


def run(quick: bool = False, database_url: str = "throwaway") -> None:
    sizes = [3_000] if quick else [100_000, 1_000_000]
    counts = (1, 2) if quick else (1, 3)
    rows = [("instances", "contacts", "to summary", "floor", "ratio", "busiest second", "/mms ack p99 per instance")]
    with postgres_server(database_url) as server:
        for contacts in sizes:
            for instances in counts:
                rows.append(one_send(instances, contacts, server))
        settled = killed_instance(20_000 if quick else 100_000, server)
    table(
        "Instances on one PostgreSQL database (gateway 250 ms; targets: N within 5 % of 1, busiest second ≤ 14)", rows
    )
    print(f"  a SIGKILLed instance's batches settled by the others {settled} after the kill (target < 30 s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url", default="throwaway", help="a PostgreSQL server, or 'throwaway' (default)")
    args = parser.parse_args()
    run(args.quick, args.database_url)
