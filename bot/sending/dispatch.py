"""Send orchestration: record first, then send each batch at most once, within the rate limit.

A send and all its batches are written to the store (state ``pending``) before anything leaves.
Each batch is claimed (``pending`` → ``sending``) in the store before its request goes out, so after
a crash a ``sending`` batch is known to be of unknown outcome and is never resent on its own.
"""

from __future__ import annotations

import hashlib
import logging
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Protocol

from bot.sending.contacts import e164
from bot.sending.gateway import ACCOUNT_LEVEL, MAX_CONTACTS_PER_CALL, Gateway, GatewayError, MediaFile
from bot.sending.request import SendRequest
from bot.sending.throttle import RateLimiter
from bot.store import BatchRecord, SendRecord, Store

log = logging.getLogger(__name__)

BATCH_SIZE = MAX_CONTACTS_PER_CALL


class Reporter(Protocol):
    """How a send's progress reaches people; the Slack layer implements it."""

    def send_started(self, send_id: int) -> None: ...
    def send_progressed(self, send_id: int) -> None: ...
    def send_finished(self, send_id: int) -> None: ...


def split_batches(numbers: list[str], size: int = BATCH_SIZE) -> list[list[str]]:
    return [numbers[start : start + size] for start in range(0, len(numbers), size)]


class Dispatcher:
    def __init__(
        self,
        store: Store,
        gateway: Gateway,
        reporter: Reporter,
        limiter: RateLimiter,
        *,
        max_in_flight: int = 8,
        max_concurrent_sends: int = 4,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._reporter = reporter
        self._limiter = limiter
        self._batch_size = batch_size
        self._sends = ThreadPoolExecutor(max_concurrent_sends, thread_name_prefix="send")
        self._batches = ThreadPoolExecutor(max_in_flight, thread_name_prefix="batch")

    # -- entry points ------------------------------------------------------------------------

    def record(self, request: SendRequest) -> int | None:
        """Write the send and its batches; None if this draft was recorded before."""
        media = request.media
        send = {
            "view_id": request.key, "user_id": request.user_id, "channel_id": request.channel_id,
            "message": request.message, "sender": request.sender, "gif_url": request.gif_url,
            "media_name": media.filename if media else None, "media_type": media.content_type if media else None,
            "media_digest": hashlib.sha256(media.content).hexdigest() if media else None, "media_note": request.media_note,
            "media_ref": None,
            "rejected": [(r.entry if not r.where else f"{r.entry} ({r.where})", r.reason) for r in request.rejected],
            "duplicates": request.duplicates, "total_contacts": len(request.numbers), "dry_run": int(request.dry_run),
        }
        send_id = self._store.create_send(send, media.content if media else None, split_batches(request.numbers, self._batch_size))
        if send_id is None:
            log.warning("send %s was confirmed again; it was recorded before and is not sent twice", request.key)
        else:
            log.info("send %d recorded: %d contacts in %d batches", send_id, len(request.numbers),
                     -(-len(request.numbers) // self._batch_size))
        return send_id

    def start(self, send_id: int) -> Future:
        return self._sends.submit(self._run, send_id)

    def resume_after_restart(self) -> list[int]:
        """Batches caught mid-send become 'unknown'; sends with batches never tried carry on."""
        send_ids = self._store.recover_after_restart()
        for send_id in send_ids:
            log.info("resuming send %d after a restart", send_id)
            self.start(send_id)
        return send_ids

    def resend(self, send_id: int, user_id: str) -> int | None:
        """A person asked to send again to the numbers whose batches failed or have no known outcome.

        Keyed by the original send, so a double click (or a retried delivery) sends once.
        """
        original = self._store.get_send(send_id)
        numbers = [n for b in self._store.batches(send_id) if b.state in ("failed", "unknown") for n in b.contacts]
        if not numbers:
            return None
        send = {
            "view_id": f"resend-of-{send_id}", "user_id": user_id, "channel_id": original.channel_id,
            "message": original.message, "sender": original.sender, "gif_url": original.gif_url,
            "media_name": original.media_name, "media_type": original.media_type, "media_digest": original.media_digest,
            "media_note": original.media_note, "media_ref": original.media_ref, "rejected": [], "duplicates": 0,
            "total_contacts": len(numbers), "resend_of": send_id, "dry_run": original.dry_run,
        }
        new_id = self._store.create_send(send, self._store.get_media(send_id), split_batches(numbers, self._batch_size))
        if new_id is not None:
            self.start(new_id)
        return new_id

    def shutdown(self, wait: bool = True) -> None:
        """Batches not yet started stay 'pending' in the store and resume at the next start."""
        self._sends.shutdown(wait=False, cancel_futures=True)
        self._batches.shutdown(wait=wait, cancel_futures=True)

    # -- the work ----------------------------------------------------------------------------

    def _run(self, send_id: int) -> None:
        try:
            send = self._store.get_send(send_id)
            if send.report_ts is None:
                self._reporter.send_started(send_id)
            media_bytes = self._store.get_media(send_id)
            media = MediaFile(send.media_name, media_bytes, send.media_type) if media_bytes else None
            stop = _AccountStop()
            pending = [b for b in self._store.batches(send_id) if b.state == "pending"]
            futures = [self._batches.submit(self._send_batch, send, media, batch, stop) for batch in pending]
            for future in as_completed(futures):
                future.result()
                self._reporter.send_progressed(send_id)
            self._store.finish_send(send_id)
            log.info("send %d finished: %s", send_id, self._store.batch_states(send_id))
            self._reporter.send_finished(send_id)
        except Exception:
            # The send stays open in the store and is picked up at the next start; nothing is lost.
            log.exception("send %d stopped before finishing", send_id)

    def _send_batch(self, send: SendRecord, media: MediaFile | None, batch: BatchRecord, stop: "_AccountStop") -> None:
        if stop.error is None:
            self._limiter.acquire()
        if stop.error is not None:
            # The account itself is refused (key, balance, sender): every call would fail the same way.
            self._store.finish_batch(
                batch.id, "failed", error_kind=stop.error.kind, error_message=stop.error.user_message, from_states=("pending",)
            )
            return
        if not self._store.claim_batch(batch.id):
            log.warning("batch %d of send %d was already claimed; not sending it again", batch.seq, send.id)
            return
        try:
            result = self._gateway.send_mms(
                message=send.message, contacts=[e164(n) for n in batch.contacts], sender=send.sender, media=media, gif_url=send.gif_url
            )
        except GatewayError as exc:
            log.warning("batch %d of send %d: %s (%s)", batch.seq, send.id, exc.kind, exc.outcome)
            self._store.finish_batch(batch.id, exc.outcome, error_kind=exc.kind, error_message=exc.user_message)
            if isinstance(exc, ACCOUNT_LEVEL):
                stop.error = exc
            return
        except Exception as exc:
            # A bug of ours after the request may have left: the outcome is not known.
            log.exception("batch %d of send %d failed unexpectedly", batch.seq, send.id)
            self._store.finish_batch(
                batch.id, "unknown", error_kind="internal", error_message=f"Internal error ({type(exc).__name__}) — outcome unknown."
            )
            return
        self._store.finish_batch(
            batch.id, "queued",
            queued=[(q.number, q.message_id) for q in result.queued],
            invalid=[(i.contact, i.error, i.error_type) for i in result.invalid],
            unsubscribed=result.unsubscribed,
        )


class _AccountStop:
    """Set by the first batch refused for the whole account; read by the batches after it."""

    def __init__(self) -> None:
        self.error: GatewayError | None = None
