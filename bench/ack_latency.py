"""Ack latency: signed /mms commands and form submissions, time to the HTTP answer.

Target: p99 < 200 ms. A form submission answers with the "Checking…" view; the files are fetched
after the answer (see bench/review.py for submissions with large files under load).
"""

from __future__ import annotations

import argparse
import time

from bench.rig import median, ms, percentile, running_bot, table
from tests.e2e.harness import form


def run(quick: bool = False) -> None:
    count = 20 if quick else 300
    with running_bot() as (bot, slack, cellcast):
        bot.command()  # warm-up: first request imports lazily-loaded code
        commands = []
        for _ in range(count):
            started = time.perf_counter()
            assert bot.command().status_code == 200
            commands.append(time.perf_counter() - started)
        submissions = []
        for i in range(count):
            values = form(contacts=f"04{i:08d}")
            started = time.perf_counter()
            response = bot.submit(values, view_id=f"VBENCH{i}")
            elapsed = time.perf_counter() - started
            assert response.status_code == 200 and response.json()["response_action"] == "push", response.content[:300]
            submissions.append(elapsed)
    rows = [("request", "n", "median", "p99", "max")]
    rows.append(("/mms command", count, ms(median(commands)), ms(percentile(commands, 99)), ms(max(commands))))
    rows.append(
        ("form submission", count, ms(median(submissions)), ms(percentile(submissions, 99)), ms(max(submissions)))
    )
    table("Ack latency (target: p99 < 200 ms)", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args().quick)
