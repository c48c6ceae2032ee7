"""Cellcast gateway client: one ``POST /api/v1/gatewaymms`` (or, for an SMS, ``/api/v1/gateway``) in, one
typed outcome out.

Cellcast has no idempotency key, so a request is only ever sent again when it provably was not
processed: the connection was never made, or the gateway said 429 (over its rate limit).
Anything that may have reached the gateway (read timeout, dropped connection, 5xx, a body we cannot
read) ends as an ``OutcomeUnknown`` error and is never retried here.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import httpx

from bot.sending.gateway import (
    MAX_CONTACTS_PER_CALL,
    BalanceTooLow,
    ContactsRejected,
    DeliveryRecord,
    GatewayRejected,
    GatewayResult,
    InboundReply,
    InvalidContact,
    MalformedResponse,
    MediaFile,
    OutcomeUnknown,
    Page,
    QueuedContact,
    RateLimited,
    SenderNotRegistered,
    ServerError,
    TokenExpired,
    Unreachable,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.cellcast.com"
SEND_PATH = "/api/v1/gatewaymms"
SMS_PATH = "/api/v1/gateway"
ACCOUNT_PATH = "/api/v1/apiClient/account"
OPTOUT_PATH = "/api/v1/apiClient/getOptout"
RESPONSES_PATH = "/api/v1/apiClient/getResponses"
REPORT_PATH = "/api/v2/report/message"
COUNTRY_CODE_AU = "61"


class CellcastClient:
    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        *,
        connect_attempts: int = 3,
        rate_limit_attempts: int = 5,
        max_retry_after: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        before_request: Callable[[str], None] | None = None,
        observe: Callable[[str, float, str], None] = lambda kind, seconds, result: None,
    ) -> None:
        """``before_request(kind)`` runs immediately before every request leaves, ``kind`` being
        "send" or "read": the rate limiter's slot is taken there. ``sleep`` may return early (an
        Event's wait): the next attempt's ``before_request`` then decides whether to go on."""
        self._before_request = before_request or (lambda kind: None)
        self._observe = observe  # (kind, seconds, "ok" | "http_429" | "timeout" | …) after every attempt
        self._base = base_url.rstrip("/")
        self._url = self._base + SEND_PATH
        self._connect_attempts = connect_attempts
        self._rate_limit_attempts = rate_limit_attempts
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            # No transport-level retries: every retry decision is made below, on purpose.
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16, keepalive_expiry=5.0),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

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
        if not contacts or len(contacts) > MAX_CONTACTS_PER_CALL:
            raise ValueError(f"a call takes 1 to {MAX_CONTACTS_PER_CALL} contacts, got {len(contacts)}")
        fields = {"message": message, "contacts": json.dumps(list(contacts)), "countryCode": COUNTRY_CODE_AU}
        if sender:
            fields["sender"] = sender
        if gif_url:
            fields["gif"] = gif_url
        # Always multipart/form-data, as the gateway documents, even without a file: a part with no
        # filename is a plain form field.
        parts: list[tuple[str, tuple]] = [(name, (None, value.encode())) for name, value in fields.items()]
        if media:
            parts.append(("media", (media.filename, media.content, media.content_type)))
        hook = before_request or (lambda: self._before_request("send"))
        return _interpret(self._call("POST", self._url, f"{len(contacts)} contacts", hook, "send", files=parts))

    def send_sms(
        self,
        *,
        message: str,
        contacts: Sequence[str],
        sender: str | None = None,
        before_request: Callable[[], None] | None = None,
    ) -> GatewayResult:
        """Text only, as JSON (the SMS endpoint's documented body); the answer is read as an MMS send's is."""
        if not contacts or len(contacts) > MAX_CONTACTS_PER_CALL:
            raise ValueError(f"a call takes 1 to {MAX_CONTACTS_PER_CALL} contacts, got {len(contacts)}")
        body = {"message": message, "contacts": list(contacts), "countryCode": int(COUNTRY_CODE_AU)}
        if sender:
            body["sender"] = sender
        hook = before_request or (lambda: self._before_request("send"))
        url = self._base + SMS_PATH
        return _interpret(self._call("POST", url, f"an SMS to {len(contacts)} contacts", hook, "send", json=body))

    def mms_balance(self) -> float:
        """The account's MMS credits (``data.mms_balance``)."""
        data = _read_data(self._read(ACCOUNT_PATH, "the balance"))
        try:
            return float(data["mms_balance"])
        except (KeyError, TypeError, ValueError):
            raise MalformedResponse("the account answer had no MMS balance") from None

    def optouts(self, page: int, size: int = 100) -> Page:
        data = _read_data(self._read(OPTOUT_PATH, f"opt-outs page {page}", {"page": page, "size": size}))
        try:
            items = [str(item["number"]) for item in data.get("items") or []]
        except (KeyError, TypeError):
            raise MalformedResponse("the opt-out list was not in the documented shape") from None
        return Page(items, _has_next(data, page))

    def replies(self, page: int) -> Page:
        data = _read_data(self._read(RESPONSES_PATH, f"replies page {page}", {"page": page}))
        try:
            items = [
                InboundReply(
                    str(item["from"]),
                    str(item.get("body") or ""),
                    str(item.get("received_at") or ""),
                    str(item.get("message_id") or ""),
                )
                for item in data.get("items") or []
            ]
        except (KeyError, TypeError):
            raise MalformedResponse("the replies were not in the documented shape") from None
        return Page(items, _has_next(data, page))

    def delivery_page(self, from_date: str, to_date: str, page: int, limit: int = 100) -> Page:
        params = {"campType": "mms", "fromDate": from_date, "toDate": to_date, "page": page, "limit": limit}
        data = _read_v2(self._read(REPORT_PATH, f"delivery reports page {page}", params))
        if not isinstance(data, dict):
            raise MalformedResponse("the delivery report was not in the documented shape")
        return Page([r for r in (_delivery(item) for item in data.get("items") or []) if r], _has_next(data, page))

    def delivery(self, message_id: str) -> DeliveryRecord | None:
        data = _read_v2(self._read(f"{REPORT_PATH}/{quote(message_id, safe='')}", "a delivery report"))
        return _delivery(data) if isinstance(data, dict) else None

    def _read(self, path: str, what: str, params: dict | None = None) -> httpx.Response:
        return self._call("GET", self._base + path, what, lambda: self._before_request("read"), "read", params=params)

    def _call(
        self, method: str, url: str, what: str, before_request: Callable[[], None], kind: str, **kwargs
    ) -> httpx.Response:
        connect_failures = 0
        rate_limited = 0
        while True:
            request = self._http.build_request(method, url, **kwargs)
            request.read()  # encode the body now, so that nothing but the write is left after the slot
            before_request()  # the rate slot, taken as late as possible; may raise NotSent
            started = time.monotonic()
            try:
                response = self._http.send(request)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # The request never left: safe to try again.
                self._observe(kind, time.monotonic() - started, "connect_error")
                connect_failures += 1
                log.warning("cellcast: could not connect (%s), attempt %d", type(exc).__name__, connect_failures)
                if connect_failures >= self._connect_attempts:
                    raise Unreachable(f"{type(exc).__name__}: could not connect") from None
                self._sleep(min(0.5 * 2 ** (connect_failures - 1), 5.0))
                continue
            except httpx.TimeoutException as exc:
                self._observe(kind, time.monotonic() - started, "timeout")
                log.error("cellcast: %s after sending %s; outcome unknown", type(exc).__name__, what)
                raise OutcomeUnknown(f"{type(exc).__name__}: no answer in time") from None
            except httpx.TransportError as exc:
                self._observe(kind, time.monotonic() - started, "connection_lost")
                log.error("cellcast: connection lost (%s) after sending %s; outcome unknown", type(exc).__name__, what)
                raise OutcomeUnknown(f"{type(exc).__name__}: the connection was lost") from None
            seconds = time.monotonic() - started
            self._observe(kind, seconds, "ok" if response.status_code < 300 else f"http_{response.status_code}")
            log.info("cellcast: HTTP %d for %s in %.0f ms", response.status_code, what, seconds * 1000)
            if response.status_code != 429:
                return response
            rate_limited += 1
            wait = _retry_after(response)
            if rate_limited >= self._rate_limit_attempts or wait > self._max_retry_after:
                raise RateLimited(_message_of(_json_or_none(response)), status=429)
            log.warning("cellcast: 429, waiting %.1f s before trying again (nothing was processed)", wait)
            self._sleep(wait)


def parse_webhook(payload: object) -> InboundReply | DeliveryRecord | None:
    """A webhook body in one of Cellcast's documented shapes (a reply, or a delivery status), else None.

    One live integration sent ``reply`` (the recipient's text) and ``message`` (the original outbound text):
    ``reply`` is read first when present.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("_id"), str) or not payload["_id"]:
        return None
    if payload.get("type") == "receive" and isinstance(payload.get("sender"), str):
        text = payload.get("reply") if isinstance(payload.get("reply"), str) else payload.get("message")
        return InboundReply(payload["sender"], text, "", payload["_id"]) if isinstance(text, str) else None
    if (
        payload.get("type") == "send"
        and isinstance(payload.get("receiver"), str)
        and isinstance(payload.get("status"), str)
    ):
        return DeliveryRecord(payload["_id"], payload["status"].lower(), payload["receiver"])
    return None


def _retry_after(response: httpx.Response) -> float:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return 1.0


def _json_or_none(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return None


def _message_of(body: object) -> str:
    if isinstance(body, dict):
        for key in ("message", "msg"):
            if isinstance(body.get(key), str):
                return body[key]
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("errorMessage"), str):
            return error["errorMessage"]
    return ""


def _interpret(response: httpx.Response) -> GatewayResult:
    status = response.status_code
    body = _json_or_none(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("sender"):
        raise SenderNotRegistered(_message_of(body), status=status)
    if status == 401:
        raise TokenExpired(_message_of(body), status=status)
    if status == 422:
        raise BalanceTooLow(_message_of(body), status=status)
    if status == 400:
        raise ContactsRejected(_message_of(body), status=status)
    if 500 <= status <= 599:
        raise ServerError(_message_of(body) or response.reason_phrase, status=status)
    if 400 <= status <= 499:
        raise GatewayRejected(_message_of(body) or response.reason_phrase, status=status)
    if not 200 <= status <= 299:
        raise MalformedResponse(f"unexpected HTTP {status}", status=status)
    if not isinstance(body, dict):
        raise MalformedResponse("the answer was not JSON", status=status)
    if body.get("status") is False:
        raise GatewayRejected(_message_of(body), status=status)
    data = body.get("data")
    if (
        body.get("status") is not True
        or not isinstance(data, dict)
        or not isinstance(data.get("queueResponse", []), list)
    ):
        raise MalformedResponse("the answer had no queue report", status=status)
    try:
        return GatewayResult(
            queued=[
                QueuedContact(_national(item["Contact"]), str(item.get("MessageId", "")))
                for item in data.get("queueResponse") or []
            ],
            invalid=[
                InvalidContact(
                    _echoed(item.get("Contact", "")), str(item.get("Error", "")), str(item.get("ErrorType", ""))
                )
                for item in data.get("invalidContacts") or []
            ],
            unsubscribed=[_national(number) for number in data.get("unsubscribeContacts") or []],
            message=str(data.get("message", "")),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedResponse(f"the queue report was not in the documented shape ({exc!r})", status=status) from None


def _read_body(response: httpx.Response) -> dict:
    """The reads' status codes (a bad key is 401) and a JSON object, whatever the envelope."""
    status = response.status_code
    body = _json_or_none(response)
    if status == 401:
        raise TokenExpired(_message_of(body), status=status)
    if 500 <= status <= 599:
        raise ServerError(_message_of(body) or response.reason_phrase, status=status)
    if status != 200:
        raise GatewayRejected(_message_of(body) or response.reason_phrase, status=status)
    if not isinstance(body, dict):
        raise MalformedResponse("the answer was not JSON", status=status)
    return body


def _read_data(response: httpx.Response) -> dict:
    """The v1 reads' envelope: ``{meta: {code, status}, message, data, error}``."""
    body = _read_body(response)
    if not isinstance(body.get("data"), dict):
        raise MalformedResponse("the answer was not in the documented shape", status=response.status_code)
    meta = body.get("meta")
    if isinstance(meta, dict) and str(meta.get("status", "")).lower() not in ("success", ""):
        raise GatewayRejected(_message_of(body) or str(meta.get("status")), status=response.status_code)
    return body["data"]


def _read_v2(response: httpx.Response) -> object:
    """The v2 reports' envelope: ``{status: bool, message, data, error}``; an unknown id is 200 with status false."""
    body = _read_body(response)
    return None if body.get("status") is False else body.get("data")


def _delivery(item: object) -> DeliveryRecord | None:
    if not isinstance(item, dict) or not item.get("_id") or not item.get("receiver"):
        return None
    return DeliveryRecord(
        str(item["_id"]),
        str(item.get("status") or "").lower(),
        str(item["receiver"]),
        str(item.get("message") or ""),
        str(item.get("createdAt") or ""),
    )


def _has_next(data: dict, page: int) -> bool:
    """``hasNextPage`` when given; else whether ``totalPages`` goes beyond this page."""
    if isinstance(data.get("hasNextPage"), bool):
        return data["hasNextPage"]
    try:
        return int(data.get("totalPages") or 0) > page
    except (TypeError, ValueError):
        return False


def _echoed(contact: object) -> str:
    """Invalid contacts come back as sent, wrapped in stray quotes (` "1234567890"`): unwrap them."""
    return str(contact).strip(" \"'[]")


def _national(contact: object) -> str:
    """The gateway answers in 9-digit national form; accept the longer forms too, to be safe."""
    digits = "".join(ch for ch in str(contact) if ch.isdigit())
    if len(digits) == 11 and digits.startswith("61"):
        return digits[2:]
    if len(digits) == 10 and digits.startswith("0"):
        return digits[1:]
    return digits
