"""A loopback server that behaves like the parts of Slack's Web API the bot uses.

It records every call, answers like Slack, hosts files behind a Bearer check (answering an HTML
login page without it, as Slack does), takes file uploads, and can be told to fail on demand.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import LoopbackServer, QuietHandler

BOT_TOKEN = "xoxb-test-BOTTOKEN-0001"
LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Slack</body></html>"


@dataclass
class ApiCall:
    method: str
    params: dict
    authorization: str
    at: float


@dataclass
class FakeSlack:
    calls: list[ApiCall] = field(default_factory=list)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # id -> (name, content)
    uploads: dict[str, bytes] = field(default_factory=dict)
    responses: list[dict] = field(default_factory=list)  # what the bot sent to response_url
    not_in_channel: set[str] = field(default_factory=set)
    failures: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))

    def start(self) -> "FakeSlack":
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                fake._post(self)

            def do_GET(self) -> None:  # noqa: N802
                fake._get(self)

        self.server = LoopbackServer(Handler).start()
        self._ts = itertools.count(1)
        return self

    def stop(self) -> None:
        self.server.stop()

    @property
    def api_url(self) -> str:
        return self.server.base_url + "/api/"

    def host_file(self, file_id: str, name: str, content: bytes | None) -> dict:
        """A file as it appears in a file_input's state in a view_submission."""
        self.files[file_id] = (name, content)
        url = f"{self.server.base_url}/files-pri/T1-{file_id}/download/{name}"
        return {"id": file_id, "name": name, "size": len(content or b""), "url_private": url, "url_private_download": url}

    def fail_next(self, method: str, *, error: str | None = None, status: int = 200, retry_after: int = 1) -> None:
        self.failures[method].append((status, error, retry_after))

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in list(self.calls) if c.method == method]

    # -- handlers ------------------------------------------------------------------------------

    def _get(self, handler: QuietHandler) -> None:
        path = urlsplit(handler.path).path
        if path.startswith("/files-pri/"):
            file_id = path.split("/")[2].split("-", 1)[1]
            if handler.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
                handler.send(200, LOGIN_PAGE, "text/html; charset=utf-8")
            elif file_id not in self.files:
                handler.send(404, b"Not found", "text/plain")
            elif self.files[file_id][1] is None:  # Slack's answer when the app lacks files:read
                handler.send(200, LOGIN_PAGE, "text/html; charset=utf-8")
            else:
                handler.send(200, self.files[file_id][1], "application/octet-stream")
            return
        if path.startswith("/redirect-to/"):
            handler.send(302, b"", "text/plain", headers={"Location": "http://" + path[len("/redirect-to/"):]})
            return
        handler.send(404, b"Not found", "text/plain")

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
        for key in ("blocks", "view", "files"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        call = ApiCall(method, params, handler.headers.get("Authorization", ""), time.monotonic())
        with self.server.lock:
            self.calls.append(call)
            failure = self.failures[method].popleft() if self.failures[method] else None
        if call.authorization != f"Bearer {BOT_TOKEN}":
            handler.send(200, json.dumps({"ok": False, "error": "invalid_auth"}).encode())
            return
        if failure:
            status, error, retry_after = failure
            headers = {"Retry-After": str(retry_after)} if status == 429 else None
            handler.send(status, json.dumps({"ok": False, "error": error or "ratelimited"}).encode(), headers=headers)
            return
        handler.send(200, json.dumps(self._answer(method, params)).encode())

    def _answer(self, method: str, params: dict) -> dict:
        if method == "auth.test":
            return {"ok": True, "url": "https://example.slack.com/", "team": "Test", "user": "mms-bot", "team_id": "T1", "user_id": "UBOT", "bot_id": "BBOT"}
        if method == "views.open":
            return {"ok": True, "view": {"id": "VOPENED", **params.get("view", {})}}
        if method == "chat.postMessage":
            if params.get("channel") in self.not_in_channel:
                return {"ok": False, "error": "not_in_channel"}
            return {"ok": True, "channel": params.get("channel"), "ts": f"1700000000.{next(self._ts):06d}", "message": {"text": params.get("text")}}
        if method == "chat.update":
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + params.get("users", "X")}}
        if method == "files.getUploadURLExternal":
            file_id = f"FUP{next(self._ts)}"
            return {"ok": True, "upload_url": f"{self.server.base_url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in params.get("files", [])]}
        if method == "files.info":
            return {"ok": True, "file": {"id": params.get("file")}}
        return {"ok": False, "error": "unknown_method"}

    # -- reading what the bot posted ------------------------------------------------------------

    def posted_texts(self, channel: str | None = None) -> list[str]:
        """Everything the bot posted or updated, flattened to text, to assert on what people see."""
        out = []
        for call in self.calls_to("chat.postMessage") + self.calls_to("chat.update"):
            if channel is None or call.params.get("channel") == channel:
                out.append(flatten(call.params))
        return out

    def thread_replies(self, channel: str | None = None) -> list[ApiCall]:
        return [c for c in self.calls_to("chat.postMessage") if c.params.get("thread_ts") and (channel is None or c.params.get("channel") == channel)]


def flatten(value) -> str:
    if isinstance(value, dict):
        return " ".join(flatten(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(flatten(v) for v in value)
    return str(value)
