import os
import sqlite3
from pathlib import Path

import pytest

from tests.fakes.cellcast import FakeCellcast
from tests.fakes.slack import FakeSlack
from tests.postgres import Cluster

ENGINES = ("sqlite", "postgresql")


@pytest.fixture
def cellcast():
    fake = FakeCellcast().start()
    yield fake
    fake.stop()


@pytest.fixture
def slack():
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def postgres_cluster():
    cluster = Cluster().start()
    if cluster.url is None and os.environ.get("MMS_REQUIRE_POSTGRESQL"):
        pytest.exit(f"MMS_REQUIRE_POSTGRESQL is set and {cluster.skipped}", returncode=3)
    yield cluster
    cluster.stop()


class TestDatabase:
    """The database a test (or the bot it starts) uses, read as an operator would (``?`` parameters)."""

    __test__ = False

    def __init__(self, engine: str, url: str, path: Path | None = None) -> None:
        self.engine, self.url, self.path = engine, url, path

    def rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        if self.engine == "sqlite":
            with sqlite3.connect(self.path) as conn:
                return conn.execute(sql, args).fetchall()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("%", "%%").replace("?", "%s"), args)
            return cursor.fetchall() if cursor.description else []

    def execute(self, sql: str, args: tuple = ()) -> None:
        self.rows(sql, args)


def pytest_collection_modifyitems(config, items):
    """``sqlite_only`` tests run once, on SQLite: their PostgreSQL half is deselected (not skipped)."""
    kept, dropped = [], []
    for item in items:
        engine = getattr(getattr(item, "callspec", None), "params", {}).get("database")
        (dropped if engine == "postgresql" and item.get_closest_marker("sqlite_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


DATABASES: dict[Path, TestDatabase] = {}  # tmp_path → the test's database, for tests.e2e.harness.db_rows


@pytest.fixture(params=ENGINES)
def database(request, tmp_path, postgres_cluster) -> TestDatabase:
    """Each test that asks for it runs twice: on a SQLite file and on a PostgreSQL database of its own."""
    if request.param == "sqlite":
        path = tmp_path / "bot.db"
        db = TestDatabase("sqlite", f"sqlite:///{path}", path)
    else:
        if postgres_cluster.url is None:
            pytest.skip(f"PostgreSQL half skipped: {postgres_cluster.skipped}")
        db = TestDatabase("postgresql", postgres_cluster.fresh_database())
    DATABASES[tmp_path] = db
    yield db
    DATABASES.pop(tmp_path, None)
    if db.engine == "postgresql":
        postgres_cluster.drop_database(db.url)
