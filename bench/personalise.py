"""Personal messages: rendering and grouping 100,000 rows, and what personal texts cost a real send.

1. Render ``Hi ((first name)) from ((suburb))((vip?? …))`` for 100,000 rows and group the numbers by text
   (target < 1 s, < 100 MB extra, measured with tracemalloc's peak).
2. The real bot: confirm → thread summary for 10,000 numbers in 10 distinct texts (the numbers of each
   text together fill 10 calls) and in one text (10 calls too); gateway latency 250 ms.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from bench.rig import running_bot, table
from bot.sending.gateway import MAX_CONTACTS_PER_CALL
from bot.sending.personalise import Template, describe, group
from tests.e2e.harness import form
from tests.fakes.cellcast import FakeCellcast
from tests.fakes.server import wait_for

MESSAGE = "Hi ((first name)) from ((suburb))((vip?? Your seat is kept.))"
HEADERS = ["Mobile", "First name", "Suburb", "VIP"]


def render_and_group(rows: int) -> tuple[float, float, int]:
    """(seconds, MB at peak beyond the rows themselves, distinct texts). Timed without tracing (tracemalloc
    slows every allocation several times), then run again under tracemalloc for the memory."""
    cells = [[f"04{i:08d}", f"Person {i}", f"Suburb {i % 300}", "yes" if i % 10 == 0 else ""] for i in range(rows)]
    numbers = [row[0][1:] for row in cells]

    def once() -> int:
        template = Template(MESSAGE)
        columns = template.columns(HEADERS, "people.csv")
        texts = [template.render(row, columns) for row in cells]
        batches = group(numbers, texts, MAX_CONTACTS_PER_CALL)
        summary = describe(numbers, texts, MAX_CONTACTS_PER_CALL, 14)
        assert len(batches) == summary.calls
        return summary.distinct

    started = time.perf_counter()
    distinct = once()
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    once()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak / 1e6, distinct


def to_summary(numbers: int, distinct: int) -> float:
    cellcast = FakeCellcast(latency=0.25, keep_records=False).start()
    try:
        with running_bot(cellcast=cellcast, MMS_QUIET_HOURS="") as (bot, slack, _):
            rows = "".join(f"04{i:08d},Name {i % distinct}\n" for i in range(numbers))
            contacts = slack.host_file("FCSV", "people.csv", ("Mobile,Name\n" + rows).encode())
            message = "Hi ((name))" if distinct > 1 else "Hi there"
            bot.submit(form(message=message, contacts_file=contacts))
            review = bot.review(timeout=120)
            confirmed = time.monotonic()
            bot.confirm(review)
            return wait_for(lambda: slack.thread_replies("C1"), timeout=300, interval=0.01)[-1].at - confirmed
    finally:
        cellcast.stop()


def run(quick: bool = False) -> None:
    rows = 5_000 if quick else 100_000
    seconds, megabytes, distinct = render_and_group(rows)
    table(
        f"Render and group {rows:,} rows, 3 placeholders (targets < 1 s, < 100 MB)",
        [
            ("rows", "distinct texts", "time", "peak memory"),
            (f"{rows:,}", f"{distinct:,}", f"{seconds:.2f} s", f"{megabytes:.0f} MB"),
        ],
    )
    numbers = 1_000 if quick else 10_000
    lines = [("numbers", "texts", "confirm → summary")]
    for texts in (10, 1):
        lines.append((f"{numbers:,}", texts, f"{to_summary(numbers, texts):.2f} s"))
    table("A personal send against one text (gateway 250 ms)", lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args().quick)


if __name__ == "__main__":
    main()
