"""Store tests run on both engines (the ``database`` fixture), each process a Store of its own."""

import re

import pytest

from bot.sending import outcomes as o
from bot.store import Store
from bot.store.clock import ManualClock
from bot.store.engine import Tx


@pytest.fixture
def clock():
    return ManualClock(1_790_000_000.0)


@pytest.fixture
def stores(database, clock):
    """``stores()`` opens another process's store on the test's database; all read one clock (the
    manual one, or with ``stores(live=True)`` the database's own)."""
    opened = []

    def open_store(live=False):
        store = Store(database.url, clock=None if live else clock)
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


@pytest.fixture
def store(stores):
    return stores()


class Crash(RuntimeError):
    """Stands for a crash (or any error) between two steps of one change."""


@pytest.fixture
def crash_on(monkeypatch):
    """``crash_on("INSERT INTO reports")``: the next statement matching it raises, as a crash there would."""
    armed: list[re.Pattern] = []
    execute, executemany = Tx.execute, Tx.executemany

    def check(query):
        for pattern in list(armed):
            if pattern.search(query):
                armed.remove(pattern)
                raise Crash(pattern.pattern)

    monkeypatch.setattr(Tx, "execute", lambda self, query, params=None: (check(query), execute(self, query, params))[1])
    monkeypatch.setattr(Tx, "executemany", lambda self, query, rows: (check(query), executemany(self, query, rows))[1])
    return lambda pattern: armed.append(re.compile(pattern))


def make_send(store, key="K1", batches=2, size=3, media=b"img"):
    numbers = [[f"4{b:02d}{i:06d}" for i in range(size)] for b in range(batches)]
    settled = [o.NumberOutcome("hello (row 2)", o.INVALID, "has letters")]
    return store.create_send(
        {"view_id": key, "user_id": "U1", "channel_id": "C1", "message": "hi"}, media, numbers, settled
    )


def queued(batch):
    return o.all_of(batch.contacts, o.QUEUED, "")
