"""Beside the send path: Cellcast's opt-out list into the suppression list, recipients' replies into
the thread of the send that reached them (an opt-out reply suppresses the number), and delivery
reports onto the sends (and unknown outcomes that the reports show were queued, confirmed).

One process at a time runs the sync (a claim with a lease in the store), every
``CELLCAST_SYNC_SECONDS`` and before a review when the opt-outs are older than that. Webhooks
(``POST /cellcast/webhook/<secret>``) arrive here too, from any process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.sending.contacts import national_or_none
from bot.sending.delivery import CONFIRMED, DELIVERED, IN_FLIGHT, NOT_DELIVERED, is_final, tally
from bot.sending.gateway import DeliveryRecord, Gateway, GatewayError, InboundReply, NotSent, Page
from bot.sending.optouts import OPTOUT, SOURCE_CELLCAST, SOURCE_REPLY, classify_reply
from bot.sending.ports import SyncStore
from bot.sending.reports import Notice, ReplyReport, ReportKind, confirmed_key, send_key
from bot.sending.reports import reply_key as reply_report_key

log = logging.getLogger(__name__)

MAX_PAGES = 1000  # a safety bound on one sync's reads of a paged list
FIRST_REPLY_PAGES = 20  # on the very first sync, how far back replies are read (for their opt-outs)
SINGLE_LOOKUPS = 20  # at most this many messages still in flight: ask for each; more: read the report pages
REPORT_PAGE_SIZE = 100
FROM_POLL, FROM_WEBHOOK = "poll", "webhook"  # where a reply came from (kept with it)


@dataclass(frozen=True)
class OptoutStatus:
    synced_at: float | None  # when Cellcast's opt-out list was last read in full
    error: str | None  # why the last attempt failed, if it did

    def describe(self, now: float, every: float) -> tuple[str, bool]:
        """Words for the review, and whether they are a warning."""
        if self.synced_at is None:
            why = f" ({self.error})" if self.error else ""
            return (
                f"Cellcast's opt-out list has not been read yet{why}; numbers on it may not be left out here (Cellcast "
                "still refuses them).",
                True,
            )
        at = datetime.fromtimestamp(self.synced_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        minutes = max(0, round((now - self.synced_at) / 60))
        text = f"Opt-outs last synced from Cellcast at {at} ({minutes} min ago)."
        if self.error:
            return text + f" The latest sync failed: {self.error}", True
        return text, now - self.synced_at > 2 * every


class CellcastSync:
    def __init__(
        self,
        store: SyncStore,
        gateway: Gateway,
        *,
        owner: str,
        every: float,
        on_report_due=lambda: None,
        replies_channel: str | None = None,
        lease: float = 60.0,
        delivery_hours: float = 72.0,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._owner = owner
        self._every = every
        self._on_report_due = on_report_due
        self._replies_channel = replies_channel
        self._lease = lease
        self._delivery_hours = delivery_hours
        self._lock = threading.Lock()  # one round at a time in this process
        self._refresh_guard = threading.Lock()
        self._refreshing: threading.Event | None = None  # the refresh before a review under way, if one is

    # -- the periodic round ------------------------------------------------------------------

    def run(self) -> None:
        """One round, if this process holds the sync claim: opt-outs, then replies."""
        if not self._store.claim_sync(self._owner, self._lease):
            return
        with self._lock:
            self._optouts()
            self._replies()
            self._deliveries()

    def status(self) -> OptoutStatus:
        synced = self._store.sync_value("optouts_synced_at")
        return OptoutStatus(float(synced) if synced else None, self._store.sync_value("optouts_error"))

    def refresh_if_stale(self, wait: float) -> OptoutStatus:
        """Before a review: read the opt-outs again when the last read is older than the period."""
        status = self.status()
        if status.synced_at is not None and time.time() - status.synced_at <= self._every and not status.error:
            return status
        with self._refresh_guard:  # single flight: reviews while the list is stale wait on one refresh
            done = self._refreshing
            if done is None:
                done = self._refreshing = threading.Event()
                threading.Thread(target=self._refresh, args=(done,), name="optout-refresh", daemon=True).start()
        done.wait(wait)  # a long list keeps going in the background; the review says how fresh it is
        return self.status()

    def _refresh(self, done: threading.Event) -> None:
        try:
            with self._lock:
                self._optouts()
        except Exception:  # the review says how fresh the list is either way
            log.exception("refreshing the opt-out list before a review failed")
        finally:
            with self._refresh_guard:
                self._refreshing = None
            done.set()

    def _optouts(self) -> None:
        added = seen = 0
        try:
            for result in _pages(self._gateway.optouts):
                numbers = [n for n in (national_or_none(raw) for raw in result.items) if n]
                seen += len(numbers)
                added += self._store.suppress_many(numbers, SOURCE_CELLCAST, "on Cellcast's opt-out list", "cellcast")
        except (GatewayError, NotSent) as exc:
            message = getattr(exc, "user_message", str(exc))
            log.warning("opt-out sync failed after %d numbers: %s", seen, message)
            self._store.set_sync_value("optouts_error", message)
            return
        self._store.set_sync_value("optouts_synced_at", str(time.time()))
        self._store.set_sync_value("optouts_error", None)
        if added:
            log.info("opt-out sync: %d number(s) newly suppressed (%d on Cellcast's list)", added, seen)

    def _replies(self) -> None:
        newest_before = self._store.sync_value("replies_newest")
        first_sync = newest_before is None
        newest = None
        fresh: list[InboundReply] = []
        try:
            for result in _pages(self._gateway.replies, FIRST_REPLY_PAGES if first_sync else MAX_PAGES):
                keys = [reply_key(reply) for reply in result.items]
                newest = newest or (keys[0] if keys else None)
                if newest_before in keys:  # read up to the newest one seen last time
                    fresh.extend(result.items[: keys.index(newest_before)])
                    break
                fresh.extend(result.items)
        except (GatewayError, NotSent) as exc:
            log.warning("reply sync failed: %s", getattr(exc, "user_message", str(exc)))
            return
        for reply in reversed(fresh):  # oldest first, as they were sent
            self.take_reply(reply, FROM_POLL, post=not first_sync)
        if newest or first_sync:
            self._store.set_sync_value("replies_newest", newest or "")  # "": read once, nothing there yet
        if first_sync and fresh:
            log.info(
                "first reply sync: %d earlier replies recorded (opt-outs among them honoured), not posted", len(fresh)
            )

    # -- delivery reports --------------------------------------------------------------------

    def _deliveries(self) -> None:
        now = time.time()
        window_start = _iso(now - self._delivery_hours * 3600)
        for send_id in self._store.sends_past_delivery_window(window_start):
            self._finish_delivery(send_id)
        awaiting = self._store.sends_awaiting_delivery(window_start)
        unknown = self._store.unknown_batches_to_confirm(window_start)
        if not awaiting and not unknown:
            return
        pending = self._store.undelivered_messages([s["id"] for s in awaiting], IN_FLIGHT)
        try:
            if unknown or len({m for m, _ in pending}) > SINGLE_LOOKUPS:
                since = min([s["created_at"] for s in awaiting] + [b["started_at"] for b in unknown])
                records = self._report_pages(since, pending, until_resolved=not unknown)
            else:
                records = [r for r in (self._gateway.delivery(m) for m in sorted({m for m, _ in pending})) if r]
        except (GatewayError, NotSent) as exc:
            log.warning("delivery report sync failed: %s", getattr(exc, "user_message", str(exc)))
            return
        self._apply(records, pending)
        for batch in unknown:
            self._confirm(batch, records)
        for send in self._store.sends_awaiting_delivery(window_start):
            if send["n_delivered"] + send["n_undelivered"] >= send["n_queued"]:
                self._finish_delivery(send["id"])

    def _report_pages(self, since: str, pending: dict, until_resolved: bool) -> list[DeliveryRecord]:
        """The report's pages from the first day in question, until every message in question has a
        final status (or the pages end): a few calls for thousands of messages."""
        start = datetime.fromisoformat(since.replace("Z", "+00:00")).astimezone(UTC)
        from_date = datetime.fromtimestamp(start.timestamp() - 86400, UTC).strftime(
            "%Y-%m-%d"
        )  # Cellcast's day may be AEST
        to_date = datetime.fromtimestamp(time.time() + 86400, UTC).strftime("%Y-%m-%d")
        records: list[DeliveryRecord] = []
        wanted = set(pending)
        for result in _pages(lambda page: self._gateway.delivery_page(from_date, to_date, page, REPORT_PAGE_SIZE)):
            records.extend(result.items)
            for record in result.items:
                if is_final(record.status):
                    wanted.discard((record.message_id, national_or_none(record.receiver)))
            if until_resolved and not wanted:
                break
        return records

    def _apply(self, records: list[DeliveryRecord], pending: dict) -> None:
        updates = []
        for record in records:
            known = pending.get((record.message_id, national_or_none(record.receiver)))
            if known is not None and record.status and record.status != known[1]:
                updates.append((known[0], record.status))
        changed = self._store.set_deliveries(updates, DELIVERED, NOT_DELIVERED)
        if changed:
            self._on_report_due()

    def _confirm(self, batch: dict, records: list[DeliveryRecord]) -> None:
        """Numbers of an unknown batch found in the report (same text, same time) were queued after all.
        Never the other way round: absence from the report proves nothing."""
        numbers = set(self._store.unknown_numbers(batch["id"]))
        if not numbers:
            return
        started = _epoch(batch["started_at"]) - 60
        finished = _epoch(batch["finished_at"] or batch["started_at"]) + 600
        text = _plain(batch["message"])
        found: dict[str, str] = {}
        for record in records:
            number = national_or_none(record.receiver)
            if (
                number in numbers
                and _plain(record.message) == text
                and started <= _epoch(record.created_at) <= finished
            ):
                found.setdefault(number, record.message_id)
        # A record confirms one send only: not one whose message id another send already has, nor a number
        # that another send of the same text (a Send again, a second send) reached in that time. In doubt,
        # the number stays unknown.
        taken = self._store.known_message_ids(list(found.values()))
        doubtful = self._store.sent_elsewhere(
            batch["send_id"], batch["message"], list(found), _iso(started), _iso(finished)
        )
        found = {n: m for n, m in found.items() if m not in taken and n not in doubtful}
        with self._store.transaction() as tx:  # the confirmation, and the thread's notice and CSV due, or none
            confirmed = self._store.confirm_queued(batch["id"], found, CONFIRMED, tx=tx)
            if confirmed:
                remaining = len(numbers) - confirmed
                text = (
                    f":white_check_mark: Cellcast's report confirms that {confirmed:,} of the numbers whose "
                    "outcome was unknown were queued"
                    + (f"; {remaining:,} stay unknown." if remaining else ".")
                    + " The CSV below has them."
                )
                send_id = batch["send_id"]
                self._store.report_due(
                    confirmed_key(batch["id"], confirmed), send_id, ReportKind.NOTICE, Notice(text), tx=tx
                )
                self._store.report_due(send_key(ReportKind.CSV, send_id), send_id, ReportKind.CSV, tx=tx)
        if confirmed:
            log.info(
                "send %d: Cellcast's report confirms %d number(s) of unknown outcome were queued",
                batch["send_id"],
                confirmed,
            )
            self._on_report_due()

    def _finish_delivery(self, send_id: int) -> None:
        send = self._store.get_send(send_id)
        self._store.delivery_done(
            send_id, tally(send.n_delivered, send.n_undelivered, send.n_queued, self._delivery_hours)
        )
        self._on_report_due()

    def take_delivery(self, message_id: str, receiver: str, status: str) -> bool:
        """A delivery status pushed by Cellcast's webhook."""
        row = self._store.queued_recipient(message_id, national_or_none(receiver) or "")
        if row is None:
            return False
        if self._store.set_deliveries([(row, status.lower())], DELIVERED, NOT_DELIVERED):
            self._on_report_due()
        return True

    # -- one reply, from polling or a webhook ------------------------------------------------

    def take_reply(self, reply: InboundReply, source: str, post: bool = True) -> int | None:
        number = national_or_none(reply.number)
        if number is None:
            log.warning("a reply from a number that is not an Australian mobile was ignored")
            return None
        key = f"{FROM_WEBHOOK}:{reply.id}" if source == FROM_WEBHOOK and reply.id else reply_key(reply)
        kind = classify_reply(reply.body)
        # One transaction: a reply recorded is a reply whose opt-out is kept and whose report is due,
        # or neither (the next poll sees it again). Nothing in between to lose a STOP to.
        with self._store.transaction() as tx:
            reply_id = self._store.record_reply(key, number, reply.body, reply.received_at, source, tx=tx)
            if reply_id is None:
                return None  # seen before
            send_id = self._store.latest_send_to(number, tx=tx)
            self._store.settle_reply(reply_id, send_id, kind, tx=tx)
            if kind == OPTOUT:
                self._store.suppress(number, SOURCE_REPLY, f"replied “{reply.body.strip()[:60]}”", "reply", tx=tx)
            if post and send_id is not None:
                self._store.report_due(
                    reply_report_key(reply_id), send_id, ReportKind.REPLY, ReplyReport(reply_id), tx=tx
                )
            elif post and self._replies_channel:
                payload = ReplyReport(reply_id, self._replies_channel)
                self._store.report_due(reply_report_key(reply_id), None, ReportKind.REPLY, payload, tx=tx)
        if kind == OPTOUT:
            log.info("an opt-out reply suppressed %s", number)
        if post:
            if send_id is None and not self._replies_channel:
                log.info(
                    "a reply from %s matches no send and MMS_REPLIES_CHANNEL is unset: recorded, not posted", number
                )
            self._on_report_due()
        return reply_id

    def take_pushed(self, event: InboundReply | DeliveryRecord | None) -> bool:
        """What Cellcast's webhook pushed (parsed by the client); False (→ 404, nothing recorded) for a body that
        is not one of its documented shapes."""
        if isinstance(event, InboundReply):
            self.take_reply(event, FROM_WEBHOOK)
            return True
        if isinstance(event, DeliveryRecord):
            self.take_delivery(event.message_id, event.receiver, event.status)
            return True  # a status for a message the bot does not know is answered 200 all the same: nothing to retry
        return False


def _pages(read: Callable[[int], Page], last: int = MAX_PAGES) -> Iterator[Page]:
    """A paged list from page 1 until it says there is no next page (or ``last``, a safety bound)."""
    for page in range(1, last + 1):
        result = read(page)
        yield result
        if not result.has_next:
            return


def reply_key(reply: InboundReply) -> str:
    """Polled replies carry no id of their own: the sender, the time and the text identify one."""
    return f"{FROM_POLL}:{reply.number}|{reply.received_at}|{reply.body}"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return 0.0


def _plain(message: str) -> str:
    return message.replace("\r\n", "\n").strip()
