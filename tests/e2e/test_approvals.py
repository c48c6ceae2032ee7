"""End to end: a second person's approval above a size, and daily limits."""

import threading
import time

import pytest

from tests.e2e.harness import ADMIN, form
from tests.e2e.test_send import numbers, wait_finished
from tests.fakes.server import wait_for
from tests.fakes.slack import flatten

APPROVERS = {"MMS_APPROVAL_ABOVE": "2", "MMS_APPROVERS": "UAPPROVER1,UAPPROVER2", "MMS_APPROVALS_CHANNEL": "CAPPROVALS"}


def ask(bot, contacts, user="UBOB", channel="C1", view_id="V1", **fields):
    """Fill in the form as ``user`` and confirm the review: the answer to the confirmation."""
    bot.submit(form(contacts=contacts, **fields), user=user, channel=channel, view_id=view_id)
    review = bot.review(view_id)
    return review, bot.confirm(review, user=user).json()


def request_post(slack):
    return wait_for(lambda: slack.channel_posts("CAPPROVALS"))[-1]


def current(slack, post):
    return slack.messages[(post.params["channel"], post.answer["ts"])]


def responses(slack):
    return [r.get("text", "") for r in slack.responses]


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_below_the_threshold_sends_as_today_and_above_nothing_goes_out_until_approved(bot_factory, slack, cellcast):
    bot = bot_factory(**APPROVERS)
    bot.command("allow UBOB")
    review, answer = ask(bot, "0400000001, 0400000002", view_id="VSMALL")
    assert answer == {"response_action": "clear"} and review["submit"]["text"] == "Send to 2 numbers"
    wait_finished(slack)
    review, answer = ask(bot, ", ".join(numbers(3, start=10)), channel="C2", view_id="VBIG")
    assert review["submit"]["text"] == "Ask for approval (3)" and "needs an approver" in flatten(review["blocks"])
    assert answer["response_action"] == "update" and "Waiting for approval" in flatten(answer["view"])
    post = request_post(slack)
    shown = flatten(post.params)
    assert "<@UBOB> asks to send an MMS to 3 numbers in <#C2>" in shown and "Hello from the test" in shown
    assert "mms_approve" in shown and "mms_reject" in shown
    requester_copy = wait_for(lambda: [c for c in slack.channel_posts("DUBOB") if "mms_withdraw" in flatten(c.params)])
    assert requester_copy
    time.sleep(1)  # the dispatcher would have sent a recorded send by now (it looks every second)
    assert len(cellcast.calls) == 1  # only the small send
    bot.click(post.params["blocks"], "mms_approve", user="UAPPROVER1", channel="CAPPROVALS")
    reply = wait_finished(slack, "C2")
    assert "3 queued" in flatten(reply.params) and len(cellcast.calls) == 2
    wait_for(lambda: "Approved by <@UAPPROVER1>" in flatten(current(slack, post)))
    assert "mms_approve" not in flatten(current(slack, post)["blocks"])
    status = flatten(bot.command("status 2", user="UBOB").json()["blocks"])
    assert "approved by <@UAPPROVER1>" in status and "Asked for approval by <@UBOB>" in status
    assert "approved by <@UAPPROVER1>" in bot.command("history", user="UBOB").json()["text"]


