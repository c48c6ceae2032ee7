"""The review's extra time for checking a 100,000-number list against a 100,000-number suppression list.

Runs the review's checks (bot/sending/review.check) on the same 100,000-row CSV twice, with the store's
suppression look-up and with none, and prints the difference. Target < 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.rig import contacts_csv, table
from bot.sending.contact_files import FileLimits
from bot.sending.review import Balance, CheckedForm, Upload, check
from bot.store import Store


def timed(form, uploads, suppressed, repeats: int) -> tuple[float, int]:
    timings, left_out = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        review = check(
            form,
            uploads,
            file_limits=FileLimits(10**9, 10**7),
            suppressed=suppressed,
            balance=lambda: Balance(10**9),
            credits_per_mms=1,
        )
        timings.append(time.perf_counter() - started)
        left_out = len(review.suppressed)
    return statistics.median(timings), left_out


def run(quick: bool = False) -> None:
    size = 10_000 if quick else 100_000
    repeats = 3 if quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(str(Path(tmp) / "bench.db"))
        # Half of the suppression list is in the send's list, half is not.
        store.suppress_many((f"4{i:08d}" for i in range(0, 2 * size, 2)), "bench", "")
        form = CheckedForm("U1", "C1", "hi", None, None, "", None, None)
        uploads = {"contacts_file": Upload("contacts.csv", contacts_csv(size))}
        without, _ = timed(form, uploads, lambda numbers: {}, repeats)
        cold, _ = timed(
            form, uploads, Store(str(Path(tmp) / "bench.db")).suppressed_among, 1
        )  # a process's first review
        with_list, left_out = timed(form, uploads, store.suppressed_among, repeats)
    table(
        "Suppression at review (target: < 100 ms extra)",
        [
            (
                "list",
                "suppression list",
                "left out",
                "review without",
                "review with",
                "extra",
                "extra, first review of a process",
            ),
            (
                f"{size:,}",
                f"{size:,}",
                f"{left_out:,}",
                f"{without * 1000:.0f} ms",
                f"{with_list * 1000:.0f} ms",
                f"{(with_list - without) * 1000:.0f} ms",
                f"{(cold - without) * 1000:.0f} ms",
            ),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args().quick)
