"""A loopback server that answers like Cellcast's gatewaymms endpoint (and its SMS endpoint, gateway), and
misbehaves on demand.

Bodies are copied from the shapes in ../shared/reference/cellcast-send-mms-api.txt.
"""

from __future__ import annotations

import json
import re
import socket
import time
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC

from tests.fakes.server import LoopbackServer, QuietHandler

ENVELOPE = {
    "app_type": "web",
    "app_version": "1.0",
    "maintainence": 0,
    "new_version": 0,
    "force_update": 0,
    "invalid_token": 0,
    "refresh_token": "",
    "show_message": 0,
    "is_enc": False,
    "message_type": "toast",
}
SENDER_NOT_REGISTERED = {
    **ENVELOPE,
    "status": False,
    "message": "Your sender id is not registered.",
    "data": {},
    "error": {"sender": "not_registered"},
}
CONTACTS_400 = {
    "code": 400,
    "message": "Contacts must either start with 61 or +61 and be exactly 11 digits long (e.g., 614xxxxxxxx or "
    "+614xxxxxxxx), or be 9 digits without the area code (e.g., 4xxxxxxxx)",
    "stack": "APIError: Contacts are required.",
}
BALANCE_422 = {
    **ENVELOPE,
    "status": False,
    "message": "Your balance is too low for this request, please recharge.",
    "data": {},
    "error": {"errorMessage": "Your balance is too low for this request, please recharge."},
}
TOKEN_401 = {"code": 401, "message": "Token expired", "stack": "APIError: Token expired ...."}
STATUS_FALSE_200 = {**ENVELOPE, "status": False, "message": "Something went wrong", "data": {}, "error": {}}
REFUSALS = {"429", "401", "422", "sender", "contacts400", "status_false", "invalid"}  # nothing queued after these
MMS_PATH, SMS_PATH = "/api/v1/gatewaymms", "/api/v1/gateway"
SMS_FIELDS = {"message", "contacts", "sender", "countryCode", "scheduleAt", "delay", "longUrl"}  # documented for SMS
_SENDER = re.compile(r"^(?:\d{1,16}|(?=.*[A-Za-z])[A-Za-z0-9 \-]{1,11})$")


@dataclass
class ReceivedCall:
    fields: dict[str, str]
    media: tuple[str, bytes, str] | None
    authorization: str
    content_type: str
    at: float
    behaviour: str = "ok"  # what the fake answered it with
    path: str = MMS_PATH  # MMS_PATH or SMS_PATH

    @property
    def contacts(self) -> list[str]:
        try:
            contacts = json.loads(self.fields.get("contacts") or "[]")
        except ValueError:
            return []
        return contacts if isinstance(contacts, list) else []

    @property
    def sms(self) -> bool:
        return self.path == SMS_PATH