def test_the_requester_and_strangers_cannot_approve_and_two_approvers_at_once_send_once(bot_factory, slack, cellcast):
    bot = bot_factory(**{**APPROVERS, "MMS_APPROVERS": f"UAPPROVER1,UAPPROVER2,{ADMIN}"})
    ask(bot, ", ".join(numbers(3)), user=ADMIN)  # an approver asking: another must decide
    post = request_post(slack)
    bot.click(post.params["blocks"], "mms_approve", user=ADMIN, channel="CAPPROVALS")
    bot.click(post.params["blocks"], "mms_approve", user="USTRANGER", channel="CAPPROVALS")
    wait_for(lambda: len(slack.responses) == 2)
    assert "another approver must decide" in responses(slack)[0] and "Only approvers" in responses(slack)[1]
    clicks = [
        threading.Thread(target=bot.click, args=(post.params["blocks"], "mms_approve", user, "CAPPROVALS"))
        for user in ("UAPPROVER1", "UAPPROVER2", "UAPPROVER1")  # two approvers, and a double click
    ]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    wait_finished(slack)
    bot.wait_quiet()
    assert len(cellcast.calls) == 1 and len(slack.channel_posts("C1")) == 1
    wait_for(lambda: sum("already decided" in r for r in responses(slack)) == 2)


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_a_rejection_asks_why_and_tells_the_requester_and_a_withdrawal_sends_nothing(bot_factory, slack, cellcast):
    bot = bot_factory(**APPROVERS)
    bot.command("allow UBOB")
    ask(bot, ", ".join(numbers(3)), view_id="VA")
    post = request_post(slack)
    bot.click(post.params["blocks"], "mms_reject", user="UAPPROVER2", channel="CAPPROVALS")
    form_view = wait_for(lambda: slack.accepted("views.open"))[-1].answer["view"]
    assert form_view["callback_id"] == "mms_reject_reason"
    import json
    from urllib.parse import urlencode

    from tests.e2e.harness import view_submission

    payload = view_submission(
        {"reason": {"value": {"type": "plain_text_input", "value": "Wrong list"}}}, "UAPPROVER2", "", form_view["id"]
    )
    payload["view"].update(callback_id="mms_reject_reason", private_metadata=form_view["private_metadata"])
    assert bot.post(urlencode({"payload": json.dumps(payload)}).encode()).json() == {"response_action": "clear"}
    told = wait_for(lambda: [t for t in slack.posted_texts("DUBOB") if "rejected your MMS" in t])
    assert "Wrong list" in told[0]
    wait_for(lambda: "Rejected by <@UAPPROVER2>" in flatten(current(slack, post)))
    # Withdrawn: from the requester's own copy.
    ask(bot, ", ".join(numbers(3, start=10)), view_id="VB")
    mine = wait_for(
        lambda: [
            c
            for c in slack.channel_posts("DUBOB")
            if "mms_withdraw" in flatten(c.params) and "request `2`" in flatten(c.params)
        ]
    )[-1]
    bot.click(mine.params["blocks"], "mms_withdraw", user="UBOB", channel="DUBOB")
    wait_for(lambda: "Withdrawn by <@UBOB>" in flatten(current(slack, mine)))
    second = [c for c in slack.channel_posts("CAPPROVALS") if "request `2`" in flatten(c.params)][-1]
    bot.click(second.params["blocks"], "mms_approve", user="UAPPROVER1", channel="CAPPROVALS")
    wait_for(lambda: any("already decided" in r for r in responses(slack)))
    bot.wait_quiet()
    assert cellcast.calls == []


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_an_undecided_request_expires_and_says_so(bot_factory, slack, cellcast):
    bot = bot_factory(**APPROVERS, MMS_APPROVAL_HOURS="0.0005")  # 1.8 seconds
    bot.command("allow UBOB")
    ask(bot, ", ".join(numbers(3)))
    post = request_post(slack)
    wait_for(lambda: "Expired" in flatten(current(slack, post)), timeout=20)
    wait_for(lambda: any("expired" in t for t in slack.posted_texts("DUBOB")))  # the requester told
    bot.click(post.params["blocks"], "mms_approve", user="UAPPROVER1", channel="CAPPROVALS")
    wait_for(lambda: slack.responses)
    assert "already decided: expired" in responses(slack)[-1] and cellcast.calls == []


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_approving_a_scheduled_send_keeps_its_time_and_a_revoked_requester_is_not_sent(bot_factory, slack, cellcast):
    bot = bot_factory(**APPROVERS, MMS_QUIET_HOURS="")
    bot.command("allow UBOB")
    send_at = int(time.time()) + 4
    ask(bot, ", ".join(numbers(3)), view_id="VA", send_at=send_at)
    post = request_post(slack)
    assert "Scheduled for" in flatten(post.params)
    bot.click(post.params["blocks"], "mms_approve", user="UAPPROVER1", channel="CAPPROVALS")
    wait_for(lambda: slack.channel_posts("C1"))
    assert "scheduled an MMS to 3 numbers" in flatten(slack.channel_posts("C1")[0].params) and cellcast.calls == []
    wait_for(lambda: cellcast.calls, timeout=15)
    assert cellcast.calls[0].at > time.monotonic() - (time.time() - send_at) - 0.01  # not before its time
    ask(bot, ", ".join(numbers(3, start=10)), channel="C2", view_id="VB")
    second = [c for c in wait_for(lambda: slack.channel_posts("CAPPROVALS")[1:])][-1]
    bot.command("revoke UBOB")
    bot.click(second.params["blocks"], "mms_approve", user="UAPPROVER2", channel="CAPPROVALS")
    wait_for(lambda: "could no longer send MMS" in flatten(current(slack, second)))
    bot.wait_quiet()
    assert slack.channel_posts("C2") == [] and len(cellcast.calls) == 1


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_a_daily_limit_reached_exactly_then_exceeded_is_refused_on_the_review(bot_factory, slack, cellcast):
    bot = bot_factory(MMS_DAILY_LIMIT="5")
    bot.command("allow UBOB")
    review, answer = ask(bot, ", ".join(numbers(3)), view_id="VA")
    assert "5 numbers left today" in flatten(review["blocks"]) and answer == {"response_action": "clear"}
    review, answer = ask(bot, ", ".join(numbers(2, start=10)), channel="C2", view_id="VB")  # exactly the limit
    assert "2 numbers left today" in flatten(review["blocks"]) and answer == {"response_action": "clear"}
    bot.submit(form(contacts="0400000099"), user="UBOB", view_id="VC")
    problem = bot.review("VC")
    assert problem["callback_id"] == "mms_problems" and "0 numbers left of the 5" in flatten(problem["blocks"])
    review, answer = ask(bot, ", ".join(numbers(7, start=20)), user=ADMIN, channel="C3", view_id="VD")
    assert answer == {"response_action": "clear"}  # admins are exempt unless MMS_DAILY_LIMIT_ADMINS
    wait_finished(slack, "C3")
    assert len(cellcast.all_contacts()) == 12


@pytest.mark.sqlite_only  # store side on both engines: tests/store/
def test_over_the_daily_limit_with_approvals_on_needs_approval_whatever_its_size(bot_factory, slack, cellcast):
    bot = bot_factory(**{**APPROVERS, "MMS_APPROVAL_ABOVE": "100"}, MMS_DAILY_LIMIT="2")
    bot.command("allow UBOB")
    review, answer = ask(bot, ", ".join(numbers(3)))
    assert answer["response_action"] == "update" and "MMS_DAILY_LIMIT" in flatten(review["blocks"])
    assert "MMS_DAILY_LIMIT" in flatten(request_post(slack).params)
