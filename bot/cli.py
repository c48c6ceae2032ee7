"""The operator's commands beside ``mms-bot run``: the allowlist, the suppression list, a send's results,
backups, moving databases, and a check of every setting. They read the same settings (environment and
./.env) as the bot; those that only touch the database need only ``DATABASE_URL`` (or ``DATABASE_PATH``).
Every change is audited as made from the console, by the user running the command."""

from __future__ import annotations

import argparse
import getpass
import os
import sqlite3
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, database_url
from bot.sending.contacts import InvalidNumber, normalise
from bot.sending.optouts import SOURCE_ADMIN, UnsuppressRefused, check_unsuppress


def add_commands(commands) -> None:
    """The operator's sub-commands, on the parser ``mms-bot`` builds."""
    allow = commands.add_parser(
        "allow", help="let a Slack member send", description="Let a Slack member (U…) send MMS."
    )
    allow.add_argument("user_id", help="their member id, e.g. U01ABCDEF (profile → ⋮ → Copy member ID)")
    revoke = commands.add_parser(
        "revoke", help="stop a Slack member sending", description="Stop a Slack member sending MMS."
    )
    revoke.add_argument("user_id")
    commands.add_parser(
        "admins", help="who administers (MMS_ADMINS) and who may send", description="List the admins and the allowlist."
    )
    suppress = commands.add_parser(
        "suppress", help="never send to a number again", description="Put a number on the suppression list."
    )
    suppress.add_argument("number")
    suppress.add_argument("--reason", default="", help="why (kept in the audit)")
    unsuppress = commands.add_parser(
        "unsuppress",
        help="take a number off the suppression list",
        description="Take a number off the suppression list; a number that opted out "
        "needs --reason saying how they opted back in.",
    )
    unsuppress.add_argument("number")
    unsuppress.add_argument("--reason", default="", help="why (required when the number opted out)")
    suppressed = commands.add_parser(
        "suppressed",
        help="the suppression list",
        description="How many numbers are suppressed, the latest ones, or all as CSV.",
    )
    suppressed.add_argument("--csv", action="store_true", help="every entry as CSV on standard output")
    export = commands.add_parser(
        "export",
        help="a send's results CSV on standard output",
        description="Every entry of one send and what happened to it, as CSV.",
    )
    export.add_argument("send_id", type=int)
    backup = commands.add_parser(
        "backup",
        help="an online backup of the SQLite database",
        description="SQLite's online backup, safe while the bot runs.",
    )
    backup.add_argument("path", help="the backup file to write (must not exist)")
    commands.add_parser(
        "preview",
        help="links that show the form, a review, a result and the App Home",
        description="Block Kit Builder links for the form, a review, the channel message, the thread "
        "summary and the App Home, made from sample data by the bot's own code.",
    )
    commands.add_parser(
        "check",
        help="check the settings, Slack, the database and Cellcast; sends nothing",
        description="Each setting and service on a line with ✓, or ✗ and what to do. Exit status 1 if any fails.",
    )


def run_command(args: argparse.Namespace) -> int:
    if args.command == "check":
        return check()
    if args.command == "preview":
        from bot.preview import main as preview

        return preview()
    from bot.store import Store, StoreError

    try:
        store = Store(_database_url())
    except (StoreError, ConfigError) as exc:
        return fail(str(exc))
    try:
        return COMMANDS[args.command](store, args)
    finally:
        store.close()


def fail(message: str) -> int:
    print(f"mms-bot: {message}", file=sys.stderr)
    return 2


def _database_url() -> str:
    return database_url(os.environ.get("DATABASE_URL") or None, os.environ.get("DATABASE_PATH") or "mms-bot.db")


def _actor() -> str:
    return f"console:{getpass.getuser()}"


def _number(raw: str) -> str:
    try:
        return normalise(raw)
    except InvalidNumber as exc:
        raise SystemExit(fail(f"{raw!r} is not an Australian mobile number ({exc})")) from None


def allow(store, args) -> int:
    added = store.allow(args.user_id, _actor())
    print(f"{args.user_id} can now send MMS." if added else f"{args.user_id} could already send MMS.")
    return 0


def revoke(store, args) -> int:
    removed = store.revoke(args.user_id, _actor())
    print(f"{args.user_id} can no longer send MMS." if removed else f"{args.user_id} was not on the list.")
    return 0


