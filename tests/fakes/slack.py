"""A loopback server that behaves like the parts of Slack's Web API the bot uses — strictly.

It refuses what Slack refuses: blocks and views that slack_sdk's own Block Kit models reject or that
pass Slack's limits (50 blocks a message, 100 a view, 40,000 characters of text), image blocks of
files not shared in the channel and image links it cannot download, updates of deleted messages,
posts in archived channels or channels the bot is not in, views.update of a view Slack does not
have yet. Files are hosted behind a Bearer check (an HTML sign-in page without it, as Slack does),
optionally slowly; uploads share a file in a channel. Any method can fail on demand.

Workflow Builder steps: ``run_step`` makes a ``function_executed`` event (Slack's documented shape, with the
function's parameters as the manifest declares them) and a workflow token for it (``xwfp-``: valid while
the run is running and for 15 minutes at most, refused as ``token_revoked`` after). ``functions.completeSuccess``
and ``functions.completeError`` refuse an unknown run (``function_execution_not_found``), a second completion
(``execution_not_in_running_state``) and outputs the manifest does not declare, of the wrong type, or missing
a required one (``parameter_validation_failed``), as Slack's docs say.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import yaml
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from tests.fakes.server import LoopbackServer, QuietHandler

BOT_TOKEN = "xoxb-test-BOTTOKEN-0001"
APP_TOKEN = "xapp-1-A1-test-APPTOKEN"
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40_000
MAX_TEXT_OBJECT = 3000
SCOPES = ("commands", "chat:write", "chat:write.public", "files:read", "files:write", "im:write", "users:read")
NEEDS_SCOPE = {"users.info": "users:read"}  # methods whose refusal without their scope the bot must survive
MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
WORKFLOW_TOKEN_LIFETIME = 15 * 60  # seconds a step's bot_access_token lasts at most
PARAMETER_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool}


@dataclass
class Execution:
    """A run of a custom step, as Slack keeps it."""

    id: str
    callback_id: str
    inputs: dict
    token: str
    started: float
    state: str = "running"  # then "completed" or "failed"
    outputs: dict | None = None
    error: str | None = None

    def token_valid(self, now: float) -> bool:
        return self.state == "running" and now - self.started < WORKFLOW_TOKEN_LIFETIME


@dataclass
class ApiCall:
    method: str
    params: dict
    authorization: str
    at: float
    answer: dict = field(default_factory=dict)


@dataclass
class HostedFile:
    id: str
    name: str
    content: bytes | None  # None: Slack answers the sign-in page (the app lacks files:read)
    channels: set[str] = field(default_factory=set)  # where the file is shared
    title: str = ""
    host: str | None = None  # a Slack host name (reached through the TLS proxy), or None for loopback
    redirect: str | None = None  # where files.slack.com sends the download instead of serving it


class Refused(Exception):
    def __init__(self, error: str, **extra) -> None:
        super().__init__(error)
        self.body = {"ok": False, "error": error, **extra}


@dataclass
class FakeSlack:
    calls: list[ApiCall] = field(default_factory=list)
    files: dict[str, HostedFile] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)  # file id -> bytes the bot uploaded
    responses: list[dict] = field(default_factory=list)  # what the bot sent to response_url
    not_in_channel: set[str] = field(default_factory=set)
    archived: set[str] = field(default_factory=set)
    fetchable_images: set[str] = field(default_factory=set)  # image_url values Slack can download
    download_rate: float | None = None  # bytes per second for file downloads; None = as fast as possible
    failures: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    refusals: list[tuple[str, dict]] = field(default_factory=list)  # (method, error body) for every refusal
    messages: dict[tuple[str, str], dict] = field(default_factory=dict)  # (channel, ts) -> current message
    deleted: set[tuple[str, str]] = field(default_factory=set)
    views: dict[str, dict] = field(default_factory=dict)  # view id -> current view
    external_ids: dict[str, str] = field(default_factory=dict)  # external id -> view id
    home_views: dict[str, dict] = field(default_factory=dict)  # user id -> published Home
    downloads: list[tuple[str, str, str]] = field(default_factory=list)  # (host, path, Authorization) of every GET
    socket_mode_url: str | None = None  # what apps.connections.open hands out (a FakeSocketMode's url)
    scopes: set[str] = field(default_factory=lambda: set(SCOPES))  # the bot token's scopes
    user_zones: dict[str, str] = field(default_factory=dict)  # user id -> tz (users.info); others: Australia/Sydney
    executions: dict[str, Execution] = field(default_factory=dict)  # function_execution_id -> the run

    def start(self) -> FakeSlack:
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                fake._post(self)

            def do_GET(self) -> None:  # noqa: N802
                fake._get(self)

        self.server = LoopbackServer(Handler).start()
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def api_url(self) -> str:
        return self.server.base_url + "/api/"

    # -- test set-up ---------------------------------------------------------------------------

    def host_file(
        self, file_id: str, name: str, content: bytes | None, *, host: str | None = None, redirect: str | None = None
    ) -> dict:
        """A file as it appears in a file_input's state in a view_submission (not shared anywhere).

        ``host="files.slack.com"`` gives Slack's real https URLs (the bot must run behind the TLS
        proxy); ``redirect`` names where that host sends the download instead: "origin"
        (files-origin.slack.com), "edge" (a CDN name under slack-edge.com), "signin" (the workspace's
        sign-in page, as when the app lacks files:read), or any URL.
        """
        self.files[file_id] = HostedFile(file_id, name, content, host=host)
        path = f"/files-pri/T1-{file_id}/download/{name}"
        self.files[file_id].redirect = {
            "origin": f"https://files-origin.slack.com{path}",
            "edge": f"https://a.slack-edge.com{path}?sig=t0ken",
            "signin": f"https://test.slack.com/?redir=%2Ffiles-pri%2FT1-{file_id}%2Fdownload%2F{name}",
        }.get(redirect or "", redirect)
        return self.file_object(file_id)

    def file_object(self, file_id: str) -> dict:
        """Shaped like Slack's file objects (see ../shared/reference/slack-payloads/)."""
        hosted = self.files[file_id]
        base = f"https://{hosted.host}" if hosted.host else self.server.base_url
        return {
            "id": file_id,
            "created": 1700000000,
            "timestamp": 1700000000,
            "name": hosted.name,
            "title": hosted.title or hosted.name,
            "mimetype": "application/octet-stream",
            "filetype": hosted.name.rsplit(".", 1)[-1],
            "user": "U111",
            "size": len(hosted.content or b""),
            "mode": "hosted",
            "is_external": False,
            "is_public": False,
            "url_private": f"{base}/files-pri/T1-{file_id}/{hosted.name}",
            "url_private_download": f"{base}/files-pri/T1-{file_id}/download/{hosted.name}",
            "permalink": f"https://test.slack.com/files/U111/{file_id}/{hosted.name}",
        }

    def fail_next(
        self, method: str, *, error: str | None = None, status: int = 200, retry_after: int = 1, times: int = 1
    ) -> None:
        for _ in range(times):
            self.failures[method].append((status, error, retry_after))

    def delete_message(self, channel: str, ts: str) -> None:
        self.deleted.add((channel, ts))
        self.messages.pop((channel, ts), None)

    def took_response(self, response_body: bytes, submitted_view_id: str) -> str | None:
        """What Slack does with a view_submission's answer: a pushed or updated view becomes real."""
        if not response_body.strip():
            return None
        answer = json.loads(response_body)
        action = answer.get("response_action")
        with self._lock:
            if action == "push":
                return self._store_view(answer["view"])
            if action == "update":
                return self._store_view(answer["view"], view_id=submitted_view_id)
            if action == "clear":
                self.views.pop(submitted_view_id, None)
        return None

    # -- reading what the bot did ---------------------------------------------------------------

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in list(self.calls) if c.method == method]

    def accepted(self, method: str) -> list[ApiCall]:
        """Calls Slack accepted (ok: true)."""
        return [c for c in self.calls_to(method) if c.params.get("_ok")]

    def posted_texts(self, channel: str | None = None) -> list[str]:
        """Everything the bot posted or updated and Slack took, flattened to text."""
        out = []
        for call in self.accepted("chat.postMessage") + self.accepted("chat.update"):
            if channel is None or call.params.get("channel") == channel:
                out.append(flatten(call.params))
        return out

    def thread_replies(self, channel: str | None = None) -> list[ApiCall]:
        return [
            c
            for c in self.accepted("chat.postMessage")
            if c.params.get("thread_ts") and (channel is None or c.params.get("channel") == channel)
        ]

    def channel_posts(self, channel: str | None = None) -> list[ApiCall]:
        return [
            c
            for c in self.accepted("chat.postMessage")
            if not c.params.get("thread_ts") and (channel is None or c.params.get("channel") == channel)
        ]

    def view_by_external_id(self, external_id: str) -> dict | None:
        view_id = self.external_ids.get(external_id)
        return self.views.get(view_id) if view_id else None

    # -- handlers ------------------------------------------------------------------------------

    def _get(self, handler: QuietHandler) -> None:
        path = urlsplit(handler.path).path
        host = (handler.headers.get("Host") or "").rsplit(":", 1)[0]
        self.downloads.append((host, path, handler.headers.get("Authorization", "")))
        if host.endswith(".slack.com") and not host.startswith("files") and path in ("", "/"):
            handler.send(200, LOGIN_PAGE, "text/html; charset=utf-8")  # a workspace's sign-in page
            return
        if path.startswith("/files-pri/"):
            file_id = path.split("/")[2].split("-", 1)[1]
            hosted = self.files.get(file_id)
            if host.endswith(".slack-edge.com"):  # the CDN: signed links, no token
                if hosted is None or hosted.content is None:
                    handler.send(404, b"Not found", "text/plain")
                else:
                    self._send_slowly(handler, hosted.content)
                return
            if host == "files.slack.com" and hosted is not None and hosted.redirect:
                handler.send(302, b"", "text/plain", headers={"Location": hosted.redirect})
                return
            if handler.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
                handler.send(200, LOGIN_PAGE, "text/html; charset=utf-8")
            elif hosted is None:
                handler.send(404, b"Not found", "text/plain")
            elif hosted.content is None:  # Slack's answer when the app lacks files:read
                handler.send(200, LOGIN_PAGE, "text/html; charset=utf-8")
            else:
                self._send_slowly(handler, hosted.content)
            return
        if path.startswith("/redirect-to/"):
            handler.send(302, b"", "text/plain", headers={"Location": "http://" + path[len("/redirect-to/") :]})
            return
        handler.send(404, b"Not found", "text/plain")

    def _send_slowly(self, handler: QuietHandler, content: bytes) -> None:
        if not self.download_rate:
            handler.send(200, content, "application/octet-stream")
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        chunk = max(1, int(self.download_rate / 20))  # 20 writes a second at the given rate
        started = time.monotonic()
        for offset in range(0, len(content), chunk):
            handler.wfile.write(content[offset : offset + chunk])
            ahead = started + (offset + chunk) / self.download_rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    def _post(self, handler: QuietHandler) -> None:
        body = handler.read_body()
        path = urlsplit(handler.path).path
        if path.startswith("/upload/"):
            self.uploads[path.split("/")[2]] = body
            handler.send(200, b"OK - %d" % len(body), "text/plain")
            return
        if path.startswith("/respond/"):
            self.responses.append(json.loads(body))
            handler.send(200, b"ok", "text/plain")
            return
        method = path.removeprefix("/api/")
        content_type = handler.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            params = json.loads(body or b"{}")
        else:
            params = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        for key in ("blocks", "view", "files", "outputs"):
            if isinstance(params.get(key), str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])  # left as sent: the method's check refuses it
        call = ApiCall(method, params, handler.headers.get("Authorization", ""), time.monotonic())
        with self._lock:
            self.calls.append(call)
            failure = self.failures[method].popleft() if self.failures[method] else None
        expected = (
            APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        )  # Socket Mode takes the app-level token
        workflow = next((e for e in self.executions.values() if call.authorization == f"Bearer {e.token}"), None)
        if workflow is not None and method != "apps.connections.open":  # a subset of the bot token, while it lasts
            if not workflow.token_valid(time.time()):
                handler.send(200, json.dumps({"ok": False, "error": "token_revoked"}).encode())
                return
        elif call.authorization != f"Bearer {expected}":
            handler.send(
                200,
                json.dumps(
                    {
                        "ok": False,
                        "error": "not_allowed_token_type"
                        if call.authorization.startswith("Bearer xox") and method == "apps.connections.open"
                        else "invalid_auth",
                    }
                ).encode(),
            )
            return
        if failure:
            status, error, retry_after = failure
            headers = {"Retry-After": str(retry_after)} if status == 429 else None
            handler.send(
                status,
                json.dumps(
                    {"ok": False, "error": error or ("ratelimited" if status == 429 else "internal_error")}
                ).encode(),
                headers=headers,
            )
            return
        try:
            with self._lock:
                answer = self._answer(method, params)
        except Refused as refused:
            self.refusals.append((method, refused.body))
            answer = refused.body
        params["_ok"] = answer.get("ok", False)
        call.answer = answer
        handler.send(200, json.dumps(answer).encode())

    def _answer(self, method: str, params: dict) -> dict:
        needed = NEEDS_SCOPE.get(method)
        if needed and needed not in self.scopes:
            raise Refused("missing_scope", needed=needed, provided=",".join(sorted(self.scopes)))
        if method == "users.info":
            user = params.get("user", "")
            if not user.startswith(("U", "W")):
                raise Refused("user_not_found")
            tz = self.user_zones.get(user, "Australia/Sydney")
            offset = int(datetime.now(ZoneInfo(tz)).utcoffset().total_seconds())
            return {
                "ok": True,
                "user": {
                    "id": user,
                    "team_id": "T1",
                    "name": user.lower(),
                    "tz": tz,
                    "tz_label": tz,
                    "tz_offset": offset,
                },
            }
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://example.slack.com/",
                "team": "Test",
                "user": "mms-bot",
                "team_id": "T1",
                "user_id": "UBOT",
                "bot_id": "BBOT",
            }
        if method == "apps.connections.open":
            if not self.socket_mode_url:
                raise Refused("internal_error")
            return {"ok": True, "url": self.socket_mode_url}
        if method == "views.open":
            if not params.get("trigger_id"):
                raise Refused("invalid_trigger_id")
            view_id = self._store_view(params.get("view"))
            return {"ok": True, "view": self.views[view_id]}
        if method == "views.push":
            if not params.get("trigger_id"):
                raise Refused("invalid_trigger_id")
            view_id = self._store_view(params.get("view"))
            return {"ok": True, "view": self.views[view_id]}
        if method == "views.update":
            view_id = params.get("view_id") or self.external_ids.get(params.get("external_id", ""))
            if not view_id or view_id not in self.views:
                raise Refused("not_found")
            if params.get("hash") and params["hash"] != self.views[view_id].get("hash", params["hash"]):
                raise Refused("hash_conflict")  # the view changed since the hash was read
            self._store_view(params.get("view"), view_id=view_id)
            return {"ok": True, "view": self.views[view_id]}
        if method == "views.publish":
            view = params.get("view") or {}
            _validate_view(view)
            self.home_views[params.get("user_id", "")] = view
            return {"ok": True, "view": {"id": "VHOME", **view}}
        if method == "chat.postMessage":
            channel = params.get("channel", "")
            self._check_channel(channel)
            thread = params.get("thread_ts")
            if thread and (channel, thread) in self.deleted:
                raise Refused("thread_not_found")
            self._validate_message(params, channel)
            ts = f"1700000000.{next(self._ids):06d}"
            self.messages[(channel, ts)] = params
            return {"ok": True, "channel": channel, "ts": ts, "message": {"text": params.get("text"), "ts": ts}}
        if method == "chat.update":
            channel, ts = params.get("channel", ""), params.get("ts", "")
            self._check_channel(channel)
            if (channel, ts) not in self.messages:
                raise Refused("message_not_found")
            self._validate_message(params, channel)
            self.messages[(channel, ts)] = params
            return {"ok": True, "channel": channel, "ts": ts, "text": params.get("text")}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + params.get("users", "X")}}
        if method == "files.getUploadURLExternal":
            file_id = f"FUP{next(self._ids)}"
            self.files[file_id] = HostedFile(file_id, params.get("filename", "upload"), b"")
            return {"ok": True, "upload_url": f"{self.server.base_url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            channel = params.get("channel_id")
            if channel:
                self._check_channel(channel)
            shared = []
            for item in params.get("files", []):
                hosted = self.files.get(item["id"])
                if hosted is None or item["id"] not in self.uploads:
                    raise Refused("file_not_found")
                hosted.content = self.uploads[item["id"]]
                hosted.title = item.get("title") or hosted.name
                if channel:
                    hosted.channels.add(channel)
                shared.append({"id": item["id"], "title": hosted.title})
            return {"ok": True, "files": shared}
        if method in ("functions.completeSuccess", "functions.completeError"):
            return self._complete(method, params)
        if method == "files.info":
            if params.get("file") not in self.files:
                raise Refused("file_not_found")
            return {"ok": True, "file": self.file_object(params["file"])}
        return {"ok": False, "error": "unknown_method"}

    # -- Workflow Builder steps -----------------------------------------------------------------

    def run_step(self, inputs: dict, callback_id: str = "send_mms") -> dict:
        """A workflow reaches the app's step: the ``event_callback`` Slack delivers (HTTP or Socket Mode)."""
        function = yaml.safe_load(MANIFEST.read_text())["functions"][callback_id]
        with self._lock:
            number = next(self._ids)
        execution = Execution(f"Fx{number:010d}", callback_id, inputs, f"xwfp-test-{number}-WORKFLOWTOKEN", time.time())
        self.executions[execution.id] = execution
        return {
            "token": "legacy",
            "team_id": "T1",
            "api_app_id": "A1",
            "event": {
                "type": "function_executed",
                "function": {
                    "id": f"Fn{number:010d}",
                    "callback_id": callback_id,
                    "title": function["title"],
                    "description": function["description"],
                    "type": "app",
                    "input_parameters": _parameters(function["input_parameters"]),
                    "output_parameters": _parameters(function["output_parameters"]),
                    "app_id": "A1",
                    "date_created": 1694727597,
                    "date_updated": 1698947481,
                    "date_deleted": 0,
                },
                "inputs": inputs,
                "function_execution_id": execution.id,
                "workflow_execution_id": f"Wx{number:010d}",
                "event_ts": f"{time.time():.6f}",
                "bot_access_token": execution.token,
            },
            "type": "event_callback",
            "event_id": f"Ev{number:010d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
        }

    def _complete(self, method: str, params: dict) -> dict:
        execution = self.executions.get(params.get("function_execution_id", ""))
        if execution is None:
            raise Refused("function_execution_not_found")
        if execution.state != "running":
            raise Refused("execution_not_in_running_state")
        if method == "functions.completeError":
            if not params.get("error"):
                raise Refused("invalid_arguments")
            execution.state, execution.error = "failed", params["error"]
            return {"ok": True}
        outputs = params.get("outputs")
        declared = yaml.safe_load(MANIFEST.read_text())["functions"][execution.callback_id]["output_parameters"]
        problems = _output_problems(outputs, declared)
        if problems:
            raise Refused("parameter_validation_failed", errors=problems)
        execution.state, execution.outputs = "completed", outputs
        return {"ok": True}

    # -- Slack's rules -------------------------------------------------------------------------

    def _check_channel(self, channel: str) -> None:
        if channel in self.archived:
            raise Refused("is_archived")
        if channel in self.not_in_channel:
            raise Refused("not_in_channel")

    def _store_view(self, view: dict | None, view_id: str | None = None) -> str:
        _validate_view(view or {})
        view_id = view_id or f"V{next(self._ids):08d}"
        previous = self.views.get(view_id, {})
        if previous.get("external_id") and previous.get("external_id") != view.get("external_id"):
            self.external_ids.pop(previous["external_id"], None)
        external_id = view.get("external_id")
        if external_id:
            owner = self.external_ids.get(external_id)
            if owner and owner != view_id:
                raise Refused("duplicate_external_id")
            self.external_ids[external_id] = view_id
        self.views[view_id] = {"id": view_id, **view, "hash": f"{time.time():.0f}.{next(self._ids)}"}
        return view_id

    def _validate_message(self, params: dict, channel: str) -> None:
        text = params.get("text") or ""
        blocks = params.get("blocks")
        if len(text) > MAX_TEXT:
            raise Refused("msg_too_long")
        if not text and not blocks:
            raise Refused("no_text")
        if blocks is None:
            return
        if not isinstance(blocks, list) or len(blocks) > MAX_MESSAGE_BLOCKS:
            raise Refused(
                "invalid_blocks", errors=[f"must provide at most {MAX_MESSAGE_BLOCKS} items [json-pointer:/blocks]"]
            )
        errors = _block_errors(blocks)
        for index, block in enumerate(blocks):
            if block.get("type") != "image":
                continue
            if "slack_file" in block:
                ref = block["slack_file"]
                hosted = self.files.get(ref.get("id", ""))
                if hosted is None or channel not in hosted.channels:
                    errors.append(f"invalid slack file [json-pointer:/blocks/{index}/slack_file]")
            elif block.get("image_url") not in self.fetchable_images:
                errors.append(f"downloading image failed [json-pointer:/blocks/{index}/image_url]")
        if errors:
            raise Refused(
                "invalid_blocks", errors=errors, response_metadata={"messages": [f"[ERROR] {e}" for e in errors]}
            )


def _block_errors(blocks: list) -> list[str]:
    errors = []
    for index, raw in enumerate(blocks):
        where = f"[json-pointer:/blocks/{index}]"
        if not isinstance(raw, dict):
            errors.append(f"must be an object {where}")
            continue
        block = Block.parse(raw)
        if block is None:
            errors.append(f"unsupported type {where}")
            continue
        try:
            block.validate_json()
        except SlackObjectFormationError as exc:
            errors.append(f"{exc} {where}")
        for text in _text_objects(raw):
            if len(text) > MAX_TEXT_OBJECT:
                errors.append(f"must be less than {MAX_TEXT_OBJECT + 1} characters {where}")
    return errors


def _text_objects(value) -> list[str]:
    if isinstance(value, dict):
        found = (
            [value["text"]]
            if value.get("type") in ("mrkdwn", "plain_text") and isinstance(value.get("text"), str)
            else []
        )
        return found + [t for v in value.values() for t in _text_objects(v)]
    if isinstance(value, list):
        return [t for v in value for t in _text_objects(v)]
    return []


def _validate_view(view: dict) -> None:
    blocks = view.get("blocks") or []
    if len(blocks) > MAX_VIEW_BLOCKS:
        raise Refused(
            "invalid_arguments",
            response_metadata={
                "messages": [f"[ERROR] must provide at most {MAX_VIEW_BLOCKS} items [json-pointer:/view/blocks]"]
            },
        )
    if len(view.get("external_id") or "") > 255:
        raise Refused(
            "invalid_arguments",
            response_metadata={"messages": ["[ERROR] external_id too long [json-pointer:/view/external_id]"]},
        )
    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError) as exc:
        raise Refused(
            "invalid_arguments", response_metadata={"messages": [f"[ERROR] {exc} [json-pointer:/view]"]}
        ) from None
    errors = _block_errors(blocks)
    if errors:
        raise Refused("invalid_arguments", response_metadata={"messages": [f"[ERROR] {e}" for e in errors]})


def flatten(value) -> str:
    if isinstance(value, dict):
        return " ".join(flatten(v) for k, v in value.items() if k != "_ok")
    if isinstance(value, list):
        return " ".join(flatten(v) for v in value)
    return str(value)


def _parameters(declared: dict) -> list[dict]:
    """The manifest's parameters as a function_executed event lists them."""
    return [{"name": name, **spec} for name, spec in declared.items()]


def _output_problems(outputs, declared: dict) -> list[str]:
    if not isinstance(outputs, dict):
        return ["outputs must be an object"]
    problems = [f"{name}: not an output of this function" for name in outputs if name not in declared]
    for name, spec in declared.items():
        if name not in outputs:
            if spec.get("is_required"):
                problems.append(f"{name}: required")
            continue
        kind = PARAMETER_TYPES.get(spec["type"], str)
        value = outputs[name]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            problems.append(f"{name}: must be {spec['type']}")
    return problems
