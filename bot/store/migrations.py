"""The schema as one ordered list of migrations for both engines, applied at start, once, under a lock.

Each migration is a function of a transaction; its number and name are recorded in
``schema_migrations`` in the same transaction as its changes (DDL is transactional on both engines),
so a migration is applied whole or not at all. Several instances starting together apply it once:
on SQLite the run holds the write lock (``BEGIN IMMEDIATE``), on PostgreSQL a transaction-scoped
advisory lock. Why not Alembic: it brings SQLAlchemy for a dozen tables, and its migrations are per
engine; this list is ~150 lines and serves both.

Migration 1 is the schema as versions before this list left it (made by sqlite-utils): on such a
database it creates nothing and adds the columns an older file lacks, so files upgrade in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.store.engine import Engine, Tx
from bot.store.schema import BASELINE, BASELINE_INDEXES

log = logging.getLogger(__name__)


def table_columns(tx: Tx, table: str) -> set[str]:
    """The columns a table has now (none: it does not exist)."""
    if tx.dialect.name == "sqlite":
        return {row[1] for row in tx.all(f"PRAGMA table_info({table})")}
    return set(
        tx.column(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND table_name = :table",
            {"table": table},
        )
    )


def _column_sql(tx: Tx, name: str, kind: str, extra: str) -> str:
    if kind == "id":
        return f"{name} {tx.dialect.identity}"
    return f"{name} {tx.dialect.types[kind]} {extra}".rstrip()


def _index(tx: Tx, name: str, table: str, columns: str, unique: bool = False) -> None:
    tx.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {name} ON {table} ({columns})")


def _create_table(tx: Tx, table: str, columns: list[tuple[str, str, str]]) -> None:
    tx.execute(f"CREATE TABLE {table} ({', '.join(_column_sql(tx, *c) for c in columns)})")


def _add_column(tx: Tx, table: str, name: str, kind: str, extra: str = "") -> None:
    """A column added by a later version (``kind`` one of the schema's: int, real, text, blob)."""
    tx.execute(f"ALTER TABLE {table} ADD COLUMN {name} {tx.dialect.types[kind]}{' ' + extra if extra else ''}")


def baseline(tx: Tx) -> None:
    for table, columns in BASELINE.items():
        present = table_columns(tx, table)
        if not present:
            _create_table(tx, table, columns)
            continue
        for name, kind, extra in columns:  # a file made by an older version: add what it lacks
            if name not in present:
                tx.execute(
                    f"ALTER TABLE {table} ADD COLUMN "
                    f"{_column_sql(tx, name, kind, extra.replace('NOT NULL', '').strip())}"
                )
    for index in BASELINE_INDEXES:
        _index(tx, *index)


def commit_ordered_suppression(tx: Tx) -> None:
    """Every suppression change carries a version taken from one counter row, whose row lock is held
    until commit: versions become visible in the order they were taken, so a reader following
    ``version > last seen`` never skips one (audit ids are taken before commit, out of order)."""
    tx.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)")
    tx.execute("ALTER TABLE suppression_audit ADD COLUMN version BIGINT")
    tx.execute("UPDATE suppression_audit SET version = id")
    tx.execute(
        "INSERT INTO counters (name, value) VALUES ('suppression', (SELECT COALESCE(MAX(id), 0) FROM "
        "suppression_audit))"
    )
    _index(tx, "idx_suppression_audit_version", "suppression_audit", "version")


def counters_never_null(tx: Tx) -> None:
    """Sends made before delivery counting had NULL counts, which a sync round then added to."""
    tx.execute(
        "UPDATE sends SET n_delivered = COALESCE(n_delivered, 0), n_undelivered = COALESCE(n_undelivered, 0)"
        " WHERE n_delivered IS NULL OR n_undelivered IS NULL"
    )


def indexes_for_large_tables(tx: Tx) -> None:
    """Every query on recipients, batches and sends is served by an index (checked in a test)."""
    _index(tx, "idx_recipients_batch_id", "recipients", "batch_id, outcome")
    _index(tx, "idx_recipients_send_id_id", "recipients", "send_id, id")
    _index(tx, "idx_sends_finished", "sends", "state, purged_at, finished_at")
    _index(tx, "idx_sends_user", "sends", "user_id, id")
    _index(tx, "idx_batches_unknown", "batches", "state, finished_at")
    _index(tx, "idx_suppression_added", "suppression", "added_at, number")


