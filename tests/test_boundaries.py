"""The layering the design relies on: the domain knows neither Slack nor HTTP; the gateway client knows no Slack."""

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_imports_neither_slack_nor_httpx_nor_the_store_nor_a_database_driver():
    for path in (BOT / "sending").glob("*.py"):
        bad = {
            m
            for m in imported_modules(path)
            if m.split(".")[0]
            in ("slack_bolt", "slack_sdk", "httpx", "sqlite3", "sqlite_utils", "psycopg", "psycopg_pool")
            or m.startswith(("bot.slack", "bot.store"))
        }
        assert not bad, f"{path.name} imports {bad}"


def test_no_store_module_is_over_300_lines():
    for path in (BOT / "store").glob("*.py"):
        assert len(path.read_text().splitlines()) <= 300, path.name


def test_gateway_client_knows_nothing_of_slack_or_the_store():
    bad = {
        m
        for m in imported_modules(BOT / "cellcast.py")
        if m.startswith(("slack", "bot.slack", "bot.store", "bot.sending.dispatch"))
    }
    assert not bad
