"""Slack's Web API as the reporter calls it: WebClient's own methods, and Slack's answers sorted into
what the reporter does next.

- 429 (or ``ratelimited``) → ``Later`` after Retry-After; 5xx, timeouts, connection errors → ``Later``
  with backoff (the reporter never sleeps on one channel's limit: the report waits in the store);
- ``invalid_auth``, ``token_revoked``, … → ``AuthFailed`` (reports wait for a restart with a working token);
- anything else → ``Refused`` with Slack's details, for the fallbacks (bot/slack/reporting/fallbacks.py).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

AUTH_ERRORS = {"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired", "no_permission"}
TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
MAX_BACKOFF = 300.0


class Later(Exception):
    """Slack could not take it now: try again after ``retry_after`` seconds (429), else with backoff."""

    def __init__(self, error: str, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.retry_after = retry_after

    def delay(self, attempts: int) -> float:
        wait = self.retry_after if self.retry_after is not None else backoff(attempts)
        return max(wait, 0.5)


class Refused(Exception):
    """Slack refused the call for a reason that a different call may get round."""

    def __init__(self, error: str, details: list[str]) -> None:
        super().__init__(error)
        self.error = error
        self.details = details

    @property
    def about_images(self) -> bool:
        return self.error == "invalid_blocks" and any("image" in d or "slack_file" in d for d in self.details)


class AuthFailed(Exception):
    pass


def backoff(attempts: int) -> float:
    """1, 2, 4 … seconds, at most five minutes, spread a little so that many reports don't retry at once."""
    return min(MAX_BACKOFF, 2.0 ** min(attempts, 9)) * random.uniform(0.8, 1.2)


def _seconds(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 1.0


class SlackCalls:
    """Each call the reporter makes, by WebClient's typed method, with Slack's answer sorted."""

    def __init__(self, client: WebClient, on_error: Callable[[str, str], None] = lambda method, error: None) -> None:
        self.client = client
        self._on_error = on_error
        self._dm_channels: dict[str, str] = {}

    def __call__(self, method: Callable[..., SlackResponse], **kwargs) -> dict:
        name = method.__name__.replace("_", ".", 1)  # chat_postMessage → chat.postMessage
        try:
            return method(**kwargs).data
        except SlackApiError as exc:
            response = exc.response
            error = response.get("error") or f"http_{response.status_code}"
            self._on_error(name, error)
            if response.status_code == 429 or error == "ratelimited":
                raise Later(error, _seconds(response.headers.get("Retry-After"))) from None
            if response.status_code >= 500 or error in TRANSIENT_ERRORS:
                raise Later(error) from None
            if error in AUTH_ERRORS:
                raise AuthFailed(error) from None
            metadata = response.get("response_metadata") or {}
            details = list(response.get("errors") or []) + list(metadata.get("messages") or [])
            raise Refused(error, [str(d) for d in details]) from None
        except (URLError, TimeoutError, ConnectionError, OSError) as exc:
            self._on_error(name, type(exc).__name__)
            raise Later(type(exc).__name__) from None

    def dm(self, user_id: str) -> str:
        """The bot's DM channel with a person (opened once per process)."""
        if user_id not in self._dm_channels:
            opened = self(self.client.conversations_open, users=user_id)
            self._dm_channels[user_id] = opened["channel"]["id"]
        return self._dm_channels[user_id]
