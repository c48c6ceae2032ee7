"""The file fetcher's rules: the bot token goes to Slack's hosts only, redirects are followed only within
Slack, Slack's sign-in page means a missing scope, and sizes are capped (loopback Slack as the API host)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sending.budget import Budget, OutOfTime
from bot.slack.files import FileDownloadError, SlackFileFetcher
from tests.fakes.slack import BOT_TOKEN


@pytest.fixture
def fetcher(slack):
    return SlackFileFetcher(BOT_TOKEN, slack.api_url, timeout=5)


def test_the_token_goes_to_slack_hosts_and_the_configured_api_host_only(fetcher, slack):
    assert fetcher.may_have_token("https://files.slack.com/files-pri/T1-F1/x.csv")
    assert fetcher.may_have_token(slack.server.base_url + "/files-pri/T1-F1/x.csv")
    for url in (
        "http://files.slack.com/x",
        "https://files.slack.com.evil.example/x",
        "https://evilslack.com/x",
        "https://user:pw@files.slack.com/x",
        "https://a.slack-edge.com/x",
        "ftp://files.slack.com/x",
    ):
        assert not fetcher.may_have_token(url), url
    assert fetcher.may_follow("https://a.slack-edge.com/x?sig=1")  # Slack's CDN: followed, without the token


@given(st.text(max_size=40))
def test_no_host_outside_slack_ever_gets_the_token(host):
    fetcher = SlackFileFetcher(BOT_TOKEN, "https://slack.com/api/")
    url = f"https://{host}/files-pri/x"
    if fetcher.may_have_token(url):
        name = url.split("/")[2].split(":")[0].lower()
        assert name == "slack.com" or name.endswith(".slack.com")


def test_a_file_is_downloaded_with_the_token(fetcher, slack):
    url = slack.host_file("F1", "list.csv", b"Mobile\n0400000001\n")["url_private_download"]
    assert fetcher.fetch(url) == b"Mobile\n0400000001\n"
    assert slack.downloads[-1][2] == f"Bearer {BOT_TOKEN}"


def test_a_host_that_is_not_slack_is_refused_before_any_request(fetcher, slack):
    with pytest.raises(FileDownloadError, match="not hosted by Slack"):
        fetcher.fetch("https://example.com/list.csv")
    assert slack.downloads == []


def test_slacks_sign_in_page_instead_of_the_file_names_the_missing_scope(fetcher, slack):
    url = slack.host_file("F2", "list.csv", None)["url_private_download"]
    with pytest.raises(FileDownloadError, match="files:read"):
        fetcher.fetch(url)


def test_a_redirect_away_from_slack_is_not_followed(fetcher, slack):
    url = slack.server.base_url + "/redirect-to/example.com/list.csv"
    with pytest.raises(FileDownloadError, match="not hosted by Slack|away from Slack"):
        fetcher.fetch(url)


def test_a_file_over_the_cap_and_a_download_past_the_budget_are_stopped(fetcher, slack):
    url = slack.host_file("F3", "big.csv", b"x" * 5000)["url_private_download"]
    with pytest.raises(FileDownloadError, match="too large"):
        fetcher.fetch(url, max_bytes=1000)
    ticks = iter(range(0, 10**6, 30)).__next__  # each look at the clock: 30 s later
    with pytest.raises(OutOfTime):
        fetcher.fetch(url, budget=Budget(20, clock=ticks))


def test_a_link_that_does_not_parse_is_refused_not_a_crash(fetcher):
    for url in ("https://[/files-pri/x", "https://files.slack.com:port/x", "https://[::1/x"):
        with pytest.raises(FileDownloadError, match="not hosted by Slack"):
            fetcher.fetch(url)
