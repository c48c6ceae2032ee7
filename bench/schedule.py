"""Scheduled sends: how soon after its time a send reaches the gateway, and what waiting sends cost.

1. 100 sends (one number each, told apart by it) scheduled through the form, due within the same minute:
   the delay from each one's time to its first gateway call (target p99 < 2 s), on SQLite with one bot
   process and on PostgreSQL with two (either may start any of them).
2. The CPU a bot process spends per hour, idle, with 1,000 scheduled sends waiting (days ahead) and
   with none: read from /proc over a window and scaled to an hour.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.rig import fresh_database, percentile, postgres_server, table
from bot.store import Store
from tests.e2e.harness import BotProcess, form
from tests.fakes.cellcast import FakeCellcast
from tests.fakes.server import wait_for
from tests.fakes.slack import FakeSlack

QUIET_OFF = {"MMS_QUIET_HOURS": "", "LOG_LEVEL": "WARNING"}


def due_delays(sends: int, spread: float, instances: int, server, lead: float = 10.0) -> list[float]:
    """Seconds from each send's time to its first call at the gateway."""
    slack, cellcast = FakeSlack().start(), FakeCellcast().start()
    try:
        with tempfile.TemporaryDirectory() as tmp, fresh_database(server, tmp) as (url, _):
            bots = [
                BotProcess(slack, cellcast, url, Path(tmp) / f"bot{i}.log", **QUIET_OFF).start()
                for i in range(instances)
            ]
            try:
                # Time to fill in every form first (a few per second), then the sends fall due across `spread`.
                first_due = time.time() + lead + sends * 0.25
                due = {}
                for i in range(sends):
                    number = f"04{i:08d}"
                    at = int(first_due + spread * i / sends)
                    bots[i % instances].send(form(contacts=number, send_at=at), view_id=f"V{i}", channel=f"C{i}")
                    due["+61" + number[1:]] = at
                assert time.time() < first_due, "the forms took longer than planned: raise the lead time"
                wait_for(lambda: len(cellcast.calls) >= sends, timeout=spread + 120, interval=0.05)
            finally:
                for bot in bots:
                    bot.stop()
        offset = time.time() - time.monotonic()
        first_call: dict[str, float] = {}
        for call in cellcast.calls:
            first_call.setdefault(call.contacts[0], call.at + offset)
        return [first_call[number] - at for number, at in due.items()]
    finally:
        slack.stop()
        cellcast.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc/<pid>/stat, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu_per_hour(waiting: int, window: float, server) -> float:
    slack, cellcast = FakeSlack().start(), FakeCellcast().start()
    try:
        with tempfile.TemporaryDirectory() as tmp, fresh_database(server, tmp) as (url, _):
            store = Store(url)
            later = time.time() + 3 * 86400
            for i in range(waiting):
                store.create_send(
                    {
                        "view_id": f"W{i}",
                        "user_id": "UADMIN",
                        "channel_id": "C1",
                        "message": "later",
                        "send_at": later + i,
                        "schedule_tz": "Australia/Sydney",
                    },
                    None,
                    [[f"4{i:08d}"]],
                )
            store.close()
            # No Cellcast sync during the window: its rounds (every 5 minutes) are not the schedule's cost.
            bot = BotProcess(slack, cellcast, url, Path(tmp) / "bot.log", CELLCAST_SYNC_SECONDS="86400", **QUIET_OFF)
            bot.start()
            try:
                time.sleep(1 if window < 5 else 3)  # its start-up (posting the waiting sends' messages) is not idling
                wait_for(lambda: bot.metrics().get("mms_reports_due", 1) == 0, timeout=300)
                before = cpu_seconds(bot.process.pid)
                time.sleep(window)
                spent = cpu_seconds(bot.process.pid) - before
            finally:
                bot.stop()
        return spent * 3600 / window
    finally:
        slack.stop()
        cellcast.stop()


def run(quick: bool = False, database_url: str = "throwaway") -> None:
    sends, spread = (5, 3.0) if quick else (100, 60.0)
    rows = [("engine", "processes", "sends", "delay p50", "p99", "max", "target p99")]
    with postgres_server(None if quick else database_url) as server:
        engines = [("SQLite", None, 1)] + ([] if quick else [("PostgreSQL", server, 2)])
        for name, engine_server, instances in engines:
            delays = due_delays(sends, spread, instances, engine_server, lead=2.0 if quick else 10.0)
            rows.append(
                (
                    name,
                    instances,
                    sends,
                    f"{percentile(delays, 50):.2f} s",
                    f"{percentile(delays, 99):.2f} s",
                    f"{max(delays):.2f} s",
                    "< 2 s",
                )
            )
        table(f"Scheduled sends: due time → first gateway call ({sends} due within {spread:.0f} s)", rows)
        window = 1.0 if quick else 60.0
        waiting = 20 if quick else 1000
        cpu = [("sends waiting", "CPU per hour (idle process)")]
        for count in (0, waiting):
            cpu.append((f"{count:,}", f"{idle_cpu_per_hour(count, window, None):.1f} s"))
        table(f"CPU of an idle bot process on SQLite, measured over {window:.0f} s", cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url", default="throwaway", help="a PostgreSQL server, or a throwaway cluster")
    args = parser.parse_args()
    run(args.quick, args.database_url)


if __name__ == "__main__":
    main()
