"""Sends and every number's outcome (recipients): recorded whole before anything leaves."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from bot.sending.outcomes import OUTCOMES, QUEUED, NumberOutcome, tally
from bot.sending.records import SEND_COUNT_FIELDS, SEND_FIELDS, ProblemGroup, SendRecord
from bot.sending.reports import ReportKind, send_key
from bot.sending.states import PENDING, SEND_DONE, SEND_OPEN, SEND_SCHEDULED
from bot.store import outbox
from bot.store.base import Aggregate, in_list
from bot.store.engine import Tx

SEND_COLUMNS = ", ".join(SEND_FIELDS)


def insert_outcomes(tx: Tx, send_id: int, batch_id: int | None, outcomes: list[NumberOutcome]) -> None:
    tx.executemany(
        "INSERT INTO recipients (send_id, batch_id, number, outcome, reason, message_id)"
        " VALUES (:send_id, :batch_id, :number, :outcome, :reason, :message_id)",
        [
            {
                "send_id": send_id,
                "batch_id": batch_id,
                "number": o.number,
                "outcome": o.outcome,
                "reason": o.reason or None,
                "message_id": o.message_id or None,
            }
            for o in outcomes
        ],
    )


def record(row: tuple) -> SendRecord:
    # Rows made by an earlier version have NULL where newer columns count things.
    values = dict(zip(SEND_FIELDS, row, strict=True))
    return SendRecord(**{k: (0 if v is None and k in SEND_COUNT_FIELDS else v) for k, v in values.items()})


class Sends(Aggregate):
    def create_send(
        self,
        send: dict,
        media: bytes | None,
        batches: list[list[str]],
        settled: Iterable[NumberOutcome] = (),
        *,
        texts: list[str] | None = None,
        tx: Tx | None = None,
    ) -> int | None:
        """Record a send, its batches (pending) and the entries settled before sending, in one transaction.
        A personal send's batches each carry their text (``texts[i]`` for ``batches[i]``).

        The channel message is due at once. A send with a ``send_at`` waits as scheduled (its batches
        pending) until it is due. Returns None when a send with the same key exists: the same
        confirmation delivered twice.
        """
        settled = list(settled)
        settled_counts = tally(settled)
        with self._tx(tx) as tx:
            row = {
                **send,
                "media": media,
                "created_at": tx.now_iso,
                "state": (SEND_SCHEDULED if send.get("send_at") else SEND_OPEN) if batches else SEND_DONE,
                "batches_total": len(batches),
                "active_at": tx.now,
                "total_contacts": sum(len(b) for b in batches),
                "review_suppressed": settled_counts.get("suppressed", 0),
                "n_delivered": 0,
                "n_undelivered": 0,
                "finished_at": None if batches else tx.now_iso,
                **{f"n_{outcome}": n for outcome, n in settled_counts.items()},
            }
            names = list(row)
            send_id = tx.scalar(
                f"INSERT INTO sends ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"
                " ON CONFLICT (view_id) DO NOTHING RETURNING id",
                row,
            )
            if send_id is None:
                return None
            tx.executemany(
                "INSERT INTO batches (send_id, seq, state, contacts, message, attempts)"
                " VALUES (:send_id, :seq, :state, :contacts, :message, 0)",
                [
                    {
                        "send_id": send_id,
                        "seq": seq,
                        "state": PENDING,
                        "contacts": json.dumps(c),
                        "message": texts[seq] if texts else None,
                    }
                    for seq, c in enumerate(batches)
                ],
            )
            insert_outcomes(tx, send_id, None, settled)
            outbox.due(tx, send_key(ReportKind.POST, send_id), send_id, ReportKind.POST)
            if media and not send.get("answer_to"):  # an answer's message in the thread says it had an image
                outbox.due(tx, send_key(ReportKind.IMAGE, send_id), send_id, ReportKind.IMAGE)
            if not batches:
                outbox.due(tx, send_key(ReportKind.SUMMARY, send_id), send_id, ReportKind.SUMMARY)
        return send_id

    def get_send(self, send_id: int, *, tx: Tx | None = None) -> SendRecord:
        found = self.find_send(send_id, tx=tx)
        if found is None:
            raise KeyError(f"no send {send_id}")
        return found

    def find_send(self, send_id: int, *, tx: Tx | None = None) -> SendRecord | None:
        with self._read(tx) as tx:
            row = tx.one(f"SELECT {SEND_COLUMNS} FROM sends WHERE id = :id", {"id": send_id})
        return record(row) if row else None

    def recent_sends(self, user_id: str | None, limit: int = 10, *, tx: Tx | None = None) -> list[SendRecord]:
        with self._read(tx) as tx:
            mine = "WHERE user_id = :user" if user_id is not None else ""
            rows = tx.all(
                f"SELECT {SEND_COLUMNS} FROM sends {mine} ORDER BY id DESC LIMIT :limit",
                {"user": user_id, "limit": limit},
            )
        return [record(row) for row in rows]

    def get_media(self, send_id: int, *, tx: Tx | None = None) -> bytes | None:
        with self._read(tx) as tx:
            media = tx.scalar("SELECT media FROM sends WHERE id = :id", {"id": send_id})
        return bytes(media) if media is not None else None

    def batch_states(self, send_id: int, *, tx: Tx | None = None) -> dict[str, int]:
        with self._read(tx) as tx:
            return dict(
                tx.all("SELECT state, COUNT(*) FROM batches WHERE send_id = :id GROUP BY state", {"id": send_id})
            )

    def set_report(self, send_id: int, channel: str, ts: str, note: str = "", *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute(
                "UPDATE sends SET report_channel = :channel, report_ts = :ts, report_note = :note WHERE id = :id",
                {"channel": channel, "ts": ts, "note": note, "id": send_id},
            )

    def images_refused(self, send_id: int, *, tx: Tx | None = None) -> None:
        with self._tx(tx) as tx:
            tx.execute("UPDATE sends SET images_ok = 0 WHERE id = :id", {"id": send_id})

    def summary_delivered(self, send_id: int, left_out: bool, *, tx: Tx | None = None) -> None:
        """The thread summary is in Slack: the send is reported, and when the summary left numbers out,
        the CSV with every number is due, in one transaction (both, or neither and the summary again)."""
        with self._tx(tx) as tx:
            tx.execute("UPDATE sends SET reported_at = :at WHERE id = :id", {"at": tx.now_iso, "id": send_id})
            if left_out:
                outbox.due(tx, send_key(ReportKind.CSV, send_id), send_id, ReportKind.CSV)

    def stop_send(self, send_id: int, kind: str, message: str, *, tx: Tx | None = None) -> None:
        """The account refused the send (key, balance, sender): no further call is made for it."""
        with self._tx(tx) as tx:
            tx.execute(
                "UPDATE sends SET stop_kind = :kind, stop_message = :message WHERE id = :id AND stop_kind IS NULL",
                {"kind": kind, "message": message, "id": send_id},
            )

    def stopped(self, send_id: int, *, tx: Tx | None = None) -> tuple[str, str] | None:
        with self._read(tx) as tx:
            row = tx.one("SELECT stop_kind, stop_message FROM sends WHERE id = :id", {"id": send_id})
        return (row[0], row[1]) if row and row[0] else None

    def resendable(self, send_id: int, outcomes: Iterable[str], *, tx: Tx | None = None) -> list[str]:
        return [number for number, _ in self.resendable_with_texts(send_id, outcomes, tx=tx)]

    def resendable_with_texts(
        self, send_id: int, outcomes: Iterable[str], *, tx: Tx | None = None
    ) -> list[tuple[str, str | None]]:
        """(number, its personal text or None) of the entries with one of ``outcomes``, in the order settled."""
        marks, args = in_list("o", list(outcomes))
        with self._read(tx) as tx:
            return [
                (number, text)
                for number, text in tx.all(
                    "SELECT r.number, b.message FROM recipients r LEFT JOIN batches b ON b.id = r.batch_id"
                    f" WHERE r.send_id = :id AND r.outcome IN ({marks}) ORDER BY r.id",
                    {"id": send_id, **args},
                )
            ]

    def problem_groups(self, send_id: int, examples: int = 5, *, tx: Tx | None = None) -> list[ProblemGroup]:
        """Every outcome but queued, grouped by reason, with counts and the first few entries of each."""
        args = {"id": send_id, "examples": examples, "queued": QUEUED}
        with self._read(tx) as tx:
            tallies = tx.all(
                "SELECT outcome, COALESCE(reason, ''), COUNT(*) FROM recipients WHERE send_id = :id"
                " AND outcome != :queued GROUP BY outcome, COALESCE(reason, '')",
                args,
            )
            rows = tx.all(
                """SELECT outcome, reason, number FROM (
                       SELECT outcome, COALESCE(reason, '') AS reason, number, id,
                              ROW_NUMBER() OVER (PARTITION BY outcome, COALESCE(reason, '') ORDER BY id) AS n
                       FROM recipients WHERE send_id = :id AND outcome != :queued) firsts
                   WHERE n <= :examples ORDER BY id""",
                args,
            )
        groups = {(outcome, reason): ProblemGroup(outcome, reason, n, []) for outcome, reason, n in tallies}
        for outcome, reason, number in rows:
            groups[(outcome, reason)].examples.append(number)
        order = {o: i for i, o in enumerate(OUTCOMES)}
        return sorted(groups.values(), key=lambda g: (order.get(g.outcome, 99), -g.count, g.reason))

    def iter_recipients(self, send_id: int) -> Iterator[tuple[str, str, str, str, str, str]]:
        """(number, outcome, reason, message id, delivery status, personal text or '') of every entry, in the
        order they were settled."""
        with self._read(None) as tx:
            yield from tx.stream(
                "SELECT r.number, r.outcome, COALESCE(r.reason, ''), COALESCE(r.message_id, ''),"
                " COALESCE(r.delivery, ''), COALESCE(b.message, '')"
                " FROM recipients r LEFT JOIN batches b ON b.id = r.batch_id WHERE r.send_id = :id ORDER BY r.id",
                {"id": send_id},
            )

    def state_counts(self, *, tx: Tx | None = None) -> dict[str, dict[str, int]]:
        """For /metrics, from the sends' own counters: sends by state, and numbers by outcome of unpurged sends."""
        with self._read(tx) as tx:
            sends = dict(tx.all("SELECT state, COUNT(*) FROM sends GROUP BY state"))
            batches = dict(tx.all("SELECT state, COUNT(*) FROM batches GROUP BY state"))
            sums = ", ".join(f"CAST(COALESCE(SUM(n_{o}), 0) AS BIGINT)" for o in OUTCOMES)
            row = tx.one(f"SELECT {sums} FROM sends WHERE purged_at IS NULL")
        return {
            "sends": sends,
            "batches": batches,
            "numbers": {o: int(n) for o, n in zip(OUTCOMES, row, strict=True) if n},
        }
