"""Results always reach Slack: the reporter against a stand-in that refuses what Slack refuses."""

import csv
import io
import json
import signal
import time

import pytest

from tests.e2e.harness import ADMIN, db_rows, form
from tests.e2e.test_send import numbers, png, problem, wait_finished
from tests.fakes.server import wait_for
from tests.fakes.slack import MAX_MESSAGE_BLOCKS, flatten


def csv_rows(slack) -> list[list[str]]:
    (content,) = slack.uploads.values() if len(slack.uploads) == 1 else [max(slack.uploads.values(), key=len)]
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


@pytest.mark.sqlite_only  # what Slack is shown
def test_a_send_with_an_image_and_an_unfetchable_gif_gets_its_message_image_and_summary(bot, slack, cellcast):
    image = slack.host_file("FIMG", "cat.png", png())
    cellcast.latency = 0.3
    bot.send(form(contacts="\n".join(numbers(3000)), media=image, gif="https://gifs.example/never.gif"))
    reply = wait_finished(slack)
    assert "3,000 queued" in json.dumps(reply.params)
    channel_post = slack.channel_posts("C1")[0]
    assert not any(
        b.get("type") == "image" for b in channel_post.params["blocks"]
    )  # the GIF link Slack could not fetch
    assert any("downloading image failed" in json.dumps(body) for _, body in slack.refusals)
    assert not any(
        "slack_file" in json.dumps(c.params) for c in slack.calls_to("chat.postMessage")
    )  # never the form's upload
    shared = [
        c
        for c in slack.accepted("files.completeUploadExternal")
        if c.params.get("thread_ts") == channel_post.answer["ts"]
    ]
    assert shared and png() in slack.uploads.values()  # the image as sent, in the thread
    assert "Done" in flatten(slack.accepted("chat.update")[-1].params)


def test_an_expired_key_on_60000_numbers_gives_one_summary_within_slacks_limits_with_every_number_in_the_csv(
    bot, slack, cellcast
):
    cellcast.then(*["401"] * 80)
    file = slack.host_file("FCSV", "list.csv", ("Mobile\n" + "\n".join(numbers(60_000))).encode())
    bot.send(form(contacts_file=file, contacts="0400 12\nhello"))
    reply = wait_finished(slack, timeout=60)
    assert len(cellcast.calls) <= 8  # CELLCAST_MAX_IN_FLIGHT: only calls already on the wire
    blocks = reply.params["blocks"]
    assert len(blocks) <= MAX_MESSAGE_BLOCKS and all(len(flatten(b)) < 3000 for b in blocks)
    text = flatten(reply.params)
    assert "60,000 numbers not sent" in text and "API key was refused" in text and "2 invalid" in text
    assert "CSV file" in text
    wait_for(lambda: slack.uploads and len(csv_rows(slack)) == 1 + 60_002, timeout=30)
    rows = csv_rows(slack)
    assert rows[0] == ["number", "outcome", "reason", "message_id", "delivery", "message", "conversation"]
    assert sum(row[1] == "not sent" for row in rows[1:]) == 60_000


@pytest.mark.sqlite_only  # Slack's refusals; the outbox runs on both engines in tests/store
def test_the_channel_message_deleted_mid_send_carries_on_in_a_new_message(bot_factory, slack, cellcast):
    bot = bot_factory(CELLCAST_MAX_IN_FLIGHT="1")
    cellcast.latency = 0.5
    bot.send(form(contacts="\n".join(numbers(5000))))
    first = wait_for(lambda: slack.channel_posts("C1"))[0]
    slack.delete_message("C1", first.answer["ts"])
    reply = wait_finished(slack, timeout=30)
    posts = slack.channel_posts("C1")
    assert len(posts) == 2 and "deleted" in flatten(posts[1].params)
    assert reply.params["thread_ts"] == posts[1].answer["ts"] and "5,000 queued" in flatten(reply.params)
    assert ("chat.update", {"ok": False, "error": "message_not_found"}) in slack.refusals


@pytest.mark.sqlite_only  # Slack's refusals; the outbox runs on both engines in tests/store
def test_the_channel_archived_mid_send_moves_the_results_to_the_senders_dm(bot_factory, slack, cellcast):
    bot = bot_factory(CELLCAST_MAX_IN_FLIGHT="1")
    cellcast.latency = 0.5
    bot.send(form(contacts="\n".join(numbers(5000))))
    wait_for(lambda: slack.channel_posts("C1"))
    slack.archived.add("C1")
    reply = wait_finished(slack, channel=f"D{ADMIN}", timeout=30)
    assert "5,000 queued" in flatten(reply.params)
    assert "archived during this send" in " ".join(slack.posted_texts(f"D{ADMIN}"))


@pytest.mark.sqlite_only  # Slack's failures; the outbox runs on both engines in tests/store
def test_slack_failing_when_the_send_starts_does_not_hold_the_mms_back(bot, slack, cellcast):
    slack.fail_next("chat.postMessage", status=500, times=3)
    started = time.monotonic()
    bot.send(form(contacts="0400000001, 0400000002"))
    wait_for(lambda: cellcast.calls, timeout=5)
    assert time.monotonic() - started < 2 and slack.channel_posts() == []  # sent while Slack was still failing
    reply = wait_finished(slack, timeout=30)
    assert "2 queued" in flatten(reply.params) and len(slack.channel_posts("C1")) == 1


