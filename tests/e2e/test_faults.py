"""Faults injected through the loopback servers: what the user sees and what is recorded."""

import json
import signal
import threading
import time

from tests.e2e.harness import CELLCAST_KEY, SIGNING_SECRET, db_rows, form
from tests.e2e.test_send import numbers, png, problem, wait_finished
from tests.fakes.server import wait_for
from tests.fakes.slack import BOT_TOKEN, FakeSlack


def test_killed_mid_send_then_restarted_every_number_ends_in_one_state_and_nothing_is_sent_twice(
    bot_factory, slack, cellcast, tmp_path
):
    cellcast.latency = 0.6
    bot = bot_factory(CELLCAST_MAX_IN_FLIGHT="1")
    bot.send(form(contacts="\n".join(numbers(4500))))
    wait_for(lambda: len(cellcast.calls) == 2)
    bot.stop(signal.SIGKILL)  # batch 2 is on the wire, batches 3-5 never started
    assert db_rows(tmp_path, "SELECT seq, state FROM batches ORDER BY seq") == [
        (0, "queued"),
        (1, "sending"),
        (2, "pending"),
        (3, "pending"),
        (4, "pending"),
    ]
    cellcast.latency = 0
    bot_factory(CELLCAST_MAX_IN_FLIGHT="1")
    reply = wait_finished(slack, timeout=30)
    states = db_rows(tmp_path, "SELECT seq, state, error_kind FROM batches ORDER BY seq")
    assert states == [
        (0, "queued", None),
        (1, "unknown", "interrupted"),
        (2, "queued", None),
        (3, "queued", None),
        (4, "queued", None),
    ]
    sent = cellcast.all_contacts()
    assert len(sent) == len(set(sent)) == 4500  # batch 2 reached the gateway once, before the kill
    assert len(cellcast.calls) == 5
    text = json.dumps(reply.params)
    assert "3,500 queued" in text and "1,000 outcome unknown" in text and "restarted" in text
    assert "1,000 numbers outcome unknown.* The bot stopped while this batch was being sent" in text
    assert (
        len(slack.thread_replies()) == 1
        and len([c for c in slack.calls_to("chat.postMessage") if "thread_ts" not in c.params]) == 1
    )


def test_the_same_review_submitted_twice_sends_once(bot, slack, cellcast, tmp_path):
    bot.submit(form(contacts="0400000001"), view_id="VTWICE")
    review = bot.review("VTWICE")
    results = []
    threads = [threading.Thread(target=lambda: results.append(bot.confirm(review).json())) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results == [{"response_action": "clear"}] * 2
    wait_finished(slack)
    bot.wait_quiet()
    assert len(cellcast.calls) == 1 and len(slack.thread_replies()) == 1
    assert db_rows(tmp_path, "SELECT COUNT(*) FROM sends") == [(1,)]


def test_20_concurrent_submissions_all_send_and_the_database_never_locks(bot, slack, cellcast, tmp_path):
    cellcast.latency = 0.1
    answers = []

    def submit(i):
        started = time.monotonic()
        response = bot.submit(form(contacts=f"04{i:08d}"), view_id=f"VC{i}", channel=f"C{i}")
        answers.append((response.status_code, time.monotonic() - started))
        answers.append((bot.confirm(bot.review(f"VC{i}")).status_code, 0))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(20)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(answers) == 40 and all(status == 200 and seconds < 3 for status, seconds in answers)
    wait_for(lambda: len(slack.thread_replies()) == 20, timeout=30)
    assert sorted(cellcast.all_contacts()) == sorted(f"+614{i:08d}"[:12] for i in range(20))
    assert db_rows(tmp_path, "SELECT state, COUNT(*) FROM batches GROUP BY state") == [("queued", 20)]
    assert "locked" not in bot.log()


def test_gateway_429_waits_retry_after_and_the_batch_is_queued(bot, slack, cellcast):
    cellcast.then(("429", 1))
    bot.send(form(contacts="0400000001"))
    reply = wait_finished(slack)
    assert len(cellcast.calls) == 2 and cellcast.calls[1].at - cellcast.calls[0].at >= 0.95
    assert "1 queued" in json.dumps(reply.params)


def test_slack_429_on_post_message_is_retried(bot, slack, cellcast):
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    bot.send(form(contacts="0400000001"))
    reply = wait_finished(slack)
    assert "1 queued" in json.dumps(reply.params)
    first, second = slack.calls_to("chat.postMessage")[:2]
    assert first.params["channel"] == second.params["channel"] == "C1" and second.at - first.at >= 0.9


def test_bot_token_is_never_sent_to_another_host(bot, slack, cellcast):
    evil = FakeSlack().start()
    try:
        foreign = evil.host_file("FEVIL", "x.png", png())
        bot.submit(form(contacts="0400000001", media=foreign))
        assert "not hosted by Slack" in problem(bot.review(), "media")
        target = evil.host_file("FEVIL2", "x.png", png())["url_private_download"].removeprefix("http://")
        redirect = {
            "id": "FRED",
            "name": "x.png",
            "url_private_download": f"{slack.server.base_url}/redirect-to/{target}",
        }
        bot.submit(form(contacts="0400000001", media=redirect), view_id="V2")
        assert "away from Slack" in problem(bot.review("V2"), "media")
        assert evil.calls == [] and evil.uploads == {}
    finally:
        evil.stop()
    assert cellcast.calls == []


def test_slack_login_page_instead_of_the_file_is_an_error_not_an_image(bot, slack, cellcast):
    page = slack.host_file("FLOGIN", "photo.png", None)
    bot.submit(form(contacts="0400000001", media=page))
    assert "files:read" in problem(bot.review(), "media")
    assert cellcast.calls == []


def test_debug_logs_hold_no_secrets_and_no_full_numbers(bot_factory, slack, cellcast):
    bot = bot_factory(LOG_LEVEL="DEBUG")
    cellcast.then("ok", "500")
    image = slack.host_file("FIMG", "cat.png", png())
    bot.send(form(contacts="0412 345 678, +61498765432\n0400000001", media=image))
    bot.send(form(contacts="0455 555 555"), view_id="V2")
    wait_for(lambda: len(slack.thread_replies()) == 2)
    bot.command("allow UBOB")
    log = bot.log()
    assert "cellcast" in log and "DEBUG" in log  # the log really is verbose
    for secret in (BOT_TOKEN, CELLCAST_KEY, SIGNING_SECRET):
        assert secret not in log
    for full in ("412345678", "0412 345 678", "498765432", "455555555", "0455 555 555", "400000001"):
        assert full not in log
    assert "04xx xxx 678" in log or "04xx xxx 555" in log


def test_resend_button_sends_failed_and_unknown_numbers_once_when_a_person_asks(bot, slack, cellcast, tmp_path):
    cellcast.then("500")
    bot.send(form(contacts="0400000001, 0400000002"))
    wait_finished(slack)
    assert len(cellcast.calls) == 1
    send_id = db_rows(tmp_path, "SELECT id FROM sends")[0][0]
    assert bot.click_resend(send_id).status_code == 200
    wait_for(lambda: len(slack.thread_replies()) == 2)
    assert len(cellcast.calls) == 2 and cellcast.calls[1].contacts == ["+61400000001", "+61400000002"]
    assert "2 queued" in json.dumps(slack.thread_replies()[-1].params)
    bot.click_resend(send_id)  # a second click, or Slack delivering the click again
    wait_for(lambda: slack.responses)
    assert "already" in slack.responses[-1]["text"]
    bot.wait_quiet()
    assert len(cellcast.calls) == 2
