"""Send orchestration: record first, then each batch at most once, fairly, within the rate limit.

A send and all its batches are written to the store (state ``pending``) before anything leaves.
Workers reserve a rate slot, then claim the next batch in turn (round-robin across open sends) with
this process's id and a lease, and send it, starting the slot as the request leaves. The lease is
renewed while the process lives; a batch whose owner died becomes ``unknown`` once the lease runs
out (the request may have left), and is never resent without a person asking. What Slack must be told
becomes due in the store as batches finish; sending never waits for Slack.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from bot.sending import outcomes as o
from bot.sending.contacts import e164
from bot.sending.gateway import (
    ACCOUNT_LEVEL,
    MAX_CONTACTS_PER_CALL,
    SMS,
    Gateway,
    GatewayError,
    MediaFile,
    NotSent,
)
from bot.sending.optouts import SOURCE_UNSUBSCRIBED
from bot.sending.personalise import group
from bot.sending.ports import SendStore
from bot.sending.records import ClaimedBatch, SendRecord
from bot.sending.request import SendRequest
from bot.sending.states import EXPIRED, FAILED, PENDING, QUEUED, UNKNOWN
from bot.sending.throttle import SEND, RateLimiter, Slot
from bot.workers import Workers

log = logging.getLogger(__name__)

BATCH_SIZE = MAX_CONTACTS_PER_CALL
INTERRUPTED = "The bot stopped while this batch was being sent, so its outcome is unknown."
SUPPRESSED_SINCE_REVIEW = "on the suppression list (added after the review): not sent"


def split_batches(numbers: list[str], size: int = BATCH_SIZE) -> list[list[str]]:
    return [numbers[start : start + size] for start in range(0, len(numbers), size)]


class Dispatcher:
    def __init__(
        self,
        store: SendStore,
        gateway: Gateway,
        limiter: RateLimiter,
        *,
        instance_id: str,
        stopping: threading.Event | None = None,
        max_in_flight: int = 8,
        batch_size: int = BATCH_SIZE,
        lease: float = 10.0,
        resume_within: float = 900.0,
        on_report_due: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._limiter = limiter
        self.instance_id = instance_id
        self._stopping = stopping or threading.Event()
        self._batch_size = batch_size
        self._lease = lease
        self._resume_within = resume_within
        self._on_report_due = on_report_due
        self._workers = Workers(
            "batch", self._round, count=max_in_flight, idle=1.0, error_pause=1.0, stopping=self._stopping
        )
        self._on_wire: dict[int, ClaimedBatch] = {}  # batches whose request may be on the wire now
        self._on_wire_lock = threading.Lock()
        self._held: set[int] = set()  # batches this process's workers have claimed and not yet settled
        self._refusals: dict[int, GatewayError] = {}  # send id → the account-level refusal that stopped it
        self._sends: OrderedDict[int, tuple[SendRecord, MediaFile | None]] = OrderedDict()  # small cache
        self._sends_lock = threading.Lock()
        self._live_processes = 1

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        self.renew_leases()  # learns how many processes share the account's rate before the first call
        self.settle_abandoned()  # first, so that a send left too long expires rather than going out
        self._workers.start()

    def wake(self) -> None:
        self._workers.wake()

    def stop(self, grace: float) -> None:
        """Stop claiming at once; calls on the wire get ``grace`` seconds to finish.

        A batch only waiting (for a slot, or out a 429) goes back to ``pending``: nothing left.
        A batch still on the wire when the grace ends is marked ``unknown``: its request left.
        """
        self._stopping.set()
        self._limiter.close()
        self._workers.stop(grace)
        with self._on_wire_lock:
            abandoned = list(self._on_wire.values())
        for batch in abandoned:
            outcomes = o.all_of(batch.contacts, o.UNKNOWN, INTERRUPTED)
            if self._settle(batch, UNKNOWN, outcomes, kind="interrupted", message=INTERRUPTED, attempts=3):
                log.warning(
                    "batch %d of send %d was still on the wire at shutdown: outcome unknown",
                    batch.seq + 1,
                    batch.send_id,
                )

    # -- entry points ------------------------------------------------------------------------

    def record(self, request: SendRequest, tx=None) -> int | None:
        """Write the send, its batches and its already-settled entries; None if recorded before. With ``tx``,
        in the caller's transaction (an approval and its send are one change)."""
        media = request.media
        send = {
            "view_id": request.key,
            "user_id": request.user_id,
            "channel_id": request.channel_id,
            "message": request.message,
            "sender": request.sender,
            "gif_url": request.gif_url,
            "media_name": media.filename if media else None,
            "media_type": media.content_type if media else None,
            "media_digest": hashlib.sha256(media.content).hexdigest() if media else None,
            "media_note": request.media_note,
            "duplicates": request.duplicates,
            "dry_run": int(request.dry_run),
            "send_at": request.send_at,
            "schedule_tz": request.schedule_tz,
            "medium": request.medium,
            "answer_to": request.answer_to,
        }
        settled = [
            o.NumberOutcome(r.entry + (f" ({r.where})" if r.where else ""), o.INVALID, r.reason)
            for r in request.rejected
        ]
        settled += [o.NumberOutcome(number, o.SUPPRESSED, why) for number, why in request.suppressed]
        batches, texts = self._batches(request.numbers, request.texts)
        send_id = self._store.create_send(send, media.content if media else None, batches, settled, texts=texts, tx=tx)
        if send_id is None:
            log.warning("send %s was confirmed again; it was recorded before and is not sent twice", request.key)
            return None
        log.info(
            "send %d recorded: %d numbers in %d batches%s",
            send_id,
            len(request.numbers),
            len(batches),
            " (scheduled)" if request.send_at else "",
        )
        self.wake()
        self._on_report_due()
        return send_id

    def resend(self, send_id: int, user_id: str) -> int | None:
        """A person asked to send again to the numbers with no known delivery (failed, unknown, …).

        Keyed by the original send, so a double click (or a retried delivery) sends once.
        """
        original = self._store.get_send(send_id)
        entries = self._store.resendable_with_texts(send_id, o.RESENDABLE)
        if not entries:
            return None
        numbers = [number for number, _ in entries]
        personal = any(text is not None for _, text in entries)
        media = self._store.get_media(send_id)
        send = {
            "view_id": f"resend-of-{send_id}",
            "user_id": user_id,
            "channel_id": original.channel_id,
            "message": original.message,
            "sender": original.sender,
            "gif_url": original.gif_url,
            "media_name": original.media_name,
            "media_type": original.media_type,
            "media_digest": hashlib.sha256(media).hexdigest() if media else None,
            "media_note": original.media_note,
            "duplicates": 0,
            "resend_of": send_id,
            "dry_run": original.dry_run,
        }
        batches, texts = self._batches(numbers, [text or original.message for _, text in entries] if personal else None)
        new_id = self._store.create_send(send, media, batches, texts=texts)
        if new_id is not None:
            log.info(
                "send %d: %d numbers of send %d sent again at %s's request", new_id, len(numbers), send_id, user_id
            )
            self.wake()
            self._on_report_due()
        return new_id

    def _batches(self, numbers: list[str], texts: list[str] | None) -> tuple[list[list[str]], list[str] | None]:
        """A send's batches, and for a personal send each batch's text: numbers with one text share calls."""
        if texts is None:
            return split_batches(numbers, self._batch_size), None
        grouped = group(numbers, texts, self._batch_size)
        return [members for members, _ in grouped], [text for _, text in grouped]

    # -- housekeeping (run periodically) -----------------------------------------------------

    def renew_leases(self) -> None:
        """Every 2 s: keep the claims this process's workers hold, and say it is alive."""
        with self._on_wire_lock:
            held = sorted(self._held)
        self._store.renew_leases(self.instance_id, self._lease, held)
        live = max(1, self._store.live_instances(self._lease))
        if live != self._live_processes:
            log.info(
                "%d bot process(es) share the Cellcast account and its %d calls a second", live, self._limiter.limit
            )
            self._live_processes = live

    def settle_abandoned(self) -> None:
        """Batches of a dead owner become unknown; pending batches of a send idle too long expire."""
        for batch in self._store.lapsed_batches():
            outcomes = o.all_of(batch.contacts, o.UNKNOWN, INTERRUPTED)
            if self._store.finish_batch(
                batch.id, UNKNOWN, outcomes, owner=None, error_kind="interrupted", error_message=INTERRUPTED
            ):
                log.warning(
                    "batch %d of send %d: its owner stopped renewing its lease; outcome unknown",
                    batch.seq + 1,
                    batch.send_id,
                )
                self._on_report_due()
        minutes = round(self._resume_within / 60)
        reason = (
            f"Not sent: the bot was down for more than {minutes} minute{'s' if minutes != 1 else ''}, "
            "so it did not send this long after it was asked. Press Send again if it should still go out."
        )
        for batch in self._store.stale_pending_batches(self._resume_within):
            outcomes = o.all_of(batch.contacts, o.EXPIRED, reason)
            if self._store.finish_batch(
                batch.id, EXPIRED, outcomes, owner=None, error_kind=EXPIRED, error_message=reason, from_state=PENDING
            ):
                log.warning("batch %d of send %d expired: not sent after a long stop", batch.seq + 1, batch.send_id)
                self._on_report_due()

    # -- the work ----------------------------------------------------------------------------

    def _round(self) -> bool:
        """One batch: a slot first, then the claim, then the call. Errors (a bug, the database) are logged
        by the workers and the round is tried again; a batch's lease, if any, runs out and the sweep settles it."""
        if not self._store.has_pending():
            return False  # idle: woken by a new send; other processes' sends within a second
        slot = self._limiter.reserve(SEND)
        if slot is None:
            return False  # stopping
        try:
            batch = self._claim()
            if batch is not None:
                try:
                    self._send(batch, slot)
                finally:
                    with self._on_wire_lock:
                        self._held.discard(batch.id)
        finally:
            slot.release()  # a no-op once the request started; otherwise the slot goes back unused
        return True

    def _claim(self) -> ClaimedBatch | None:
        batch = self._store.claim_next_batch(self.instance_id, self._lease, self._resume_within)
        if batch is not None:  # a renewal that misses it is harmless: the claim's lease is a full one
            with self._on_wire_lock:
                self._held.add(batch.id)
        return batch

    def _send(self, batch: ClaimedBatch, slot: Slot) -> None:
        send, media = self._send_and_media(batch.send_id)
        where = f"batch {batch.seq + 1} of send {send.id}"
        refusal = self._refusal(send.id)
        if refusal is not None:
            self._finish_failed(batch, batch.contacts, [], refusal, where)
            return
        suppressed = self._store.suppressed_among(batch.contacts)
        before = [o.NumberOutcome(n, o.SUPPRESSED, SUPPRESSED_SINCE_REVIEW) for n in batch.contacts if n in suppressed]
        numbers = [n for n in batch.contacts if n not in suppressed]
        if not numbers:
            self._finish(batch, QUEUED, before, where)
            return

        def before_request() -> None:
            if slot.started and not self._limiter.acquire(SEND):  # a 429 retry takes a slot of its own
                raise NotSent("the bot is stopping")
            if self._stopping.is_set():
                raise NotSent("the bot is stopping")
            stopped = self._refusal(send.id)
            if stopped is not None:
                raise NotSent("the account refused this send", stopped)
            # Fencing: a process frozen past its lease (a GC pause, SIGSTOP, a VM migration) must not send
            # a batch another process has settled meanwhile. Checked here, after every wait, as it leaves.
            if not self._store.confirm_claim(batch.id, self.instance_id, self._lease):
                raise ClaimLost("this process's claim on the batch lapsed; another process has settled it")
            with self._on_wire_lock:
                self._on_wire[batch.id] = batch
            slot.start()  # last: the request leaves now

        try:
            if send.medium == SMS:
                result = self._gateway.send_sms(
                    message=batch.message or send.message,
                    contacts=[e164(n) for n in numbers],
                    sender=send.sender,
                    before_request=before_request,
                )
            else:
                result = self._gateway.send_mms(
                    message=batch.message or send.message,
                    contacts=[e164(n) for n in numbers],
                    sender=send.sender,
                    media=media,
                    gif_url=send.gif_url,
                    before_request=before_request,
                )
        except ClaimLost as exc:
            log.warning("%s not sent: %s", where, exc)
            return
        except NotSent as exc:
            if exc.refusal is not None:
                self._finish_failed(batch, numbers, before, exc.refusal, where)
            elif self._store.release_batch(batch.id, self.instance_id):
                log.info("%s not sent (%s); it stays pending", where, exc)
            return
        except GatewayError as exc:
            log.warning("%s: %s (%s)", where, exc.kind, exc.outcome)
            state = UNKNOWN if exc.outcome == UNKNOWN else FAILED
            outcome = o.UNKNOWN if state == UNKNOWN else o.FAILED
            self._finish(
                batch, state, before + o.all_of(numbers, outcome, exc.user_message), where, exc.kind, exc.user_message
            )
            if isinstance(exc, ACCOUNT_LEVEL):
                self._refuse_send(send.id, exc)
            return
        except Exception as exc:
            # A bug of ours after the request may have left: the outcome is not known.
            log.exception("%s failed unexpectedly", where)
            message = f"Internal error ({type(exc).__name__}) — outcome unknown."
            self._finish(batch, UNKNOWN, before + o.all_of(numbers, o.UNKNOWN, message), where, "internal", message)
            return
        finally:
            with self._on_wire_lock:
                self._on_wire.pop(batch.id, None)
        outcomes = o.account(numbers, result, where=where)
        self._finish(batch, QUEUED, before + outcomes, where)

    def _finish(
        self,
        batch: ClaimedBatch,
        state: str,
        outcomes: list[o.NumberOutcome],
        where: str,
        kind: str | None = None,
        message: str | None = None,
    ) -> None:
        if not self._settle(batch, state, outcomes, kind=kind, message=message) and state != UNKNOWN:
            # The gateway's answer came after another process had settled the batch as unknown (this one
            # was frozen past its lease with the request on the wire): the answer is the truth, kept.
            counts = o.tally(outcomes)
            notice = (
                f":information_source: Batch {batch.seq + 1}'s answer from Cellcast came after it had been marked "
                "unknown: "
                + ", ".join(f"{n:,} {outcome}" for outcome, n in counts.items())
                + ". The CSV below has every number."
            )
            if self._store.correct_batch(
                batch.id, state, outcomes, error_kind=kind, error_message=message, notice=notice
            ):
                log.warning(
                    "%s: its answer (%s) came after it was settled as unknown elsewhere; the answer is recorded",
                    where,
                    counts,
                )
            else:
                log.error(
                    "%s: its outcome (%s) came after the batch was settled elsewhere; check Cellcast's reports",
                    where,
                    counts,
                )
        self._on_report_due()

    def _settle(
        self,
        batch: ClaimedBatch,
        state: str,
        outcomes: list[o.NumberOutcome],
        *,
        kind: str | None,
        message: str | None,
        attempts: int | None = None,
    ) -> bool:
        """The outcome is known (the gateway answered): written until the database takes it, never
        dropped. The batch stays held meanwhile, so its lease is renewed and nobody settles it as unknown."""
        # Opt-outs stick (never in a later send's list again), in the same transaction as the outcome.
        unsubscribed = [item.number for item in outcomes if item.outcome == o.UNSUBSCRIBED]
        delay, attempt = 0.5, 0
        while True:
            try:
                with self._store.transaction() as tx:
                    if unsubscribed:
                        self._store.suppress_many(
                            unsubscribed, SOURCE_UNSUBSCRIBED, f"in send {batch.send_id}", "cellcast", tx=tx
                        )
                    return self._store.finish_batch(
                        batch.id,
                        state,
                        outcomes,
                        owner=self.instance_id,
                        error_kind=kind,
                        error_message=message,
                        tx=tx,
                    )
            except Exception:
                attempt += 1
                if attempts is not None and attempt >= attempts:
                    raise
                log.exception(
                    "batch %d of send %d: recording its outcome (%s) failed; trying again in %.1f s",
                    batch.seq + 1,
                    batch.send_id,
                    state,
                    delay,
                )
                time.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _finish_failed(
        self, batch: ClaimedBatch, numbers: list[str], before: list[o.NumberOutcome], refusal: GatewayError, where: str
    ) -> None:
        log.info("%s not sent: the account refused the send (%s)", where, refusal.kind)
        self._finish(
            batch,
            FAILED,
            before + o.all_of(numbers, o.FAILED, refusal.user_message),
            where,
            refusal.kind,
            refusal.user_message,
        )

    def _refuse_send(self, send_id: int, refusal: GatewayError) -> None:
        """Key, balance or sender refused: no further call for this send, from any process."""
        self._refusals[send_id] = refusal
        self._store.stop_send(send_id, refusal.kind, refusal.user_message)
        for batch in self._store.pending_of(send_id):
            outcomes = o.all_of(batch.contacts, o.FAILED, refusal.user_message)
            self._store.finish_batch(
                batch.id,
                FAILED,
                outcomes,
                owner=None,
                error_kind=refusal.kind,
                error_message=refusal.user_message,
                from_state=PENDING,
            )
        self._on_report_due()

    def _refusal(self, send_id: int) -> GatewayError | None:
        if send_id in self._refusals:
            return self._refusals[send_id]
        stopped = self._store.stopped(send_id)  # refused in another process
        return None if stopped is None else _RecordedRefusal(*stopped)

    def _send_and_media(self, send_id: int) -> tuple[SendRecord, MediaFile | None]:
        with self._sends_lock:
            if send_id in self._sends:
                self._sends.move_to_end(send_id)
                return self._sends[send_id]
        send = self._store.get_send(send_id)
        content = self._store.get_media(send_id)
        media = MediaFile(send.media_name or "image", content, send.media_type or "image/jpeg") if content else None
        with self._sends_lock:
            self._sends[send_id] = (send, media)
            while len(self._sends) > 32:
                self._sends.popitem(last=False)
        return send, media


class ClaimLost(NotSent):
    """The claim on a batch no longer holds: another process settled it; nothing was sent."""


class _RecordedRefusal(GatewayError):
    """Another process's account-level refusal of a send, as the store recorded it."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__()
        self.kind = kind
        self.summary = message
