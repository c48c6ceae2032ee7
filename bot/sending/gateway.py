"""What the send domain needs from an MMS gateway: one call, a typed result or a typed error.

The Cellcast adapter (bot/cellcast.py) implements this; the domain depends only on this module,
so that it can be driven by a fake in tests or by another gateway later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.sending.states import FAILED, UNKNOWN

MAX_CONTACTS_PER_CALL = 1000  # the gateway takes up to 1,000 numbers in one call


@dataclass(frozen=True)
class MediaFile:
    filename: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class QueuedContact:
    number: str  # as the gateway echoes it: 9-digit national form
    message_id: str


@dataclass(frozen=True)
class InvalidContact:
    contact: str
    error: str
    error_type: str


@dataclass(frozen=True)
class GatewayResult:
    queued: list[QueuedContact] = field(default_factory=list)
    invalid: list[InvalidContact] = field(default_factory=list)
    unsubscribed: list[str] = field(default_factory=list)
    message: str = ""


@dataclass(frozen=True)
class InboundReply:
    number: str  # as the gateway gives it (400000001, 61400000001, +61400000001)
    body: str
    received_at: str  # ISO time, as the gateway gives it ("" when it does not say)
    id: str = ""  # the gateway's id for it, when it gives one (webhooks do)


@dataclass(frozen=True)
class DeliveryRecord:
    """One message as Cellcast's report shows it."""

    message_id: str
    status: (
        str  # lower case: queued, scheduled, sent, delivered, failed, blocked, rejected, expired, canceled, received
    )
    receiver: str
    message: str = ""
    created_at: str = ""  # ISO time


@dataclass(frozen=True)
class Page:
    items: list
    has_next: bool


class GatewayError(Exception):
    """A call that did not queue anything we know of.

    ``outcome`` is what matters to a person: ``failed`` means the gateway provably did not take the
    batch (safe to send again), ``unknown`` means the request left and we cannot tell (sending
    again could deliver and charge twice).
    """

    kind = "gateway_error"
    outcome: str = FAILED  # the batch state it leaves: FAILED (nothing queued) or UNKNOWN
    summary = "The gateway refused the request."

    def __init__(self, detail: str = "", *, status: int | None = None) -> None:
        self.detail = detail[:300]
        self.status = status
        super().__init__(f"{self.kind} (HTTP {status}): {self.detail}" if status else f"{self.kind}: {self.detail}")

    @property
    def user_message(self) -> str:
        return f"{self.summary} Gateway said: “{self.detail}”" if self.detail else self.summary


class TokenExpired(GatewayError):
    kind = "token_expired"
    summary = "The Cellcast API key was refused (expired or invalid). An admin must renew CELLCAST_API_KEY."


class SenderNotRegistered(GatewayError):
    kind = "sender_not_registered"
    summary = "The sender ID is not registered with Cellcast. Leave it blank to use the default, or register it."


class ContactsRejected(GatewayError):
    kind = "contacts_rejected"
    summary = "The gateway rejected the contact list."


class BalanceTooLow(GatewayError):
    kind = "balance_too_low"
    summary = "The Cellcast balance is too low for this send. Recharge the account, then send again."


class GatewayRejected(GatewayError):
    kind = "rejected"
    summary = "The gateway refused the request."


class RateLimited(GatewayError):
    kind = "rate_limited"
    summary = "The gateway kept answering 'too many requests'; nothing was sent for this batch."


class Unreachable(GatewayError):
    kind = "unreachable"
    summary = "The gateway could not be reached; nothing was sent for this batch."


class OutcomeUnknown(GatewayError):
    kind = "no_answer"
    outcome: str = UNKNOWN
    summary = (
        "No answer from the gateway — outcome unknown. These numbers may or may not have been sent; "
        "check Cellcast's reports before sending to them again."
    )


class ServerError(OutcomeUnknown):
    kind = "server_error"
    summary = (
        "The gateway failed with a server error after receiving the request — outcome unknown. "
        "Check Cellcast's reports before sending to these numbers again."
    )


class MalformedResponse(OutcomeUnknown):
    kind = "bad_response"
    summary = (
        "The gateway's answer could not be understood — outcome unknown. "
        "Check Cellcast's reports before sending to these numbers again."
    )


# Errors that will repeat for every batch of the same send: no point calling again.
ACCOUNT_LEVEL = (TokenExpired, SenderNotRegistered, BalanceTooLow)


class NotSent(Exception):
    """Raised by a ``before_request`` hook to stop a call before it leaves: provably nothing was sent.

    ``refusal`` is the account-level error that stopped it, if that is why (else the bot is stopping).
    """

    def __init__(self, reason: str, refusal: GatewayError | None = None) -> None:
        super().__init__(reason)
        self.refusal = refusal


# The two ways a send goes out: most as MMS; an answer to one recipient's reply may go as SMS (cheaper).
MMS, SMS = "mms", "sms"


class Gateway(Protocol):
    def mms_balance(self) -> float: ...

    def optouts(self, page: int, size: int = 100) -> Page:
        """One page of the account's opt-out list: ``items`` are numbers."""

    def replies(self, page: int) -> Page:
        """One page of inbound replies, newest first: ``items`` are InboundReply."""

    def delivery_page(self, from_date: str, to_date: str, page: int, limit: int = 100) -> Page:
        """One page of MMS delivery records between two dates (YYYY-MM-DD): ``items`` are DeliveryRecord."""

    def delivery(self, message_id: str) -> DeliveryRecord | None:
        """One message's record; None when Cellcast does not know the id."""

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
        """``before_request`` runs immediately before each attempt leaves (429 retries included);
        it may wait for a rate slot, or raise NotSent."""

    def send_sms(
        self,
        *,
        message: str,
        contacts: Sequence[str],
        sender: str | None = None,
        before_request: Callable[[], None] | None = None,
    ) -> GatewayResult:
        """As ``send_mms``, through the SMS endpoint: text only, the same answers and errors."""