@dataclass
class FakeCellcast:
    """Scripted behaviours are used one per request, in order; after that every call succeeds."""

    unsubscribed: set[str] = field(default_factory=set)
    latency: float = 0.0
    calls: list[ReceivedCall] = field(default_factory=list)
    script: deque = field(default_factory=deque)
    mms_balance: float = 10000
    reads: list[tuple[str, float]] = field(default_factory=list)  # (path with query, arrival) of every GET
    read_failures: dict = field(
        default_factory=dict
    )  # path → deque of behaviours ("401", "500", "429"), one per GET of it
    api_key: str = ""  # when set, GETs with another key get the documented 401
    optout_list: list[str] = field(default_factory=list)  # as Cellcast lists them: 400000000 or 61400000000
    responses: list[dict] = field(
        default_factory=list
    )  # inbound replies, newest first: {from, body, received_at, message_id}
    responses_per_page: int = 20
    messages: dict = field(default_factory=dict)  # message id → its delivery record, for the report endpoints
    initial_status: str = "queued"  # what a queued message's record says until deliver() changes it
    keep_records: bool = True  # False: the report endpoints know no message (for the throughput benchmark)
    calls_per_second: int | None = 15  # Cellcast's limit per account, all calls together; None: no limit
    over_limit: list[tuple[str, float]] = field(
        default_factory=list
    )  # (path, when) of calls refused with 429 for the rate
    _recent: deque = field(default_factory=deque, repr=False)  # when the calls of the last second were taken
    _in_order: list = field(default_factory=list, repr=False)  # the records of `messages`, in time order
    _dates: list = field(default_factory=list, repr=False)  # their creation dates, for the report's date range

    def start(self, port: int = 0) -> FakeCellcast:
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self)

            def do_GET(self) -> None:  # noqa: N802
                fake._read(self)

        self.server = LoopbackServer(Handler, port).start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def then(self, *behaviours) -> FakeCellcast:
        self.script.extend(behaviours)
        return self

    def add_message(self, record: dict) -> None:
        """A message's delivery record, as the report endpoints list it. Records come in time order, so a
        date range is a slice of them found by bisection: a page costs the same at a million messages as
        at ten (a real gateway's report does not stall its send endpoint)."""
        if not self.keep_records:
            return
        with self.server.lock:
            self.messages[record["_id"]] = record
            self._in_order.append(record)
            self._dates.append(record["createdAt"][:10])

    def _between(self, low: str, high: str) -> _NewestFirst:
        with self.server.lock:
            return _NewestFirst(self._in_order, bisect_left(self._dates, low), bisect_right(self._dates, high))

    def deliver(self, number: str, status: str) -> None:
        """The delivery report for the latest message to ``number`` (national form) now says ``status``."""
        record = [m for m in self.messages.values() if m["receiver"] == number][-1]
        record["status"] = status
        record["updatedAt"] = _iso_now()

    def fail_reads(self, path: str, *behaviours: str) -> None:
        """The next GETs of ``path`` (e.g. "/api/v1/apiClient/account") answer these behaviours
        ("401", "500", "429", or ("slow", seconds) for a normal answer that late)."""
        self.read_failures.setdefault(path, deque()).extend(behaviours)

    def all_contacts(self) -> list[str]:
        return [c for call in self.calls for c in call.contacts]

    def processed_contacts(self) -> list[str]:
        """The numbers of every call Cellcast took on (not those it refused outright, as with a 429)."""
        return [c for call in self.calls if call.behaviour not in REFUSALS for c in call.contacts]

    def _handle(self, handler: QuietHandler) -> None:
        arrived = time.monotonic()  # the call's start at the gateway: its request line and headers are in
        body = handler.read_body()
        if handler.path not in (MMS_PATH, SMS_PATH):
            handler.send(404, b'{"message":"not found"}')
            return
        if handler.path == SMS_PATH:
            call, refusal = _parse_sms(handler, body, arrived)
            if refusal is not None:  # the endpoint's own validation: nothing queued, and nothing scripted used
                call.behaviour = "invalid"
                with self.server.lock:
                    self.calls.append(call)
                handler.send(400, json.dumps(refusal).encode())
                return
        else:
            call = _parse(handler, body, arrived)
        with self.server.lock:
            refused = self._over_limit(handler.path, arrived)
            if not refused:
                self.calls.append(call)
                behaviour = self.script.popleft() if self.script else "ok"
                call.behaviour = behaviour if isinstance(behaviour, str) else behaviour[0]
        if refused:
            _refuse_over_limit(handler)
            return
        if self.latency:
            time.sleep(self.latency)
        name, arg = behaviour if isinstance(behaviour, tuple) else (behaviour, None)
        if name == "ok":
            handler.send(200, json.dumps(self._queue_report(call)).encode())
        elif name == "omit":  # an answer that leaves out the last `arg` numbers sent
            report = self._queue_report(call)
            report["data"]["queueResponse"] = report["data"]["queueResponse"][:-arg]
            handler.send(200, json.dumps(report).encode())
        elif name == "untidy":  # every entry twice, and a number that was never sent
            report = self._queue_report(call)
            queued = report["data"]["queueResponse"]
            report["data"]["queueResponse"] = (
                queued + queued + [{"Contact": "499999999", "MessageId": "stray", "Result": "Message added to queue."}]
            )
            handler.send(200, json.dumps(report).encode())
        elif name == "slow":
            time.sleep(arg)
            handler.send(200, json.dumps(self._queue_report(call)).encode())
        elif name == "drop":
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
        elif name == "queue_then_drop":  # Cellcast queued them, and then the answer never came back
            self._queue_report(call)
            handler.connection.shutdown(socket.SHUT_RDWR)
            handler.close_connection = True
        elif name == "429":
            handler.send(429, b'{"message":"OVER_LIMIT"}', headers={"Retry-After": str(arg if arg is not None else 1)})
        elif name == "500":
            handler.send(500, b"<html><body>Internal Server Error</body></html>", "text/html")
        elif name == "garbage":
            handler.send(200, b"<html>maintenance</html>", "text/html")
        elif name == "sender":
            handler.send(400, json.dumps(SENDER_NOT_REGISTERED).encode())
        elif name == "contacts400":
            handler.send(400, json.dumps(CONTACTS_400).encode())
        elif name == "401":
            handler.send(401, json.dumps(TOKEN_401).encode())
        elif name == "422":
            handler.send(422, json.dumps(BALANCE_422).encode())
        elif name == "status_false":
            handler.send(200, json.dumps(STATUS_FALSE_200).encode())
        else:
            raise AssertionError(f"unknown behaviour {behaviour!r}")

    def _over_limit(self, path: str, arrived: float) -> bool:
        """More than ``calls_per_second`` calls in one second: Cellcast answers 429 and processes nothing.
        Called under the server's lock."""
        if self.calls_per_second is None:
            return False
        while self._recent and self._recent[0] <= arrived - 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.calls_per_second:
            self.over_limit.append((path, arrived))
            return True
        self._recent.append(arrived)
        return False

    def _read(self, handler: QuietHandler) -> None:
        path = handler.path.split("?")[0]
        with self.server.lock:
            arrived = time.monotonic()
            refused = self._over_limit(handler.path, arrived)
            if not refused:
                self.reads.append((handler.path, arrived))
                queue = self.read_failures.get(path)
                behaviour = queue.popleft() if queue else "ok"
        if refused:
            _refuse_over_limit(handler)
            return
        if isinstance(behaviour, tuple) and behaviour[0] == "slow":  # ("slow", seconds): then a normal answer
            time.sleep(behaviour[1])
            behaviour = "ok"
        if handler.headers.get("Authorization") != "Bearer " + self.api_key and self.api_key:
            handler.send(401, json.dumps(TOKEN_401).encode())
            return
        if behaviour == "401":
            handler.send(401, json.dumps(TOKEN_401).encode())
        elif behaviour == "500":
            handler.send(500, b"<html><body>Internal Server Error</body></html>", "text/html")
        elif behaviour == "429":
            handler.send(429, b'{"message":"OVER_LIMIT"}', headers={"Retry-After": "1"})
        elif path == "/api/v1/apiClient/getOptout":
            query = _query(handler.path)
            page, size = int(query.get("page", 1)), int(query.get("size", 100))
            items = [
                {"number": n, "first_name": "", "last_name": "", "full_name": "", "email": ""} for n in self.optout_list
            ]
            handler.send(
                200, json.dumps(_paged(f"You have {len(items)} optout contact(s)", items, page, size)).encode()
            )
        elif path == "/api/v1/apiClient/getResponses":
            page = int(_query(handler.path).get("page", 1))
            items = list(self.responses)
            handler.send(
                200,
                json.dumps(_paged(f"You have {len(items)} response(s)", items, page, self.responses_per_page)).encode(),
            )
        elif path == "/api/v2/report/message":
            query = _query(handler.path)
            page, limit = int(query.get("page", 1)), int(query.get("limit", 100))
            low, high = query.get("fromDate", "0000-00-00"), query.get("toDate", "9999-99-99")
            items = self._between(low, high)
            body = _paged("Success", items, page, limit)
            handler.send(
                200, json.dumps({"status": True, "message": "Success", "data": body["data"], "error": {}}).encode()
            )
        elif path.startswith("/api/v2/report/message/"):
            record = self.messages.get(path.rsplit("/", 1)[1])
            answer = (
                {"status": True, "message": "Success", "data": record, "error": {}}
                if record
                else {"status": False, "message": "Message not found", "data": {}, "error": {}}
            )
            handler.send(200, json.dumps(answer).encode())
        elif path == "/api/v1/apiClient/account":
            handler.send(
                200,
                json.dumps(
                    {
                        "meta": {"code": 200, "status": "SUCCESS"},
                        "message": "Here's your account",
                        "data": {
                            "account_name": "Test Account",
                            "account_email": "ops@example.com",
                            "sms_balance": 9972.2,
                            "mms_balance": self.mms_balance,
                        },
                        "error": {},
                    }
                ).encode(),
            )
        else:
            handler.send(404, b'{"message":"not found"}')

    def _queue_report(self, call: ReceivedCall) -> dict:
        queued, invalid, unsubscribed = [], [], []
        created = _iso_now()
        text, sender = call.fields.get("message", ""), call.fields.get("sender", "61400000001")
        for index, contact in enumerate(call.contacts):
            national = _national(contact)
            if national is None:
                invalid.append(
                    {"Contact": f' "{contact}"', "Error": "Number is not valid", "ErrorType": "number_not_valid"}
                )
            elif national in self.unsubscribed:
                unsubscribed.append(national)
            else:
                message_id = f"6752be53{len(self.calls):08x}{index:08x}"
                queued.append({"Contact": national, "MessageId": message_id, "Result": "Message added to queue."})
                self.add_message(
                    {
                        "_id": message_id,
                        "status": self.initial_status,
                        "message": text,
                        "sender": sender,
                        "receiver": national,
                        "creditAmount": 1,
                        "createdAt": created,
                        "updatedAt": created,
                        "customerResponse": None,
                        "customerResponseAt": None,
                        "customerResponseMedia": None,
                        "media": None,
                    }
                )
        return {
            **ENVELOPE,
            "status": True,
            "message": "Request is being processed",
            "data": {
                "queueResponse": queued,
                "message": "success register all valid contacts to queue",
                "invalidContacts": invalid,
                "unsubscribeContacts": unsubscribed,
                "totalValidContact": len(queued),
                "totalInvalidContact": len(invalid),
                "totalUnsubscribeContact": len(unsubscribed),
            },
            "error": {},
        }


