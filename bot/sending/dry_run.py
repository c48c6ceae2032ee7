"""A gateway that sends nothing: ``MMS_DRY_RUN=true`` runs the whole bot without Cellcast.

Every number is answered as queued with a message id starting ``dry-run-``, so the review, the
channel message, the thread and the CSV look as they would, and say that nothing was sent.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence

from bot.sending.gateway import GatewayResult, MediaFile, Page, QueuedContact

DRY_RUN_PREFIX = "dry-run-"


class DryRunGateway:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def mms_balance(self) -> float | None:
        return None  # no account to ask

    def optouts(self, page: int, size: int = 100) -> Page:
        return Page([], False)

    def replies(self, page: int) -> Page:
        return Page([], False)

    def delivery_page(self, from_date: str, to_date: str, page: int, limit: int = 100) -> Page:
        return Page([], False)

    def delivery(self, message_id: str):
        return None

    def send_mms(
        self,
        *,
        message: str,
        contacts: Sequence[str],
        sender: str | None = None,
        media: MediaFile | None = None,
        gif_url: str | None = None,
        before_request: Callable[[], None] | None = None,
    ) -> GatewayResult:
        if before_request:
            before_request()
        with self._lock:
            ids = [next(self._ids) for _ in contacts]
        queued = [QueuedContact(_national(c), f"{DRY_RUN_PREFIX}{i:09d}") for c, i in zip(contacts, ids, strict=True)]
        return GatewayResult(queued=queued, message="dry run: nothing was sent")

    def send_sms(
        self,
        *,
        message: str,
        contacts: Sequence[str],
        sender: str | None = None,
        before_request: Callable[[], None] | None = None,
    ) -> GatewayResult:
        return self.send_mms(message=message, contacts=contacts, sender=sender, before_request=before_request)

    def close(self) -> None:
        pass


def _national(contact: str) -> str:
    return contact[3:] if contact.startswith("+61") else contact
