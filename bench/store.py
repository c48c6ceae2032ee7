"""The store on each engine: claims under contention, finish_batch, the review's suppression check,
and (``--big``) the same on a database as months of use leave it.

Default: batch claims per second with 1, 4 and 16 concurrent claimers on 4 stores (as 4 processes;
no duplicate claim, no claimer coming back empty while batches remain), ``finish_batch`` of 1,000
numbers, and the suppression check of 100,000 numbers against a 1,000,000-number list.

``--big``: 10 million recipient rows built through the store's own functions, then the longest wait
of a small writer during the retention sweep (half the rows) and during 100 delivery statuses a
second, ``finish_batch``, ``/metrics``, history, the status of a 150,000-number send, and the first
review after a start against the second. Targets: no writer waits > 1 s, finish_batch ≤ 20 ms,
/metrics ≤ 100 ms, first review as fast as the second.

PostgreSQL: ``--database-url postgresql://…`` (a database is made there per run) or ``throwaway``
(the default when PostgreSQL is installed: a cluster of the benchmark's own).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from contextlib import contextmanager

from bench.rig import fresh_database, median, ms, postgres_server, table
from bot.sending import outcomes as o
from bot.sending.reports import Notice, ReportKind
from bot.sending.summary import summarise
from bot.store import Store
from bot.store.clock import ManualClock


def _send(store: Store, key: str, batches: int, size: int, first: int = 0) -> int:
    numbers = [[f"4{(first + b * size + i) % 100_000_000:08d}" for i in range(size)] for b in range(batches)]
    return store.create_send({"view_id": key, "user_id": "U1", "channel_id": "C1", "message": "hi"}, None, numbers)


def _finish_all(store: Store, owner: str = "bench", *, rejected_every: int = 0) -> list[float]:
    took = []
    while (batch := store.claim_next_batch(owner, 60)) is not None:
        outcomes = [
            o.NumberOutcome(
                n, o.INVALID if rejected_every and i % rejected_every == 0 else o.QUEUED, "", f"m{batch.id}-{i}"
            )
            for i, n in enumerate(batch.contacts)
        ]
        started = time.perf_counter()
        store.finish_batch(batch.id, "queued", outcomes, owner=owner)
        took.append(time.perf_counter() - started)
    return took


@contextmanager
def maintained(store: Store):
    """What the bot's periodic thread does beside the work: a checkpoint every 5 s (SQLite's WAL)."""
    done = threading.Event()

    def loop() -> None:
        while not done.wait(5.0):
            store.checkpoint()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield store
    finally:
        done.set()
        thread.join()


def claims(url: str, claimers: int, batches: int) -> tuple[str, str]:
    stores = [Store(url) for _ in range(4)]
    _send(stores[0], f"claims-{claimers}", batches, 1)
    got, empty, start = [], [], threading.Barrier(claimers + 1)

    def claimer(store: Store, name: str) -> None:
        start.wait()
        while True:
            batch = store.claim_next_batch(name, 60)
            if batch is None:
                # More left than claimers: at least one was free, so coming back empty was a lost race.
                with store.transaction(write=False) as tx:
                    left = tx.scalar("SELECT COUNT(*) FROM batches WHERE state = 'pending'")
                empty.append(left > claimers)
                return
            got.append(batch.id)

    threads = [threading.Thread(target=claimer, args=(stores[i % 4], f"c{i}")) for i in range(claimers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    for store in stores:
        store.close()
    problems = []
    if len(got) != len(set(got)) or len(got) != batches:
        problems.append(f"{len(got) - len(set(got))} duplicate(s), {batches - len(set(got))} missed")
    if any(empty):
        problems.append(f"{sum(empty)} empty-handed while batches remained")
    return f"{len(got) / elapsed:,.0f}/s", "; ".join(problems) or "none"


def timings(fn, times: int) -> list[float]:
    runs = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return runs


def fill_suppression(store: Store, listed: int) -> None:
    """``listed`` numbers, every 7th from 400000000, in the opt-out sync's own chunks."""
    for start in range(0, listed, 50_000):
        store.suppress_many([f"4{n:08d}" for n in range(start * 7, (start + 50_000) * 7, 7)], "cellcast")


def suppression_check(url: str, listed: int, checked: int) -> tuple[str, str, str]:
    store = Store(url)
    [filled] = timings(lambda: fill_suppression(store, listed), 1)
    store.close()
    fresh = Store(url)  # a process that starts now
    [loaded] = timings(fresh.load_suppressions, 1)
    numbers = [f"4{n:08d}" for n in range(10_000_000, 10_000_000 + checked)]
    runs = timings(lambda: fresh.suppressed_among(numbers), 5)
    fresh.close()
    return f"{filled:.1f} s", f"{loaded:.1f} s", ms(median(runs))


def default_figures(url_for, quick: bool) -> list[tuple]:
    rows = []
    batches = 300 if quick else 3000
    for claimers in (1, 4, 16):
        with url_for() as (url, _):
            rate, problems = claims(url, claimers, batches)
        rows.append((f"batch claims/s, {claimers} claimer(s)", rate, f"problems: {problems}"))
    with url_for() as (url, _):
        with maintained(Store(url)) as store:
            _send(store, "finish", 10 if quick else 50, 1000)
            took = _finish_all(store)
        store.close()
    rows.append(("finish_batch, 1,000 numbers", f"median {ms(median(took))}", f"max {ms(max(took))} (target ≤ 20 ms)"))
    listed, checked = (20_000, 10_000) if quick else (1_000_000, 100_000)
    with url_for() as (url, _):
        filled, loaded, check = suppression_check(url, listed, checked)
    rows.append(
        (
            f"suppression check, {checked:,} against {listed:,}",
            check,
            f"list written in {filled}; loaded by a new process in {loaded}",
        )
    )
    return rows


