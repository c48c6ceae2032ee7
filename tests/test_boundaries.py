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


# -- one vocabulary: states and kinds are named once, and code and SQL use the names -----------

from bot.sending import outcomes, states  # noqa: E402
from bot.sending.optouts import MAYBE, OPTOUT  # noqa: E402
from bot.sending.reports import ReportKind  # noqa: E402
from bot.sending.sync import FROM_POLL, FROM_WEBHOOK  # noqa: E402

# Compared with or passed as a literal: the states and the reply kinds and sources (words used for nothing else).
STATES = {
    states.SEND_OPEN,
    states.SEND_DONE,
    states.PENDING,
    states.SENDING,
    states.DRAFT_CHECKING,
    states.DRAFT_READY,
    states.DRAFT_PROBLEMS,
    states.DRAFT_SENT,
    OPTOUT,
    MAYBE,
    FROM_POLL,
    FROM_WEBHOOK,
}
# Written into SQL as a literal: those, every outcome and every report kind.
IN_SQL = STATES | set(outcomes.OUTCOMES) | {str(kind) for kind in ReportKind}
DEFINED_IN = {"states.py", "outcomes.py", "optouts.py", "reports.py", "sync.py", "schema.py"}


def literal_states(path: Path) -> list[str]:
    """A state compared with, or passed as, a string literal; or written into SQL as one (``'queued'``)."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found += [f"{path.name}:{node.lineno} SQL '{s}'" for s in IN_SQL if f"'{s}'" in node.value]
        operands = []
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.keyword):
            operands = [node.value]
        found += [
            f"{path.name}:{node.lineno} {o.value!r}"
            for o in operands
            if isinstance(o, ast.Constant) and o.value in STATES
        ]
    return found


def test_no_state_or_kind_is_a_string_literal_outside_where_it_is_named():
    found = [hit for path in sorted(BOT.rglob("*.py")) if path.name not in DEFINED_IN for hit in literal_states(path)]
    assert not found, found


def test_the_vocabulary_check_finds_a_literal_state():
    sample = BOT.parent / "tests" / "_vocabulary_sample.py"
    sample.write_text("def finished(send):\n    return send.state == 'done' or db.one(\"x = 'queued'\")\n")
    try:
        assert len(literal_states(sample)) == 2
    finally:
        sample.unlink()
