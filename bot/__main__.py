"""Entry point: `python -m bot` (or `mms-bot`). Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP.

In both modes an HTTP server on PORT answers /healthz and /metrics and takes Cellcast's webhooks;
in HTTP mode it also takes Slack's requests at /slack/events.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

from dotenv import load_dotenv
from slack_sdk.errors import SlackApiError

from bot.config import ConfigError, Settings
from bot.logs import configure_logging

log = logging.getLogger("bot")


class Stop(KeyboardInterrupt):
    """SIGTERM (docker stop) or Ctrl-C: stop claiming, let calls on the wire finish, exit 0.

    A KeyboardInterrupt, so that waitress's own loop shuts its workers down and returns."""


def _stop(signum, frame) -> None:
    raise Stop


def socket_mode_alive(client) -> bool:
    """Connected, and Slack answered a ping lately: a socket can stay open after Slack has gone."""
    session = client.current_session
    if session is None or not session.is_active():
        return False
    heard = session.last_ping_pong_time or getattr(session, "_first_ping_time", None)
    return heard is None or time.time() - heard < 3 * client.ping_interval


@contextmanager
def quiet(*prefixes: str):
    """Libraries' log lines dropped for a moment (at the handlers, so loggers made meanwhile are covered
    too): a start-up problem is told in one line of ours."""

    def ours(record: logging.LogRecord) -> bool:
        return not any(record.name == p or record.name.startswith(p + ".") for p in prefixes)

    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(ours)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(ours)


def _fail(message: str) -> int:
    """One line, naming the setting and what to do; exit status 2; nothing was resumed or sent."""
    print(f"mms-bot: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """``mms-bot`` (or ``mms-bot run``) runs the bot; the other commands are the operator's."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "copy-database":
        return copy_database(args.source, args.target)
    if args.command not in (None, "run"):
        from bot.cli import run_command

        load_dotenv(Path.cwd() / ".env")
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        return run_command(args)
    return run()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mms-bot", description="Send MMS from Slack through Cellcast.")
    parser.add_argument("--version", action="version", version=f"mms-bot {version('mms-bot')}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "run",
        help="run the bot (the default): settings from the environment and ./.env",
        description="Run the bot. Settings come from the environment and ./.env (see the README).",
    )
    copy = commands.add_parser(
        "copy-database",
        help="copy everything into a new, empty database (SQLite → PostgreSQL)",
        description="Copy the allowlist, suppression list with its audit, sends, batches, every "
        "number's outcome, reports due and replies into an empty database, in one "
        "transaction. Stop the bot first. Refuses a target that holds anything.",
    )
    copy.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="sqlite:///mms-bot.db (or a postgresql:// URL)"
    )
    copy.add_argument(
        "--to", dest="target", required=True, metavar="URL", help="postgresql://user:password@host:5432/database"
    )
    from bot.cli import add_commands

    add_commands(commands)
    return parser


def copy_database(source_url: str, target_url: str) -> int:
    from bot.store import Store, StoreError, database_url
    from bot.store.copy import TargetNotEmpty
    from bot.store.copy import copy_database as copy

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    source_url = database_url(source_url)
    if source_url.startswith("sqlite:///") and not Path(source_url[len("sqlite:///") :]).is_file():
        return _fail(f"--from: there is no SQLite file at {source_url[len('sqlite:///') :]!r}")
    try:
        source, target = Store(source_url), Store(target_url)
    except StoreError as exc:
        return _fail(str(exc))
    try:
        copied = copy(source, target, progress=lambda table, n: print(f"{table}: {n:,} rows", flush=True))
    except TargetNotEmpty as exc:
        return _fail(str(exc))
    finally:
        source.close()
        target.close()
    print(f"copied {sum(copied.values()):,} rows; point DATABASE_URL at the new database and start the bot")
    return 0


def run() -> int:
    load_dotenv(Path.cwd() / ".env")  # the working directory's .env; real environment variables win
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        return _fail(str(exc))
    configure_logging(settings.log_level, settings.secrets)

    from bot.app import StartupError, build, check_slack  # after logging, so that start-up problems are logged masked
    from bot.store import StoreError
    from bot.web import EVENTS_PATH, create_server, wsgi_app

    try:
        with quiet("slack_sdk", "slack_bolt"):  # the library's own error lines would come before ours
            who = check_slack(settings)
    except StartupError as exc:
        return _fail(str(exc))
    log.info("Slack: signed in as %s in %s", who.get("user"), who.get("team"))
    if not settings.admins:
        log.warning(
            "MMS_ADMINS is empty: nobody can allow people to send, or manage the suppression list. "
            "Set it to your member id (profile → ⋮ → Copy member ID) and restart."
        )
    try:
        bot = build(settings)
    except StoreError as exc:
        if settings.database_url.startswith("sqlite:"):
            return _fail(
                f"{exc}. The directory must exist and be writable by this user (uid {os.getuid()}); "
                "in Docker, mount a volume owned by uid 10001 at /data"
            )
        return _fail(f"{exc}. Check that the server is up, and the user, password and database in DATABASE_URL")
    services = bot.services
    application = wsgi_app(
        None if settings.socket_mode else bot.app,
        health=bot.health,
        metrics=services.metrics.render,
        webhook=bot.take_webhook,
        webhook_secret=settings.webhook_secret,
    )
    try:
        server = create_server(application, settings.host, settings.port)  # bound before anything is resumed
    except ValueError:  # waitress: a host name that does not resolve
        bot.close()
        return _fail(
            f"cannot listen on HOST {settings.host!r}: it is not an address or a name of this machine; "
            "use 0.0.0.0 (every interface) or 127.0.0.1"
        )
    except OSError as exc:
        bot.close()
        return _fail(
            f"cannot listen on {settings.host}:{settings.port} ({exc.strerror or exc}): another program uses PORT "
            f"{settings.port}, or HOST is not an address of this machine; set PORT (and HOST) to free ones"
        )
    socket_mode = None
    if settings.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        socket_mode = SocketModeHandler(bot.app, settings.slack_app_token)
        services.socket_mode_connected = lambda: socket_mode_alive(socket_mode.client)
        try:
            with quiet("slack_sdk", "slack_bolt"):
                socket_mode.connect()
        except SlackApiError as exc:
            server.close()
            bot.close()
            return _fail(
                f"Slack refused SLACK_APP_TOKEN ({exc.response.get('error')}): create an app-level token with "
                "connections:write (Basic Information → App-Level Tokens) and turn Socket Mode on in the app's settings"
            )
        log.info("connected in Socket Mode; health and metrics on http://%s:%d", settings.host, settings.port)
    else:
        log.info("listening on http://%s:%d%s", settings.host, settings.port, EVENTS_PATH)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info(
        "mms-bot %s: %s, %s, %s",
        version("mms-bot"),
        "Socket Mode" if settings.socket_mode else "HTTP mode",
        services.store.engine.description,
        "DRY RUN: nothing is sent to Cellcast" if settings.dry_run else "sending through Cellcast",
    )
    try:
        bot.start()
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
