"""Entry point: `python -m bot` (or `mms-bot`). Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP on PORT."""

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

    bot = build(settings)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        bot.start()
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            log.info("starting in Socket Mode")
            SocketModeHandler(bot.app, settings.slack_app_token).start()
        else:
            from bot.web import EVENTS_PATH, serve

            log.info("listening on http://%s:%d%s", settings.host, settings.port, EVENTS_PATH)
            serve(bot.app, settings.host, settings.port)
    except KeyboardInterrupt:
        pass
    finally:
        log.info("stopping: no new batches; calls on the wire get %.0f s to finish", settings.shutdown_grace)
        bot.close()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
