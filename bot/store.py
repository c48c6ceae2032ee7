"""SQLite store (sqlite-utils): allowlist, drafts, sends, batches, every number's outcome, reports due.

Several processes may share one database file (a rolling deploy, a second replica). Nothing is
decided in memory: a batch or a report is *claimed* in a row (owner + lease) by one short write
transaction, and the owner renews its leases while it works. The claims are written as
``UPDATE … WHERE state = 'pending' … RETURNING`` so they carry over to PostgreSQL unchanged.

Bolt runs listeners on several threads and sqlite3 connections refuse to be shared across threads,
so each thread gets its own connection; WAL lets readers and the one writer proceed together, and
the busy timeout makes a writer wait for another instead of failing with "database is locked".
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone

from sqlite_utils import Database

from bot.sending.outcomes import OUTCOMES, NumberOutcome

FINAL_BATCH_STATES = ("queued", "failed", "unknown", "expired")  # a batch in one of these has its outcome
REPORT_KINDS = ("post", "image", "progress", "summary", "csv", "delivery", "notice", "reply", "suppression_csv", "send_csv")
JOURNAL_SIZE_LIMIT = 32 * 1024 * 1024  # bytes the WAL file is cut back to after a checkpoint


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class StoreError(RuntimeError):
    """The database cannot be opened or written; the message names the file."""


@dataclass(frozen=True)
class SendRecord:
    id: int
    view_id: str  # the draft it came from (or resend-of-N): recorded once
    user_id: str
    channel_id: str
    message: str
    sender: str | None
    gif_url: str | None
    media_name: str | None
    media_type: str | None
    media_note: str
    dry_run: int
    resend_of: int | None
    created_at: str
    finished_at: str | None
    state: str  # "open" while batches may still run, "done" once every number has an outcome
    total_contacts: int  # numbers to send (suppressed and invalid ones excluded)
    duplicates: int
    batches_total: int
    batches_done: int
    resumed: int
    report_channel: str | None  # where the channel message went (the channel, or a DM)
    report_ts: str | None
    report_note: str  # why the report went elsewhere, if it did
    images_ok: int  # 0 once Slack refused the message's image blocks
    reported_at: str | None  # when Slack accepted the thread summary
    purged_at: str | None
    stop_kind: str | None
    stop_message: str | None
    n_queued: int
    n_invalid: int
    n_rejected: int
    n_unsubscribed: int
    n_suppressed: int
    n_unconfirmed: int
    n_failed: int
    n_unknown: int
    n_expired: int
    review_suppressed: int  # numbers left out at review because they were on the suppression list
    n_delivered: int  # of the queued: Cellcast's report says delivered
    n_undelivered: int  # of the queued: a final status other than delivered
    delivery_done_at: str | None  # when the final delivery tally was made (all final, or the window ran out)

    @property
    def delivery_pending(self) -> int:
        return max(0, self.n_queued - self.n_delivered - self.n_undelivered)

    def count(self, outcome: str) -> int:
        return getattr(self, f"n_{outcome}")

    @property
    def entries(self) -> int:
        """Everything the send accounts for: numbers to send, plus entries refused or suppressed at review."""
        return self.total_contacts + self.n_invalid + self.review_suppressed

    @property
    def settled(self) -> int:
        return sum(self.count(o) for o in OUTCOMES)


_SEND_FIELDS = [f.name for f in fields(SendRecord)]


@dataclass(frozen=True)
class ClaimedBatch:
    id: int
    send_id: int
    seq: int
    contacts: list[str]


@dataclass(frozen=True)
class Report:
    id: int
    send_id: int | None
    kind: str
    attempts: int
    payload: dict


@dataclass(frozen=True)
class ProblemGroup:
    outcome: str
    reason: str
    count: int
    examples: list[str]


class Store:
    def __init__(self, path: str) -> None:
        self._path = path
        self._local = threading.local()
        self._suppression_lock = threading.Lock()
        self._suppressions: dict[str, str] = {}  # number → source, kept in step with suppression_audit
        self._suppressions_seen = -1
        try:
            self._create()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open or write the database at {path!r} ({exc}); check DATABASE_PATH") from None

    @property
    def path(self) -> str:
        return self._path

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
            conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
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
            db["instances"].create({"id": str, "pid": int, "host": str, "started_at": str, "seen_at": float}, pk="id", if_not_exists=True)
            db["allowlist"].create({"user_id": str, "added_by": str, "added_at": str}, pk="user_id", if_not_exists=True)
            db["allowlist_audit"].create(
                {"id": int, "action": str, "user_id": str, "actor": str, "at": str}, pk="id", if_not_exists=True
            )
            db["drafts"].create(
                {
                    "id": str, "user_id": str, "channel_id": str, "state": str, "created_at": str,
                    "review": str, "numbers": str, "media": bytes, "problems": str,
                },
                pk="id", not_null={"user_id", "channel_id", "state", "created_at"}, if_not_exists=True,
            )
            send_columns = {
                "id": int, "view_id": str, "user_id": str, "channel_id": str, "message": str, "sender": str,
                "gif_url": str, "media": bytes, "media_name": str, "media_type": str, "media_digest": str,
                "media_note": str, "media_ref": str, "rejected": str, "duplicates": int, "total_contacts": int, "state": str,
                "report_channel": str, "report_ts": str, "report_note": str, "resumed": int,
                "created_at": str, "finished_at": str, "resend_of": int, "dry_run": int,
                "batches_total": int, "batches_done": int, "turn": int, "active_at": float, "images_ok": int,
                "reported_at": str, "purged_at": str, "stop_kind": str, "stop_message": str, "review_suppressed": int,
                "worked_by": str, "report_hold_until": float, "n_delivered": int, "n_undelivered": int,
                "delivery_done_at": str, **{f"n_{outcome}": int for outcome in OUTCOMES},
            }
            db["sends"].create(
                send_columns, pk="id", not_null={"view_id", "user_id", "channel_id", "message", "state"},
                defaults={"state": "open", "resumed": 0, "duplicates": 0, "media_note": "", "report_note": "", "images_ok": 1,
                          "batches_total": 0, "batches_done": 0, "turn": 0, "dry_run": 0, "review_suppressed": 0,
                          **{f"n_{outcome}": 0 for outcome in OUTCOMES}},
                if_not_exists=True,
            )
            _add_missing_columns(db, "sends", send_columns)
            db["sends"].create_index(["view_id"], unique=True, if_not_exists=True)
            db["sends"].create_index(["state", "turn"], if_not_exists=True)
            batch_columns = {
                "id": int, "send_id": int, "seq": int, "state": str, "contacts": str, "error_kind": str,
                "error_message": str, "queued": str, "invalid": str, "unsubscribed": str, "response_summary": str,
                "started_at": str, "finished_at": str, "owner": str, "lease_until": float, "attempts": int,
            }
            db["batches"].create(
                batch_columns, pk="id", foreign_keys=[("send_id", "sends", "id")], not_null={"send_id", "seq", "state", "contacts"},
                defaults={"attempts": 0}, if_not_exists=True,
            )
            _add_missing_columns(db, "batches", batch_columns)
            db["batches"].create_index(["send_id", "seq"], unique=True, if_not_exists=True)
            db["batches"].create_index(["state"], if_not_exists=True)
            db["recipients"].create(
                {"id": int, "send_id": int, "batch_id": int, "number": str, "outcome": str, "reason": str, "message_id": str,
                 "delivery": str, "delivery_at": str},
                pk="id", not_null={"send_id", "number", "outcome"}, if_not_exists=True,
            )
            db["recipients"].create_index(["send_id", "outcome"], if_not_exists=True)
            db["recipients"].create_index(["number"], if_not_exists=True)
            db["recipients"].create_index(["message_id"], if_not_exists=True)
            db["reports"].create(
                {"id": int, "key": str, "send_id": int, "kind": str, "payload": str, "created_at": str, "due_at": float,
                 "attempts": int, "last_error": str, "owner": str, "lease_until": float, "done_at": float, "delivered_at": float},
                pk="id", not_null={"key", "kind", "due_at"}, defaults={"attempts": 0}, if_not_exists=True,
            )
            db["reports"].create_index(["key"], unique=True, if_not_exists=True)
            db["reports"].create_index(["done_at", "due_at"], if_not_exists=True)
            db["suppression"].create(
                {"number": str, "source": str, "reason": str, "added_by": str, "added_at": str}, pk="number", if_not_exists=True
            )
            db["suppression_audit"].create(
                {"id": int, "action": str, "number": str, "source": str, "reason": str, "actor": str, "at": str}, pk="id", if_not_exists=True
            )
            db["replies"].create(
                {"id": int, "key": str, "number": str, "body": str, "received_at": str, "source": str, "send_id": int,
                 "kind": str, "created_at": str},
                pk="id", not_null={"key", "number"}, if_not_exists=True,
            )
            db["replies"].create_index(["key"], unique=True, if_not_exists=True)
            db["replies"].create_index(["number", "body"], if_not_exists=True)
            db["sync_state"].create({"name": str, "value": str, "owner": str, "lease_until": float, "updated_at": str},
                                    pk="name", if_not_exists=True)

    def check_writable(self, timeout: float = 2.0) -> None:
        """Raises StoreError naming the file when nothing can be written within ``timeout`` (read-only,
        disk full, or held locked by another process): a fresh connection, so that a health check
        never waits behind the bot's own 30-second busy timeout."""
        try:
            conn = sqlite3.connect(self._path, timeout=timeout, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT OR REPLACE INTO instances (id, pid, host, started_at, seen_at) VALUES ('~health', 0, '', ?, ?)",
                             [now(), time.time()])
                conn.execute("COMMIT")
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the database at {self._path!r} ({exc})") from None

    # -- instances ---------------------------------------------------------------------------

    def register_instance(self, instance_id: str, pid: int, host: str) -> None:
        with self._write() as db:
            db["instances"].insert({"id": instance_id, "pid": pid, "host": host, "started_at": now(), "seen_at": time.time()}, replace=True)

    def renew_leases(self, owner: str, lease_until: float) -> None:
        """The owner is alive: extend its batch and report claims, and say it was seen."""
        with self._write() as db:
            db.execute("UPDATE batches SET lease_until = ? WHERE owner = ? AND state = 'sending'", [lease_until, owner])
            db.execute("UPDATE reports SET lease_until = ? WHERE owner = ? AND done_at IS NULL", [lease_until, owner])
            db.execute("UPDATE instances SET seen_at = ? WHERE id = ?", [time.time(), owner])

    def live_instances(self, seen_since: float) -> int:
        """Bot processes seen since then (the health probe's row is not one)."""
        row = self.db.execute("SELECT count(*) FROM instances WHERE seen_at >= ? AND id != '~health'", [seen_since]).fetchone()
        return int(row[0])

    def retire_instance(self, owner: str) -> None:
        with self._write() as db:
            db.execute("UPDATE reports SET owner = NULL, lease_until = NULL WHERE owner = ? AND done_at IS NULL", [owner])
            db.execute("DELETE FROM instances WHERE id = ?", [owner])

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

    def create_draft(self, draft_id: str, user_id: str, channel_id: str) -> None:
        with self._write() as db:
            db["drafts"].insert({"id": draft_id, "user_id": user_id, "channel_id": channel_id, "state": "checking", "created_at": now()})

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
        for name in ("review", "numbers", "problems"):
            row[name] = json.loads(row[name]) if row[name] else None
        return row

    def draft_sent(self, draft_id: str) -> None:
        with self._write() as db:
            db.execute("UPDATE drafts SET state = 'sent', numbers = NULL, media = NULL WHERE id = ?", [draft_id])

    def delete_drafts_before(self, cutoff: str) -> int:
        """Drafts are only for the hour a review may stay open; a confirmed one lives on as its send."""
        with self._write() as db:
            return db.execute("DELETE FROM drafts WHERE created_at < ?", [cutoff]).rowcount

    # -- sends -------------------------------------------------------------------------------

    def create_send(
        self, send: dict, media: bytes | None, batches: list[list[str]], settled: Iterable[NumberOutcome] = (), *, due_at: float | None = None,
    ) -> int | None:
        """Record a send, its batches (pending) and the entries settled before sending, in one transaction.

        The channel message is due at once. Returns None when a send with the same key exists: the
        same confirmation delivered twice.
        """
        settled = list(settled)
        counts = _counts(settled)
        at = time.time()
        row = {
            **send, "media": media, "created_at": now(), "state": "open" if batches else "done", "batches_total": len(batches),
            "active_at": at, "total_contacts": sum(len(b) for b in batches), "review_suppressed": counts.get("suppressed", 0),
            **{f"n_{outcome}": n for outcome, n in counts.items()},
        }
        if not batches:
            row["finished_at"] = now()
        with self._write() as db:
            try:
                send_id = db["sends"].insert(row).last_pk
            except sqlite3.IntegrityError:
                return None
            db["batches"].insert_all(
                ({"send_id": send_id, "seq": seq, "state": "pending", "contacts": json.dumps(contacts)} for seq, contacts in enumerate(batches)),
                batch_size=500,
            )
            _insert_outcomes(db, send_id, None, settled)
            _due(db, f"post:{send_id}", send_id, "post", due_at or at)
            if media:
                _due(db, f"image:{send_id}", send_id, "image", due_at or at)
            if not batches:
                _due(db, f"summary:{send_id}", send_id, "summary", at)
        return send_id

    def get_send(self, send_id: int) -> SendRecord:
        row = next(self.db.query("SELECT * FROM sends WHERE id = ?", [send_id]))
        # Rows made by an earlier version have NULL where newer columns count things.
        return SendRecord(**{name: row[name] if row[name] is not None or name not in _INT_FIELDS else 0 for name in _SEND_FIELDS})

    def get_media(self, send_id: int) -> bytes | None:
        return self.db.execute("SELECT media FROM sends WHERE id = ?", [send_id]).fetchone()[0]

    def batch_states(self, send_id: int) -> dict[str, int]:
        rows = self.db.execute("SELECT state, COUNT(*) FROM batches WHERE send_id = ? GROUP BY state", [send_id])
        return dict(rows.fetchall())

    def set_report(self, send_id: int, channel: str, ts: str, note: str = "") -> None:
        with self._write() as db:
            db.execute("UPDATE sends SET report_channel = ?, report_ts = ?, report_note = ? WHERE id = ?", [channel, ts, note, send_id])

    def images_refused(self, send_id: int) -> None:
        with self._write() as db:
            db.execute("UPDATE sends SET images_ok = 0 WHERE id = ?", [send_id])

    def mark_reported(self, send_id: int) -> None:
        with self._write() as db:
            db.execute("UPDATE sends SET reported_at = ? WHERE id = ?", [now(), send_id])

    def stop_send(self, send_id: int, kind: str, message: str) -> None:
        """The account refused the send (key, balance, sender): no further call is made for it."""
        with self._write() as db:
            db.execute("UPDATE sends SET stop_kind = ?, stop_message = ? WHERE id = ? AND stop_kind IS NULL", [kind, message, send_id])

    def stopped(self, send_id: int) -> tuple[str, str] | None:
        row = self.db.execute("SELECT stop_kind, stop_message FROM sends WHERE id = ?", [send_id]).fetchone()
        return (row[0], row[1]) if row and row[0] else None

    def resendable(self, send_id: int, outcomes: Iterable[str]) -> list[str]:
        marks = ",".join("?" * len(outcomes := list(outcomes)))
        rows = self.db.execute(f"SELECT number FROM recipients WHERE send_id = ? AND outcome IN ({marks}) ORDER BY id", [send_id, *outcomes])
        return [row[0] for row in rows]

    def problem_groups(self, send_id: int, examples: int = 5) -> list[ProblemGroup]:
        """Every outcome but queued, grouped by reason, with counts and the first few entries of each."""
        counts = self.db.execute(
            "SELECT outcome, COALESCE(reason, ''), COUNT(*) FROM recipients WHERE send_id = ? AND outcome != 'queued'"
            " GROUP BY outcome, COALESCE(reason, '')", [send_id]).fetchall()
        groups = {(outcome, reason): ProblemGroup(outcome, reason, n, []) for outcome, reason, n in counts}
        rows = self.db.execute(
            """SELECT outcome, reason, number FROM (
                   SELECT outcome, COALESCE(reason, '') AS reason, number, id,
                          ROW_NUMBER() OVER (PARTITION BY outcome, COALESCE(reason, '') ORDER BY id) AS n
                   FROM recipients WHERE send_id = ? AND outcome != 'queued')
               WHERE n <= ? ORDER BY id""",
            [send_id, examples],
        )
        for outcome, reason, number in rows:
            groups[(outcome, reason)].examples.append(number)
        order = {o: i for i, o in enumerate(OUTCOMES)}
        return sorted(groups.values(), key=lambda g: (order.get(g.outcome, 99), -g.count, g.reason))

    def iter_recipients(self, send_id: int) -> Iterator[tuple[str, str, str, str, str]]:
        """(number, outcome, reason, message id, delivery status) of every entry, in the order they were settled."""
        cursor = self.db.conn.execute(
            "SELECT number, outcome, COALESCE(reason, ''), COALESCE(message_id, ''), COALESCE(delivery, '')"
            " FROM recipients WHERE send_id = ? ORDER BY id", [send_id])
        while rows := cursor.fetchmany(5000):
            yield from rows

    # -- batches: claimed one at a time, fairly across sends --------------------------------

    def has_pending(self) -> bool:
        return self.db.execute("SELECT 1 FROM batches WHERE state = 'pending' LIMIT 1").fetchone() is not None

    def claim_next_batch(self, owner: str, lease_until: float, active_since: float = 0.0) -> ClaimedBatch | None:
        """pending → sending for the next batch in turn, only once: no two processes send the same batch.

        Turns go round the open sends (the one served longest ago first), so a small send waits at
        most one round of slots behind a big one. A send idle since before ``active_since`` (the bot
        was down) is not taken: it expires instead.
        """
        with self._write() as db:
            row = db.execute(
                """UPDATE batches SET state = 'sending', owner = ?, lease_until = ?, started_at = ?, attempts = attempts + 1
                   WHERE id = (SELECT b.id FROM batches b JOIN sends s ON s.id = b.send_id
                               WHERE b.state = 'pending' AND s.active_at >= ? ORDER BY s.turn, s.id, b.seq LIMIT 1)
                     AND state = 'pending'
                   RETURNING id, send_id, seq, contacts""",
                [owner, lease_until, now(), active_since],
            ).fetchone()
            if row is None:
                return None
            # A send taken over from another process (a restart, or a second copy) says so in its summary.
            db.execute(
                "UPDATE sends SET turn = (SELECT COALESCE(MAX(turn), 0) + 1 FROM sends), active_at = ?,"
                " resumed = resumed + (worked_by IS NOT NULL AND worked_by != ?), worked_by = ? WHERE id = ?",
                [time.time(), owner, owner, row[1]])
        return ClaimedBatch(row[0], row[1], row[2], json.loads(row[3]))

    def release_batch(self, batch_id: int, owner: str) -> bool:
        """sending → pending: provably nothing left (e.g. stopped while waiting out a 429)."""
        with self._write() as db:
            return db.execute(
                "UPDATE batches SET state = 'pending', owner = NULL, lease_until = NULL WHERE id = ? AND owner = ? AND state = 'sending'",
                [batch_id, owner]).rowcount == 1

    def finish_batch(
        self, batch_id: int, state: str, outcomes: list[NumberOutcome], *, owner: str | None,
        error_kind: str | None = None, error_message: str | None = None, from_state: str = "sending", progress_every: float = 2.0,
    ) -> bool:
        """Settle a batch and each of its numbers, count them on the send, and make the reports due.

        Only the batch's owner may settle it (``owner`` None: a sweep settling a dead owner's batch).
        When it was the send's last batch, the send is done and its summary due, in the same transaction.
        """
        assert state in FINAL_BATCH_STATES
        counts = _counts(outcomes)
        at = time.time()
        with self._write() as db:
            owned = "AND owner = ?" if owner is not None else ""
            args = [state, error_kind, error_message, now(), batch_id, from_state] + ([owner] if owner is not None else [])
            row = db.execute(
                f"UPDATE batches SET state = ?, error_kind = ?, error_message = ?, finished_at = ?, owner = NULL, lease_until = NULL"
                f" WHERE id = ? AND state = ? {owned} RETURNING send_id",
                args,
            ).fetchone()
            if row is None:
                return False
            send_id = row[0]
            _insert_outcomes(db, send_id, batch_id, outcomes)
            sets = ", ".join(f"n_{o} = n_{o} + {int(n)}" for o, n in counts.items())
            db.execute(f"UPDATE sends SET batches_done = batches_done + 1, active_at = ?{', ' + sets if sets else ''} WHERE id = ?", [at, send_id])
            remaining = db.execute("SELECT batches_total - batches_done FROM sends WHERE id = ?", [send_id]).fetchone()[0]
            if remaining <= 0:
                db.execute("UPDATE sends SET state = 'done', finished_at = ? WHERE id = ? AND state = 'open'", [now(), send_id])
                db.execute("UPDATE reports SET done_at = ? WHERE key = ? AND done_at IS NULL", [at, f"progress:{send_id}"])
                _due(db, f"summary:{send_id}", send_id, "summary", at)
            else:
                _due_paced(db, f"progress:{send_id}", send_id, "progress", at, progress_every)
        return True

    def lapsed_batches(self, at: float) -> list[ClaimedBatch]:
        """Batches in 'sending' whose owner stopped renewing its lease (it crashed or was killed)."""
        rows = self.db.execute("SELECT id, send_id, seq, contacts FROM batches WHERE state = 'sending' AND lease_until < ?", [at]).fetchall()
        return [ClaimedBatch(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def stale_pending_batches(self, idle_since: float) -> list[ClaimedBatch]:
        """Pending batches of sends nobody has worked on since ``idle_since``: the bot was down."""
        rows = self.db.execute(
            "SELECT b.id, b.send_id, b.seq, b.contacts FROM batches b JOIN sends s ON s.id = b.send_id"
            " WHERE b.state = 'pending' AND s.active_at < ?", [idle_since]).fetchall()
        return [ClaimedBatch(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def pending_of(self, send_id: int) -> list[ClaimedBatch]:
        rows = self.db.execute("SELECT id, send_id, seq, contacts FROM batches WHERE send_id = ? AND state = 'pending'", [send_id]).fetchall()
        return [ClaimedBatch(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    # -- delivery reports --------------------------------------------------------------------

    def sends_awaiting_delivery(self, created_after: str) -> list[dict]:
        """Finished, real sends with queued numbers and no final delivery tally yet, newest window only."""
        return list(self.db.query(
            "SELECT id, created_at, n_queued, n_delivered, n_undelivered FROM sends WHERE state = 'done' AND dry_run = 0"
            " AND delivery_done_at IS NULL AND n_queued > 0 AND purged_at IS NULL AND created_at >= ?", [created_after]))

    def sends_past_delivery_window(self, created_before: str) -> list[int]:
        rows = self.db.execute(
            "SELECT id FROM sends WHERE state = 'done' AND dry_run = 0 AND delivery_done_at IS NULL AND n_queued > 0"
            " AND created_at < ?", [created_before])
        return [row[0] for row in rows]

    def undelivered_messages(self, send_ids: list[int], in_flight: Iterable[str]) -> dict[tuple[str, str], tuple[int, str | None]]:
        """(message id, number) → (recipient row id, status so far), for queued numbers without a final status."""
        if not send_ids:
            return {}
        states = list(in_flight)
        rows = self.db.execute(
            f"SELECT message_id, number, id, delivery FROM recipients WHERE send_id IN ({','.join('?' * len(send_ids))}) AND outcome = 'queued'"
            f" AND message_id IS NOT NULL AND (delivery IS NULL OR delivery IN ({','.join('?' * len(states))}))", [*send_ids, *states])
        return {(message_id, number): (row_id, delivery) for message_id, number, row_id, delivery in rows}

    def queued_recipient(self, message_id: str, number: str) -> int | None:
        row = self.db.execute("SELECT id FROM recipients WHERE message_id = ? AND number = ? AND outcome = 'queued'",
                              [message_id, number]).fetchone()
        return row[0] if row else None

    def set_deliveries(self, updates: list[tuple[int, str]], delivered: Iterable[str], undelivered: Iterable[str]) -> list[int]:
        """Record (recipient row id, status) pairs and recount the sends they belong to; returns those sends."""
        if not updates:
            return []
        good, bad = list(delivered), list(undelivered)
        with self._write() as db:
            db.conn.executemany("UPDATE recipients SET delivery = ?, delivery_at = ? WHERE id = ?", [(status, now(), rid) for rid, status in updates])
            send_ids = sorted({row[0] for chunk in _chunks([rid for rid, _ in updates], 900) for row in db.execute(
                f"SELECT DISTINCT send_id FROM recipients WHERE id IN ({','.join('?' * len(chunk))})", chunk)})
            for send_id in send_ids:
                db.execute(
                    f"""UPDATE sends SET
                          n_delivered = (SELECT COUNT(*) FROM recipients WHERE send_id = ? AND outcome = 'queued' AND delivery IN ({','.join('?' * len(good))})),
                          n_undelivered = (SELECT COUNT(*) FROM recipients WHERE send_id = ? AND outcome = 'queued' AND delivery IN ({','.join('?' * len(bad))}))
                        WHERE id = ?""", [send_id, *good, send_id, *bad, send_id])
                _due_paced(db, f"delivery:{send_id}", send_id, "delivery", time.time(), 10.0)
        return send_ids

    def delivery_done(self, send_id: int, tally: str) -> None:
        """No more polling for this send: its final tally is due in the thread."""
        with self._write() as db:
            if db.execute("UPDATE sends SET delivery_done_at = ? WHERE id = ? AND delivery_done_at IS NULL", [now(), send_id]).rowcount:
                _due(db, f"delivery:{send_id}", send_id, "delivery", time.time())
                _due(db, f"delivery_final:{send_id}", send_id, "notice", time.time(), {"text": tally})

    def unknown_batches_to_confirm(self, finished_after: str) -> list[dict]:
        """Batches of unknown outcome (recent enough for the reports to show them) not checked since they settled."""
        return list(self.db.query(
            "SELECT b.id, b.send_id, b.started_at, b.finished_at, s.message FROM batches b JOIN sends s ON s.id = b.send_id"
            " WHERE b.state = 'unknown' AND b.finished_at >= ? AND s.dry_run = 0 AND s.purged_at IS NULL", [finished_after]))

    def unknown_numbers(self, batch_id: int) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT number FROM recipients WHERE batch_id = ? AND outcome = 'unknown'", [batch_id])]

    def confirm_queued(self, batch_id: int, confirmed: dict[str, str], reason: str) -> int:
        """Unknown numbers that Cellcast's report shows were queued become queued (with their message ids)."""
        if not confirmed:
            return 0
        with self._write() as db:
            count = 0
            send_id = None
            for number, message_id in confirmed.items():
                row = db.execute("UPDATE recipients SET outcome = 'queued', message_id = ?, reason = ? WHERE batch_id = ? AND number = ?"
                                 " AND outcome = 'unknown' RETURNING send_id", [message_id, reason, batch_id, number]).fetchone()
                if row:
                    count += 1
                    send_id = row[0]
            if count:
                db.execute("UPDATE sends SET n_unknown = n_unknown - ?, n_queued = n_queued + ?, delivery_done_at = NULL WHERE id = ?",
                           [count, count, send_id])
        return count

    def recent_sends(self, user_id: str | None, limit: int = 10) -> list[SendRecord]:
        rows = self.db.execute(
            "SELECT id FROM sends WHERE (? IS NULL OR user_id = ?) ORDER BY id DESC LIMIT ?", [user_id, user_id, limit]).fetchall()
        return [self.get_send(row[0]) for row in rows]

    def find_send(self, send_id: int) -> SendRecord | None:
        row = self.db.execute("SELECT 1 FROM sends WHERE id = ?", [send_id]).fetchone()
        return self.get_send(send_id) if row else None

    # -- retention ---------------------------------------------------------------------------

    def purge_finished_before(self, cutoff: str) -> int:
        """Images and per-number details of sends finished before ``cutoff`` are deleted; the send's
        counts, who sent it and when stay. Returns how many sends were purged."""
        with self._write() as db:
            ids = [row[0] for row in db.execute(
                "UPDATE sends SET media = NULL, purged_at = ? WHERE state = 'done' AND finished_at < ? AND purged_at IS NULL RETURNING id",
                [now(), cutoff])]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ",".join("?" * len(chunk))
                db.execute(f"DELETE FROM recipients WHERE send_id IN ({marks})", chunk)
                db.execute(f"UPDATE batches SET contacts = '[]', queued = NULL, invalid = NULL, unsubscribed = NULL WHERE send_id IN ({marks})", chunk)
                db.execute(f"DELETE FROM reports WHERE send_id IN ({marks}) AND done_at IS NOT NULL", chunk)
        return len(ids)

    # -- reports: what Slack must be told, due until Slack accepts it ------------------------

    def claim_reports(self, owner: str, lease_until: float, at: float) -> list[Report]:
        """All due reports of the send whose report is most overdue, for one deliverer at a time.

        A send's reports go out in order, by one process: a send with a report claimed by someone
        else, or held back (Slack said "later" to an earlier one), is skipped.
        """
        with self._write() as db:
            first = db.execute(
                """SELECT id, send_id FROM reports r
                   WHERE done_at IS NULL AND due_at <= ? AND (owner IS NULL OR lease_until < ?)
                     AND (send_id IS NULL OR (
                          NOT EXISTS (SELECT 1 FROM reports o WHERE o.send_id = r.send_id AND o.done_at IS NULL
                                      AND o.owner IS NOT NULL AND o.lease_until >= ?)
                          AND NOT EXISTS (SELECT 1 FROM sends s WHERE s.id = r.send_id AND s.report_hold_until > ?)))
                   ORDER BY due_at LIMIT 1""", [at, at, at, at]).fetchone()
            if first is None:
                return []
            same = "send_id = ?" if first[1] is not None else "id = ?"
            rows = db.execute(
                f"UPDATE reports SET owner = ?, lease_until = ? WHERE done_at IS NULL AND due_at <= ? AND (owner IS NULL OR lease_until < ?)"
                f" AND {same} RETURNING id, send_id, kind, attempts, payload",
                [owner, lease_until, at, at, first[1] if first[1] is not None else first[0]],
            ).fetchall()
        order = {kind: i for i, kind in enumerate(REPORT_KINDS)}
        reports = [Report(r[0], r[1], r[2], r[3], json.loads(r[4]) if r[4] else {}) for r in rows]
        return sorted(reports, key=lambda r: (order.get(r.kind, 99), r.id))

    def report_done(self, report_id: int) -> None:
        at = time.time()
        with self._write() as db:
            db.execute("UPDATE reports SET done_at = ?, delivered_at = ?, owner = NULL, lease_until = NULL, last_error = NULL WHERE id = ?",
                       [at, at, report_id])

    def report_retry(self, report_id: int, due_at: float, error: str) -> None:
        """Slack said "later": this report, and every other of its send, waits until ``due_at``."""
        with self._write() as db:
            row = db.execute(
                "UPDATE reports SET due_at = ?, attempts = attempts + 1, last_error = ?, owner = NULL, lease_until = NULL WHERE id = ?"
                " RETURNING send_id", [due_at, error[:500], report_id]).fetchone()
            if row and row[0] is not None:
                db.execute("UPDATE sends SET report_hold_until = ? WHERE id = ?", [due_at, row[0]])

    def report_due(self, key: str, send_id: int | None, kind: str, payload: dict | None = None, due_at: float | None = None) -> None:
        with self._write() as db:
            _due(db, key, send_id, kind, due_at or time.time(), payload)

    def reports_due(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM reports WHERE done_at IS NULL").fetchone()[0]

    def oldest_failing_report(self) -> float | None:
        """When the oldest report that has failed at least once became due (for the health check)."""
        row = self.db.execute("SELECT MIN(created_at) FROM reports WHERE done_at IS NULL AND attempts > 0").fetchone()
        return datetime.fromisoformat(row[0]).timestamp() if row and row[0] else None

    # -- suppression: numbers never sent to ------------------------------------------------

    def suppressed_among(self, numbers: Iterable[str]) -> dict[str, str]:
        """{number: where its suppression came from} for the given numbers on the suppression list.

        Answered from a copy in memory that follows the list through its audit trail (every change
        is an audit row), so a review of 100,000 numbers costs dictionary look-ups, not 100,000
        index searches, and no process ever answers from a stale copy.
        """
        with self._suppression_lock:
            self._catch_up_suppressions()
            listed = self._suppressions
            return {n: listed[n] for n in numbers if n in listed}

    def _catch_up_suppressions(self) -> None:
        if self._suppressions_seen == -1:
            last = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM suppression_audit").fetchone()[0]
            self._suppressions = {n: sys.intern(source) for n, source in self.db.execute("SELECT number, source FROM suppression")}
            self._suppressions_seen = last
            return
        rows = self.db.execute("SELECT id, action, number, source FROM suppression_audit WHERE id > ? ORDER BY id",
                               [self._suppressions_seen]).fetchall()
        for row_id, action, number, source in rows:
            if action == "suppress":
                self._suppressions[number] = sys.intern(source)
            elif action == "unsuppress":
                self._suppressions.pop(number, None)
            self._suppressions_seen = row_id

    def suppress(self, number: str, source: str, reason: str = "", actor: str = "") -> bool:
        return self.suppress_many([number], source, reason, actor) == 1

    def suppress_many(self, numbers: Iterable[str], source: str, reason: str = "", actor: str = "") -> int:
        """Add numbers (national form); those already listed keep their first source. Returns how many were new."""
        at = now()
        added = 0
        with self._write() as db:
            for number in numbers:
                if db.execute("INSERT OR IGNORE INTO suppression VALUES (?, ?, ?, ?, ?)", [number, source, reason, actor, at]).rowcount:
                    added += 1
                    db.execute("INSERT INTO suppression_audit (action, number, source, reason, actor, at) VALUES ('suppress', ?, ?, ?, ?, ?)",
                               [number, source, reason, actor, at])
        return added

    def unsuppress(self, number: str, actor: str, reason: str) -> bool:
        with self._write() as db:
            row = db.execute("DELETE FROM suppression WHERE number = ? RETURNING source", [number]).fetchone()
            db.execute("INSERT INTO suppression_audit (action, number, source, reason, actor, at) VALUES (?, ?, ?, ?, ?, ?)",
                       ["unsuppress" if row else "unsuppress (not listed)", number, row[0] if row else "", reason, actor, now()])
        return row is not None

    def suppression_entry(self, number: str) -> dict | None:
        return next(self.db.query("SELECT * FROM suppression WHERE number = ?", [number]), None)

    def suppression_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM suppression").fetchone()[0]

    def latest_suppressions(self, limit: int = 10) -> list[dict]:
        return list(self.db.query("SELECT * FROM suppression ORDER BY added_at DESC, number LIMIT ?", [limit]))

    def iter_suppressions(self) -> Iterator[tuple]:
        cursor = self.db.conn.execute("SELECT number, source, reason, added_by, added_at FROM suppression ORDER BY added_at, number")
        while rows := cursor.fetchmany(5000):
            yield from rows

    def suppression_audit(self) -> list[dict]:
        return list(self.db.query("SELECT action, number, source, reason, actor, at FROM suppression_audit ORDER BY id"))

    # -- replies from recipients -------------------------------------------------------------

    def record_reply(self, key: str, number: str, body: str, received_at: str, source: str, *, near_seconds: float = 600) -> int | None:
        """A reply, once: None when this key was recorded before, or (polled after a webhook) the same
        text from the same number was recorded within ``near_seconds``."""
        with self._write() as db:
            if source == "poll" and received_at:
                twin = db.execute(
                    "SELECT 1 FROM replies WHERE number = ? AND body = ? AND source = 'webhook'"
                    " AND ABS(strftime('%s', created_at) - strftime('%s', ?)) <= ?", [number, body, received_at, near_seconds]).fetchone()
                if twin:
                    return None
            try:
                return db["replies"].insert({"key": key, "number": number, "body": body, "received_at": received_at or now(),
                                             "source": source, "created_at": now()}).last_pk
            except sqlite3.IntegrityError:
                return None

    def settle_reply(self, reply_id: int, send_id: int | None, kind: str | None) -> None:
        with self._write() as db:
            db.execute("UPDATE replies SET send_id = ?, kind = ? WHERE id = ?", [send_id, kind, reply_id])

    def get_reply(self, reply_id: int) -> dict:
        return next(self.db.query("SELECT * FROM replies WHERE id = ?", [reply_id]))

    def latest_send_to(self, number: str) -> int | None:
        """The latest send that queued an MMS for this number: where its replies belong."""
        row = self.db.execute("SELECT MAX(send_id) FROM recipients WHERE number = ? AND outcome = 'queued'", [number]).fetchone()
        return row[0] if row else None

    # -- the sync loop's state ---------------------------------------------------------------

    def sync_value(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM sync_state WHERE name = ?", [name]).fetchone()
        return row[0] if row else None

    def set_sync_value(self, name: str, value: str | None) -> None:
        with self._write() as db:
            db.execute("INSERT INTO sync_state (name, value, updated_at) VALUES (?, ?, ?)"
                       " ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at", [name, value, now()])

    def claim_sync(self, owner: str, lease_until: float, at: float) -> bool:
        """One process at a time talks to Cellcast for the sync; the claim lapses if it dies."""
        with self._write() as db:
            db.execute("INSERT OR IGNORE INTO sync_state (name, value, updated_at) VALUES ('leader', NULL, ?)", [now()])
            return db.execute(
                "UPDATE sync_state SET owner = ?, lease_until = ? WHERE name = 'leader' AND (owner IS NULL OR owner = ? OR lease_until < ?)",
                [owner, lease_until, owner, at]).rowcount == 1


_INT_FIELDS = {f.name for f in fields(SendRecord) if f.type in ("int",)}


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _counts(outcomes: Iterable[NumberOutcome]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in outcomes:
        counts[item.outcome] = counts.get(item.outcome, 0) + 1
    return counts


def _insert_outcomes(db: Database, send_id: int, batch_id: int | None, outcomes: list[NumberOutcome]) -> None:
    db.conn.executemany(
        "INSERT INTO recipients (send_id, batch_id, number, outcome, reason, message_id) VALUES (?, ?, ?, ?, ?, ?)",
        [(send_id, batch_id, o.number, o.outcome, o.reason or None, o.message_id or None) for o in outcomes],
    )


def _due(db: Database, key: str, send_id: int | None, kind: str, due_at: float, payload: dict | None = None) -> None:
    """Make a report due (again): a report already due keeps its place, a delivered one is re-armed."""
    db.execute(
        """INSERT INTO reports (key, send_id, kind, payload, created_at, due_at, attempts) VALUES (?, ?, ?, ?, ?, ?, 0)
           ON CONFLICT(key) DO UPDATE SET done_at = NULL, due_at = MIN(COALESCE(reports.due_at, excluded.due_at), excluded.due_at),
                                           payload = COALESCE(excluded.payload, reports.payload)
           WHERE reports.done_at IS NOT NULL OR excluded.due_at < reports.due_at""",
        [key, send_id, kind, json.dumps(payload) if payload is not None else None, now(), due_at],
    )


def _due_paced(db: Database, key: str, send_id: int, kind: str, at: float, every: float) -> None:
    """Due again, but not sooner than ``every`` seconds after it was last delivered (Slack paces edits)."""
    db.execute(
        """INSERT INTO reports (key, send_id, kind, created_at, due_at, attempts) VALUES (?, ?, ?, ?, ?, 0)
           ON CONFLICT(key) DO UPDATE SET done_at = NULL, due_at = MAX(excluded.due_at, COALESCE(reports.delivered_at, 0) + ?)
           WHERE reports.done_at IS NOT NULL""",
        [key, send_id, kind, now(), at, every],
    )


def _add_missing_columns(db: Database, table: str, columns: dict[str, type]) -> None:
    """Upgrades a database made by an earlier version: new columns are added, nothing is dropped."""
    present = db[table].columns_dict
    for name, kind in columns.items():
        if name not in present:
            db[table].add_column(name, kind)
