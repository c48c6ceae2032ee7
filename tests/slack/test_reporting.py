"""The reporter in-process, against the loopback Slack that refuses what Slack refuses: what each kind of
report shows, and the fallbacks (DM, a new message, no image, later, a refused token)."""

import uuid

import pytest
from slack_sdk import WebClient

from bot.sending import outcomes as o
from bot.sending.reports import FileFor, Notice, ReplyReport, ReportKind, asked_key
from bot.sending.states import QUEUED
from bot.slack.reporting import SlackReporter
from bot.store import Store
from tests.fakes.server import wait_for
from tests.fakes.slack import BOT_TOKEN, flatten


@pytest.fixture
def store(tmp_path):
    opened = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    yield opened
    opened.close()


@pytest.fixture
def reporter(slack, store):
    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url, retry_handlers=[])
    running = SlackReporter(client, store, "p1", lease=10, poll=0.05)
    running.start()
    yield running
    running.stop(2)


def finished_send(store, numbers=2, *, channel="C1", media=None, invalid=0, gif=None) -> int:
    contacts = [f"4000000{i:02d}" for i in range(numbers)]
    settled = [o.NumberOutcome(f"bad{i}", o.INVALID, "has letters") for i in range(invalid)]
    send = {"view_id": uuid.uuid4().hex, "user_id": "U1", "channel_id": channel, "message": "Hello", "gif_url": gif}
    send_id = store.create_send(send, media, [contacts], settled)
    batch = store.claim_next_batch("worker", 10)
    store.finish_batch(batch.id, QUEUED, o.all_of(batch.contacts, o.QUEUED, ""), owner="worker")
    return send_id


def test_a_send_gets_its_channel_message_then_its_summary_in_the_thread(slack, store, reporter):
    send_id = finished_send(store)
    reporter.wake()
    summary = wait_for(lambda: slack.thread_replies("C1"))[0]
    post = slack.channel_posts("C1")[0]
    assert summary.params["thread_ts"] == post.answer["ts"] and "2 queued" in flatten(summary.params)
    # The channel message as it is now (posted, perhaps while sending, and updated before the summary):
    assert "<@U1> sent an MMS to 2 numbers" in flatten(slack.messages[("C1", post.answer["ts"])])
    wait_for(lambda: store.get_send(send_id).reported_at)


def test_the_image_goes_up_into_the_thread_in_three_steps(slack, store, reporter):
    finished_send(store, media=b"\xff\xd8\xff fake jpeg")
    reporter.wake()
    done = wait_for(lambda: slack.accepted("files.completeUploadExternal"))
    assert done[0].params["channel_id"] == "C1" and done[0].params.get("thread_ts")
    assert b"\xff\xd8\xff fake jpeg" in slack.uploads.values()


def test_many_left_out_numbers_bring_the_csv(slack, store, reporter):
    send_id = finished_send(store, numbers=3, invalid=40)
    reporter.wake()
    wait_for(lambda: slack.accepted("files.completeUploadExternal"))
    csv = next(iter(slack.uploads.values())).decode("utf-8-sig")
    assert csv.startswith("number,outcome") and csv.count("\n") == 44
    assert store.get_send(send_id).reported_at


def test_not_in_the_channel_the_results_go_to_the_senders_dm_saying_why(slack, store, reporter):
    slack.not_in_channel.add("C9")
    finished_send(store, channel="C9")
    reporter.wake()
    summary = wait_for(lambda: slack.thread_replies())[0]
    assert summary.params["channel"].startswith("D")
    assert "not a member of it" in flatten(slack.channel_posts(summary.params["channel"])[0].params)


def test_a_deleted_channel_message_is_carried_on_in_a_new_one(slack, store, reporter):
    send_id = finished_send(store, numbers=1)
    reporter.wake()
    wait_for(lambda: slack.thread_replies("C1"))
    send = store.get_send(send_id)
    slack.delete_message("C1", send.report_ts)
    store.report_due("notice:test", send_id, ReportKind.NOTICE, Notice("After the deletion"))
    reporter.wake()
    wait_for(lambda: any("After the deletion" in flatten(c.params) for c in slack.thread_replies("C1")))
    assert any("carries on here" in flatten(c.params) for c in slack.channel_posts("C1"))


def test_an_image_slack_cannot_fetch_is_left_out_of_the_message(slack, store, reporter):
    send_id = finished_send(store, gif="https://example.com/party.gif")
    reporter.wake()
    wait_for(lambda: slack.thread_replies("C1"))
    assert all(b.get("type") != "image" for b in slack.channel_posts("C1")[0].params["blocks"])
    assert not store.get_send(send_id).images_ok


def test_slack_saying_later_is_tried_again_and_a_refused_token_stops_the_reports(slack, store, reporter):
    slack.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=1)
    finished_send(store)
    reporter.wake()
    wait_for(lambda: slack.thread_replies("C1"), timeout=15)
    assert len(slack.calls_to("chat.postMessage")) >= 3  # the refused post, then the post and the summary
    slack.fail_next("chat.postMessage", error="invalid_auth")
    finished_send(store)
    reporter.wake()
    assert wait_for(lambda: reporter.auth_failure) == "invalid_auth"


def test_reports_of_no_send_a_dm_notice_a_reply_elsewhere_and_files_asked_for(slack, store, reporter):
    store.report_due("n1", None, ReportKind.NOTICE, Notice("Hello by DM", user_id="U7"))
    reply_id = store.record_reply("poll:x", "400000001", "<!here> hi", "2026-12-01T00:00:00Z", "poll")
    store.settle_reply(reply_id, None, None)
    store.report_due("r1", None, ReportKind.REPLY, ReplyReport(reply_id, channel="C5"))
    send_id = finished_send(store)
    store.suppress("400000009", "admin", "asked", "U7")
    store.report_due(
        asked_key(ReportKind.SEND_CSV, "U7", 1.0, send_id), None, ReportKind.SEND_CSV, FileFor("U7", send_id)
    )
    store.report_due(asked_key(ReportKind.SUPPRESSION_CSV, "U7", 1.0), None, ReportKind.SUPPRESSION_CSV, FileFor("U7"))
    reporter.wake()
    assert wait_for(lambda: [t for t in slack.posted_texts() if "Hello by DM" in t])
    reply = wait_for(lambda: slack.channel_posts("C5"))[0]
    assert "&lt;!here&gt;" in reply.params["text"]
    shared = wait_for(lambda: len(slack.accepted("files.completeUploadExternal")) >= 2 and slack.uploads)
    assert any(b"400000009" in body for body in shared.values())