def shared_rate_limit(tx: Tx) -> None:
    """The account's calls a second, one sliding log for every process (bot/store/rate.py)."""
    tx.execute(
        "CREATE TABLE rate_limits (name TEXT PRIMARY KEY, starts TEXT NOT NULL, sends_waiting_at DOUBLE PRECISION)"
    )
    tx.execute("INSERT INTO rate_limits (name, starts) VALUES ('cellcast', '[]')")


def replies_paired_and_drafts_resumable(tx: Tx) -> None:
    """A reply read by the poll and pushed by the webhook is one reply: each row names the other
    source's key it was paired with (``twin_key``) and when it was heard (``heard_at``, epoch seconds).
    A draft keeps its form and a lease, so a live process redoes a check that a stopped one left."""
    _add_column(tx, "replies", "twin_key", "text")
    _add_column(tx, "replies", "heard_at", "real")
    _index(tx, "idx_replies_twin_key", "replies", "twin_key")
    for name, kind in (("form", "text"), ("owner", "text"), ("lease_until", "real"), ("checks", "int")):
        _add_column(tx, "drafts", name, kind)
    _index(tx, "idx_drafts_state_lease", "drafts", "state, lease_until")


def scheduled_sends(tx: Tx) -> None:
    """A send may wait for its time (``send_at``, epoch seconds, shown in ``schedule_tz``) and be cancelled."""
    for name, kind in (
        ("send_at", "real"),
        ("schedule_tz", "text"),
        ("cancelled_by", "text"),
        ("cancelled_at", "text"),
    ):
        _add_column(tx, "sends", name, kind)
    _index(tx, "idx_sends_state_send_at", "sends", "state, send_at")


def answers(tx: Tx) -> None:
    """A send may answer one recipient's reply (``answer_to``, the reply's id), as an SMS or an MMS (``medium``)."""
    _add_column(tx, "sends", "medium", "text")
    _add_column(tx, "sends", "answer_to", "int")
    _index(tx, "idx_sends_answer_to", "sends", "answer_to")
    _index(tx, "idx_replies_send_id", "replies", "send_id, id")
    # A personal send's batch carries its own text (numbers with the same text share a batch).
    _add_column(tx, "batches", "message", "text")


def templates(tx: Tx) -> None:
    """Saved message templates (a name unique whatever its case), and every save and delete, audited."""
    columns = [
        ("id", "id", ""),
        ("name", "text", "NOT NULL"),
        ("name_key", "text", "NOT NULL"),
        ("text", "text", "NOT NULL"),
        ("created_by", "text", "NOT NULL"),
        ("created_at", "text", "NOT NULL"),
    ]
    _create_table(tx, "templates", columns)
    _index(tx, "idx_templates_name_key", "templates", "name_key", unique=True)
    audit = [("id", "id", ""), ("action", "text", ""), ("name", "text", ""), ("text", "text", "")]
    audit += [("actor", "text", ""), ("at", "text", "")]
    _create_table(tx, "template_audit", audit)


def approvals(tx: Tx) -> None:
    """A send that waits for an approver: what was reviewed (kept here, as drafts last an hour), who asked,
    who decided, when and why, and where the request was posted."""
    columns = [
        ("id", "id", ""),
        ("draft_id", "text", "NOT NULL"),
        ("requester", "text", "NOT NULL"),
        ("channel_id", "text", "NOT NULL"),
        ("state", "text", "NOT NULL"),
        ("why", "text", ""),
        ("review", "text", "NOT NULL"),
        ("numbers", "text", "NOT NULL"),
        ("media", "blob", ""),
        ("total", "int", "NOT NULL"),
        ("created_at", "text", "NOT NULL"),
        ("expires_at", "real", "NOT NULL"),
        ("decided_by", "text", ""),
        ("decided_at", "text", ""),
        ("decision_reason", "text", ""),
        ("send_id", "int", ""),
        ("posts", "text", ""),
    ]
    _create_table(tx, "approvals", columns)
    _index(tx, "idx_approvals_draft", "approvals", "draft_id", unique=True)
    _index(tx, "idx_approvals_state", "approvals", "state, expires_at")
    _index(tx, "idx_approvals_requester", "approvals", "requester, id")
    _add_column(tx, "sends", "approval_id", "int")


