"""Delivers what Slack must be told, from the store, until Slack accepts it.

What people must see becomes *due* in the store when it becomes true (kinds and keys:
bot/sending/reports.py). The reporter claims due reports (one send at a time, with this process's id
and a lease) and delivers them in order, each by its kind's handler (``handlers.py``), through one
policy of fallbacks (``fallbacks.py``: DM, a new message, no images, plain text), Slack's upload
(``uploads.py``), and Slack's answers sorted (``calls.py``). Sending never waits for any of this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient

from bot.sending.reports import Report
from bot.slack.reporting.calls import AuthFailed, Later, SlackCalls, backoff
from bot.slack.reporting.handlers import Handlers
from bot.slack.reporting.uploads import Uploads
from bot.workers import Workers

log = logging.getLogger(__name__)

__all__ = ["SlackReporter"]


class SlackReporter:
    def __init__(
        self,
        client: WebClient,
        store,
        instance_id: str,
        *,
        workers: int = 2,
        lease: float = 60.0,
        poll: float = 0.5,
        on_delivered: Callable[[str], None] = lambda kind: None,
        on_error: Callable[[str, str], None] = lambda method, error: None,
        approvals_channel: str | None = None,
        approvers: frozenset[str] = frozenset(),
    ) -> None:
        self._store = store
        self._owner = instance_id
        self._lease = lease
        self._on_delivered = on_delivered
        calls = SlackCalls(client, on_error)
        self._uploads = Uploads(calls)
        self._handlers = Handlers(calls, store, self._uploads, approvals_channel=approvals_channel, approvers=approvers)
        self._workers = Workers("report", self._round, count=workers, idle=poll)
        self._auth_failure: str | None = None

    @property
    def auth_failure(self) -> str | None:
        """Slack's error when it refused the bot token: reports wait for a restart with a working one."""
        return self._auth_failure

    def start(self) -> None:
        self._workers.start()

    def wake(self) -> None:
        self._workers.wake()

    def stop(self, grace: float) -> None:
        self._workers.stop(grace)
        self._uploads.close()

    def _round(self) -> bool:
        if self._auth_failure:
            self._workers.pause(5.0)
            return False
        reports = self._store.claim_reports(self._owner, self._lease)
        if not reports:
            return False
        self._deliver_all(reports)
        return True

    def _deliver_all(self, reports: list[Report]) -> None:
        """In order (post, image, progress, summary, csv, notices): a later one needs the earlier ones."""
        for index, report in enumerate(reports):
            try:
                self._handlers.deliver(report)
            except Later as later:
                delay = later.delay(report.attempts)
                log.info(
                    "report %s of send %s not delivered yet (%s); again in %.0f s",
                    report.kind,
                    report.send_id,
                    later.error,
                    delay,
                )
                self._retry(reports[index:], delay, later.error)
                return
            except AuthFailed as exc:
                self._auth_failure = str(exc)
                log.error(
                    "Slack refused the bot token (%s): check SLACK_BOT_TOKEN (reinstall the app if it was "
                    "revoked) and restart; the bot's reports wait until then",
                    exc,
                )
                self._retry(reports[index:], 0.0, str(exc))
                return
            except Exception as exc:
                log.exception("report %s of send %s failed", report.kind, report.send_id)
                self._store.report_retry(report.id, backoff(report.attempts), f"{type(exc).__name__}: {exc}")
                self._retry(reports[index + 1 :], backoff(report.attempts), "waiting for an earlier report")
                return
            if not self._store.report_done(report):
                log.info(
                    "report %s of send %s changed while it was delivered; delivering it again",
                    report.kind,
                    report.send_id,
                )
            self._on_delivered(report.kind)

    def _retry(self, reports: list[Report], delay: float, why: str) -> None:
        for report in reports:
            self._store.report_retry(report.id, delay, why)