def longest_wait(store: Store, during, key: str) -> float:
    """The longest a small write (a report made due) waited while ``during`` ran."""
    waits, done = [], threading.Event()

    def probe() -> None:
        n = 0
        while not done.is_set():
            started = time.perf_counter()
            store.report_due(f"{key}:{n}", None, ReportKind.NOTICE, Notice("probe"))
            waits.append(time.perf_counter() - started)
            n += 1
            time.sleep(0.01)

    thread = threading.Thread(target=probe)
    thread.start()
    try:
        during()
    finally:
        done.set()
        thread.join()
    return max(waits)


def big_figures(url_for, quick: bool) -> list[tuple]:
    rows = []
    sends, per_send = (4, 2_000) if quick else (66, 150_000)  # 66 × 150,000 ≈ 10 million recipient rows
    listed = 20_000 if quick else 1_000_000
    with url_for() as (url, size):
        clock = ManualClock()
        store = Store(url, clock=clock)
        maintenance = maintained(store)
        maintenance.__enter__()
        started = time.perf_counter()
        for i in range(sends):
            _send(store, f"big-{i}", per_send // 1000, 1000, first=i * per_send)
            _finish_all(store, rejected_every=100)
            if i == sends // 2 - 1:
                clock.advance(100 * 86400)  # the first half is past retention
        fill_suppression(store, listed)
        built = time.perf_counter() - started
        rows.append(
            (
                f"built: {sends * per_send:,} recipient rows, {listed:,} suppressed",
                f"{built:.0f} s",
                f"{size() / 1e9:.2f} GB",
            )
        )
        status_send = sends  # the last one: 150,000 numbers

        _send(store, "live", 20, 1000, first=90_000_000)
        finish = _finish_all(store)
        rows.append(
            (
                "finish_batch, 1,000 numbers, on the big database",
                f"median {ms(median(finish))}",
                f"max {ms(max(finish))} (target ≤ 20 ms)",
            )
        )
        for name, fn in (
            (
                "/metrics (counts from the sends)",
                lambda: (store.state_counts(), store.reports_due(), store.suppression_count()),
            ),
            ("history (10 latest sends)", lambda: store.recent_sends("U1")),
            (f"status of a {per_send:,}-number send", lambda: summarise(store, status_send)),
        ):
            runs = timings(fn, 5)
            rows.append((name, f"median {ms(median(runs))}", f"max {ms(max(runs))}"))

        recipients = [row_id for row_id, _ in store.undelivered_messages([status_send], ["queued"]).values()][:2000]

        def statuses() -> None:  # 100 a second, as a burst of webhooks, for 10 s (or 2 s)
            for second in range(2 if quick else 10):
                began = time.perf_counter()
                for i in range(100):
                    store.set_deliveries([(recipients[second * 100 + i], "delivered")], ["delivered"], ["failed"])
                time.sleep(max(0.0, 1 - (time.perf_counter() - began)))

        rows.append(
            (
                "longest writer wait, 100 delivery statuses a second",
                ms(longest_wait(store, statuses, "s")),
                "(target ≤ 1 s)",
            )
        )
        purged: list[int] = []
        sweep_began = time.perf_counter()
        wait = longest_wait(store, lambda: purged.append(store.purge_older_than(90, max_rows=100_000_000)), "r")
        rows.append(
            (
                "longest writer wait, retention sweep",
                ms(wait),
                f"{purged[0]} sends purged in {time.perf_counter() - sweep_began:.0f} s (target ≤ 1 s wait)",
            )
        )
        maintenance.__exit__(None, None, None)
        if url.startswith("sqlite:///"):
            wal = (
                os.path.getsize(url[len("sqlite:///") :] + "-wal")
                if os.path.exists(url[len("sqlite:///") :] + "-wal")
                else 0
            )
            rows.append(
                (
                    "SQLite WAL file after the sweep",
                    f"{wal / 1e6:.0f} MB",
                    "SQLite's own checkpoints, and a passive one every 5 s",
                )
            )
        store.close()
        numbers = [f"4{n:08d}" for n in range(0, 700_000, 7)]
        restarted = Store(url)
        [loaded] = timings(restarted.load_suppressions, 1)  # what start-up does
        reviews = timings(lambda: restarted.suppressed_among(numbers), 2)
        restarted.close()
        rows.append(
            (
                "first / second review after a start (100,000 numbers)",
                f"{ms(reviews[0])} / {ms(reviews[1])}",
                f"list loaded at start in {loaded:.1f} s",
            )
        )
    return rows


def run(quick: bool = False, database_url: str | None = "throwaway", big: bool = False) -> None:
    engines = [("SQLite", None)] + ([("PostgreSQL", database_url)] if database_url else [])
    for engine, url in engines:
        with postgres_server(url) as server, tempfile.TemporaryDirectory() as tmp:

            @contextmanager
            def url_for():
                with fresh_database(server, tempfile.mkdtemp(dir=tmp)) as pair:
                    yield pair

            rows = [("measure", "figure", "notes")] + default_figures(url_for, quick)
            if big:
                rows += big_figures(url_for, quick)
            table(f"Store on {engine}{' (quick: small inputs, figures not meaningful)' if quick else ''}", rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small inputs, seconds; figures not meaningful")
    parser.add_argument(
        "--big", action="store_true", help="also build a 10-million-recipient database and measure on it"
    )
    parser.add_argument(
        "--database-url", default="throwaway", help="PostgreSQL server, 'throwaway' (default) or 'none' (SQLite only)"
    )
    args = parser.parse_args()
    run(args.quick, None if args.database_url == "none" else args.database_url, args.big)
