import pytest

from tests.e2e.harness import BotProcess
from tests.fakes.slack import APP_TOKEN
from tests.fakes.socket_mode import FakeSocketMode
from tests.fakes.tls_proxy import TlsProxy


@pytest.fixture
def internet(slack, tmp_path):
    """Slack's real host names (files.slack.com, …) over TLS, through a loopback proxy to the fake Slack."""
    proxy = TlsProxy(slack.server.server_address[1], tmp_path).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def bot_factory(slack, cellcast, tmp_path, internet, database):
    """Bots that reach Slack's real file host names through the TLS proxy, like every test's bot, on the
    test's database: every end-to-end test runs once on SQLite and once on PostgreSQL."""
    started = []
    proxy = internet

    def make(**env):
        bot = BotProcess(slack, cellcast, database.url, tmp_path / "bot.log", proxy=proxy, **env).start()
        started.append(bot)
        return bot

    yield make
    for bot in started:
        bot.stop()


@pytest.fixture
def bot(bot_factory):
    return bot_factory()


@pytest.fixture
def socket_mode_bot(slack, cellcast, tmp_path, internet):
    """The bot in Socket Mode (an app-level token, no signing secret) on SQLite, and its loopback link."""
    link = FakeSocketMode().start()
    slack.socket_mode_url = link.url
    bot = BotProcess(
        slack,
        cellcast,
        tmp_path / "bot.db",
        tmp_path / "bot.log",
        proxy=internet,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_SIGNING_SECRET="",
    )
    try:
        yield bot.start(), link
    finally:
        bot.stop()
        link.stop()
