"""The README's quick start, then the README's test command, in a fresh clone: a developer's .env (and
their environment) changes nothing about the tests, because every bot under test gets exactly the
environment and the working directory its test gives it."""

import os
import subprocess
import sys

from tests.e2e.harness import ROOT

A_DEVELOPERS_SETTINGS = {  # real-looking, wrong for the tests: each would break them if it leaked in
    "SLACK_BOT_TOKEN": "xoxb-someone-elses-token",
    "SLACK_APP_TOKEN": "xapp-1-socket-mode-of-their-own",
    "SLACK_SIGNING_SECRET": "their-signing-secret",
    "CELLCAST_API_KEY": "their-cellcast-key",
    "MMS_ADMINS": "U0THEIRS1",
    "DATABASE_URL": "sqlite:///their-own.db",
    "LOG_LEVEL": "ERROR",
    "MMS_DRY_RUN": "true",
}


def test_a_developers_env_file_and_environment_change_nothing(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{ROOT}", str(clone)], check=True, capture_output=True
    )
    lines = (clone / ".env.example").read_text().splitlines()
    (clone / ".env").write_text("\n".join([*lines, *(f"{k}={v}" for k, v in A_DEVELOPERS_SETTINGS.items())]) + "\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "sqlite",
            "tests/e2e/test_send.py::test_unsigned_and_stale_requests_get_401_and_do_nothing",
            "tests/e2e/test_send.py::test_user_off_the_list_is_refused_and_gets_no_modal",
        ],
        cwd=clone,
        env={**os.environ, **A_DEVELOPERS_SETTINGS, "PYTHONPATH": str(clone)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 passed" in result.stdout
    assert not (clone / "their-own.db").exists()
