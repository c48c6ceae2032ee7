"""Opt-outs that stick and replies in the thread, against a loopback Cellcast serving its documented pages."""

import csv
import io
import json
import time

import httpx
import pytest

from tests.e2e.harness import ADMIN, db_rows, form
from tests.e2e.test_review import text_of
from tests.e2e.test_send import wait_finished
from tests.fakes.server import wait_for
from tests.fakes.slack import flatten

SECRET = "whsec-0123456789abcdefXYZ"


def reply_posts(slack, channel="C1"):
    return [c for c in slack.thread_replies(channel) if "Reply from" in flatten(c.params)]


def test_a_number_unsubscribed_in_one_send_is_left_out_of_the_next(bot, slack, cellcast, tmp_path):
    cellcast.unsubscribed = {"400000002"}
    bot.send(form(contacts="0400000001, 0400000002"), view_id="V1")
    wait_finished(slack)
    bot.submit(form(contacts="0400000001, 0400000002, 0400000003"), view_id="V2")
    review = bot.review("V2")
    assert review["submit"]["text"] == "Send to 2 numbers"
    assert "1 number on the suppression list (opted out): 0400 000 002" in text_of(review)
    bot.confirm(review)
    wait_for(lambda: len(slack.thread_replies()) == 2)
    assert [c.contacts for c in cellcast.calls][1] == ["+61400000001", "+61400000003"]
    summary = flatten(slack.thread_replies()[-1].params)
    assert "1 suppressed" in summary and "Cellcast reported it unsubscribed" in summary


def test_numbers_on_cellcasts_opt_out_list_in_either_form_and_on_any_page_are_not_sent(bot_factory, slack, cellcast):
    cellcast.optout_list = [f"6149{i:07d}" for i in range(150)] + ["400000002"]  # two pages of 100
    bot = bot_factory()
    bot.send(form(contacts="0400000001, 0400000002, 0491234567, 0490000149"))
    wait_finished(slack)
    assert cellcast.all_contacts() == ["+61400000001", "+61491234567"]
    pages = [path for path, _ in cellcast.reads if "getOptout" in path]
    assert any("page=2" in p for p in pages)


def test_replies_land_in_the_thread_stop_suppresses_and_please_stop_this_bill_only_asks(
    bot_factory, slack, cellcast, tmp_path
):
    bot = bot_factory(CELLCAST_SYNC_SECONDS="1")
    bot.send(form(contacts="0400000001, 0400000002, 0400000003"), channel="C1", view_id="V1")
    first = wait_finished(slack)
    bot.send(form(contacts="0400000003"), channel="C2", view_id="V2")  # the latest send to 0400000003 is in C2
    wait_finished(slack, channel="C2")
    # The bot's first read of the replies (history: recorded, opt-outs honoured, not posted) is behind it.
    bot.wait_sync_rounds(1)
    cellcast.responses = [  # newest first
        {"from": "400000003", "body": "Who is this?", "received_at": "2026-11-28T01:00:03.000Z", "message_id": ""},
        {
            "from": "61400000002",
            "body": "please stop this bill",
            "received_at": "2026-11-28T01:00:02.000Z",
            "message_id": "",
        },
        {"from": "400000001", "body": " Stop. ", "received_at": "2026-11-28T01:00:01.000Z", "message_id": ""},
        {"from": "400000001", "body": "Thanks!", "received_at": "2026-11-28T01:00:00.000Z", "message_id": ""},
    ]
    wait_for(lambda: len(reply_posts(slack, "C1")) == 3, timeout=15)
    texts = [flatten(c.params) for c in reply_posts(slack, "C1")]
    assert "Thanks!" in texts[0] and "opt-out: 0400 000 001 is now on the suppression list" in texts[1]
    assert "may be an opt-out" in texts[2] and "Suppress 0400 000 002" in texts[2]
    assert all(c.params["thread_ts"] == first.params["thread_ts"] for c in reply_posts(slack, "C1"))
    assert "Who is this?" in flatten(wait_for(lambda: reply_posts(slack, "C2"))[0].params)
    assert bot.suppressed() == {"400000001": "replied"}  # "please stop this bill" did not unsubscribe anyone
    bot.click(reply_posts(slack, "C1")[2].params["blocks"], "mms_suppress_number")
    wait_for(lambda: "400000002" in bot.suppressed())
    bot.wait_sync_rounds(2)
    bot.wait_quiet()
    assert len(reply_posts(slack, "C1")) == 3  # each reply posted once, however often the sync reads them


