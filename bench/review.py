"""The review flow under load: acks of concurrent heavy form submissions, and time until the review shows.

Targets: p99 ack < 300 ms for 20 concurrent submissions, each with a 5 MB image and a 100,000-row CSV
from a file host serving 20 MB/s; form submit → review shown < 2 s for a 10 MB image + 100,000-row CSV.
"""

from __future__ import annotations

import argparse
import threading
import time

from bench.rig import contacts_csv, median, ms, noise_png, percentile, running_bot, table
from tests.e2e.harness import form
from tests.fakes.server import wait_for

RATE = 20_000_000  # bytes a second, per download


def review_shown_at(slack, bot, view_id: str, timeout: float = 120) -> float:
    bot.review(view_id, timeout=timeout)
    pushed = bot.pushed[view_id]
    updates = [c for c in slack.accepted("views.update") if c.answer.get("view", {}).get("id") == pushed]
    return wait_for(lambda: updates)[-1].at


def run(quick: bool = False) -> None:
    concurrent = 4 if quick else 20
    png_size, csv_rows = (500_000, 5_000) if quick else (5_000_000, 100_000)
    big_png_size = 1_000_000 if quick else 10_000_000
    with running_bot() as (bot, slack, cellcast):
        slack.download_rate = RATE
        image = slack.host_file("FIMG", "photo.png", noise_png(png_size))
        contacts = slack.host_file("FCSV", "contacts.csv", contacts_csv(csv_rows))
        bot.submit(form(contacts="0400000001"), view_id="VWARM")  # first request imports lazily-loaded code
        bot.review("VWARM")
        acks: list[float] = []
        lock = threading.Lock()

        def submit(i: int) -> None:
            started = time.perf_counter()
            response = bot.submit(form(media=image, contacts_file=contacts), view_id=f"VC{i}")
            elapsed = time.perf_counter() - started
            assert response.status_code == 200 and response.json()["response_action"] == "push", response.content[:300]
            with lock:
                acks.append(elapsed)

        threads = [threading.Thread(target=submit, args=(i,)) for i in range(concurrent)]
        started = time.monotonic()
        [t.start() for t in threads]
        [t.join() for t in threads]
        for i in range(concurrent):
            view = bot.review(f"VC{i}", timeout=300)
            assert view.get("submit"), view
        all_reviews = time.monotonic() - started

        big = slack.host_file("FHUGE", "huge.png", noise_png(big_png_size))
        submitted = time.monotonic()
        bot.submit(form(media=big, contacts_file=contacts), view_id="VBIG")
        shown = review_shown_at(slack, bot, "VBIG") - submitted
    table(
        f"Review flow (file host {RATE / 1e6:.0f} MB/s; targets: ack p99 < 300 ms, review shown < 2 s)",
        [
            ("measure", "n", "median", "p99", "max"),
            (
                f"ack, {concurrent} concurrent forms with a {png_size / 1e6:g} MB image + {csv_rows:,}-row CSV",
                concurrent,
                ms(median(acks)),
                ms(percentile(acks, 99)),
                ms(max(acks)),
            ),
            (f"  all {concurrent} reviews shown", 1, f"{all_reviews:.2f} s", "", ""),
            (
                f"form submit → review shown, {big_png_size / 1e6:g} MB image + {csv_rows:,}-row CSV",
                1,
                f"{shown:.2f} s",
                "",
                "",
            ),
        ],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args().quick)
