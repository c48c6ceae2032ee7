"""All benchmarks in one go. `--quick` is the small version CI runs so the scripts cannot rot."""

from __future__ import annotations

import argparse

from bench import (
    ack_latency,
    delivery,
    hostile,
    instances,
    parsing,
    personalise,
    review,
    schedule,
    store,
    suppression,
    throughput,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small inputs, a few seconds; figures are not meaningful")
    quick = parser.parse_args().quick
    parsing.run(quick)
    ack_latency.run(quick)
    review.run(quick)
    suppression.run(quick)
    throughput.run(quick)
    delivery.run(quick)
    store.run(quick, big=quick)  # quick: the --big path too, on small inputs, so that it cannot rot
    instances.run(quick)
    hostile.run(quick)
    schedule.run(quick)
    personalise.run(quick)


if __name__ == "__main__":
    main()
