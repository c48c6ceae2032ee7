"""Runs the real bot (`python -m bot`, HTTP mode) against the loopback Slack and Cellcast fakes,
and sends it requests signed exactly as Slack signs them."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from tests.fakes.server import wait_for
from tests.fakes.slack import BOT_TOKEN

SIGNING_SECRET = "test-signing-secret-0123456789"
CELLCAST_KEY = "cellcast-KEY-secret-987"
ADMIN = "UADMIN"
ROOT = Path(__file__).resolve().parents[2]


def db_rows(tmp_path: Path, sql: str, args: tuple = ()) -> list[tuple]:
    """What the bot recorded, read from its database (SQLite or PostgreSQL) as an operator would."""
    from tests.conftest import DATABASES

    if tmp_path in DATABASES:
        return DATABASES[tmp_path].rows(sql, args)
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        return conn.execute(sql, args).fetchall()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sign(body: bytes, timestamp: int | None = None, secret: str = SIGNING_SECRET) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


class BotProcess:
    def __init__(self, slack, cellcast, database: Path | str, log_path: Path, proxy=None, **env) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.slack = slack
        self.log_path = log_path
        self.env = {
            # Nothing of the developer's settings: the bot under test gets what the test gives it.
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("SLACK_", "CELLCAST_", "MMS_", "DATABASE_", "LOG_LEVEL", "HOST", "PORT"))
            },
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "CELLCAST_API_KEY": CELLCAST_KEY,
            "CELLCAST_API_URL": cellcast.base_url,
            "CELLCAST_TIMEOUT": "2",
            **({"DATABASE_URL": database} if isinstance(database, str) else {"DATABASE_PATH": str(database)}),
            "MMS_ADMINS": ADMIN,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PYTHONPATH": str(ROOT),
            **(proxy.env() if proxy else {}),
            **env,
        }
        self.http = httpx.Client(timeout=10)
        self.process = None
        self.pushed: dict[str, str] = {}  # form view id -> the view the bot pushed over it

    def start(self) -> BotProcess:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop(), after the process
        # Its own working directory: a developer's .env in the repository is never read by the bot under test.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=self.log_path.parent,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"bot exited with {self.process.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                if self.http.get(self.url + "/healthz").status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError("bot did not become healthy")

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    # -- what the bot says about itself (its /metrics), for waiting on a positive signal ------------

    def metrics(self) -> dict[str, float]:
        """``/metrics`` as {"name{labels}": value}."""
        text = self.http.get(self.url + "/metrics").text
        return {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line and not line.startswith("#")
        }

    def wait_quiet(self, timeout: float = 20) -> None:
        """Until nothing is left to do: no batch pending or being sent, no report due to Slack (as the bot's
        own /metrics say). What a bug would have sent or posted by now is then in the fakes' records."""

        def quiet() -> bool:
            figures = self.metrics()
            return (
                figures.get('mms_batches{state="pending"}', 0) == 0
                and figures.get('mms_batches{state="sending"}', 0) == 0
                and figures.get("mms_reports_due", 0) == 0
            )

        wait_for(quiet, timeout=timeout)

    def wait_sync_rounds(self, rounds: int = 2, timeout: float = 20) -> None:
        """Until the Cellcast sync has finished ``rounds`` more rounds (each reads replies and reports)."""
        start = self.metrics().get("mms_sync_rounds_total", 0)
        wait_for(lambda: self.metrics().get("mms_sync_rounds_total", 0) >= start + rounds, timeout=timeout)

    # -- what the bot recorded, read as an operator reads it: the command line and /metrics ---------

    def cli(self, *args: str) -> str:
        """``python -m bot …`` with this bot's settings, in its folder; its output (it must succeed)."""
        done = subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=self.log_path.parent,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def recipients(self, send_id: int) -> list[dict]:
        """Every entry of a send as ``export`` gives it: number (9-digit national form for mobiles), outcome
        (the store's name for it), reason, message_id, delivery."""
        from bot.slack.blocks import LABELS

        outcome_of = {label: outcome for outcome, label in LABELS.items()}
        rows = list(csv.DictReader(io.StringIO(self.cli("export", str(send_id)))))
        return [
            {
                **row,
                "number": row["number"].removeprefix("0") if row["number"].isdigit() else row["number"],
                "outcome": outcome_of[row["outcome"]],
            }
            for row in rows
        ]

    def outcomes(self, send_id: int) -> dict[str, str]:
        return {row["number"]: row["outcome"] for row in self.recipients(send_id)}

    def suppressed(self) -> dict[str, str]:
        """The suppression list (``suppressed --csv``): number → where it came from."""
        rows = csv.DictReader(io.StringIO(self.cli("suppressed", "--csv")))
        return {row["number"].removeprefix("0"): row["source"] for row in rows}

    def batch_states(self) -> dict[str, int]:
        """Batches by state, from /metrics (states with none left out)."""
        return {
            key[len('mms_batches{state="') : -2]: int(value)
            for key, value in self.metrics().items()
            if key.startswith("mms_batches{") and value
        }

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    # -- requests as Slack sends them ------------------------------------------------------------

    def post(self, body: bytes, headers: dict | None = None) -> httpx.Response:
        return self.http.post(
            self.url + "/slack/events", content=body, headers=headers if headers is not None else sign(body)
        )

    def command(self, text: str = "", user: str = ADMIN, channel: str = "C1", **overrides) -> httpx.Response:
        body = urlencode(
            {
                "token": "legacy",
                "team_id": "T1",
                "team_domain": "test",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/mms",
                "text": text,
                "api_app_id": "A1",
                "response_url": f"{self.slack.server.base_url}/respond/cmd",
                "trigger_id": "1337.42.abcd",
            }
        ).encode()
        return self.post(body, overrides.get("headers"))

    def submit(self, values: dict, user: str = ADMIN, channel: str = "C1", view_id: str = "V1") -> httpx.Response:
        """Submit the form, as Slack does; a view the bot pushes in answer becomes real in the fake Slack."""
        response = self.post(
            urlencode({"payload": json.dumps(view_submission(values, user, channel, view_id))}).encode()
        )
        if response.status_code == 200:
            pushed = self.slack.took_response(response.content, view_id)
            if pushed:
                self.pushed[view_id] = pushed
        return response

    def review(self, view_id: str = "V1", timeout: float = 20) -> dict:
        """Wait until the "Checking…" view pushed over form ``view_id`` is replaced by the review or the problems."""
        pushed = self.pushed[view_id]

        def settled():
            view = self.slack.views.get(pushed) or {}
            return view if view.get("submit") or view.get("callback_id") == "mms_problems" else None

        return wait_for(settled, timeout=timeout)

    def confirm(self, review: dict, user: str = ADMIN) -> httpx.Response:
        """Press the review's submit button."""
        assert review["callback_id"] == "mms_review" and review.get("submit"), review
        payload = view_submission({}, user, "", review["id"])
        payload["view"].update(
            {
                "callback_id": "mms_review",
                "private_metadata": review["private_metadata"],
                "external_id": review.get("external_id", ""),
                "previous_view_id": "V1",
            }
        )
        response = self.post(urlencode({"payload": json.dumps(payload)}).encode())
        if response.status_code == 200:
            self.slack.took_response(response.content, review["id"])
        return response

    def send(self, values: dict, user: str = ADMIN, channel: str = "C1", view_id: str = "V1") -> dict:
        """The whole path a person takes: fill the form, wait for the review, confirm it."""
        response = self.submit(values, user, channel, view_id)
        assert response.status_code == 200 and response.json().get("response_action") == "push", response.content[:500]
        review = self.review(view_id)
        answer = self.confirm(review, user)
        assert answer.status_code == 200 and answer.json() == {"response_action": "clear"}, answer.content[:500]
        return review

    def click(self, blocks: list[dict], action_id: str, user: str = ADMIN, channel: str = "C1") -> httpx.Response:
        """Press the button with ``action_id`` in a message's blocks, as Slack sends the click."""
        payload = block_action(self.slack, blocks, action_id, user, channel)
        return self.post(urlencode({"payload": json.dumps(payload)}).encode())

    def event(self, body: dict) -> httpx.Response:
        """An Events API delivery (``event_callback``), signed as Slack signs it."""
        raw = json.dumps(body).encode()
        return self.post(raw, {**sign(raw), "Content-Type": "application/json"})

    def open_home(self, user: str = ADMIN) -> dict:
        """Open the App Home, as Slack tells the bot (an app_home_opened event); the Home it publishes."""
        event = {
            "token": "legacy",
            "team_id": "T1",
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": {
                "type": "app_home_opened",
                "user": user,
                "channel": "D1",
                "tab": "home",
                "event_ts": f"{time.time():.6f}",
            },
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": "T1",
                    "user_id": "UBOT",
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        before = len(self.slack.accepted("views.publish"))
        body = json.dumps(event).encode()
        assert self.post(body, headers={**sign(body), "Content-Type": "application/json"}).status_code == 200
        return wait_for(lambda: self.slack.accepted("views.publish")[before:])[-1].params["view"]

    def click_resend(self, send_id: int, user: str = ADMIN) -> httpx.Response:
        payload = {
            "type": "block_actions",
            "team": {"id": "T1"},
            "user": {"id": user},
            "api_app_id": "A1",
            "trigger_id": "1.2.3",
            "container": {"type": "message", "channel_id": "C1"},
            "channel": {"id": "C1"},
            "response_url": f"{self.slack.server.base_url}/respond/action",
            "actions": [
                {
                    "type": "button",
                    "action_id": "mms_resend_failed",
                    "block_id": "resend",
                    "value": str(send_id),
                    "action_ts": "1.0",
                }
            ],
        }
        return self.post(urlencode({"payload": json.dumps(payload)}).encode())


