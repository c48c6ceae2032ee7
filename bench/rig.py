"""The benchmarks' set-up: the same loopback Slack and Cellcast fakes and real bot process as the e2e tests."""

from __future__ import annotations

import io
import multiprocessing
import os
import statistics
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from tests.e2e.harness import BotProcess
from tests.fakes.cellcast import FakeCellcast
from tests.fakes.slack import FakeSlack


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic() at the gateway when the request line and headers were in
    contacts: int  # 0 for a read (balance, opt-outs, replies, reports): it counts against the limit too
    first: str  # the first contact in the call, which tells sends apart


class GatewayProcess:
    """The fake Cellcast in a process of its own, as the real one is: its arrival times are then not
    held up by the fake Slack, the benchmark's polling and the parsing of other requests sharing a GIL
    with it. ``time.monotonic()`` is one clock for every process on the machine."""

    def __init__(self, latency: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_gateway, args=(child, latency), daemon=True)
        self._process.start()
        self.base_url = self._conn.recv()

    def arrivals(self) -> list[Arrival]:
        self._conn.send("arrivals")
        return self._conn.recv()

    def over_limit(self) -> list[float]:
        """When calls came that the gateway refused with 429 for going over Cellcast's 15 a second."""
        self._conn.send("over_limit")
        return self._conn.recv()

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(10)


def _serve_gateway(conn, latency: float) -> None:
    # No delivery records: a million of them growing in this process's heap (dict resizes, collections)
    # stopped it for up to 135 ms at a time, and requests arriving meanwhile were timed late and then
    # together: 16-17 "in one second" where the bot had started 14. A real gateway keeps them in a
    # database, and this benchmark reads no reports.
    cellcast = FakeCellcast(latency=latency, keep_records=False).start()
    conn.send(cellcast.base_url)
    while (command := conn.recv()) != "stop":
        if command == "over_limit":
            conn.send([at for _, at in cellcast.over_limit])
            continue
        sends = [Arrival(c.at, len(c.contacts), c.contacts[0]) for c in cellcast.calls]
        conn.send(sorted(sends + [Arrival(at, 0, "") for _, at in cellcast.reads], key=lambda a: a.at))
    cellcast.stop()


@contextmanager
def postgres_server(url: str | None):
    """A PostgreSQL server the benchmark may make databases on: ``url`` (any database on it), or, with
    ``url`` "throwaway", a cluster of its own for the run (as the tests make one)."""
    from tests.postgres import Cluster

    if url is None:
        yield None
        return
    cluster = Cluster()
    if url == "throwaway":
        cluster.start()
        if cluster.url is None:
            raise SystemExit(f"bench: {cluster.skipped}")
    else:
        cluster.url = url
    try:
        yield cluster
    finally:
        cluster.stop()


@contextmanager
def fresh_database(server, tmp: str):
    """A new SQLite file in ``tmp``, or a new database on the PostgreSQL server: (URL, bytes used now)."""
    if server is None:
        path = Path(tmp) / "bench.db"
        yield f"sqlite:///{path}", lambda: sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        return
    import psycopg

    url = server.fresh_database()

    def size() -> int:
        with psycopg.connect(url, autocommit=True) as conn:
            return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]

    try:
        yield url, size
    finally:
        server.drop_database(url)


@contextmanager
def running_bot(cellcast=None, server=None, **env):
    """The bot against the fake Slack and a fake Cellcast (in this process unless one is given), on a
    new SQLite file or (``server``) a new PostgreSQL database. ``bot.db_bytes()`` is its size."""
    slack = FakeSlack().start()
    own_cellcast = cellcast is None
    if own_cellcast:
        cellcast = FakeCellcast().start()
    with tempfile.TemporaryDirectory() as tmp, fresh_database(server, tmp) as (url, size):
        bot = BotProcess(slack, cellcast, url, Path(tmp) / "bench.log", LOG_LEVEL="WARNING", **env).start()
        bot.db_bytes = size
        try:
            yield bot, slack, cellcast
        finally:
            bot.stop()
            slack.stop()
            if own_cellcast:
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
        print("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


median = statistics.median
