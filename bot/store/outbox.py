"""Reports: what Slack must be told, due in the store until Slack accepts it (kinds, keys and payloads:
bot/sending/reports.py).

A send's reports go out in order, by one process: a claimer takes every due report of one send, and
a send with a report claimed by another live owner, or held back, is passed over. On PostgreSQL the
claim first locks the send's row, so two claimers cannot both see "nobody holds this send" and take
half each; on SQLite the write lock does the same.
"""

from __future__ import annotations

import json
from datetime import datetime

from bot.sending.reports import Payload, Report, ReportKind, payload_of, payload_record
from bot.store.base import Aggregate, in_list
from bot.store.engine import Tx


def due(
    tx: Tx, key: str, send_id: int | None, kind: ReportKind, delay: float = 0.0, payload: Payload | None = None
) -> None:
    """Make a report due (again): a report already due keeps its place, a delivered one is re-armed, and one
    being delivered right now is delivered once more after (its ``wanted`` count moved on: what it shows may
    have changed after the deliverer read it)."""
    tx.execute(
        f"""INSERT INTO reports (key, send_id, kind, payload, created_at, due_at, attempts, wanted)
            VALUES (:key, :send_id, :kind, :payload, :at, :due_at, 0, 0)
            ON CONFLICT (key) DO UPDATE SET done_at = NULL,
                due_at = {tx.dialect.smaller("COALESCE(reports.due_at, excluded.due_at)", "excluded.due_at")},
                payload = COALESCE(excluded.payload, reports.payload),
                wanted = COALESCE(reports.wanted, 0) + 1
            WHERE reports.done_at IS NOT NULL OR excluded.due_at < reports.due_at OR reports.owner IS NOT NULL""",
        {
            "key": key,
            "send_id": send_id,
            "kind": str(kind),
            "payload": json.dumps(record) if (record := payload_record(payload)) is not None else None,
            "at": tx.now_iso,
            "due_at": tx.now + delay,
        },
    )


def due_paced(tx: Tx, key: str, send_id: int, kind: ReportKind) -> None:
    """Due again, but not sooner than the kind's pacing after it was last delivered (Slack paces edits)."""
    tx.execute(
        f"""INSERT INTO reports (key, send_id, kind, created_at, due_at, attempts, wanted)
            VALUES (:key, :send_id, :kind, :at, :now, 0, 0)
            ON CONFLICT (key) DO UPDATE SET done_at = NULL,
                due_at = {tx.dialect.larger("excluded.due_at", "COALESCE(reports.delivered_at, 0) + :every")},
                wanted = COALESCE(reports.wanted, 0) + 1
            WHERE reports.done_at IS NOT NULL OR reports.owner IS NOT NULL""",
        {"key": key, "send_id": send_id, "kind": str(kind), "at": tx.now_iso, "now": tx.now, "every": kind.pacing},
    )


def settle(tx: Tx, key: str) -> None:
    """A report that is no longer needed (a finished send's progress) is done without being sent."""
    tx.execute("UPDATE reports SET done_at = :now WHERE key = :key AND done_at IS NULL", {"now": tx.now, "key": key})


