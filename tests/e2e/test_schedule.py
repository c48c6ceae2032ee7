"""End to end: scheduled sends. The real bot, signed requests, the loopback fakes; times a few seconds ahead."""

import signal
import time

import pytest

from tests.e2e.harness import ADMIN, form
from tests.e2e.test_send import numbers, wait_finished
from tests.fakes.server import wait_for
from tests.fakes.slack import flatten

QUIET_OFF = {"MMS_QUIET_HOURS": ""}


def wall(monotonic_at: float) -> float:
    """A fake's arrival time (monotonic) on the wall clock, to compare with a scheduled time."""
    return time.time() - (time.monotonic() - monotonic_at)


def schedule(bot, contacts, seconds_ahead, user=ADMIN, channel="C1", view_id="V1", **fields) -> tuple[int, dict]:
    """Fill the form with a time ``seconds_ahead``, confirm its review; (the scheduled time, the review)."""
    send_at = int(time.time()) + seconds_ahead
    review = bot.send(form(contacts=contacts, send_at=send_at, **fields), user=user, channel=channel, view_id=view_id)
    return send_at, review


def channel_message(slack, channel="C1") -> dict:
    """The send's channel message as it is now (after any update)."""
    (post,) = slack.channel_posts(channel)
    return slack.messages[(channel, post.answer["ts"])]


def answers(slack) -> list[str]:
    return [r.get("text", "") for r in slack.responses]


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_a_scheduled_send_waits_for_its_time_then_the_same_message_carries_on(bot_factory, slack, cellcast):
    bot = bot_factory(**QUIET_OFF)
    send_at, review = schedule(bot, "0400000001, 0400000002, 0400000003", 3)
    assert review["submit"]["text"] == "Schedule for 3 numbers"
    assert "Scheduled for" in flatten(review["blocks"]) and "AEDT" in flatten(review["blocks"])  # the sender's zone
    # At once: the channel message says when, with Cancel; nothing at the gateway.
    wait_for(lambda: slack.channel_posts("C1"))
    message = channel_message(slack)
    assert "scheduled an MMS to 3 numbers for" in flatten(message)
    assert "mms_cancel_scheduled" in flatten(message["blocks"])
    assert cellcast.calls == []
    wait_for(lambda: cellcast.calls, timeout=15)
    first = wall(cellcast.calls[0].at)
    assert send_at <= first < send_at + 2  # not before its time, and just after it
    reply = wait_finished(slack)
    assert "3 queued" in flatten(reply.params)
    bot.wait_quiet()
    assert len(slack.channel_posts("C1")) == 1  # the same message carried on
    message = channel_message(slack)
    assert "mms_cancel_scheduled" not in flatten(message["blocks"]) and "sent an MMS to 3 numbers" in flatten(message)
    assert "scheduled for" in bot.command("history").json()["text"]


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_cancel_before_its_time_sends_nothing_and_says_who_a_stranger_and_a_second_cancel_are_answered(
    bot_factory, slack, cellcast
):
    bot = bot_factory(**QUIET_OFF)
    send_at, _ = schedule(bot, "0400000001", 4)
    wait_for(lambda: slack.channel_posts("C1"))
    blocks = channel_message(slack)["blocks"]
    bot.click(blocks, "mms_cancel_scheduled", user="USTRANGER")
    wait_for(lambda: slack.responses)
    assert "Only the person who scheduled this send, or an admin" in answers(slack)[-1]
    bot.click(blocks, "mms_cancel_scheduled")
    wait_for(lambda: len(slack.responses) == 2)
    assert answers(slack)[-1].startswith("Cancelled: the MMS to 1 number scheduled for")
    wait_for(lambda: "Cancelled by <@UADMIN>" in flatten(channel_message(slack)))
    bot.click(blocks, "mms_cancel_scheduled")  # a second press (another person, or a double click)
    wait_for(lambda: len(slack.responses) == 3)
    assert "already cancelled, by <@UADMIN>" in answers(slack)[-1]
    time.sleep(
        max(0.0, send_at + 2 - time.time())
    )  # its time has come and gone (the start is looked for twice a second)
    assert cellcast.calls == [] and slack.thread_replies("C1") == []
    assert bot.batch_states() == {"cancelled": 1}
    assert "cancelled by <@UADMIN>" in bot.command("history").json()["text"]


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_cancel_after_it_started_is_too_late_and_it_carries_on(bot_factory, slack, cellcast):
    bot = bot_factory(**QUIET_OFF)
    cellcast.latency = 1.0
    schedule(bot, "0400000001", 3)
    wait_for(lambda: slack.channel_posts("C1"))
    blocks = channel_message(slack)["blocks"]
    wait_for(lambda: cellcast.calls, timeout=15)
    bot.click(blocks, "mms_cancel_scheduled")
    wait_for(lambda: slack.responses)
    assert answers(slack)[-1].startswith("Too late to cancel")
    assert "1 queued" in flatten(wait_finished(slack).params)


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_at_its_time_a_revoked_sender_is_not_sent_and_numbers_suppressed_since_are_left_out(
    bot_factory, slack, cellcast
):
    bot = bot_factory(**QUIET_OFF)
    assert "can now send" in bot.command("allow UBOB").json()["text"]
    schedule(bot, "0400000001", 4, user="UBOB", channel="CB", view_id="VB")
    schedule(bot, "0400000002, 0400000003", 4, channel="CA", view_id="VA")
    assert "can no longer send" in bot.command("revoke UBOB").json()["text"]
    assert "now suppressed" in bot.command("suppress 0400000003 asked by phone").json()["text"]
    revoked = wait_finished(slack, "CB", timeout=20)
    assert "could no longer send MMS when it was due" in flatten(revoked.params)
    assert "mms_resend_failed" in flatten(revoked.params)  # Send again, for someone who may
    left_out = wait_finished(slack, "CA", timeout=20)
    assert "1 queued" in flatten(left_out.params) and "added after the review" in flatten(left_out.params)
    assert cellcast.all_contacts() == ["+61400000002"]


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_a_balance_too_low_at_its_time_sends_nothing_and_says_so(bot_factory, slack, cellcast):
    bot = bot_factory(**QUIET_OFF)
    schedule(bot, "0400000001, 0400000002", 3)
    cellcast.mms_balance = 1  # spent elsewhere since the review
    reply = wait_finished(slack, timeout=20)
    assert "MMS balance (1 credits) was lower than it needs (about 2)" in flatten(reply.params)
    assert cellcast.calls == []


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
@pytest.mark.parametrize("down_for_longer", [False, True], ids=["back-within-resume", "back-too-late"])
def test_a_bot_down_at_the_due_time_sends_when_back_only_within_resume_within(
    bot_factory, slack, cellcast, down_for_longer
):
    settings = {**QUIET_OFF, "MMS_RESUME_WITHIN": "2" if down_for_longer else "60"}
    bot = bot_factory(**settings)
    send_at, _ = schedule(bot, "0400000001", 3)
    wait_for(lambda: slack.channel_posts("C1"))
    bot.stop(signal.SIGTERM)
    time.sleep(max(0.0, send_at + (4 if down_for_longer else 1) - time.time()))  # down across its time
    assert cellcast.calls == []
    bot_factory(**settings)
    reply = wait_finished(slack, timeout=20)
    if down_for_longer:
        assert "was not running at its time" in flatten(reply.params) and "mms_resend_failed" in flatten(reply.params)
        assert cellcast.calls == []
    else:
        assert "1 queued" in flatten(reply.params) and cellcast.all_contacts() == ["+61400000001"]