def form(
    message="Hello from the test", sender=None, gif=None, contacts=None, media=None, contacts_file=None, send_at=None
) -> dict:
    """state.values of the modal, shaped as Slack sends them in a view_submission (``send_at``: epoch seconds,
    as the datetime picker gives them, or None for a picker left empty)."""

    def text(value):
        return {"value": {"type": "plain_text_input", "value": value}}

    return {
        "send_at": {
            "send_at": {"type": "datetimepicker", "selected_date_time": None if send_at is None else int(send_at)}
        },
        "sender": text(sender),
        "message": text(message),
        "gif": {"value": {"type": "url_text_input", "value": gif}},
        "contacts": text(contacts),
        "media": {"value": {"type": "file_input", "files": [media] if media else []}},
        "contacts_file": {"value": {"type": "file_input", "files": [contacts_file] if contacts_file else []}},
    }


def view_submission(values: dict, user: str, channel: str, view_id: str) -> dict:
    return {
        "type": "view_submission",
        "team": {"id": "T1", "domain": "test"},
        "user": {"id": user, "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "view": {
            "id": view_id,
            "team_id": "T1",
            "type": "modal",
            "callback_id": "mms_send",
            "hash": "1.abc",
            "private_metadata": json.dumps({"channel_id": channel}),
            "title": {"type": "plain_text", "text": "Send MMS"},
            "blocks": [],
            "state": {"values": values},
        },
    }


def block_action(slack, blocks: list[dict], action_id: str, user: str = ADMIN, channel: str = "C1") -> dict:
    """The ``block_actions`` payload of pressing the button with ``action_id`` in a message's blocks."""
    button = next(
        e for b in blocks if b.get("type") == "actions" for e in b["elements"] if e.get("action_id") == action_id
    )
    block = next(b for b in blocks if b.get("type") == "actions" and button in b["elements"])
    payload = {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "test"},
        "user": {"id": user, "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "is_enterprise_install": False,
        "enterprise": None,
        "container": {
            "type": "message",
            "message_ts": "1700000000.000001",
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "channel": {"id": channel, "name": "general"},
        "response_url": f"{slack.server.base_url}/respond/action",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block.get("block_id", ""),
                "value": button.get("value", ""),
                "text": button["text"],
                "action_ts": "1.0",
            }
        ],
    }
    return payload
