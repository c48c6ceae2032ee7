"""Builds the Bolt app and everything it needs, from settings, and stops it cleanly."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.error import URLError

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.cellcast import CellcastClient, parse_webhook
from bot.config import Settings
from bot.metrics import Metrics
from bot.periodic import Periodic
from bot.sending.contact_files import FileLimits
from bot.sending.dispatch import Dispatcher
from bot.sending.dry_run import DryRunGateway
from bot.sending.gateway import NotSent
from bot.sending.guardrails import Assessment, Guardrails
from bot.sending.permissions import Permissions
from bot.sending.review import read_balance
from bot.sending.schedule import DueSends, zone
from bot.sending.sync import CellcastSync
from bot.sending.throttle import RateLimiter
from bot.slack import actions, answers, approvals, commands, errors, home, review, steps, templates
from bot.slack.files import SlackFileFetcher
from bot.slack.reporting import SlackReporter
from bot.store import Store
from bot.store.clock import iso

log = logging.getLogger(__name__)

REPORTS_FAILING_FOR = 300.0  # seconds a report may keep failing before the health check says so


@dataclass
class Services:
    """What the listeners need, handed to them in Bolt's context (``context["services"]``)."""

    settings: Settings
    store: Store
    permissions: Permissions
    dispatcher: Dispatcher
    checker: review.ReviewChecker
    gateway: CellcastClient | DryRunGateway
    reporter: SlackReporter
    limiter: RateLimiter
    periodic: Periodic
    leases: Periodic
    schedule: Periodic
    sync: CellcastSync
    metrics: Metrics
    answers: answers.AnswerImages
    steps: steps.StepChecker
    stopping: threading.Event = field(default_factory=threading.Event)
    socket_mode_connected: Callable[[], bool] | None = None  # set in Socket Mode
    allowance: Callable[[str, int], Assessment] = lambda user, count: Assessment()  # approval / daily limit


@dataclass
class Bot:
    app: App
    services: Services

    @property
    def dispatcher(self) -> Dispatcher:
        return self.services.dispatcher

    def start(self) -> None:
        """Resume: pending batches go out, reports due are delivered, dead owners' batches settle."""
        services = self.services
        started = time.monotonic()
        listed = services.store.load_suppressions()  # now, so that the first review is as quick as the next
        log.info("suppression list loaded: %d numbers in %.1f s", listed, time.monotonic() - started)
        services.dispatcher.start()
        services.reporter.start()
        services.leases.start()
        services.schedule.start()
        services.periodic.start()

    def take_webhook(self, payload: object) -> bool:
        """Cellcast's webhook body, parsed by the client; False for anything not in its documented shapes."""
        return self.services.sync.take_pushed(parse_webhook(payload))

    def health(self) -> tuple[bool, str]:
        """503 with the reason when the bot cannot do its job: a person (or Docker) should look."""
        services = self.services
        try:
            services.store.check_writable()
        except Exception as exc:  # StoreError, or anything else the database throws
            return False, f"database: {exc}"
        if services.socket_mode_connected is not None and not services.socket_mode_connected():
            return False, "Socket Mode: not connected to Slack"
        if services.reporter.auth_failure:
            return False, f"Slack refused the bot token ({services.reporter.auth_failure}): check SLACK_BOT_TOKEN"
        failing_since = services.store.oldest_failing_report()
        if failing_since is not None and time.time() - failing_since > REPORTS_FAILING_FOR:
            minutes = round((time.time() - failing_since) / 60)
            return False, f"reports to Slack have been failing for {minutes} minutes"
        return True, "ok"

    def close(self) -> None:
        """Stop claiming, give calls on the wire the grace period, then let go of this process's claims."""
        services = self.services
        services.stopping.set()
        started = time.monotonic()
        services.checker.shutdown()
        services.steps.shutdown()
        services.schedule.stop()  # first: no scheduled send starts while the dispatcher stops
        services.dispatcher.stop(services.settings.shutdown_grace)
        services.reporter.stop(max(0.0, services.settings.shutdown_grace - (time.monotonic() - started)))
        services.periodic.stop()
        services.leases.stop()
        services.store.retire_instance(services.dispatcher.instance_id)
        services.gateway.close()


