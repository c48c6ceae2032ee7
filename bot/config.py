"""Settings, from environment variables only (a .env file is read into the environment first)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.sending.schedule import QuietHours, parse_quiet_hours


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str
    host: str
    port: int
    cellcast_api_key: str
    cellcast_api_url: str
    cellcast_timeout: float
    cellcast_calls_per_second: float
    cellcast_max_in_flight: int
    database_url: str  # DATABASE_URL, else sqlite:/// and DATABASE_PATH
    admins: frozenset[str]
    log_level: str
    dry_run: bool = False
    database_pool_size: int = 20
    lease_seconds: float = 10.0
    credits_per_mms: float = 1.0
    contacts_max_bytes: int = 30_000_000
    contacts_max_rows: int = 1_000_000
    check_seconds: float = 20.0
    files_at_once: int = 2
    resume_within: float = 900.0
    retention_days: int = 90
    shutdown_grace: float = 8.0
    sync_seconds: float = 300.0
    webhook_secret: str | None = None
    optout_text: str = "Reply STOP to opt out"
    replies_channel: str | None = None
    delivery_hours: float = 72.0
    timezone: str = "Australia/Sydney"  # the organisation's zone (an IANA name)
    schedule_max_days: int = 30
    quiet_hours: str = "20:00-08:00"  # in ``timezone``; empty: off
    reply_as: str = "sms"  # how an answer without an image goes: "sms" or "mms"
    approval_above: int | None = None  # sends to more numbers than this need an approver's OK; None: off
    approvers: frozenset[str] = frozenset()  # who may approve; empty: the admins
    approvals_channel: str | None = None  # where requests go; None: each approver's DM
    approval_hours: float = 24.0
    step_review_hours: float = 24.0
    daily_limit: int | None = None  # numbers per sender per day (in ``timezone``); None: off
    daily_limit_admins: bool = False  # whether the daily limit applies to admins too

    @property
    def approvers_or_admins(self) -> frozenset[str]:
        return self.approvers or self.admins

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def quiet(self) -> QuietHours | None:
        return parse_quiet_hours(self.quiet_hours, self.zone)

    @property
    def socket_mode(self) -> bool:
        return bool(self.slack_app_token)

    @property
    def secrets(self) -> list[str]:
        return [
            s
            for s in (
                self.slack_bot_token,
                self.slack_signing_secret,
                self.slack_app_token,
                self.cellcast_api_key,
                self.webhook_secret,
                urlsplit(self.database_url).password,
            )
            if s
        ]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str, default: str | None = None) -> str | None:
            value = _unquoted((env.get(name) or "").strip())
            return value or default

        app_token = get("SLACK_APP_TOKEN")
        dry_run = flag("MMS_DRY_RUN", get("MMS_DRY_RUN", "false"))
        required = (
            ["SLACK_BOT_TOKEN"]
            + ([] if dry_run else ["CELLCAST_API_KEY"])
            + ([] if app_token else ["SLACK_SIGNING_SECRET"])
        )
        missing = [name for name in required if not get(name)]
        if missing:
            hints = []
            if "SLACK_SIGNING_SECRET" in missing:
                hints.append("Socket Mode (SLACK_APP_TOKEN=xapp-…) needs no SLACK_SIGNING_SECRET")
            if "CELLCAST_API_KEY" in missing:
                hints.append("a dry run (MMS_DRY_RUN=true) needs no CELLCAST_API_KEY")
            raise ConfigError(
                f"missing required settings: {', '.join(missing)}"
                + (f"; {'; '.join(hints)}" if hints else "")
                + " (see README, Settings)"
            )
        _check_tokens(get("SLACK_BOT_TOKEN"), app_token)
        log_level = get("LOG_LEVEL", "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {get('LOG_LEVEL')!r}")
        host = get("HOST", "0.0.0.0")
        if not _HOST.fullmatch(host):
            raise ConfigError(f"HOST must be an address to listen on such as 0.0.0.0 or 127.0.0.1, got {host!r}")
        admins = [u.strip() for u in (get("MMS_ADMINS", "") or "").split(",") if u.strip()]
        wrong = [u for u in admins if not _MEMBER_ID.fullmatch(u)]
        if wrong:
            raise ConfigError(
                f"MMS_ADMINS: {wrong[0]!r} is not a Slack member id (like U01ABCDEF); in Slack, open the "
                "person's profile → ⋮ → Copy member ID"
            )

        def number(name: str, default: str, kind, low: float, high: float):
            raw = get(name, default)
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number, got {raw!r}") from None
            if not low <= value <= high:
                raise ConfigError(f"{name} must be between {low} and {high}, got {raw!r}")
            return value

        timezone = get("MMS_TIMEZONE", "Australia/Sydney")
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"MMS_TIMEZONE must be a time zone name such as Australia/Sydney or Australia/Perth, got {timezone!r}"
            ) from None
        quiet_hours = _unquoted(env["MMS_QUIET_HOURS"].strip()) if "MMS_QUIET_HOURS" in env else "20:00-08:00"
        try:
            parse_quiet_hours(quiet_hours, tz)
        except ValueError as exc:
            raise ConfigError(f"MMS_QUIET_HOURS: {exc}; leave it empty to turn them off") from None

        def optional_number(name: str, low: int, high: int) -> int | None:
            return None if get(name) is None else number(name, "0", int, low, high)

        def members(name: str) -> list[str]:
            listed = [u.strip() for u in (get(name, "") or "").split(",") if u.strip()]
            wrong = [u for u in listed if not _MEMBER_ID.fullmatch(u)]
            if wrong:
                raise ConfigError(f"{name}: {wrong[0]!r} is not a Slack member id (like U01ABCDEF)")
            return listed

        def channel(name: str) -> str | None:
            value = get(name)
            if value is not None and not re.fullmatch(r"[CG][A-Z0-9]{2,}", value):
                raise ConfigError(f"{name} must be a channel id (like C01ABCDEF: the channel's details, at the bottom)")
            return value

        def choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
            value = (get(name, default) or default).lower()
            if value not in allowed:
                raise ConfigError(f"{name} must be {' or '.join(allowed)}, got {get(name)!r}")
            return value

        return cls(
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=app_token,
            slack_api_url=_with_slash(get("SLACK_API_URL", "https://slack.com/api/")),
            host=host,
            port=number("PORT", "3000", int, 1, 65535),
            cellcast_api_key=get("CELLCAST_API_KEY") or "",
            cellcast_api_url=get("CELLCAST_API_URL", "https://api.cellcast.com"),
            cellcast_timeout=number("CELLCAST_TIMEOUT", "30", float, 1, 600),
            cellcast_calls_per_second=number("CELLCAST_CALLS_PER_SECOND", "14", int, 1, 15),
            cellcast_max_in_flight=number("CELLCAST_MAX_IN_FLIGHT", "8", int, 1, 64),
            database_url=database_url(get("DATABASE_URL"), get("DATABASE_PATH", "mms-bot.db")),
            database_pool_size=number("DATABASE_POOL_SIZE", "20", int, 2, 500),
            lease_seconds=number("MMS_LEASE_SECONDS", "10", float, 1, 300),
            admins=frozenset(admins),
            log_level=log_level,
            dry_run=dry_run,
            credits_per_mms=number("MMS_CREDITS_PER_MMS", "1", float, 0, 100),
            contacts_max_bytes=number("MMS_CONTACTS_MAX_BYTES", "30000000", int, 1000, 500_000_000),
            contacts_max_rows=number("MMS_CONTACTS_MAX_ROWS", "1000000", int, 1, 10_000_000),
            check_seconds=number("MMS_CHECK_SECONDS", "20", float, 1, 600),
            files_at_once=number("MMS_FILES_AT_ONCE", "2", int, 1, 32),
            resume_within=number("MMS_RESUME_WITHIN", "900", float, 0, 7 * 86400),
            retention_days=number("MMS_RETENTION_DAYS", "90", int, 1, 36500),
            shutdown_grace=number("MMS_SHUTDOWN_GRACE", "8", float, 0, 600),
            sync_seconds=number("CELLCAST_SYNC_SECONDS", "300", float, 1, 86400),
            webhook_secret=webhook_secret(get("CELLCAST_WEBHOOK_SECRET")),
            # Set but empty turns the footer off (senders exempt under the Spam Act); unset means the default.
            optout_text=_unquoted(env["MMS_OPTOUT_TEXT"].strip())
            if "MMS_OPTOUT_TEXT" in env
            else "Reply STOP to opt out",
            replies_channel=get("MMS_REPLIES_CHANNEL"),
            delivery_hours=number("MMS_DELIVERY_HOURS", "72", float, 0.0001, 24 * 30),
            timezone=timezone,
            schedule_max_days=number("MMS_SCHEDULE_MAX_DAYS", "30", int, 1, 366),
            # Set but empty turns quiet hours off; unset means the default.
            quiet_hours=quiet_hours,
            reply_as=choice("MMS_REPLY_AS", "sms", ("sms", "mms")),
            approval_above=optional_number("MMS_APPROVAL_ABOVE", 0, 10_000_000),
            approvers=frozenset(members("MMS_APPROVERS")),
            approvals_channel=channel("MMS_APPROVALS_CHANNEL"),
            approval_hours=number("MMS_APPROVAL_HOURS", "24", float, 0.0001, 24 * 30),
            step_review_hours=number("MMS_STEP_REVIEW_HOURS", "24", float, 0.0001, 24 * 30),
            daily_limit=optional_number("MMS_DAILY_LIMIT", 1, 100_000_000),
            daily_limit_admins=flag("MMS_DAILY_LIMIT_ADMINS", get("MMS_DAILY_LIMIT_ADMINS", "false")),
        )


_MEMBER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_HOST = re.compile(r"[A-Za-z0-9.\-]+|\[?[0-9A-Fa-f:.]+\]?")


def _unquoted(value: str) -> str:
    """``docker run --env-file`` keeps the quotes that a .env file's reader strips: take them off here too."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1].strip()
    return value


