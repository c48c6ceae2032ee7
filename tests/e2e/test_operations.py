"""An operator's view: start-up that names what is wrong, honest health, metrics, limits, both run modes."""

import json
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.harness import ADMIN, CELLCAST_KEY, ROOT, SIGNING_SECRET, form, free_port
from tests.e2e.test_send import wait_finished
from tests.fakes.server import wait_for
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN


def run_bot(slack, cellcast, tmp_path, **overrides) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "CELLCAST_API_KEY": CELLCAST_KEY,
        "CELLCAST_API_URL": cellcast.base_url,
        "DATABASE_PATH": str(tmp_path / "bot.db"),
        "MMS_ADMINS": ADMIN,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
    }
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={k: v for k, v in env.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "overrides, setting",
    [
        ({"SLACK_BOT_TOKEN": APP_TOKEN}, "SLACK_BOT_TOKEN holds an app-level token"),
        ({"SLACK_BOT_TOKEN": "xoxb-revoked-0000"}, "Slack refused SLACK_BOT_TOKEN (invalid_auth)"),
        ({"SLACK_APP_TOKEN": BOT_TOKEN}, "SLACK_APP_TOKEN must be an app-level token"),
        ({"SLACK_APP_TOKEN": "xapp-1-wrong"}, "Slack refused SLACK_APP_TOKEN (invalid_auth)"),
        ({"DATABASE_PATH": "/nonexistent-dir/mms-bot.db"}, "/nonexistent-dir/mms-bot.db"),
        ({"DATABASE_PATH": "/proc/mms-bot.db"}, "/proc/mms-bot.db"),  # not writable, even by root
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL"),
        ({"HOST": "my laptop"}, "HOST"),
        ({"MMS_ADMINS": "@alice"}, "MMS_ADMINS: '@alice' is not a Slack member id"),
        ({"HOST": "notahost.invalid"}, "cannot listen on HOST 'notahost.invalid'"),
        ({"PORT": "three thousand"}, "PORT must be a number"),
        ({"CELLCAST_WEBHOOK_SECRET": "short"}, "CELLCAST_WEBHOOK_SECRET must be at least 16"),
        (
            {"SLACK_SIGNING_SECRET": None, "CELLCAST_API_KEY": None},
            "Socket Mode (SLACK_APP_TOKEN=xapp-…) needs no SLACK_SIGNING_SECRET",
        ),
        ({"CELLCAST_API_KEY": None}, "a dry run (MMS_DRY_RUN=true) needs no CELLCAST_API_KEY"),
        ({"DATABASE_URL": "mysql://db/mms"}, "DATABASE_URL must be sqlite:///"),
        (
            {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
            "cannot connect to the PostgreSQL database 127.0.0.1:1/none",
        ),
    ],
)
def test_each_misconfiguration_ends_in_one_line_naming_the_setting_with_exit_2(
    slack, cellcast, tmp_path, overrides, setting
):
    result = run_bot(slack, cellcast, tmp_path, **overrides)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("mms-bot:")]
    assert len(lines) == 1 and result.stderr.strip().splitlines()[-1] == lines[0]
    assert setting in lines[0]
    assert "Traceback" not in result.stderr and cellcast.calls == []
    noise = [
        line
        for line in result.stderr.splitlines()
        if any(f" {lib}" in line for lib in ("slack_sdk", "slack_bolt", "waitress", "psycopg"))
    ]
    assert noise == []  # no library's lines before ours