def test_the_webhook_with_the_right_secret_records_a_reply_and_anything_else_is_a_404(
    bot_factory, slack, cellcast, tmp_path
):
    bot = bot_factory(CELLCAST_WEBHOOK_SECRET=SECRET)
    bot.send(form(contacts="0400000001"))
    wait_finished(slack)
    reply = {
        "_id": "66b5b93b1e2c012dfe964000",
        "status": "delivered",
        "type": "receive",
        "message": "STOP",
        "sender": "+61400000001",
        "receiver": "+61400000009",
    }
    url = f"{bot.url}/cellcast/webhook/{SECRET}"
    assert httpx.post(f"{bot.url}/cellcast/webhook/wrong-secret-0123456789", json=reply).status_code == 404
    assert httpx.post(url, json={"hello": "world"}).status_code == 404
    assert httpx.post(url, content=b"not json").status_code == 404
    assert db_rows(tmp_path, "SELECT COUNT(*) FROM replies") == [(0,)]
    started = time.monotonic()
    assert httpx.post(url, json=reply).status_code == 200
    assert time.monotonic() - started < 0.5
    assert httpx.post(url, json=reply).status_code == 200  # Cellcast retrying: recorded once
    post = wait_for(lambda: reply_posts(slack))
    assert len(post) == 1 and "opt-out" in flatten(post[0].params)
    assert bot.suppressed() == {"400000001": "replied"}
    live = dict(
        reply, _id="66b5b93b1e2c012dfe964001", reply="Thanks", message="the MMS we sent"
    )  # reply first, when present
    assert httpx.post(url, json=live).status_code == 200
    wait_for(lambda: any("Thanks" in flatten(c.params) for c in reply_posts(slack)))
    assert SECRET not in bot.log()


def test_admins_suppress_and_unsuppress_others_may_not(bot, slack, cellcast, tmp_path):
    assert "Only admins" in bot.command("suppress 0400000001", user="UBOB").json()["text"]
    assert "now suppressed" in bot.command("suppress 0400 000 001 asked by phone").json()["text"]
    assert "not an Australian mobile" in bot.command("suppress 12345").json()["text"]
    bot.submit(form(contacts="0400000001, 0400000002"))
    assert bot.review()["submit"]["text"] == "Send to 1 number"
    assert "no longer suppressed" in bot.command("unsuppress 0400000001 typo").json()["text"]
    db_rows(  # an opt-out by reply, as the sync records one
        tmp_path,
        "INSERT INTO suppression VALUES ('400000005', 'replied', 'replied “STOP”', 'reply', '2026-11-28T00:00:00')",
    )
    assert "consent" in bot.command("unsuppress 0400000005").json()["text"]
    assert "no longer suppressed" in bot.command("unsuppress 0400000005 called us to opt back in").json()["text"]
    audit = db_rows(tmp_path, "SELECT action, number, actor, reason FROM suppression_audit ORDER BY id")
    assert audit == [
        ("suppress", "400000001", ADMIN, "asked by phone"),
        ("unsuppress", "400000001", ADMIN, "typo"),
        ("unsuppress", "400000005", ADMIN, "called us to opt back in"),
    ]
    listing = bot.command("suppressed").json()["text"]
    assert "0 numbers are suppressed" in listing and "direct message" in listing
    upload = wait_for(lambda: slack.accepted("files.completeUploadExternal"))
    assert upload[0].params["channel_id"] == f"D{ADMIN}"
    rows = list(csv.reader(io.StringIO(max(slack.uploads.values(), key=len).decode("utf-8-sig"))))
    assert rows[0] == ["number", "source", "reason", "added_by", "added_at"]


@pytest.mark.sqlite_only  # what the review says
def test_a_failed_opt_out_sync_is_shown_on_the_review_and_does_not_block_the_send(bot_factory, slack, cellcast):
    cellcast.fail_reads("/api/v1/apiClient/getOptout", *["500"] * 6)
    bot = bot_factory()
    bot.submit(form(contacts="0400000001"))
    review = bot.review()
    assert review.get("submit") and "opt-out list" in text_of(review).lower()
    assert any(
        "Cellcast's opt-out list has not been read yet" in flatten(b) or "sync failed" in flatten(b)
        for b in review["blocks"]
        if b.get("type") == "section"
    )
    bot.confirm(review)
    assert "1 queued" in json.dumps(wait_finished(slack).params)


@pytest.mark.sqlite_only  # what the review says
def test_the_footer_and_the_one_way_sender_warning(bot_factory, slack, cellcast):
    bot = bot_factory()
    bot.submit(form(message="Sale on now", sender="ACME", contacts="0400000001"))
    text = text_of(bot.review())
    assert "> Sale on now\n> Reply STOP to opt out" in text
    assert "cannot reach the sender ID “ACME”" in text
    bot.submit(form(message="Sale! Reply STOP to unsubscribe", contacts="0400000001"), view_id="V2")
    assert "Reply STOP to opt out" not in text_of(bot.review("V2"))
    quiet = bot_factory(MMS_OPTOUT_TEXT="")
    quiet.send(form(message="Your parcel is here", contacts="0400000001"), view_id="V3")
    wait_finished(slack)
    assert cellcast.calls[-1].fields["message"] == "Your parcel is here"
