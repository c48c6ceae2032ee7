import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from bot.logs import redact

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "CELLCAST_API_KEY": "k"}


def test_defaults():
    settings = Settings.from_env(REQUIRED)
    assert settings.slack_api_url == "https://slack.com/api/" and settings.port == 3000
    assert settings.cellcast_api_url == "https://api.cellcast.com" and settings.cellcast_timeout == 30
    assert (
        settings.database_url == "sqlite:///mms-bot.db" and settings.admins == frozenset() and not settings.socket_mode
    )


def test_socket_mode_needs_no_signing_secret_and_admins_are_split():
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": "xoxb-1",
            "CELLCAST_API_KEY": "k",
            "SLACK_APP_TOKEN": "xapp-1",
            "MMS_ADMINS": "U01ABC, W02XYZ,",
        }
    )
    assert settings.socket_mode and settings.admins == {"U01ABC", "W02XYZ"}


@pytest.mark.parametrize(
    "name, value", [("PORT", "http"), ("CELLCAST_TIMEOUT", "0"), ("CELLCAST_CALLS_PER_SECOND", "20")]
)
def test_bad_numbers_are_named(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**REQUIRED, name: value})


def test_missing_settings_stop_the_bot_with_one_line_naming_them(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SLACK_BOT_TOKEN": "xoxb-1"}
    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert (
        "CELLCAST_API_KEY" in result.stderr
        and "SLACK_SIGNING_SECRET" in result.stderr
        and "SLACK_BOT_TOKEN" not in result.stderr
    )


def test_dotenv_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-1\nCELLCAST_API_KEY=k\nPORT=notaport\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
    )
    assert (
        result.returncode == 2 and "SLACK_SIGNING_SECRET" in result.stderr and "CELLCAST_API_KEY" not in result.stderr
    )


@pytest.mark.parametrize(
    "text", ["+61412345678", "0412 345 678", "61-412-345-678", "412345678", "%2B61412345678", "+61 (0)412 345 678"]
)
def test_numbers_are_masked_in_logs(text):
    masked = redact(f"sent to {text} ok", [])
    assert "04xx xxx 678" in masked and "412345" not in masked and "2345" not in masked.replace("04xx xxx 678", "")


def test_secrets_and_slack_tokens_are_redacted():
    assert (
        redact("key=abcdef123 token xoxb-99-AAA xapp-1-B", ["abcdef123"])
        == "key=[redacted] token [redacted] [redacted]"
    )


def test_slack_timestamps_and_message_ids_are_left_readable():
    assert (
        redact("ts 1700000000.000001 id 6752be535000000000000000", [])
        == "ts 1700000000.000001 id 6752be535000000000000000"
    )


def test_every_setting_is_in_the_readme_table_and_in_env_example():
    import re

    from dotenv import dotenv_values

    read = set(
        re.findall(
            r'"((?:SLACK|CELLCAST|MMS|DATABASE|HOST|PORT|LOG)[A-Z_]*)"', (ROOT / "bot" / "config.py").read_text()
        )
    )
    readme = (ROOT / "README.md").read_text()
    example = dotenv_values(ROOT / ".env.example")
    assert read and not {name for name in read if f"| `{name}` |" not in readme}
    assert read <= set(example)


def test_env_example_holds_the_defaults_and_the_quick_starts_four_lines_make_a_dry_run():
    from dotenv import dotenv_values

    quick_start = {
        "SLACK_BOT_TOKEN": "xoxb-1-2-abc",
        "SLACK_APP_TOKEN": "xapp-1-A1-abc",
        "MMS_ADMINS": "U01ABCDEF",
        "MMS_DRY_RUN": "true",
    }
    env = {k: v or "" for k, v in dotenv_values(ROOT / ".env.example").items()}
    settings = Settings.from_env({**env, **quick_start})
    assert settings.dry_run and settings.socket_mode and settings.optout_text == "Reply STOP to opt out"
    assert settings == Settings.from_env(quick_start)  # every other line of .env.example says what the bot does unset


def test_scheduling_settings_default_to_sydney_thirty_days_and_evening_quiet_hours():
    settings = Settings.from_env(REQUIRED)
    assert settings.zone.key == "Australia/Sydney" and settings.schedule_max_days == 30
    assert settings.quiet.describe() == "20:00–08:00 Australia/Sydney"
    assert Settings.from_env({**REQUIRED, "MMS_QUIET_HOURS": ""}).quiet is None  # set empty: off


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("MMS_TIMEZONE", "Sydney", "time zone name such as Australia/Sydney"),
        ("MMS_TIMEZONE", "../../etc/passwd", "time zone name"),
        ("MMS_QUIET_HOURS", "8pm-8am", "20:00-08:00"),
        ("MMS_QUIET_HOURS", "09:00-09:00", "different times"),
        ("MMS_SCHEDULE_MAX_DAYS", "0", "MMS_SCHEDULE_MAX_DAYS"),
    ],
)
def test_a_wrong_scheduling_setting_stops_the_start_naming_it(name, value, says):
    with pytest.raises(ConfigError, match=name) as refused:
        Settings.from_env({**REQUIRED, name: value})
    assert says in str(refused.value)