def _iso_now() -> str:
    from datetime import datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _query(path: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(path).query))


def _refuse_over_limit(handler: QuietHandler) -> None:
    handler.send(429, b'{"message":"OVER_LIMIT"}', headers={"Retry-After": "1"})


class _NewestFirst:
    """Records ``low``..``high`` of a list in time order, newest first, without copying them."""

    def __init__(self, records: list[dict], low: int, high: int) -> None:
        self._records, self._low, self._high = records, low, high

    def __len__(self) -> int:
        return max(0, self._high - self._low)

    def __getitem__(self, part: slice) -> list[dict]:
        start, stop, _ = part.indices(len(self))
        return [self._records[self._high - 1 - index] for index in range(start, stop)]


def _paged(message: str, items, page: int, size: int) -> dict:
    """Cellcast's paged envelope, as in ../shared/reference/cellcast-other-endpoints.md."""
    total_pages = max(1, -(-len(items) // size))
    chunk = items[(page - 1) * size : page * size]
    return {
        "meta": {"code": 200, "status": "SUCCESS"},
        "message": message,
        "data": {
            "items": chunk,
            "total": len(items),
            "limit": size,
            "current": page,
            "totalPages": total_pages,
            "pagingCounter": (page - 1) * size + 1,
            "hasPrevPage": page > 1,
            "hasNextPage": page < total_pages,
            "prevPage": page - 1 if page > 1 else None,
            "nextPage": page + 1 if page < total_pages else None,
        },
        "error": {},
    }


def _national(contact: str) -> str | None:
    match = re.fullmatch(r"(?:\+?61|0)?(4\d{8})", contact)
    return match.group(1) if match else None


def _parse(handler: QuietHandler, body: bytes, arrived: float) -> ReceivedCall:
    """multipart/form-data, read the way a server framework does (split on the boundary)."""
    content_type = handler.headers.get("Content-Type", "")
    fields: dict[str, str] = {}
    media = None
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if content_type.startswith("multipart/form-data") and match:
        for part in body.split(b"--" + match.group(1).encode())[1:-1]:
            part = part.removeprefix(b"\r\n").removesuffix(b"\r\n")  # exactly the delimiters' line breaks
            head, _, payload = part.partition(b"\r\n\r\n")
            headers = head.decode("utf-8", "replace")
            name = re.search(r'name="([^"]*)"', headers).group(1)
            filename = re.search(r'filename="([^"]*)"', headers)
            if filename:
                kind = re.search(r"Content-Type: *([^\r\n]+)", headers, re.IGNORECASE)
                media = (filename.group(1), payload, kind.group(1).strip() if kind else "application/octet-stream")
            else:
                fields[name] = payload.decode()
    return ReceivedCall(fields, media, handler.headers.get("Authorization", ""), content_type, arrived)


def _parse_sms(handler: QuietHandler, body: bytes, arrived: float) -> tuple[ReceivedCall, dict | None]:
    """The SMS endpoint's JSON body, validated as Cellcast documents it: (the call, the 400 body or None)."""
    content_type = handler.headers.get("Content-Type", "")
    call = ReceivedCall({}, None, handler.headers.get("Authorization", ""), content_type, arrived, path=SMS_PATH)
    try:
        payload = json.loads(body) if content_type.startswith("application/json") else None
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return call, {"code": 400, "message": "The request body must be JSON", "stack": "APIError: Bad Request"}
    call.fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}
    unknown = sorted(set(payload) - SMS_FIELDS)
    if unknown:  # media, gif: MMS fields
        return call, {"code": 400, "message": f'"{unknown[0]}" is not allowed', "stack": "ValidationError"}
    contacts = payload.get("contacts")
    if not isinstance(payload.get("message"), str) or not payload["message"]:
        return call, {"code": 400, "message": '"message" is required', "stack": "ValidationError"}
    if (
        not isinstance(contacts, list)
        or not 1 <= len(contacts) <= 1000
        or not all(isinstance(c, str) and _national(c) for c in contacts)
    ):
        return call, CONTACTS_400
    sender = payload.get("sender")
    if sender not in (None, "") and not (isinstance(sender, str) and _SENDER.match(sender)):
        return call, SENDER_NOT_REGISTERED
    return call, None
