"""The bot's HTTP server on PORT, in both run modes.

- ``POST /slack/events``: Slack's requests, through Bolt's WSGI adapter (HTTP mode only);
- ``POST /cellcast/webhook/<secret>``: Cellcast's webhooks, when ``CELLCAST_WEBHOOK_SECRET`` is set;
- ``GET /healthz`` and ``GET /metrics``.
Request bodies over ``MAX_BODY_BYTES`` are refused with 413 by waitress before they are read.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
WEBHOOK_PREFIX = "/cellcast/webhook/"
MAX_BODY_BYTES = 1_048_576  # Slack's payloads and Cellcast's webhooks are a few KB


def _answer(start_response, status: str, body: bytes, content_type: str = "text/plain; charset=utf-8"):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def wsgi_app(
    app: App | None,
    *,
    health: Callable[[], tuple[bool, str]],
    metrics: Callable[[], tuple[bytes, str]],
    webhook: Callable[[object], bool] | None = None,
    webhook_secret: str | None = None,
):
    slack = SlackRequestHandler(app, path=EVENTS_PATH) if app is not None else None

    def application(environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/healthz" and method in ("GET", "HEAD"):
            ok, reason = health()
            return _answer(start_response, "200 OK" if ok else "503 Service Unavailable", (reason + "\n").encode())
        if path == "/metrics" and method == "GET":
            body, content_type = metrics()
            return _answer(start_response, "200 OK", body, content_type)
        if path.startswith(WEBHOOK_PREFIX) and webhook is not None and webhook_secret:
            return _webhook(environ, start_response, path[len(WEBHOOK_PREFIX) :], webhook, webhook_secret)
        if path == EVENTS_PATH and slack is not None:
            return _slack(environ, start_response, slack)
        return _answer(start_response, "404 Not Found", b"not found\n")

    return application


def _slack(environ, start_response, slack):
    """Bolt's adapter, behind two checks it lacks: a timestamp that is not a number is refused as an
    unsigned request (401), and a body Bolt cannot parse or route (not UTF-8, JSON nested thousands
    deep, a view without its type) is a 400, not a 500. Listeners' own errors never get here: the
    error handler (bot/slack/errors.py) answers those."""
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return _answer(start_response, "401 Unauthorized", b"invalid request\n")
    try:
        return slack(environ, start_response)
    except Exception as exc:  # UnicodeDecodeError, RecursionError, KeyError from a body not in Slack's shapes
        log.warning("refused a Slack request Bolt could not parse or route: %s", type(exc).__name__)
        return _answer(start_response, "400 Bad Request", b"invalid request\n")


def _webhook(environ, start_response, secret: str, webhook: Callable[[object], bool], expected: str):
    """Cellcast signs nothing: the secret path is the protection. Anything else is a 404, recorded nowhere."""
    if environ.get("REQUEST_METHOD") != "POST" or not hmac.compare_digest(secret.encode(), expected.encode()):
        return _answer(start_response, "404 Not Found", b"not found\n")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = json.loads(environ["wsgi.input"].read(min(length, MAX_BODY_BYTES)) or b"null")
    except (ValueError, RecursionError, OSError):  # not JSON, not UTF-8, or nested past the parser's depth
        return _answer(start_response, "404 Not Found", b"not found\n")
    try:
        taken = webhook(payload)
    except Exception:  # the store refused the write (a full disk): Cellcast is asked to come back
        log.exception("a webhook could not be recorded; answering 503 so that Cellcast tries again")
        return _answer(start_response, "503 Service Unavailable", b"try again later\n")
    if not taken:
        return _answer(start_response, "404 Not Found", b"not found\n")
    return _answer(start_response, "200 OK", b"ok\n")


def create_server(application, host: str, port: int):
    """Bound now (so that a port in use is found before anything starts); ``run()`` serves."""
    from waitress.server import create_server as waitress_server

    return waitress_server(
        application,
        host=host,
        port=port,
        threads=16,
        ident="mms-bot",
        clear_untrusted_proxy_headers=True,
        max_request_body_size=MAX_BODY_BYTES,
    )
