"""The two engines behind one transaction value.

A :class:`Tx` is what callers open (``with store.transaction() as tx``) and pass to several aggregate
functions, so that a change of several steps is one transaction by construction. Its ``now`` is read
once per transaction from the engine's clock.

- SQLite (sqlite-utils): one connection per thread (sqlite3 refuses to share them), WAL, a writer
  takes the lock up front (``BEGIN IMMEDIATE``), so writers queue instead of dead-locking on an upgrade.
- PostgreSQL (psycopg 3 + psycopg_pool): a pool of connections in autocommit mode, each transaction
  explicit; "now" is the database's clock, so hosts whose clocks differ agree on leases.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database

from bot.store.clock import Clock, SystemClock, iso
from bot.store.dialect import POSTGRESQL, SQLITE, Dialect

JOURNAL_SIZE_LIMIT = 32 * 1024 * 1024  # bytes the WAL file is cut back to after a checkpoint
HEALTH_ROW = "~health"


class StoreError(RuntimeError):
    """The database cannot be opened or written; the message names it (never its password)."""


class Tx:
    """One transaction: queries with named parameters, and the transaction's "now"."""

    def __init__(self, conn: Any, dialect: Dialect, clock: Clock | None, db_now: str | None) -> None:
        self.conn = conn
        self.dialect = dialect
        self._clock = clock
        self._db_now = db_now
        self._now: float | None = None

    @property
    def now(self) -> float:
        if self._now is None:
            self._now = self._clock.now() if self._clock is not None else float(self.scalar(self._db_now))
        return self._now

    @property
    def now_iso(self) -> str:
        return iso(self.now)

    def serialise(self, name: str) -> None:
        """Until this transaction ends, no other transaction that serialises on ``name`` runs past this point."""
        if self.dialect.name_lock:
            self.execute(self.dialect.name_lock, {"name": name})

    def execute(self, query: str, params: Mapping[str, Any] | None = None):
        return self.conn.execute(self.dialect.sql(query), dict(params or {}))

    def executemany(self, query: str, rows: Iterable[Mapping[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        if self.dialect is POSTGRESQL:
            with self.conn.cursor() as cursor:
                cursor.executemany(self.dialect.sql(query), rows)
        else:
            self.conn.executemany(query, rows)

    def one(self, query: str, params: Mapping[str, Any] | None = None) -> tuple | None:
        """The first row. The cursor is closed at once, not when it is garbage-collected: an unfinished statement
        (an UPDATE … RETURNING of several rows) makes SQLite refuse the COMMIT ("SQL statements in progress")."""
        cursor = self.execute(query, params)
        try:
            return cursor.fetchone()
        finally:
            cursor.close()

    def all(self, query: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        return list(self.execute(query, params).fetchall())

    def scalar(self, query: str, params: Mapping[str, Any] | None = None) -> Any:
        row = self.one(query, params)
        return row[0] if row else None

    def column(self, query: str, params: Mapping[str, Any] | None = None) -> list:
        return [row[0] for row in self.all(query, params)]

    def dicts(self, query: str, params: Mapping[str, Any] | None = None) -> list[dict]:
        cursor = self.execute(query, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def stream(self, query: str, params: Mapping[str, Any] | None = None, size: int = 5000) -> Iterator[tuple]:
        """Rows a few thousand at a time (a million-row CSV never sits in memory)."""
        if self.dialect is POSTGRESQL:
            with self.conn.cursor(name="mms_stream") as cursor:
                cursor.itersize = size
                cursor.execute(self.dialect.sql(query), dict(params or {}))
                yield from cursor
        else:
            cursor = self.conn.execute(query, dict(params or {}))
            while rows := cursor.fetchmany(size):
                yield from rows


class Engine:
    dialect: Dialect
    description: str  # names the database for messages (no password)
    database_errors: tuple[type[BaseException], ...] = ()
    # Why the latest write transaction failed (a full disk, a read-only database), until one succeeds: the
    # health check's small write may still fit where a send's does not, so it reads this too.
    write_failure: str | None = None

    def _noted(self, write: bool, exc: BaseException | None) -> None:
        if not write:
            return
        if exc is None:
            self.write_failure = None
        elif isinstance(exc, self.database_errors) and not _contention(exc):
            self.write_failure = _first_line(exc)

    def transaction(self, write: bool = True):  # pragma: no cover - interface
        raise NotImplementedError

    def check_writable(self, timeout: float = 2.0) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def checkpoint(self) -> None:
        """SQLite's WAL is copied back off the commit path; PostgreSQL does its own."""

    def close(self) -> None:
        pass


class SqliteEngine(Engine):
    dialect = SQLITE
    database_errors = (sqlite3.Error,)

    def __init__(self, path: str, clock: Clock | None = None) -> None:
        self.path = path
        self.description = f"the SQLite database at {path!r}"
        self._clock = clock or SystemClock()
        self._local = threading.local()

    def _db(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            # isolation_level=None: no implicit transactions; transaction() opens explicit ones.
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            _wal(conn)
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            db = self._local.db = Database(conn)
        return db

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        conn = self._db().conn
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield Tx(conn, SQLITE, self._clock, None)
        except BaseException as exc:
            conn.execute("ROLLBACK")
            self._noted(write, exc)
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # A COMMIT refused (a full disk: SQLITE_FULL) may leave the transaction open, and every later
            # BEGIN on this thread's connection would fail: end it here, so the next write can try again.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._noted(write, exc)
            raise
        self._noted(write, None)

    def checkpoint(self) -> None:
        """Copies the WAL back into the database without blocking anyone (PASSIVE), every few seconds
        beside SQLite's own automatic one, so that the WAL stays small even when commits are few and big."""
        self._db().conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def check_writable(self, timeout: float = 2.0) -> None:
        """A fresh connection, so that a health check never waits behind the 30-second busy timeout."""
        try:
            conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                _touch_health(Tx(conn, SQLITE, self._clock, None))
                conn.execute("COMMIT")
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write {self.description} ({exc})") from None


class PostgresEngine(Engine):
    dialect = POSTGRESQL

    def __init__(self, url: str, clock: Clock | None = None, pool_size: int = 20) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        parts = urlsplit(url)
        self.description = f"the PostgreSQL database {parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"
        self._clock = clock
        self.database_errors = (psycopg.Error,)
        self._pool = ConnectionPool(
            url, min_size=1, max_size=pool_size, kwargs={"autocommit": True}, open=False, name="mms-bot"
        )
        pool_log = logging.getLogger("psycopg.pool")
        was, pool_log.disabled = pool_log.disabled, True  # its warning per attempt: the error below says it once
        try:
            self._pool.open(wait=True, timeout=10.0)
        except Exception as exc:
            self._pool.close()
            raise StoreError(f"cannot connect to {self.description} ({_first_line(exc)}); check DATABASE_URL") from None
        finally:
            pool_log.disabled = was

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Tx]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield Tx(conn, POSTGRESQL, self._clock, "SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8")
        except BaseException as exc:
            self._noted(write, exc)
            raise
        self._noted(write, None)

    def check_writable(self, timeout: float = 2.0) -> None:
        try:
            with self._pool.connection(timeout=timeout) as conn, conn.transaction():
                conn.execute(f"SET LOCAL statement_timeout = {int(timeout * 1000)}")
                conn.execute(f"SET LOCAL lock_timeout = {int(timeout * 1000)}")
                _touch_health(Tx(conn, POSTGRESQL, self._clock, "SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8"))
        except Exception as exc:
            raise StoreError(f"cannot write {self.description} ({_first_line(exc)})") from None

    def close(self) -> None:
        self._pool.close()


def _wal(conn: sqlite3.Connection) -> None:
    """Switching a new file to WAL needs it alone for a moment, and SQLite answers "locked" at once
    (no busy wait) while another process opens it too: several instances starting together."""
    for attempt in range(100):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05)


def _touch_health(tx: Tx) -> None:
    tx.execute(
        "INSERT INTO instances (id, pid, host, started_at, seen_at) VALUES (:id, 0, '', :at, :now)"
        " ON CONFLICT (id) DO UPDATE SET started_at = excluded.started_at, seen_at = excluded.seen_at",
        {"id": HEALTH_ROW, "at": tx.now_iso, "now": tx.now},
    )


_CONTENTION = {"SerializationFailure", "DeadlockDetected", "LockNotAvailable", "QueryCanceled"}


def _contention(exc: BaseException) -> bool:
    """Waiting for another writer (a lock, a deadlock, a timeout) is not a database that refuses writes."""
    return type(exc).__name__ in _CONTENTION or "database is locked" in str(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def open_engine(url: str, clock: Clock | None = None, pool_size: int = 20) -> Engine:
    """``sqlite:///relative.db``, ``sqlite:////absolute.db`` or ``postgresql://user:pass@host/db``."""
    scheme = url.split(":", 1)[0].lower()
    if scheme in ("postgresql", "postgres"):
        return PostgresEngine(url, clock, pool_size)
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise StoreError(f"DATABASE_URL {url!r}: a SQLite URL names a file, as in sqlite:///mms-bot.db")
        return SqliteEngine(path, clock)
    raise StoreError(f"DATABASE_URL must start with sqlite:/// or postgresql:// (it starts with {scheme!r})")
