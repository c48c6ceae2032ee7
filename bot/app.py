"""Builds the Bolt app and everything it needs, from settings."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.cellcast import CellcastClient
from bot.config import Settings
from bot.sending.dispatch import Dispatcher
from bot.sending.permissions import Permissions
from bot.sending.throttle import RateLimiter
from bot.slack import commands, submission
from bot.slack.files import SlackFileFetcher
from bot.slack.reporter import SlackReporter
from bot.store import Store


@dataclass
class Bot:
    app: App
    store: Store
    dispatcher: Dispatcher
    gateway: CellcastClient

    def close(self) -> None:
        self.dispatcher.shutdown(wait=True)
        self.gateway.close()


def build(settings: Settings) -> Bot:
    client = WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1), RateLimitErrorRetryHandler(max_retry_count=5)],
    )
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or "unused-in-socket-mode",
        # Bolt's own thread pool only runs listeners; sends run on the dispatcher's pools.
        process_before_response=False,
    )
    store = Store(settings.database_path)
    permissions = Permissions(store, settings.admins)
    gateway = CellcastClient(settings.cellcast_api_key, settings.cellcast_api_url, settings.cellcast_timeout)
    dispatcher = Dispatcher(
        store, gateway, SlackReporter(client, store), RateLimiter(settings.cellcast_calls_per_second),
        max_in_flight=settings.cellcast_max_in_flight,
    )
    commands.register(app, permissions)
    submission.register(app, permissions, dispatcher, SlackFileFetcher(settings.slack_bot_token, settings.slack_api_url))
    return Bot(app, store, dispatcher, gateway)