def test_two_processes_start_each_scheduled_send_once(bot_factory, slack, cellcast):
    first = bot_factory(**QUIET_OFF)
    second = bot_factory(**QUIET_OFF)
    send_at = int(time.time()) + 6
    for i in range(5):
        bot = first if i % 2 else second
        bot.send(form(contacts=", ".join(numbers(3, start=i * 10)), send_at=send_at), channel=f"C{i}", view_id=f"V{i}")
    for i in range(5):
        wait_finished(slack, f"C{i}", timeout=20)
    first.wait_quiet()
    second.wait_quiet()
    sent = cellcast.all_contacts()
    assert len(sent) == len(set(sent)) == 15
    assert all(len(slack.thread_replies(f"C{i}")) == 1 for i in range(5))


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_a_time_past_or_too_far_ahead_is_refused_on_the_form(bot, cellcast):
    response = bot.submit(form(contacts="0400000001", send_at=time.time() - 3600))
    assert response.json()["response_action"] == "errors"
    assert "That time has passed" in response.json()["errors"]["send_at"]
    response = bot.submit(form(contacts="0400000001", send_at=time.time() + 31 * 86400))
    assert "up to 30 days ahead" in response.json()["errors"]["send_at"]
    assert cellcast.calls == []


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_quiet_hours_warning_on_the_review(bot_factory, slack):
    bot = bot_factory(MMS_QUIET_HOURS="00:00-23:59")
    bot.submit(form(contacts="0400000001", send_at=time.time() + 3600))
    review = bot.review()
    assert "within quiet hours (00:00–23:59 Australia/Sydney)" in flatten(review["blocks"])
    assert review["submit"]["text"] == "Schedule for 1 number"  # a warning: the sender may go on


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_mms_scheduled_lists_yours_and_admins_see_everyones_with_cancel(bot_factory, slack):
    bot = bot_factory(**QUIET_OFF)
    bot.command("allow UBOB")
    schedule(bot, "0400000001", 3600, view_id="VA")
    schedule(bot, "0400000002, 0400000003", 7200, user="UBOB", channel="CB", view_id="VB")
    mine = bot.command("scheduled", user="UBOB").json()
    assert "Your scheduled sends" in flatten(mine["blocks"]) and "2 numbers" in flatten(mine["blocks"])
    assert "1 number —" not in flatten(mine["blocks"])
    everyone = bot.command("scheduled").json()
    shown = flatten(everyone["blocks"])
    assert "everyone's" in shown and "in 60 minutes" in shown and "in 2 hours" in shown
    assert shown.count("mms_cancel_scheduled") == 2
    assert "You have no sends scheduled" in bot.command("scheduled", user="UCAROL").json()["text"]
