"""Beside the send path: Cellcast's opt-out list into the suppression list, and recipients' replies
into the thread of the send that reached them (an opt-out reply suppresses the number).

One process at a time runs the sync (a claim with a lease in the store), every
``CELLCAST_SYNC_SECONDS`` and before a review when the opt-outs are older than that. Webhooks
(``POST /cellcast/webhook/<secret>``) arrive here too, from any process.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from bot.sending.contacts import InvalidNumber, normalise
from bot.sending.gateway import Gateway, GatewayError, InboundReply, NotSent
from bot.sending.optouts import OPTOUT, SOURCE_CELLCAST, SOURCE_REPLY, classify_reply

log = logging.getLogger(__name__)

MAX_PAGES = 1000  # a safety bound on one sync's reads of a paged list
FIRST_REPLY_PAGES = 20  # on the very first sync, how far back replies are read (for their opt-outs)


@dataclass(frozen=True)
class OptoutStatus:
    synced_at: float | None  # when Cellcast's opt-out list was last read in full
    error: str | None  # why the last attempt failed, if it did

    def describe(self, now: float, every: float) -> tuple[str, bool]:
        """Words for the review, and whether they are a warning."""
        if self.synced_at is None:
            why = f" ({self.error})" if self.error else ""
            return f"Cellcast's opt-out list has not been read yet{why}; numbers on it may not be left out here (Cellcast still refuses them).", True
        at = datetime.fromtimestamp(self.synced_at, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        minutes = max(0, round((now - self.synced_at) / 60))
        text = f"Opt-outs last synced from Cellcast at {at} ({minutes} min ago)."
        if self.error:
            return text + f" The latest sync failed: {self.error}", True
        return text, now - self.synced_at > 2 * every


class CellcastSync:
    def __init__(self, store, gateway: Gateway, *, owner: str, every: float, on_report_due=lambda: None,
                 replies_channel: str | None = None, lease: float = 60.0) -> None:
        self._store = store
        self._gateway = gateway
        self._owner = owner
        self._every = every
        self._on_report_due = on_report_due
        self._replies_channel = replies_channel
        self._lease = lease
        self._lock = threading.Lock()  # one round at a time in this process

    # -- the periodic round ------------------------------------------------------------------

    def run(self) -> None:
        """One round, if this process holds the sync claim: opt-outs, then replies."""
        if not self._store.claim_sync(self._owner, time.time() + self._lease, time.time()):
            return
        with self._lock:
            self._optouts()
            self._replies()

    def status(self) -> OptoutStatus:
        synced = self._store.sync_value("optouts_synced_at")
        return OptoutStatus(float(synced) if synced else None, self._store.sync_value("optouts_error"))

    def refresh_if_stale(self, wait: float) -> OptoutStatus:
        """Before a review: read the opt-outs again when the last read is older than the period."""
        status = self.status()
        if status.synced_at is not None and time.time() - status.synced_at <= self._every and not status.error:
            return status
        done = threading.Event()

        def refresh() -> None:
            try:
                with self._lock:
                    self._optouts()
            finally:
                done.set()

        threading.Thread(target=refresh, name="optout-refresh", daemon=True).start()
        done.wait(wait)  # a long list keeps going in the background; the review says how fresh it is
        return self.status()

    def _optouts(self) -> None:
        added = seen = 0
        try:
            for page in range(1, MAX_PAGES + 1):
                result = self._gateway.optouts(page)
                numbers = [n for n in (_national(raw) for raw in result.items) if n]
                seen += len(numbers)
                added += self._store.suppress_many(numbers, SOURCE_CELLCAST, "on Cellcast's opt-out list", "cellcast")
                if not result.has_next:
                    break
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
            for page in range(1, (FIRST_REPLY_PAGES if first_sync else MAX_PAGES) + 1):
                result = self._gateway.replies(page)
                stop = False
                for reply in result.items:
                    key = reply_key(reply)
                    newest = newest or key
                    if key == newest_before:
                        stop = True
                        break
                    fresh.append(reply)
                if stop or not result.has_next:
                    break
        except (GatewayError, NotSent) as exc:
            log.warning("reply sync failed: %s", getattr(exc, "user_message", str(exc)))
            return
        for reply in reversed(fresh):  # oldest first, as they were sent
            self.take_reply(reply, "poll", post=not first_sync)
        if newest or first_sync:
            self._store.set_sync_value("replies_newest", newest or "")  # "": read once, nothing there yet
        if first_sync and fresh:
            log.info("first reply sync: %d earlier replies recorded (opt-outs among them honoured), not posted", len(fresh))

    # -- one reply, from polling or a webhook ------------------------------------------------

    def take_reply(self, reply: InboundReply, source: str, post: bool = True) -> int | None:
        number = _national(reply.number)
        if number is None:
            log.warning("a reply from a number that is not an Australian mobile was ignored")
            return None
        key = f"webhook:{reply.id}" if source == "webhook" and reply.id else reply_key(reply)
        reply_id = self._store.record_reply(key, number, reply.body, reply.received_at, source)
        if reply_id is None:
            return None  # seen before
        kind = classify_reply(reply.body)
        send_id = self._store.latest_send_to(number)
        self._store.settle_reply(reply_id, send_id, kind)
        if kind == OPTOUT:
            self._store.suppress(number, SOURCE_REPLY, f"replied “{reply.body.strip()[:60]}”", "reply")
            log.info("an opt-out reply suppressed %s", number)
        if post:
            if send_id is not None:
                self._store.report_due(f"reply:{reply_id}", send_id, "reply", {"reply_id": reply_id})
            elif self._replies_channel:
                self._store.report_due(f"reply:{reply_id}", None, "reply", {"reply_id": reply_id, "channel": self._replies_channel})
            else:
                log.info("a reply from %s matches no send and MMS_REPLIES_CHANNEL is unset: recorded, not posted", number)
            self._on_report_due()
        return reply_id

    def take_webhook(self, payload: object) -> bool:
        """Cellcast's webhook body; False (→ 404, nothing recorded) for anything not in its documented shape."""
        if not isinstance(payload, dict) or not isinstance(payload.get("_id"), str) or not payload["_id"]:
            return False
        if payload.get("type") == "receive" and isinstance(payload.get("sender"), str):
            text = payload.get("reply") if isinstance(payload.get("reply"), str) else payload.get("message")
            if not isinstance(text, str):
                return False
            self.take_reply(InboundReply(payload["sender"], text, "", payload["_id"]), "webhook")
            return True
        return False


def reply_key(reply: InboundReply) -> str:
    """Polled replies carry no id of their own: the sender, the time and the text identify one."""
    return f"poll:{reply.number}|{reply.received_at}|{reply.body}"


def _national(raw: str) -> str | None:
    try:
        return normalise(raw)
    except InvalidNumber:
        return None