def test_slack_unreachable_is_retried_briefly_then_named(slack, cellcast, tmp_path):
    started = time.monotonic()
    result = run_bot(slack, cellcast, tmp_path, SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/")
    assert result.returncode == 2 and "cannot reach Slack at SLACK_API_URL" in result.stderr.splitlines()[-1]
    assert "slack_sdk" not in result.stderr and "Failed to send a request" not in result.stderr
    assert 2 <= time.monotonic() - started < 30


def test_the_port_is_bound_before_anything_is_resumed(slack, cellcast, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_bot(slack, cellcast, tmp_path, PORT=str(port))
    assert result.returncode == 2 and f"PORT {port}" in result.stderr.splitlines()[-1]
    assert "listening" not in result.stderr and "resuming" not in result.stderr


def test_quotes_from_docker_env_files_are_taken_off(bot_factory, slack):
    bot = bot_factory(SLACK_BOT_TOKEN=f'"{BOT_TOKEN}"', CELLCAST_API_KEY=f"'{CELLCAST_KEY}'")
    assert bot.command("help").status_code == 200


def test_an_empty_admin_list_is_a_warning_and_refusals_say_who_you_are_and_whom_to_ask(bot_factory, slack):
    bot = bot_factory(MMS_ADMINS="")
    assert "MMS_ADMINS is empty" in bot.log()
    text = bot.command(user="UBOB").json()["text"]
    assert "Your member id is `UBOB`" in text and "none yet (MMS_ADMINS is empty)" in text
    admin_bot = bot_factory(MMS_ADMINS="UADMIN,UALICE")
    text = admin_bot.command("list", user="UBOB").json()["text"]
    assert "Your member id is `UBOB`" in text and "<@UADMIN>" in text and "<@UALICE>" in text


def test_a_mention_typed_in_slack_arrives_as_the_manifest_says_and_works(bot):
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/mms" and command["should_escape"] is True
    # With should_escape, Slack turns the typed "@colleague" into an escaped user mention.
    typed = "allow <@UCOL123|colleague>" if command["should_escape"] else "allow @colleague"
    assert "<@UCOL123> can now send MMS" in bot.command(typed).json()["text"]
    assert "plain text, not as a person" in bot.command("allow @colleague").json()["text"]


def test_oversized_bodies_are_refused_with_413_before_they_are_read(bot):
    rss_before = _rss_mb(bot.process.pid)
    chunk = b"x" * 1_048_576

    def body():
        for _ in range(50):  # 50 MB, unsigned
            yield chunk

    for path in ("/slack/events", "/cellcast/webhook/anything"):
        try:
            response = httpx.post(
                bot.url + path, content=body(), headers={"Content-Length": str(50 * len(chunk))}, timeout=10
            )
            assert response.status_code == 413
        except httpx.RemoteProtocolError:
            pass  # the server answered 413 and closed while the body was still being sent: also refused unread
    assert _rss_mb(bot.process.pid) - rss_before < 20
    assert bot.command("help").status_code == 200  # still serving


def test_healthz_is_503_with_the_reason_while_the_database_cannot_be_written(bot, database):
    assert bot.http.get(bot.url + "/healthz").status_code == 200
    if database.engine == "sqlite":
        holder = sqlite3.connect(database.path, timeout=1, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process holding the database: nothing can be written
        named = "bot.db"
    else:
        import psycopg

        holder = psycopg.connect(database.url)
        holder.execute("LOCK TABLE instances IN ACCESS EXCLUSIVE MODE")  # held until the rollback below
        named = database.url.rsplit("/", 1)[1]
    try:
        response = bot.http.get(bot.url + "/healthz")
        assert response.status_code == 503 and "database" in response.text and named in response.text
    finally:
        holder.rollback() if database.engine != "sqlite" else holder.execute("ROLLBACK")
        holder.close()
    assert bot.http.get(bot.url + "/healthz").status_code == 200


def test_metrics_after_a_send(bot, slack, cellcast):
    bot.send(form(contacts="0400000001, 12345"))
    wait_finished(slack)
    text = wait_for(
        lambda: (
            (t := bot.http.get(bot.url + "/metrics").text) and 'mms_reports_delivered_total{kind="summary"}' in t and t
        )
    )
    assert 'mms_sends{state="done"} 1.0' in text
    assert 'mms_numbers{outcome="queued"} 1.0' in text and 'mms_numbers{outcome="invalid"} 1.0' in text
    assert 'mms_gateway_call_seconds_count{kind="send"} 1.0' in text
    assert "mms_reports_due" in text and "mms_suppressed_numbers 0.0" in text


def test_socket_mode_serves_commands_and_healthz_says_when_the_connection_is_gone(slack, socket_mode_bot):
    bot, link = socket_mode_bot
    assert link.connected() and bot.http.get(bot.url + "/healthz").status_code == 200
    assert bot.http.post(bot.url + "/slack/events", content=b"x").status_code == 404  # no HTTP events in Socket Mode
    ack = link.push(
        "slash_commands",
        {
            "command": "/mms",
            "text": "help",
            "user_id": ADMIN,
            "channel_id": "C1",
            "team_id": "T1",
            "trigger_id": "1.2.3",
            "response_url": slack.server.base_url + "/respond/x",
        },
    )
    assert "/mms allow @user" in json.dumps(ack.get("payload"))
    slack.socket_mode_url = None  # Slack stays away: reconnecting fails
    link.drop()
    response = wait_for(lambda: (r := bot.http.get(bot.url + "/healthz")).status_code == 503 and r, timeout=30)
    assert "Socket Mode" in response.text
    bot.stop()
    assert bot.process.returncode == 0 and "Traceback" not in bot.log()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
