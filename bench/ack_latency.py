"""Ack latency: signed /mms commands and modal submissions, time to the HTTP answer.

Targets: command p99 < 200 ms; the largest submission (10 MB PNG, 100,000-row CSV) < 1 s.
"""

from __future__ import annotations

import argparse
import time

from bench.rig import contacts_csv, median, ms, noise_png, percentile, running_bot, table
from tests.e2e.harness import form


def run(quick: bool = False) -> None:
    count = 20 if quick else 300
    png_size, csv_rows = (1_000_000, 5_000) if quick else (10_000_000, 100_000)
    with running_bot() as (bot, slack, cellcast):
        big_png = slack.host_file("FBIG", "huge.png", noise_png(png_size))
        big_csv = slack.host_file("FCSV", "contacts.csv", contacts_csv(csv_rows))
        bot.command()  # warm-up: first request imports lazily-loaded code
        commands = []
        for _ in range(count):
            started = time.perf_counter()
            assert bot.command().status_code == 200
            commands.append(time.perf_counter() - started)
        submissions, largest = [], {}
        for i in range(count):
            media = big_png if i in (0, count // 2) else None
            contacts_file = big_csv if i in (1, count // 2) else None
            values = form(contacts=f"04{i:08d}", media=media, contacts_file=contacts_file)
            started = time.perf_counter()
            response = bot.submit(values, view_id=f"VBENCH{i}")
            elapsed = time.perf_counter() - started
            assert response.status_code == 200 and b"errors" not in response.content, response.content[:300]
            submissions.append(elapsed)
            if media or contacts_file:
                label = " + ".join(x for x, on in (("PNG", media), ("CSV", contacts_file)) if on)
                largest[label] = elapsed
    rows = [("request", "n", "median", "p99", "max")]
    rows.append(("/mms command", count, ms(median(commands)), ms(percentile(commands, 99)), ms(max(commands))))
    rows.append(("modal submission", count, ms(median(submissions)), ms(percentile(submissions, 99)), ms(max(submissions))))
    for label, elapsed in largest.items():
        rows.append((f"  with {label} ({png_size / 1e6:.0f} MB PNG, {csv_rows:,}-row CSV)", 1, ms(elapsed), "", ""))
    table("Ack latency (targets: command p99 < 200 ms, largest submission < 1 s)", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args().quick)
