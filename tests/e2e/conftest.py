import pytest

from tests.e2e.harness import BotProcess
from tests.fakes.slack import FakeSlack


@pytest.fixture
def slack():
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def bot_factory(slack, cellcast, tmp_path):
    started = []

    def make(**env):
        bot = BotProcess(slack, cellcast, tmp_path / "bot.db", tmp_path / "bot.log", **env).start()
        started.append(bot)
        return bot

    yield make
    for bot in started:
        bot.stop()


@pytest.fixture
def bot(bot_factory):
    return bot_factory()
