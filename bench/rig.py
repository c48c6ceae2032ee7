"""The benchmarks' set-up: the same loopback Slack and Cellcast fakes and real bot process as the e2e tests."""

from __future__ import annotations

import io
import os
import statistics
import tempfile
from contextlib import contextmanager
from pathlib import Path

from PIL import Image

from tests.e2e.harness import BotProcess
from tests.fakes.cellcast import FakeCellcast
from tests.fakes.slack import FakeSlack


@contextmanager
def running_bot(**env):
    slack, cellcast = FakeSlack().start(), FakeCellcast().start()
    with tempfile.TemporaryDirectory() as tmp:
        bot = BotProcess(slack, cellcast, Path(tmp) / "bench.db", Path(tmp) / "bench.log", LOG_LEVEL="WARNING", **env).start()
        try:
            yield bot, slack, cellcast
        finally:
            bot.stop()
            slack.stop()
            cellcast.stop()


def noise_png(target_bytes: int) -> bytes:
    side = int((target_bytes / 3) ** 0.5)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def contacts_csv(rows: int) -> bytes:
    return ("name,mobile,notes\n" + "".join(f"Person {i},04{i:08d},n\n" for i in range(rows))).encode()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def table(title: str, rows: list[tuple]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


median = statistics.median
