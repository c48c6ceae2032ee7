"""Hostile and broken input against the real bot process: markup from strangers is shown, never acted on;
a reply that comes by both the poll and the webhook is posted once."""

import re
from datetime import UTC, datetime

import httpx
import pytest

from tests.e2e.harness import form
from tests.e2e.test_optouts import SECRET, reply_posts
from tests.e2e.test_review import text_of
from tests.e2e.test_send import wait_finished
from tests.fakes.server import wait_for
from tests.fakes.slack import flatten

HOSTILE = "<!channel> <!here> <!everyone> <!subteam^S0ALL> <@U0VICTIM> <https://evil.example|click here>"
# Markup Slack acts on: a mention of everyone, a group or a person, or a link whose text hides where it goes.
ACTED_ON = re.compile(r"<!(channel|here|everyone|subteam)|<@U0VICTIM|<https?://evil")


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)


def acted_on(slack) -> list[tuple[str, str]]:
    """Every field of every call the bot made to Slack (text, blocks, views, titles…) with live markup in it."""
    return [(call.method, text[:120]) for call in slack.calls for text in strings(call.params) if ACTED_ON.search(text)]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def first_sync_done(bot):
    bot.wait_sync_rounds(1)  # the first read of the replies (history: recorded, not posted) is behind it


@pytest.mark.sqlite_only  # escaping: no database in it
def test_markup_in_a_message_a_file_and_its_cells_is_shown_as_typed_everywhere(bot, slack, cellcast):
    rows = ["Name,Mobile", f"{HOSTILE},0400000001", f"Bob,{HOSTILE}", "Carol,0400000002"]
    crm = slack.host_file("FCRM", f"{HOSTILE}.csv", ("\r\n".join(rows) + "\r\n").encode())
    review = bot.send(form(message=f"Hi {HOSTILE}", contacts_file=crm))
    assert "&lt;!channel&gt;" in text_of(review)
    wait_finished(slack)
    assert cellcast.calls[0].fields["message"].startswith(f"Hi {HOSTILE}")  # what is sent is the text as typed
    bot.command("status 1")
    wait_for(lambda: slack.accepted("files.completeUploadExternal"))
    assert acted_on(slack) == []


def test_a_strangers_reply_pings_nobody_and_a_long_one_is_shown_whole(bot_factory, slack, cellcast, tmp_path):
    bot = bot_factory(CELLCAST_SYNC_SECONDS="1")
    bot.send(form(contacts="0400000001"))
    wait_finished(slack)
    first_sync_done(bot)
    long_reply = HOSTILE + "\n" + " ".join(f"word{i:04d}" for i in range(460))  # 4,100+ characters
    cellcast.responses = [
        {"from": "400000001", "body": long_reply, "received_at": now_iso(), "message_id": ""},
        {"from": "400000001", "body": HOSTILE, "received_at": now_iso(), "message_id": ""},
    ]
    posts = wait_for(lambda: len(reply_posts(slack)) == 2 and reply_posts(slack), timeout=15)
    assert acted_on(slack) == []
    shown = flatten(posts[1].params["blocks"])
    assert len(long_reply) > 4100 and "word0459" in shown and "in 2 parts" in shown
    assert "&lt;!channel&gt;" in posts[0].params["text"]


@pytest.mark.sqlite_only  # rule 8 runs on both engines, with two processes, in tests/store/test_replies.py
def test_a_reply_polled_and_then_pushed_by_the_webhook_is_posted_once(bot_factory, slack, cellcast, tmp_path):
    bot = bot_factory(CELLCAST_SYNC_SECONDS="1", CELLCAST_WEBHOOK_SECRET=SECRET)
    bot.send(form(contacts="0400000001"))
    wait_finished(slack)
    first_sync_done(bot)
    url = f"{bot.url}/cellcast/webhook/{SECRET}"
    cellcast.responses = [{"from": "400000001", "body": "See you at 9", "received_at": now_iso(), "message_id": ""}]
    wait_for(lambda: reply_posts(slack), timeout=15)
    webhook = {
        "_id": "66b5b93b1e2c012dfe964100",
        "status": "delivered",
        "type": "receive",
        "message": "See you at 9",
        "sender": "+61400000001",
        "receiver": "+61400000009",
    }
    assert httpx.post(url, json=webhook).status_code == 200
    assert httpx.post(url, json=dict(webhook, _id="66b5b93b1e2c012dfe964101", message="after")).status_code == 200
    wait_for(lambda: any("after" in flatten(c.params) for c in reply_posts(slack)))  # posted after the twin would be
    assert [flatten(c.params).count("See you at 9") > 0 for c in reply_posts(slack)] == [True, False]


@pytest.mark.sqlite_only  # rule 8 runs on both engines, with two processes, in tests/store/test_replies.py
def test_a_reply_pushed_by_the_webhook_and_then_polled_is_posted_once(bot_factory, slack, cellcast, tmp_path):
    bot = bot_factory(CELLCAST_SYNC_SECONDS="1", CELLCAST_WEBHOOK_SECRET=SECRET)
    bot.send(form(contacts="0400000001"))
    wait_finished(slack)
    first_sync_done(bot)
    webhook = {
        "_id": "66b5b93b1e2c012dfe964200",
        "status": "delivered",
        "type": "receive",
        "message": "Running late",
        "sender": "+61400000001",
        "receiver": "+61400000009",
    }
    assert httpx.post(f"{bot.url}/cellcast/webhook/{SECRET}", json=webhook).status_code == 200
    wait_for(lambda: reply_posts(slack))
    cellcast.responses = [  # newest first: the poll then reads the same reply, and one after it
        {"from": "400000001", "body": "after", "received_at": now_iso(), "message_id": ""},
        {"from": "400000001", "body": "Running late", "received_at": now_iso(), "message_id": ""},
    ]
    wait_for(lambda: any("after" in flatten(c.params) for c in reply_posts(slack)), timeout=15)
    assert ["Running late" in flatten(c.params) for c in reply_posts(slack)] == [True, False]