def reports_wanted(tx: Tx) -> None:
    """A report made due again while it is being delivered must be delivered again: ``wanted`` counts the
    times it was made due, and a delivery only settles the count it was claimed at."""
    _add_column(tx, "reports", "wanted", "int", "DEFAULT 0")


def workflow_steps(tx: Tx) -> None:
    """A Workflow Builder step's run: its inputs (to check them again after a crash), its review (kept here: it
    waits for a decision longer than a draft lives), who decided, its send or approval, and what the workflow
    was told."""
    columns = [
        ("draft_id", "text", "PRIMARY KEY"),
        ("execution_id", "text", "NOT NULL"),
        ("workflow_execution_id", "text", ""),
        ("channel_id", "text", "NOT NULL"),
        ("sent_by", "text", "NOT NULL"),
        ("inputs", "text", "NOT NULL"),
        ("state", "text", "NOT NULL"),
        ("owner", "text", ""),
        ("lease_until", "real", ""),
        ("checks", "int", "DEFAULT 1"),
        ("review", "text", ""),
        ("numbers", "text", ""),
        ("media", "blob", ""),
        ("total", "int", ""),
        ("created_at", "text", "NOT NULL"),
        ("expires_at", "real", ""),
        ("review_ts", "text", ""),
        ("decided_by", "text", ""),
        ("decided_at", "text", ""),
        ("send_id", "int", ""),
        ("approval_id", "int", ""),
        ("outcome", "text", ""),
        ("error", "text", ""),
        ("note", "text", ""),
        ("queued", "int", ""),
        ("left_out", "int", ""),
        ("completed_at", "text", ""),
        ("completion_error", "text", ""),
    ]
    _create_table(tx, "steps", columns)
    _index(tx, "idx_steps_execution", "steps", "execution_id", unique=True)
    _index(tx, "idx_steps_state", "steps", "state, expires_at")
    _index(tx, "idx_steps_send", "steps", "send_id")
    _index(tx, "idx_steps_approval", "steps", "approval_id")


MIGRATIONS: list[tuple[int, str, Callable[[Tx], None]]] = [
    (1, "baseline: the schema of earlier versions", baseline),
    (2, "commit-ordered suppression versions", commit_ordered_suppression),
    (3, "delivery counters never NULL", counters_never_null),
    (4, "indexes for large tables", indexes_for_large_tables),
    (5, "one rate limit shared by every process", shared_rate_limit),
    (6, "replies paired across poll and webhook; drafts resumable", replies_paired_and_drafts_resumable),
    (7, "scheduled sends", scheduled_sends),
    (8, "answers to a recipient's reply; personal texts per batch", answers),
    (9, "saved message templates", templates),
    (10, "approvals before a send", approvals),
    (11, "a report due again while delivered is delivered again", reports_wanted),
    (12, "Workflow Builder steps", workflow_steps),
]


def migrate(engine: Engine) -> list[str]:
    """Applies what the database lacks, in order, once, under a lock. Returns the names applied."""
    applied: list[str] = []
    with engine.transaction() as tx:
        if tx.dialect.name == "postgresql":
            tx.execute("SELECT pg_advisory_xact_lock(7245001)")  # several instances starting together: one applies
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT "
            "NOT NULL)"
        )
        done = set(tx.column("SELECT id FROM schema_migrations"))
        for number, name, step in MIGRATIONS:
            if number in done:
                continue
            step(tx)
            tx.execute(
                "INSERT INTO schema_migrations (id, name, applied_at) VALUES (:id, :name, :at)",
                {"id": number, "name": name, "at": tx.now_iso},
            )
            applied.append(name)
    for name in applied:
        log.info("database migration applied: %s", name)
    return applied
