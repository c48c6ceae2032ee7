"""SQLite store (sqlite-utils): the allowlist and its audit trail, sends and their batches.

Bolt runs listeners on several threads and sqlite3 connections refuse to be shared across threads,
so each thread gets its own connection; WAL lets readers and the one writer proceed together, and
the busy timeout makes a writer wait for another instead of failing with "database is locked".
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlite_utils import Database

FINAL_BATCH_STATES = ("queued", "failed", "unknown")  # a batch in one of these has its outcome


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class SendRecord:
    id: int
    view_id: str
    user_id: str
    channel_id: str
    message: str
    sender: str | None
    gif_url: str | None
    media_name: str | None
    media_type: str | None
    media_digest: str | None
    media_note: str
    media_ref: str | None  # the chat platform's id of the uploaded image, to show it again
    rejected: list[tuple[str, str]]  # entries refused before sending: (entry, reason)
    duplicates: int
    total_contacts: int
    state: str  # "open" while batches may still run, "done" once every batch has an outcome
    report_channel: str | None  # where the channel message went (the channel, or a DM)
    report_ts: str | None
    report_note: str  # why the report went to a DM, if it did
    resumed: int
    created_at: str
    resend_of: int | None
    dry_run: int = 0


@dataclass(frozen=True)
class BatchRecord:
    id: int
    send_id: int
    seq: int
    state: str
    contacts: list[str]
    error_kind: str | None
    error_message: str | None
    queued: list[tuple[str, str]]
    invalid: list[tuple[str, str, str]]
    unsubscribed: list[str]
    started_at: str | None
    finished_at: str | None


class Store:
    def __init__(self, path: str) -> None:
        self._path = path
        self._local = threading.local()
        self._create()

    @property
    def db(self) -> Database:
        db = getattr(self._local, "db", None)
        if db is None:
            # isolation_level=None: no implicit transactions; _write() opens explicit short ones.
            conn = sqlite3.connect(self._path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            db = self._local.db = Database(conn)
        return db

    @contextmanager
    def _write(self) -> Iterator[Database]:
        """A short write transaction that takes the write lock up front (no upgrade deadlocks)."""
        db = self.db
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")

    def _create(self) -> None:
        with self._write() as db:
            db["allowlist"].create({"user_id": str, "added_by": str, "added_at": str}, pk="user_id", if_not_exists=True)
            db["allowlist_audit"].create(
                {"id": int, "action": str, "user_id": str, "actor": str, "at": str}, pk="id", if_not_exists=True
            )
            db["sends"].create(
                {
                    "id": int, "view_id": str, "user_id": str, "channel_id": str, "message": str, "sender": str,
                    "gif_url": str, "media": bytes, "media_name": str, "media_type": str, "media_digest": str,
                    "media_note": str, "media_ref": str, "rejected": str, "duplicates": int, "total_contacts": int, "state": str,
                    "report_channel": str, "report_ts": str, "report_note": str, "resumed": int,
                    "created_at": str, "finished_at": str, "resend_of": int, "dry_run": int,
                },
                pk="id", not_null={"view_id", "user_id", "channel_id", "message", "state"},
                defaults={"state": "open", "resumed": 0, "duplicates": 0, "media_note": "", "report_note": ""},
                if_not_exists=True,
            )
            _add_missing_columns(db, "sends", {"dry_run": int})
            db["sends"].create_index(["view_id"], unique=True, if_not_exists=True)
            db["batches"].create(
                {
                    "id": int, "send_id": int, "seq": int, "state": str, "contacts": str, "error_kind": str,
                    "error_message": str, "queued": str, "invalid": str, "unsubscribed": str, "response_summary": str,
                    "started_at": str, "finished_at": str,
                },
                pk="id", foreign_keys=[("send_id", "sends", "id")], not_null={"send_id", "seq", "state", "contacts"},
                if_not_exists=True,
            )
            db["batches"].create_index(["send_id", "seq"], unique=True, if_not_exists=True)
            db["batches"].create_index(["state"], if_not_exists=True)
            db["drafts"].create(
                {
                    "id": str, "user_id": str, "channel_id": str, "state": str, "created_at": str, "form": str,
                    "review": str, "numbers": str, "media": bytes, "problems": str,
                },
                pk="id", not_null={"user_id", "channel_id", "state", "created_at"}, if_not_exists=True,
            )

    # -- allowlist ---------------------------------------------------------------------------

    def is_allowed(self, user_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM allowlist WHERE user_id = ?", [user_id]).fetchone() is not None

    def allow(self, user_id: str, actor: str) -> bool:
        """Returns False when the user was already on the list (the attempt is still audited)."""
        with self._write() as db:
            added = db.execute("INSERT OR IGNORE INTO allowlist VALUES (?, ?, ?)", [user_id, actor, now()]).rowcount == 1
            db["allowlist_audit"].insert({"action": "allow" if added else "allow (already listed)", "user_id": user_id, "actor": actor, "at": now()})
        return added

    def revoke(self, user_id: str, actor: str) -> bool:
        with self._write() as db:
            removed = db.execute("DELETE FROM allowlist WHERE user_id = ?", [user_id]).rowcount == 1
            db["allowlist_audit"].insert({"action": "revoke" if removed else "revoke (not listed)", "user_id": user_id, "actor": actor, "at": now()})
        return removed

    def allowed_users(self) -> list[dict]:
        return list(self.db.query("SELECT user_id, added_by, added_at FROM allowlist ORDER BY added_at"))

    def audit(self) -> list[dict]:
        return list(self.db.query("SELECT action, user_id, actor, at FROM allowlist_audit ORDER BY id"))

    # -- drafts: a checked form waiting for its sender to confirm the review ------------------

    def create_draft(self, draft_id: str, user_id: str, channel_id: str, form: dict) -> None:
        with self._write() as db:
            db["drafts"].insert({"id": draft_id, "user_id": user_id, "channel_id": channel_id, "state": "checking",
                                 "created_at": now(), "form": json.dumps(form)})

    def draft_checked(self, draft_id: str, review: dict, numbers: list[str], media: bytes | None) -> bool:
        """checking → ready; False when the draft is gone (expired) meanwhile."""
        with self._write() as db:
            return db.execute(
                "UPDATE drafts SET state = 'ready', review = ?, numbers = ?, media = ? WHERE id = ? AND state = 'checking'",
                [json.dumps(review), json.dumps(numbers), media, draft_id],
            ).rowcount == 1

    def draft_has_problems(self, draft_id: str, problems: dict[str, str]) -> None:
        with self._write() as db:
            db.execute("UPDATE drafts SET state = 'problems', problems = ? WHERE id = ? AND state = 'checking'",
                       [json.dumps(problems), draft_id])

    def get_draft(self, draft_id: str) -> dict | None:
        row = next(self.db.query("SELECT * FROM drafts WHERE id = ?", [draft_id]), None)
        if row is None:
            return None
        for name in ("form", "review", "numbers", "problems"):
            row[name] = json.loads(row[name]) if row[name] else None
        return row

    def draft_sent(self, draft_id: str) -> None:
        with self._write() as db:
            db.execute("UPDATE drafts SET state = 'sent', numbers = NULL, media = NULL WHERE id = ?", [draft_id])

    def delete_drafts_before(self, cutoff: str) -> int:
        """Drafts are only for the hour a review may stay open; a confirmed one lives on as its send."""
        with self._write() as db:
            return db.execute("DELETE FROM drafts WHERE created_at < ?", [cutoff]).rowcount

    # -- sends and batches -------------------------------------------------------------------

    def create_send(self, send: dict, media: bytes | None, batches: list[list[str]]) -> int | None:
        """Record a send and all its batches (state pending) in one transaction.

        Returns None when a send with the same view id exists: the same submission delivered twice.
        """
        row = {**send, "media": media, "rejected": json.dumps(send.get("rejected", [])), "created_at": now(), "state": "open"}
        with self._write() as db:
            try:
                send_id = db["sends"].insert(row).last_pk
            except sqlite3.IntegrityError:
                return None
            db["batches"].insert_all(
                ({"send_id": send_id, "seq": seq, "state": "pending", "contacts": json.dumps(contacts)} for seq, contacts in enumerate(batches)),
                batch_size=500,
            )
        return send_id

    def get_send(self, send_id: int) -> SendRecord:
        row = next(self.db.query("SELECT * FROM sends WHERE id = ?", [send_id]))
        row.pop("media")
        row.pop("finished_at")
        row["rejected"] = [tuple(item) for item in json.loads(row["rejected"] or "[]")]
        return SendRecord(**row)

    def get_media(self, send_id: int) -> bytes | None:
        return self.db.execute("SELECT media FROM sends WHERE id = ?", [send_id]).fetchone()[0]

    def batches(self, send_id: int) -> list[BatchRecord]:
        rows = self.db.query("SELECT * FROM batches WHERE send_id = ? ORDER BY seq", [send_id])
        return [_batch(row) for row in rows]

    def batch_states(self, send_id: int) -> dict[str, int]:
        rows = self.db.execute("SELECT state, COUNT(*) FROM batches WHERE send_id = ? GROUP BY state", [send_id])
        return dict(rows.fetchall())

    def claim_batch(self, batch_id: int) -> bool:
        """pending → sending, only once: two workers can never both send the same batch."""
        with self._write() as db:
            return db.execute(
                "UPDATE batches SET state = 'sending', started_at = ? WHERE id = ? AND state = 'pending'", [now(), batch_id]
            ).rowcount == 1

    def finish_batch(
        self,
        batch_id: int,
        state: str,
        *,
        error_kind: str | None = None,
        error_message: str | None = None,
        queued: list[tuple[str, str]] = (),
        invalid: list[tuple[str, str, str]] = (),
        unsubscribed: list[str] = (),
        from_states: tuple[str, ...] = ("sending",),
    ) -> bool:
        assert state in FINAL_BATCH_STATES
        marks = ",".join("?" * len(from_states))
        with self._write() as db:
            return db.execute(
                f"UPDATE batches SET state = ?, error_kind = ?, error_message = ?, queued = ?, invalid = ?, unsubscribed = ?,"
                f" finished_at = ? WHERE id = ? AND state IN ({marks})",
                [state, error_kind, error_message, json.dumps(list(queued)), json.dumps(list(invalid)), json.dumps(list(unsubscribed)),
                 now(), batch_id, *from_states],
            ).rowcount == 1

    def set_report(self, send_id: int, channel: str, ts: str, note: str = "") -> None:
        with self._write() as db:
            db.execute("UPDATE sends SET report_channel = ?, report_ts = ?, report_note = ? WHERE id = ?", [channel, ts, note, send_id])

    def finish_send(self, send_id: int) -> None:
        with self._write() as db:
            db.execute("UPDATE sends SET state = 'done', finished_at = ? WHERE id = ?", [now(), send_id])

    def recover_after_restart(self) -> list[int]:
        """A batch caught in 'sending' by a crash may have reached the gateway: it becomes 'unknown'.

        Returns the sends that still need work (pending batches, or no final report yet).
        """
        with self._write() as db:
            db.execute(
                "UPDATE batches SET state = 'unknown', error_kind = 'interrupted', finished_at = ?,"
                " error_message = 'The bot stopped while this batch was being sent.' WHERE state = 'sending'",
                [now()],
            )
            ids = [row[0] for row in db.execute("SELECT id FROM sends WHERE state = 'open' ORDER BY id")]
            if ids:
                db.execute(f"UPDATE sends SET resumed = resumed + 1 WHERE id IN ({','.join('?' * len(ids))})", ids)
        return ids


def _add_missing_columns(db: Database, table: str, columns: dict[str, type]) -> None:
    """Upgrades a database made by an earlier version: new columns are added, nothing is dropped."""
    present = db[table].columns_dict
    for name, kind in columns.items():
        if name not in present:
            db[table].add_column(name, kind)


def _batch(row: dict) -> BatchRecord:
    def load(name: str) -> list:
        return json.loads(row[name]) if row[name] else []

    return BatchRecord(
        id=row["id"], send_id=row["send_id"], seq=row["seq"], state=row["state"], contacts=load("contacts"),
        error_kind=row["error_kind"], error_message=row["error_message"],
        queued=[tuple(x) for x in load("queued")], invalid=[tuple(x) for x in load("invalid")], unsubscribed=load("unsubscribed"),
        started_at=row["started_at"], finished_at=row["finished_at"],
    )
