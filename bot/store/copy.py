"""``mms-bot copy-database``: everything of one database into an empty one (SQLite → PostgreSQL, say).

One transaction on the target: a copy that fails leaves the target empty, so it can simply be run
again. Ids are kept (reports and replies point at sends by id), and PostgreSQL's identity counters
are moved past them. The processes' rows (``instances``) are not copied: they describe processes of
the old database; claims (owners, leases) are cleared for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.store import Store
from bot.store.migrations import table_columns

TABLES = (
    "allowlist",
    "allowlist_audit",
    "drafts",
    "sends",
    "batches",
    "recipients",
    "reports",
    "suppression",
    "suppression_audit",
    "replies",
    "sync_state",
)
CLEARED = {
    "batches": ("owner", "lease_until"),
    "reports": ("owner", "lease_until"),
    "sync_state": ("owner", "lease_until"),
}
CHUNK = 2000


class TargetNotEmpty(RuntimeError):
    pass


def copy_database(
    source: Store, target: Store, progress: Callable[[str, int], None] = lambda table, n: None
) -> dict[str, int]:
    """Copies every table; returns rows copied per table. Refuses a target that holds anything."""
    with target.transaction() as out:
        held = {table: n for table in TABLES if (n := int(out.scalar(f"SELECT COUNT(*) FROM {table}")))}
        if held:
            raise TargetNotEmpty(
                "the target database is not empty ("
                + ", ".join(f"{t}: {n:,} rows" for t, n in held.items())
                + "); copy into a new, empty database"
            )
        copied: dict[str, int] = {}
        for table in TABLES:
            with source.transaction(write=False) as src:
                names = sorted(table_columns(src, table) & table_columns(out, table))
            insert = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"
            cleared = CLEARED.get(table, ())
            count, chunk = 0, []
            with source.transaction(write=False) as src:
                for row in src.stream(f"SELECT {', '.join(names)} FROM {table} ORDER BY 1"):
                    values = dict(zip(names, row, strict=True))
                    values.update({name: None for name in cleared if name in values})
                    chunk.append(values)
                    if len(chunk) >= CHUNK:
                        out.executemany(insert, chunk)
                        count, chunk = count + len(chunk), []
                out.executemany(insert, chunk)
            copied[table] = count + len(chunk)
            progress(table, copied[table])
        with source.transaction(write=False) as src:
            out.execute(
                "UPDATE counters SET value = :value WHERE name = 'suppression'",
                {"value": int(src.scalar("SELECT value FROM counters WHERE name = 'suppression'"))},
            )
        if out.dialect.name == "postgresql":
            for table in TABLES:
                if "id" in table_columns(out, table) and out.scalar(
                    "SELECT pg_get_serial_sequence(:t, 'id')", {"t": table}
                ):
                    out.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM "
                        f"{table}), 0) + 1, false)"
                    )
    return copied
