"""The bot in-process: its own WSGI app (Bolt, the listeners, the webhook) over a SQLite file, with the
loopback Slack behind it, and requests signed as Slack signs them. Nothing is started but the app: no
dispatcher, reporter or sync threads (the listener tests look at what the listeners answer and record)."""

import json
from urllib.parse import urlencode

import httpx
import pytest

from bot.app import build
from bot.config import Settings
from bot.web import EVENTS_PATH, wsgi_app
from tests.e2e.harness import ADMIN, CELLCAST_KEY, SIGNING_SECRET, sign
from tests.fakes.cellcast import FakeCellcast
from tests.fakes.slack import BOT_TOKEN, FakeSlack

WEBHOOK_SECRET = "whsec-0123456789abcdefXYZ"


class InProcess:
    def __init__(self, http: httpx.Client, bot, slack: FakeSlack, cellcast: FakeCellcast) -> None:
        self.http, self.bot, self.slack, self.cellcast = http, bot, slack, cellcast
        self.services = bot.services

    def close(self) -> None:
        self.bot.close()
        self.slack.stop()
        self.cellcast.stop()

    def payload(self, payload: dict) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self.http.post(EVENTS_PATH, content=body, headers=sign(body))

    def command(self, text: str, user: str = ADMIN, channel: str = "C1") -> httpx.Response:
        body = urlencode(
            {
                "command": "/mms",
                "text": text,
                "user_id": user,
                "channel_id": channel,
                "team_id": "T1",
                "trigger_id": "1.2.3",
                "response_url": f"{self.slack.server.base_url}/respond/cmd",
            }
        ).encode()
        return self.http.post(EVENTS_PATH, content=body, headers=sign(body))

    def event(self, event: dict) -> httpx.Response:
        body = json.dumps(
            {
                "type": "event_callback",
                "team_id": "T1",
                "api_app_id": "A1",
                "event": event,
                "event_id": "Ev1",
                "event_time": 1700000000,
            }
        ).encode()
        return self.http.post(EVENTS_PATH, content=body, headers={**sign(body), "Content-Type": "application/json"})


def in_process(tmp_path, **env) -> tuple[InProcess, FakeSlack]:
    """The bot's app against a loopback Slack and Cellcast (a review's checks read Cellcast's balance and
    opt-outs: a Cellcast that answers keeps them quick)."""
    slack = FakeSlack().start()
    cellcast = FakeCellcast().start()
    bot = build(
        Settings.from_env(
            {
                "SLACK_BOT_TOKEN": BOT_TOKEN,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.api_url,
                "CELLCAST_API_KEY": CELLCAST_KEY,
                "CELLCAST_API_URL": cellcast.base_url,
                "DATABASE_PATH": str(tmp_path / "bot.db"),
                "MMS_ADMINS": ADMIN,
                "CELLCAST_WEBHOOK_SECRET": WEBHOOK_SECRET,
                **env,
            }
        )
    )
    application = wsgi_app(
        bot.app,
        health=bot.health,
        metrics=bot.services.metrics.render,
        webhook=bot.take_webhook,
        webhook_secret=WEBHOOK_SECRET,
    )
    http = httpx.Client(transport=httpx.WSGITransport(app=application), base_url="http://bot")
    return InProcess(http, bot, slack, cellcast), slack


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    inproc, _ = in_process(tmp_path_factory.mktemp("inproc"))
    yield inproc.http
    inproc.close()


@pytest.fixture
def app(tmp_path):
    inproc, _ = in_process(tmp_path)
    yield inproc
    inproc.close()