class Outbox(Aggregate):
    def claim_reports(self, owner: str, lease: float, *, tx: Tx | None = None) -> list[Report]:
        """All due reports of the send whose report is most overdue, for one deliverer at a time. Only kinds this
        version knows: one a newer version wrote (a rolling deploy) is left for a process that can deliver it."""
        kinds, kind_args = in_list("k", [str(kind) for kind in ReportKind])
        with self._tx(tx) as tx:
            args = {"now": tx.now, "owner": owner, "until": tx.now + lease, **kind_args}
            free = f"done_at IS NULL AND due_at <= :now AND (owner IS NULL OR lease_until < :now) AND kind IN ({kinds})"
            send_free = (
                "NOT EXISTS (SELECT 1 FROM reports o WHERE o.send_id = r.send_id AND o.done_at IS NULL"
                " AND o.owner IS NOT NULL AND o.lease_until >= :now)"
            )
            first = tx.one(
                f"""SELECT id, send_id FROM reports r WHERE {free}
                    AND (send_id IS NULL OR ({send_free}
                         AND NOT EXISTS (SELECT 1 FROM sends s WHERE s.id = r.send_id AND s.report_hold_until > :now)))
                    ORDER BY due_at LIMIT 1""",
                args,
            )
            if first is None:
                return []
            report_id, send_id = first
            if send_id is None:
                rows = tx.all(
                    f"UPDATE reports SET owner = :owner, lease_until = :until WHERE id = :id AND {free}"
                    " RETURNING id, send_id, kind, attempts, payload, wanted",
                    {**args, "id": report_id},
                )
            else:
                tx.execute(f"SELECT id FROM sends WHERE id = :send_id {tx.dialect.lock_suffix}", {"send_id": send_id})
                rows = tx.all(  # checked again under the send's lock: another claimer may have just taken it
                    f"UPDATE reports SET owner = :owner, lease_until = :until WHERE send_id = :send_id AND {free}"
                    f" AND {send_free.replace('r.send_id', ':send_id')}"
                    " RETURNING id, send_id, kind, attempts, payload, wanted",
                    {**args, "send_id": send_id},
                )
        reports = []
        for report_id, send_id, kind, attempts, payload, wanted in rows:
            known = ReportKind(kind)
            reports.append(
                Report(
                    report_id, send_id, known, attempts, payload_of(known, json.loads(payload or "null")), wanted or 0
                )
            )
        return sorted(reports, key=lambda r: (r.kind.order, r.id))

    def report_done(self, report: Report, *, tx: Tx | None = None) -> bool:
        """Delivered as it was when claimed. False when it was made due again meanwhile: it stays due (paced as
        its kind is) and is delivered once more."""
        with self._tx(tx) as tx:
            done = tx.one(
                "UPDATE reports SET done_at = :now, delivered_at = :now, owner = NULL, lease_until = NULL,"
                " last_error = NULL WHERE id = :id AND COALESCE(wanted, 0) = :wanted RETURNING id",
                {"now": tx.now, "id": report.id, "wanted": report.wanted},
            )
            if done is None:
                tx.execute(
                    "UPDATE reports SET delivered_at = :now, owner = NULL, lease_until = NULL, last_error = NULL,"
                    " due_at = :again WHERE id = :id",
                    {"now": tx.now, "again": tx.now + report.kind.pacing, "id": report.id},
                )
        return done is not None

    def report_retry(self, report_id: int, delay: float, error: str, *, tx: Tx | None = None) -> None:
        """Slack said "later": this report, and every other of its send, waits ``delay`` seconds."""
        with self._tx(tx) as tx:
            row = tx.one(
                "UPDATE reports SET due_at = :due_at, attempts = attempts + 1, last_error = :error, owner = NULL,"
                " lease_until = NULL WHERE id = :id RETURNING send_id",
                {"due_at": tx.now + delay, "error": error[:500], "id": report_id},
            )
            if row and row[0] is not None:
                tx.execute(
                    "UPDATE sends SET report_hold_until = :until WHERE id = :id",
                    {"until": tx.now + delay, "id": row[0]},
                )

    def report_due(
        self,
        key: str,
        send_id: int | None,
        kind: ReportKind,
        payload: Payload | None = None,
        delay: float = 0.0,
        *,
        tx: Tx | None = None,
    ) -> None:
        with self._tx(tx) as tx:
            due(tx, key, send_id, kind, delay, payload)

    def reports_due(self, *, tx: Tx | None = None) -> int:
        with self._read(tx) as tx:
            return int(tx.scalar("SELECT COUNT(*) FROM reports WHERE done_at IS NULL"))

    def oldest_failing_report(self, *, tx: Tx | None = None) -> float | None:
        """When the oldest report that has failed at least once became due (for the health check)."""
        with self._read(tx) as tx:
            first = tx.scalar("SELECT MIN(created_at) FROM reports WHERE done_at IS NULL AND attempts > 0")
        return datetime.fromisoformat(first).timestamp() if first else None
