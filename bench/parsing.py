"""Parsing: a 100,000-row contacts CSV parsed, normalised and de-duplicated, on one core."""

from __future__ import annotations

import argparse
import time

from bench.rig import contacts_csv, table
from bot.sending.contact_files import FileLimits, parse_contacts_file


def run(quick: bool = False) -> None:
    rows = 100_000
    data = contacts_csv(rows) + contacts_csv(1000)  # a pasted-twice tail of duplicates, and a second header
    timings = []
    for _ in range(3 if quick else 7):
        started = time.perf_counter()
        result, _ = parse_contacts_file("contacts.csv", data, FileLimits(10**9, 10**7))
        timings.append(time.perf_counter() - started)
    assert len(result.numbers) == rows, len(result.numbers)
    table(
        "Parsing (target < 0.5 s)",
        [
            ("input", "valid", "duplicates", "rejected", "best", "median"),
            (
                f"{rows + 1000:,}-row CSV, {len(data) / 1e6:.1f} MB",
                f"{len(result.numbers):,}",
                f"{result.duplicates:,}",
                f"{len(result.rejected):,}",
                f"{min(timings):.3f} s",
                f"{sorted(timings)[len(timings) // 2]:.3f} s",
            ),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args().quick)
