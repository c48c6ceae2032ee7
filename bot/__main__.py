"""Entry point: `python -m bot` (or `mms-bot`). Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP.

In both modes an HTTP server on PORT answers /healthz and /metrics and takes Cellcast's webhooks;
in HTTP mode it also takes Slack's requests at /slack/events.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from dotenv import load_dotenv

from bot.config import ConfigError, Settings
from bot.logs import configure_logging

log = logging.getLogger("bot")


class Stop(KeyboardInterrupt):
    """SIGTERM (docker stop) or Ctrl-C: stop claiming, let calls on the wire finish, exit 0.

    A KeyboardInterrupt, so that waitress's own loop shuts its workers down and returns."""


def _stop(signum, frame) -> None:
    raise Stop


def main() -> int:
    load_dotenv(Path.cwd() / ".env")  # the working directory's .env; real environment variables win
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        print(f"mms-bot: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.secrets)

    from bot.app import build  # after logging, so that start-up problems are logged masked
    from bot.web import EVENTS_PATH, create_server, wsgi_app

    bot = build(settings)
    services = bot.services
    application = wsgi_app(
        None if settings.socket_mode else bot.app, health=bot.health, metrics=services.metrics.render,
        webhook=services.sync.take_webhook, webhook_secret=settings.webhook_secret,
    )
    server = create_server(application, settings.host, settings.port)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    socket_mode = None
    try:
        bot.start()
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            socket_mode = SocketModeHandler(bot.app, settings.slack_app_token)
            services.socket_mode_connected = lambda: socket_mode.client.is_connected()
            socket_mode.connect()
            log.info("connected in Socket Mode; health and metrics on http://%s:%d", settings.host, settings.port)
        else:
            log.info("listening on http://%s:%d%s", settings.host, settings.port, EVENTS_PATH)
        if settings.webhook_secret:
            log.info("taking Cellcast's webhooks at /cellcast/webhook/<CELLCAST_WEBHOOK_SECRET>")
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        log.info("stopping: no new batches; calls on the wire get %.0f s to finish", settings.shutdown_grace)
        if socket_mode is not None:
            socket_mode.close()
        server.close()
        bot.close()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