@pytest.mark.sqlite_only  # Slack's refusals; the outbox runs on both engines in tests/store
def test_an_invalid_token_keeps_reports_due_and_names_the_setting_while_the_mms_goes_out(bot, slack, cellcast):
    for method in ("chat.postMessage", "conversations.open", "files.getUploadURLExternal"):
        slack.fail_next(method, error="invalid_auth", times=5)
    bot.send(form(contacts="0400000001"))
    wait_for(lambda: cellcast.calls)
    wait_for(lambda: "SLACK_BOT_TOKEN" in bot.log())
    assert slack.thread_replies() == []


def test_reports_still_due_at_a_restart_are_delivered_once_by_the_next_process(bot_factory, slack, cellcast, tmp_path):
    bot = bot_factory()
    slack.fail_next("chat.postMessage", status=500, times=1000)
    bot.send(form(contacts="0400000001, 0400000002"))
    wait_for(lambda: db_rows(tmp_path, "SELECT state FROM sends") == [("done",)], timeout=10)
    bot.stop(signal.SIGKILL)
    slack.failures.clear()
    restarted = bot_factory()
    reply = wait_finished(slack, timeout=30)
    assert "2 queued" in flatten(reply.params)
    restarted.wait_quiet()
    assert len(slack.thread_replies()) == 1 and len(slack.channel_posts()) == 1 and len(cellcast.calls) == 1


def test_pending_batches_older_than_resume_within_are_not_sent_after_a_restart(bot_factory, slack, cellcast, tmp_path):
    bot = bot_factory(CELLCAST_MAX_IN_FLIGHT="1", MMS_RESUME_WITHIN="2")
    cellcast.latency = 1.0
    bot.send(form(contacts="\n".join(numbers(4000))))
    wait_for(lambda: len(cellcast.calls) == 1)
    bot.stop(signal.SIGKILL)
    time.sleep(3)  # down for longer than MMS_RESUME_WITHIN
    cellcast.latency = 0
    bot_factory(CELLCAST_MAX_IN_FLIGHT="1", MMS_RESUME_WITHIN="2")
    reply = wait_finished(slack, timeout=40)
    text = flatten(reply.params)
    assert "3,000 numbers not sent (expired)" in text and "the bot was down" in text
    assert any(b.get("block_id") == "resend" for b in reply.params["blocks"])
    assert len(cellcast.calls) == 1
    assert db_rows(tmp_path, "SELECT state, COUNT(*) FROM batches GROUP BY state ORDER BY state") == [
        ("expired", 3),
        ("unknown", 1),
    ]


def test_a_gateway_answer_missing_2_of_5_numbers_accounts_for_all_5(bot, slack, cellcast):
    cellcast.then(("omit", 2))
    bot.send(form(contacts="\n".join(numbers(5))))
    reply = wait_finished(slack)
    text = flatten(reply.params)
    assert "3 queued, 2 not confirmed by the gateway" in text and "0400 000 003" in text and "0400 000 004" in text
    assert "Send again to 2 numbers" in text


@pytest.mark.sqlite_only  # downloads: no database in it
def test_downloads_follow_slack_redirects_only_and_give_the_token_to_slack_com_only(bot, slack, cellcast, internet):
    origin = slack.host_file("FORIG", "a.png", png(), host="files.slack.com", redirect="origin")
    edge = slack.host_file("FEDGE", "b.csv", b"Mobile\n0400000001\n", host="files.slack.com", redirect="edge")
    bot.submit(form(media=origin, contacts_file=edge))
    assert bot.review()["submit"]["text"] == "Send to 1 number"
    by_host = {host: auth for host, _, auth in slack.downloads}
    assert by_host["files.slack.com"].startswith("Bearer ") and by_host["files-origin.slack.com"].startswith("Bearer ")
    assert by_host["a.slack-edge.com"] == ""  # the CDN's links are signed: the token stays home

    signin = slack.host_file("FSIGN", "c.png", png(), host="files.slack.com", redirect="signin")
    bot.submit(form(contacts="0400000001", media=signin), view_id="V2")
    assert "files:read" in problem(bot.review("V2"), "media")

    foreign = slack.host_file("FFOR", "d.png", png(), host="files.slack.com", redirect="https://evil.example.com/d.png")
    bot.submit(form(contacts="0400000001", media=foreign), view_id="V3")
    assert "away from Slack" in problem(bot.review("V3"), "media")
    assert "evil.example.com" not in internet.connects
    assert not any(host == "evil.example.com" for host, _, _ in slack.downloads)


def test_24_refused_entries_are_all_in_the_csv_and_the_thread_says_more_follow(bot, slack, cellcast):
    bad = [f"04000000{i:02d}9" for i in range(24)]  # too long, each
    bot.send(form(contacts="0400000001\n" + "\n".join(bad)))
    reply = wait_finished(slack)
    text = flatten(reply.params)
    assert "24 numbers invalid" in text and "and 19 more" in text and "CSV file" in text
    wait_for(lambda: slack.uploads)
    rows = csv_rows(slack)
    assert sorted(row[0] for row in rows[1:] if row[1] == "invalid") == sorted(bad)