def admins(store, args) -> int:
    listed = [a.strip() for a in os.environ.get("MMS_ADMINS", "").split(",") if a.strip()]
    print("Admins (MMS_ADMINS): " + (", ".join(listed) or "none"))
    users = store.allowed_users()
    print("Allowed to send:" + ("" if users else " nobody yet"))
    for user in users:
        print(f"  {user['user_id']}  added by {user['added_by']} on {user['added_at'][:10]}")
    return 0


def suppress(store, args) -> int:
    number = _number(args.number)
    added = store.suppress(number, SOURCE_ADMIN, args.reason.strip(), _actor())
    print(f"0{number} is now suppressed." if added else f"0{number} was already suppressed.")
    return 0


def unsuppress(store, args) -> int:
    number = _number(args.number)
    try:
        check_unsuppress(store.suppression_entry(number), args.reason)
    except UnsuppressRefused as exc:
        return fail(str(exc).replace("`/mms unsuppress", "`mms-bot unsuppress"))
    removed = store.unsuppress(number, _actor(), args.reason.strip())
    print(f"0{number} is no longer suppressed." if removed else f"0{number} was not suppressed.")
    return 0


def suppressed(store, args) -> int:
    if args.csv:
        from bot.slack.blocks import write_suppression_csv

        write_suppression_csv(store.iter_suppressions(), sys.stdout)
        return 0
    print(f"{store.suppression_count():,} numbers are suppressed. The latest:")
    for entry in store.latest_suppressions(10):
        print(
            f"  0{entry['number']}  {entry['source']}{': ' + entry['reason'] if entry['reason'] else ''}  "
            f"({entry['added_at'][:10]})"
        )
    return 0


def export(store, args) -> int:
    from bot.slack.blocks import results_csv

    if store.find_send(args.send_id) is None:
        return fail(f"there is no send {args.send_id}")
    results_csv(store, args.send_id, sys.stdout)
    return 0


def backup(store, args) -> int:
    if store.dialect != "sqlite":
        return fail("the database is PostgreSQL: back it up with pg_dump -Fc (or the provider's snapshots)")
    target = Path(args.path)
    if target.exists():
        return fail(f"{target} exists already: name a new file")
    source = sqlite3.connect(store.engine.path)
    with sqlite3.connect(target) as out:
        source.backup(out)
    source.close()
    print(f"backed up to {target} ({target.stat().st_size:,} bytes)")
    return 0


def check() -> int:
    """Every line ✓ or ✗ with what to do; nothing is sent, nothing is changed but the health row."""
    from bot.app import StartupError, check_slack
    from bot.cellcast import CellcastClient
    from bot.store import Store, StoreError

    failed = False

    def line(ok: bool, text: str) -> None:
        nonlocal failed
        failed |= not ok
        print(f"{'✓' if ok else '✗'} {text}")

    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        line(False, f"settings: {exc}")
        return 1
    line(
        True,
        f"settings: {'Socket Mode' if settings.socket_mode else 'HTTP mode'}{', dry run' if settings.dry_run else ''}",
    )
    try:
        who = check_slack(settings, attempts=1)
        line(True, f"Slack: signed in as {who.get('user')} in {who.get('team')}")
    except StartupError as exc:
        line(False, f"Slack: {exc}")
    try:
        store = Store(settings.database_url)
        store.check_writable()
        line(True, f"database: {store.engine.description}, writable")
        store.close()
    except StoreError as exc:
        line(False, f"database: {exc}")
    if settings.dry_run:
        line(True, "Cellcast: not checked in a dry run")
    else:
        client = CellcastClient(settings.cellcast_api_key, settings.cellcast_api_url, settings.cellcast_timeout)
        try:
            line(True, f"Cellcast: the key works; MMS balance {client.mms_balance():,.0f}")
        except Exception as exc:  # any refusal or failure is a line of the check
            line(False, f"Cellcast: {getattr(exc, 'user_message', exc)}")
        finally:
            client.close()
    return 1 if failed else 0


COMMANDS = {
    "allow": allow,
    "revoke": revoke,
    "admins": admins,
    "suppress": suppress,
    "unsuppress": unsuppress,
    "suppressed": suppressed,
    "export": export,
    "backup": backup,
}
