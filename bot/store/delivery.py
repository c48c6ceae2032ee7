"""Delivery reports on sends: statuses per number, counters kept as statuses change (never recounted),
and unknown outcomes that Cellcast's report shows were queued."""

from __future__ import annotations

from collections.abc import Iterable

from bot.sending import outcomes as o
from bot.sending.reports import Notice, ReportKind, delivery_final_key, send_key
from bot.sending.states import SEND_DONE, UNKNOWN
from bot.store import outbox
from bot.store.base import Aggregate, in_list
from bot.store.engine import Tx


class Delivery(Aggregate):
    def sends_awaiting_delivery(self, created_after: str, *, tx: Tx | None = None) -> list[dict]:
        """Finished, real sends with queued numbers and no final delivery tally yet, newest window only."""
        with self._read(tx) as tx:
            return tx.dicts(
                "SELECT id, created_at, n_queued, n_delivered, n_undelivered FROM sends WHERE state = :done AND "
                "dry_run = 0"
                " AND delivery_done_at IS NULL AND n_queued > 0 AND purged_at IS NULL AND created_at >= :after",
                {"done": SEND_DONE, "after": created_after},
            )

    def sends_past_delivery_window(self, created_before: str, *, tx: Tx | None = None) -> list[int]:
        with self._read(tx) as tx:
            return tx.column(
                "SELECT id FROM sends WHERE state = :done AND dry_run = 0 AND delivery_done_at IS NULL AND n_queued > 0"
                " AND created_at < :before",
                {"done": SEND_DONE, "before": created_before},
            )

    def undelivered_messages(
        self, send_ids: list[int], in_flight: Iterable[str], *, tx: Tx | None = None
    ) -> dict[tuple[str, str], tuple[int, str | None]]:
        """(message id, number) → (recipient row id, status so far), for queued numbers without a final status."""
        if not send_ids:
            return {}
        sends, send_args = in_list("s", send_ids)
        states, state_args = in_list("f", list(in_flight))
        with self._read(tx) as tx:
            rows = tx.all(
                f"SELECT message_id, number, id, delivery FROM recipients WHERE send_id IN ({sends})"
                f" AND outcome = :queued AND message_id IS NOT NULL AND (delivery IS NULL OR delivery IN ({states}))",
                {**send_args, **state_args, "queued": o.QUEUED},
            )
        return {(message_id, number): (row_id, delivery) for message_id, number, row_id, delivery in rows}

    def queued_recipient(self, message_id: str, number: str, *, tx: Tx | None = None) -> int | None:
        with self._read(tx) as tx:
            return tx.scalar(
                "SELECT id FROM recipients WHERE message_id = :message_id AND number = :number AND outcome = :queued",
                {"message_id": message_id, "number": number, "queued": o.QUEUED},
            )

    def set_deliveries(
        self,
        updates: list[tuple[int, str]],
        delivered: Iterable[str],
        undelivered: Iterable[str],
        *,
        tx: Tx | None = None,
    ) -> list[int]:
        """Record (recipient row id, status) pairs and move the sends' counters by what changed; returns
        the sends whose counts changed. The rows are locked first (PostgreSQL), so two webhooks for one
        number cannot both count it. A final status is never replaced by one in flight: a report page read
        before a webhook said "delivered" still says "queued", and is stale."""
        if not updates:
            return []
        good, bad = set(delivered), set(undelivered)

        def side(status: str | None) -> str | None:
            return "n_delivered" if status in good else "n_undelivered" if status in bad else None

        latest = dict(updates)
        changed: dict[int, dict[str, int]] = {}
        with self._tx(tx) as tx:
            ids = sorted(latest)
            for start in range(0, len(ids), 500):
                marks, args = in_list("r", ids[start : start + 500])
                rows = tx.all(
                    f"SELECT id, send_id, delivery FROM recipients WHERE id IN ({marks}) ORDER BY id "
                    f"{tx.dialect.lock_suffix}",
                    args,
                )
                for row_id, send_id, before in rows:
                    after = latest[row_id]
                    if after == before or (side(before) and not side(after)):
                        continue
                    tx.execute(
                        "UPDATE recipients SET delivery = :status, delivery_at = :at WHERE id = :id",
                        {"status": after, "at": tx.now_iso, "id": row_id},
                    )
                    delta = changed.setdefault(send_id, {"n_delivered": 0, "n_undelivered": 0})
                    if side(before):
                        delta[side(before)] -= 1
                    if side(after):
                        delta[side(after)] += 1
            for send_id, delta in sorted(changed.items()):
                tx.execute(
                    "UPDATE sends SET n_delivered = COALESCE(n_delivered, 0) + :d, n_undelivered = "
                    "COALESCE(n_undelivered, 0) + :u"
                    " WHERE id = :id",
                    {"d": delta["n_delivered"], "u": delta["n_undelivered"], "id": send_id},
                )
                outbox.due_paced(tx, send_key(ReportKind.DELIVERY, send_id), send_id, ReportKind.DELIVERY)
        return sorted(changed)

    def delivery_done(self, send_id: int, tally: str, *, tx: Tx | None = None) -> None:
        """No more polling for this send: its final tally is due in the thread."""
        with self._tx(tx) as tx:
            if tx.one(
                "UPDATE sends SET delivery_done_at = :at WHERE id = :id AND delivery_done_at IS NULL RETURNING id",
                {"at": tx.now_iso, "id": send_id},
            ):
                outbox.due(tx, send_key(ReportKind.DELIVERY, send_id), send_id, ReportKind.DELIVERY)
                outbox.due(tx, delivery_final_key(send_id), send_id, ReportKind.NOTICE, payload=Notice(tally))

    def unknown_batches_to_confirm(self, finished_after: str, *, tx: Tx | None = None) -> list[dict]:
        """Batches of unknown outcome (recent enough for the reports to show them)."""
        with self._read(tx) as tx:
            return tx.dicts(
                "SELECT b.id, b.send_id, b.started_at, b.finished_at, s.message FROM batches b JOIN sends s ON s.id = "
                "b.send_id"
                " WHERE b.state = :unknown AND b.finished_at >= :after AND s.dry_run = 0 AND s.purged_at IS NULL",
                {"unknown": UNKNOWN, "after": finished_after},
            )

    def unknown_numbers(self, batch_id: int, *, tx: Tx | None = None) -> list[str]:
        with self._read(tx) as tx:
            return tx.column(
                "SELECT number FROM recipients WHERE batch_id = :id AND outcome = :unknown",
                {"id": batch_id, "unknown": o.UNKNOWN},
            )

    def known_message_ids(self, message_ids: list[str], *, tx: Tx | None = None) -> set[str]:
        """Those of these message ids some recipient row already has."""
        found: set[str] = set()
        with self._read(tx) as tx:
            for start in range(0, len(message_ids), 500):
                marks, args = in_list("m", message_ids[start : start + 500])
                found.update(tx.column(f"SELECT message_id FROM recipients WHERE message_id IN ({marks})", args))
        return found

    def sent_elsewhere(
        self, send_id: int, message: str, numbers: list[str], since: str, until: str, *, tx: Tx | None = None
    ) -> set[str]:
        """Those of these numbers that another send of the same text was sent (or tried) to between
        ``since`` and ``until``: a report record of that text to that number may be either's."""
        found: set[str] = set()
        with self._read(tx) as tx:
            for start in range(0, len(numbers), 500):
                marks, args = in_list("n", numbers[start : start + 500])
                found.update(
                    tx.column(
                        f"SELECT r.number FROM recipients r JOIN sends s ON s.id = r.send_id WHERE r.number IN "
                        f"({marks})"
                        " AND s.id != :send AND s.message = :message AND s.created_at <= :until"
                        " AND (s.finished_at IS NULL OR s.finished_at >= :since)",
                        {**args, "send": send_id, "message": message, "since": since, "until": until},
                    )
                )
        return found

    def confirm_queued(self, batch_id: int, confirmed: dict[str, str], reason: str, *, tx: Tx | None = None) -> int:
        """Unknown numbers that Cellcast's report shows were queued become queued (with their message ids)."""
        if not confirmed:
            return 0
        count, send_id = 0, None
        with self._tx(tx) as tx:
            for number, message_id in confirmed.items():
                row = tx.one(
                    "UPDATE recipients SET outcome = :queued, message_id = :message_id, reason = :reason"
                    " WHERE batch_id = :batch AND number = :number AND outcome = :unknown RETURNING send_id",
                    {
                        "message_id": message_id,
                        "reason": reason,
                        "batch": batch_id,
                        "number": number,
                        "queued": o.QUEUED,
                        "unknown": o.UNKNOWN,
                    },
                )
                if row:
                    count, send_id = count + 1, row[0]
            if count:
                tx.execute(
                    "UPDATE sends SET n_unknown = n_unknown - :n, n_queued = n_queued + :n, delivery_done_at = NULL "
                    "WHERE id = :id",
                    {"n": count, "id": send_id},
                )
        return count