def _not_token_unused(record: logging.LogRecord) -> bool:
    """Bolt warns that SLACK_BOT_TOKEN (from the environment) is unused because a client is given: it is
    the client's token, so the line only misleads."""
    return "token` will be unused" not in record.getMessage()


class StartupError(RuntimeError):
    """A setting that keeps the bot from working; the message names it and says what to do."""


def check_slack(settings: Settings, attempts: int = 3) -> dict:
    """auth.test before anything else: a refused or mistyped token, or no way to Slack, stops the start."""
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=10, retry_handlers=[])
    problem = ""
    for attempt in range(attempts):
        try:
            return client.auth_test().data
        except SlackApiError as exc:
            error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
            if exc.response.status_code < 500 and error not in ("ratelimited", "internal_error", "service_unavailable"):
                raise StartupError(
                    f"Slack refused SLACK_BOT_TOKEN ({error}): copy the Bot User OAuth Token (xoxb-…) again from "
                    "OAuth & Permissions, and reinstall the app if it was revoked"
                ) from None
            problem = error
        except (URLError, OSError, TimeoutError) as exc:
            problem = getattr(exc, "reason", None) or type(exc).__name__
        if attempt + 1 < attempts:
            time.sleep(min(2**attempt, 4))
    raise StartupError(
        f"cannot reach Slack at SLACK_API_URL ({settings.slack_api_url}): {problem}; check the network, "
        "a proxy (HTTPS_PROXY) or SLACK_API_URL"
    )


