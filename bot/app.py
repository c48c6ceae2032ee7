"""Builds the Bolt app and everything it needs, from settings."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.cellcast import CellcastClient
from bot.config import Settings
from bot.sending.contact_files import FileLimits
from bot.sending.dispatch import Dispatcher
from bot.sending.dry_run import DryRunGateway
from bot.sending.permissions import Permissions
from bot.sending.review import read_balance
from bot.sending.throttle import RateLimiter
from bot.slack import actions, commands, review
from bot.slack.files import SlackFileFetcher
from bot.slack.reporter import SlackReporter
from bot.store import Store


@dataclass
class Services:
    """What the listeners need, handed to them in Bolt's context (``context["services"]``)."""

    settings: Settings
    store: Store
    permissions: Permissions
    dispatcher: Dispatcher
    checker: review.ReviewChecker
    gateway: CellcastClient | DryRunGateway


@dataclass
class Bot:
    app: App
    services: Services

    @property
    def dispatcher(self) -> Dispatcher:
        return self.services.dispatcher

    def close(self) -> None:
        self.services.checker.shutdown()
        self.services.dispatcher.shutdown(wait=True)
        self.services.gateway.close()


def build(settings: Settings) -> Bot:
    client = WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1), RateLimitErrorRetryHandler(max_retry_count=5)],
    )
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or "unused-in-socket-mode",
        # Bolt's own thread pool only runs listeners; checks and sends run on their own pools.
        process_before_response=False,
    )
    store = Store(settings.database_path)
    permissions = Permissions(store, settings.admins)
    if settings.dry_run:
        gateway = DryRunGateway()
    else:
        gateway = CellcastClient(settings.cellcast_api_key, settings.cellcast_api_url, settings.cellcast_timeout)
    dispatcher = Dispatcher(
        store, gateway, SlackReporter(client, store), RateLimiter(settings.cellcast_calls_per_second),
        max_in_flight=settings.cellcast_max_in_flight,
    )
    checker = review.ReviewChecker(
        client, store, SlackFileFetcher(settings.slack_bot_token, settings.slack_api_url),
        checks={
            "file_limits": FileLimits(settings.contacts_max_bytes, settings.contacts_max_rows),
            "suppressed": lambda numbers: {},
            "balance": lambda: read_balance(gateway, settings.dry_run),
            "credits_per_mms": settings.credits_per_mms,
            "dry_run": settings.dry_run,
        },
    )
    services = Services(settings, store, permissions, dispatcher, checker, gateway)

    @app.use
    def provide_services(context, next):  # noqa: A002 - Bolt's name for it
        context["services"] = services
        next()

    commands.register(app)
    review.register(app)
    actions.register(app)
    return Bot(app, services)
