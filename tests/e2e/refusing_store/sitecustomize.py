"""Loaded by the bot under test (this directory first on its PYTHONPATH): while the file named by
``MMS_TEST_REFUSE_WRITES`` exists, every write transaction fails as a full disk fails it, at the
store's seam (the engine), after its statements ran and before it commits. Nothing else changes."""

import os
import sqlite3
from contextlib import contextmanager

FLAG = os.environ.get("MMS_TEST_REFUSE_WRITES")

if FLAG:
    from bot.store import engine

    def refusing(transaction, error):
        @contextmanager
        def wrapped(self, write: bool = True):
            with transaction(self, write) as tx:
                yield tx
                if write and os.path.exists(FLAG):
                    raise error()

        return wrapped

    def sqlite_full():
        return sqlite3.OperationalError("database or disk is full")

    def postgres_full():
        import psycopg.errors

        return psycopg.errors.DiskFull("could not extend file: No space left on device")

    engine.SqliteEngine.transaction = refusing(engine.SqliteEngine.transaction, sqlite_full)
    engine.PostgresEngine.transaction = refusing(engine.PostgresEngine.transaction, postgres_full)

    for cls in (engine.SqliteEngine, engine.PostgresEngine):
        original = cls.check_writable

        def probe(self, timeout: float = 2.0, _original=original):
            if os.path.exists(FLAG):
                raise engine.StoreError(f"cannot write {self.description} (database or disk is full)")
            return _original(self, timeout)

        cls.check_writable = probe