def build(settings: Settings) -> Bot:
    client = WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1), RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    # The reporter decides itself when to try again (it never sleeps on one channel's 429).
    report_client = WebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=15, retry_handlers=[]
    )
    logging.getLogger("slack_bolt.App").addFilter(_not_token_unused)
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or "unused-in-socket-mode",
        # Bolt's own thread pool only runs listeners; checks, sends and reports run on their own threads.
        process_before_response=False,
    )
    store = Store(settings.database_url, pool_size=settings.database_pool_size)
    store.check_writable()
    instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    store.register_instance(instance_id, os.getpid(), socket.gethostname())
    permissions = Permissions(store, settings.admins)
    stopping = threading.Event()
    limiter = RateLimiter(settings.cellcast_calls_per_second, shared=store)  # the account's rate, with every process

    metrics = Metrics(store)

    def take_slot(kind: str) -> None:
        if not limiter.acquire(kind):
            raise NotSent("the bot is stopping")

    def observe(kind: str, seconds: float, result: str) -> None:
        metrics.gateway_seconds.labels(kind).observe(seconds)
        if result != "ok":
            metrics.gateway_errors.labels(result).inc()

    if settings.dry_run:
        gateway = DryRunGateway()
    else:
        gateway = CellcastClient(
            settings.cellcast_api_key,
            settings.cellcast_api_url,
            settings.cellcast_timeout,
            sleep=stopping.wait,
            before_request=take_slot,
            observe=observe,
        )
    guardrails = Guardrails(settings.approval_above, settings.daily_limit, settings.daily_limit_admins, settings.zone)

    def allowance(user: str, count: int) -> Assessment:
        """Whether a send of ``count`` numbers by ``user`` needs approval, or is over their daily limit."""
        used = 0
        if settings.daily_limit is not None:
            used = store.numbers_recorded_since(user, iso(guardrails.day_start(time.time())))
        return guardrails.assess(count, used, permissions.is_admin(user))

    reporter = SlackReporter(
        report_client,
        store,
        instance_id,
        approvals_channel=settings.approvals_channel,
        approvers=settings.approvers_or_admins,
        lease=settings.lease_seconds,
        on_delivered=lambda kind: metrics.reports_delivered.labels(kind).inc(),
        on_error=lambda method, error: metrics.slack_errors.labels(method, error).inc(),
    )
    sync = CellcastSync(
        store,
        gateway,
        owner=instance_id,
        every=settings.sync_seconds,
        on_report_due=reporter.wake,
        replies_channel=settings.replies_channel,
        delivery_hours=settings.delivery_hours,
    )
    dispatcher = Dispatcher(
        store,
        gateway,
        limiter,
        instance_id=instance_id,
        stopping=stopping,
        max_in_flight=settings.cellcast_max_in_flight,
        resume_within=settings.resume_within,
        on_report_due=reporter.wake,
        lease=settings.lease_seconds,
    )
    checker = review.ReviewChecker(
        client,
        store,
        SlackFileFetcher(settings.slack_bot_token, settings.slack_api_url),
        checks={
            "file_limits": FileLimits(settings.contacts_max_bytes, settings.contacts_max_rows),
            "suppressed": store.suppressed_among,
            "balance": lambda: read_balance(gateway, settings.dry_run),
            "credits_per_mms": settings.credits_per_mms,
            "dry_run": settings.dry_run,
            "optouts": lambda: sync.refresh_if_stale(3.0).describe(time.time(), settings.sync_seconds),
            "quiet": settings.quiet,
            "clock": time.time,
            "calls_per_second": settings.cellcast_calls_per_second,
            "allowance": allowance,
        },
        timezone=settings.zone,
        owner=instance_id,
        lease=settings.lease_seconds,
        check_seconds=settings.check_seconds,
        files_at_once=settings.files_at_once,
        stopping=stopping,
        on_report_due=reporter.wake,
    )
    step_checker = steps.StepChecker(
        checker,
        store,
        review_hours=settings.step_review_hours,
        optout_text=settings.optout_text,
        check_seconds=settings.check_seconds,
        stopping=stopping,
        on_report_due=reporter.wake,
    )
    # Leases on a thread of their own: a slow Cellcast read or a long sweep never delays a renewal.
    leases = Periodic("leases")
    leases.every(2.0, "lease renewal", dispatcher.renew_leases)
    leases.every(2.0, "settling abandoned batches", dispatcher.settle_abandoned)
    leases.every(2.0, "checks in progress: lease renewal", checker.renew)
    leases.every(2.0, "checks a stopped process left", checker.resume)
    leases.every(2.0, "Workflow Builder step checks: lease renewal", step_checker.renew)
    leases.every(2.0, "Workflow Builder step checks a stopped process left", step_checker.resume)

    def scheduled_started() -> None:
        dispatcher.wake()
        reporter.wake()

    due = DueSends(
        store,
        can_send=permissions.can_send,
        balance=lambda: read_balance(gateway, settings.dry_run),
        credits_per_mms=settings.credits_per_mms,
        resume_within=settings.resume_within,
        clock=time.time,
        zone_of=lambda send: zone(send.schedule_tz, settings.zone),
        on_started=scheduled_started,
    )
    # Its own thread: a balance read at a send's time never delays a lease renewal, nor the sync this.
    schedule = Periodic("schedule")
    schedule.every(0.5, "starting scheduled sends that are due", due.run)
    periodic = Periodic()
    periodic.every(60.0, "deleting old drafts", lambda: review.expire_drafts(store))
    periodic.every(5.0, "database checkpoint", store.checkpoint)
    periodic.every(5.0, "expiring approval requests nobody decided", lambda: approvals.expire(store))
    periodic.every(
        5.0,
        "cancelling Workflow Builder step reviews nobody decided",
        lambda: steps.expire(store, settings.step_review_hours, reporter.wake),
    )

    def retention() -> None:
        purged = store.purge_older_than(settings.retention_days, wait=stopping.wait)
        if purged:
            log.info(
                "retention: deleted the images and per-number details of %d send(s) older than %d days",
                purged,
                settings.retention_days,
            )

    periodic.every(86400.0, "retention sweep", retention, first_in=60.0)
    if not settings.dry_run:

        def sync_round() -> None:
            sync.run()
            metrics.sync_rounds.inc()

        periodic.every(settings.sync_seconds, "Cellcast sync (opt-outs, replies, delivery reports)", sync_round)
    services = Services(
        settings,
        store,
        permissions,
        dispatcher,
        checker,
        gateway,
        reporter,
        limiter,
        periodic,
        leases,
        schedule,
        sync,
        metrics,
        answers.AnswerImages(
            checker,
            dispatcher,
            store,
            check_seconds=settings.check_seconds,
            stopping=stopping,
            on_report_due=reporter.wake,
        ),
        step_checker,
        stopping,
        allowance=allowance,
    )

    @app.use
    def provide_services(context, next):  # noqa: A002 - Bolt's name for it
        context["services"] = services
        next()

    commands.register(app)
    review.register(app)
    actions.register(app)
    home.register(app)
    answers.register(app)
    templates.register(app)
    approvals.register(app)
    steps.register(app)
    errors.register(app)
    return Bot(app, services)
