"""The operator's command line, run as an operator runs it: its own process, environment and folder."""

import csv
import io
import subprocess
import sys

import pytest

from bot.store import Store
from tests.e2e.harness import ADMIN, CELLCAST_KEY, ROOT, SIGNING_SECRET
from tests.fakes.slack import BOT_TOKEN


def mms_bot(tmp_path, *args, **env) -> subprocess.CompletedProcess:
    base = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "DATABASE_PATH": str(tmp_path / "bot.db"),
        "MMS_ADMINS": ADMIN,
    }
    base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env={k: v for k, v in base.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_and_version_answer_without_starting_the_bot(tmp_path):
    for args in (
        ["--help"],
        ["run", "--help"],
        ["check", "--help"],
        ["suppressed", "--help"],
        ["copy-database", "--help"],
    ):
        result = mms_bot(tmp_path, *args)
        assert result.returncode == 0 and "usage: mms-bot" in result.stdout, args
    version = mms_bot(tmp_path, "--version")
    assert version.returncode == 0 and version.stdout.startswith("mms-bot ")
    assert not (tmp_path / "bot.db").exists()  # nothing started, nothing made


def test_allowlist_and_suppression_from_the_console_are_audited_as_such(tmp_path):
    assert "U01CAROL can now send" in mms_bot(tmp_path, "allow", "U01CAROL").stdout
    listing = mms_bot(tmp_path, "admins").stdout
    assert ADMIN in listing and "U01CAROL" in listing
    assert "now suppressed" in mms_bot(tmp_path, "suppress", "0412 345 678", "--reason", "asked by phone").stdout
    assert mms_bot(tmp_path, "suppress", "12345").returncode == 2
    rows = list(csv.reader(io.StringIO(mms_bot(tmp_path, "suppressed", "--csv").stdout)))
    assert rows[1][:4] == ["0412345678", "suppressed by an admin", "asked by phone", rows[1][3]] and rows[1][
        3
    ].startswith("console:")
    assert "no longer suppressed" in mms_bot(tmp_path, "unsuppress", "0412345678", "--reason", "typo").stdout
    assert "U01CAROL can no longer send" in mms_bot(tmp_path, "revoke", "U01CAROL").stdout
    store = Store(str(tmp_path / "bot.db"))
    assert [a["actor"].startswith("console:") for a in store.audit()] == [True, True]
    assert [a["action"] for a in store.suppression_audit()] == ["suppress", "unsuppress"]


def test_a_stop_reply_is_not_undone_from_the_console_without_a_reason(tmp_path):
    Store(str(tmp_path / "bot.db")).suppress("412345678", "replied", "replied “STOP”", "reply")
    refused = mms_bot(tmp_path, "unsuppress", "0412345678")
    assert refused.returncode == 2 and "mms-bot:" in refused.stderr
    assert Store(str(tmp_path / "bot.db")).suppressed_among(["412345678"])


def test_export_writes_a_sends_results_and_backup_makes_a_usable_copy(tmp_path):
    from bot.sending import outcomes as o

    store = Store(str(tmp_path / "bot.db"))
    send_id = store.create_send(
        {"view_id": "K", "user_id": ADMIN, "channel_id": "C1", "message": "hi"},
        None,
        [],
        [o.NumberOutcome("12345 (row 2)", o.INVALID, "too short")],
    )
    exported = mms_bot(tmp_path, "export", str(send_id))
    assert exported.returncode == 0 and "12345 (row 2)" in exported.stdout and "too short" in exported.stdout
    assert mms_bot(tmp_path, "export", "999").returncode == 2
    assert mms_bot(tmp_path, "backup", str(tmp_path / "copy.db")).returncode == 0
    assert Store(str(tmp_path / "copy.db")).find_send(send_id) is not None
    assert mms_bot(tmp_path, "backup", str(tmp_path / "copy.db")).returncode == 2  # never over a file


@pytest.fixture
def settings(slack, cellcast):
    cellcast.api_key = CELLCAST_KEY
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "CELLCAST_API_KEY": CELLCAST_KEY,
        "CELLCAST_API_URL": cellcast.base_url,
    }


def test_check_says_ok_for_each_part_and_sends_nothing(tmp_path, settings, cellcast):
    result = mms_bot(tmp_path, "check", **settings)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line[0] for line in lines] == ["✓"] * 4 and "balance 10,000" in lines[3]
    assert cellcast.calls == []


@pytest.mark.parametrize(
    "override, wrong",
    [
        ({"SLACK_BOT_TOKEN": "xoxb-revoked-0000"}, "Slack: Slack refused SLACK_BOT_TOKEN"),
        ({"CELLCAST_API_KEY": "wrong-key"}, "Cellcast:"),
        ({"DATABASE_PATH": "/nonexistent-dir/bot.db"}, "database:"),
        ({"SLACK_BOT_TOKEN": None}, "settings: missing required settings: SLACK_BOT_TOKEN"),
    ],
)
def test_check_names_what_fails(tmp_path, settings, override, wrong):
    result = mms_bot(tmp_path, "check", **{**settings, **override})
    assert result.returncode == 1
    assert any(line.startswith("✗") and wrong in line for line in result.stdout.splitlines()), result.stdout


def test_preview_links_open_as_valid_block_kit(tmp_path):
    import json
    from urllib.parse import unquote

    from slack_sdk.models.blocks import Block
    from slack_sdk.models.views import View

    result = mms_bot(tmp_path, "preview")
    assert result.returncode == 0, result.stderr
    links = [
        line.strip()
        for line in result.stdout.splitlines()
        if line.strip().startswith("https://app.slack.com/block-kit-builder/#")
    ]
    assert len(links) == 5
    for link in links:
        payload = json.loads(unquote(link.split("#", 1)[1]))
        if "type" in payload:  # a modal or the App Home
            View(**payload).validate_json()
        for block in payload["blocks"]:
            Block.parse(block).validate_json()
        assert len(payload["blocks"]) <= 100
    review = json.loads(unquote(links[1].split("#", 1)[1]))
    assert review["callback_id"] == "mms_review" and "1,234" in json.dumps(review)