def _check_tokens(bot_token: str, app_token: str | None) -> None:
    if bot_token.startswith("xapp-"):
        raise ConfigError(
            "SLACK_BOT_TOKEN holds an app-level token (xapp-…): it belongs in SLACK_APP_TOKEN; "
            "SLACK_BOT_TOKEN takes the Bot User OAuth Token (xoxb-…)"
        )
    if not bot_token.startswith("xoxb-"):
        raise ConfigError(
            "SLACK_BOT_TOKEN must be the Bot User OAuth Token, starting xoxb- (OAuth & Permissions in the app's "
            "settings)"
        )
    if app_token is not None and not app_token.startswith("xapp-"):
        raise ConfigError(
            "SLACK_APP_TOKEN must be an app-level token starting xapp- (Basic Information → App-Level Tokens, "
            "scope connections:write); leave it unset for HTTP mode"
        )


def database_url(url: str | None, path: str) -> str:
    if url is None:
        return f"sqlite:///{path}"
    if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ConfigError(
            "DATABASE_URL must be sqlite:///path/to/file.db or postgresql://user:password@host:5432/database"
        )
    return url


def webhook_secret(value: str | None) -> str | None:
    """The webhook URL's only protection (Cellcast does not sign its calls): long and URL-safe."""
    if value is None:
        return None
    if len(value) < 16 or not all(ch.isalnum() or ch in "-_" for ch in value):
        raise ConfigError(
            "CELLCAST_WEBHOOK_SECRET must be at least 16 letters, digits, - or _ (it is part of the webhook's URL)"
        )
    return value


def flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"
