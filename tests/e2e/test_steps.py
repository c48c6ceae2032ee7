"""End to end: the Workflow Builder step ``send_mms``. The loopback Slack delivers ``function_executed`` as
Slack does (signed over HTTP, or over Socket Mode), the review is a message in the step's channel, and the
step is completed through functions.completeSuccess / completeError, which refuse what Slack refuses."""

import json
import time
from urllib.parse import urlencode

import pytest

from tests.e2e.harness import ADMIN, block_action, view_submission
from tests.e2e.test_send import png
from tests.fakes.server import wait_for
from tests.fakes.slack import BOT_TOKEN, flatten


def inputs(**changes):
    given = {
        "channel": "C1",
        "message": "Fire drill at 3pm",
        "contacts": "0400 000 001; 0400000002\n12345",
        "sent_by": "UBOB",
    }
    return {k: v for k, v in {**given, **changes}.items() if v is not None}


def review_post(slack, channel="C1"):
    """The step's review message as it is now (its first post, updated since)."""
    posts = wait_for(lambda: [c for c in slack.channel_posts(channel) if "mms_step_send" in flatten(c.params)])
    return slack.messages[(channel, posts[0].answer["ts"])]


def finished(slack, execution_id, timeout=20):
    return wait_for(lambda: (e := slack.executions[execution_id]).state != "running" and e, timeout=timeout)


def responses(slack):
    return [r.get("text", "") for r in slack.responses]


def test_the_step_sends_once_when_its_person_presses_send_and_completes_with_the_outputs(bot, slack, cellcast):
    bot.command("allow UBOB")
    event = slack.run_step(inputs())
    started = time.monotonic()
    assert bot.event(event).status_code == 200 and time.monotonic() - started < 1.0
    execution = event["event"]["function_execution_id"]
    assert bot.event(event).status_code == 200  # Slack delivering it again: still one run, one review
    review = review_post(slack)
    shown = flatten(review)
    assert "on behalf of <@UBOB>" in shown and "2 numbers" in shown and "Fire drill at 3pm" in shown
    assert "1 entry left out" in shown and "Reply STOP to opt out" in shown
    assert len([c for c in slack.channel_posts("C1") if "mms_step_send" in flatten(c.params)]) == 1
    bot.click(review["blocks"], "mms_step_send", user="UEVE")  # a stranger
    wait_for(lambda: any("Only <@UBOB> (or an admin)" in r for r in responses(slack)))
    time.sleep(1.2)  # the dispatcher would have sent by now
    assert cellcast.calls == [] and slack.executions[execution].state == "running"
    bot.click(review["blocks"], "mms_step_send", user="UBOB")
    bot.click(review["blocks"], "mms_step_send", user="UBOB")  # a double click
    done = finished(slack, execution)
    assert done.state == "completed" and done.outputs == {"send_id": "1", "queued": 2, "left_out": 1, "outcome": "sent"}
    assert len(cellcast.calls) == 1 and sorted(cellcast.calls[0].contacts) == ["+61400000001", "+61400000002"]
    assert any("already decided" in r for r in responses(slack))
    bot.wait_quiet()
    assert "Sent (send `1`): 2 queued, 1 left out" in flatten(review_post(slack))
    completion = slack.accepted("functions.completeSuccess")
    assert len(completion) == 1 and completion[0].authorization == f"Bearer {BOT_TOKEN}"  # outlives the step's token
    assert slack.thread_replies("C1")  # the send's own message and thread, as from the form


@pytest.mark.sqlite_only  # the store side (decided once, expiry) runs on both engines: tests/store/test_steps.py
def test_cancel_and_a_review_nobody_decides_complete_the_step_as_cancelled(bot_factory, slack, cellcast):
    bot = bot_factory(MMS_STEP_REVIEW_HOURS="0.0005")  # 1.8 seconds
    cancelled, ignored = slack.run_step(inputs(sent_by=ADMIN)), slack.run_step(inputs(sent_by=ADMIN, channel="C2"))
    bot.event(cancelled)
    bot.event(ignored)
    bot.click(review_post(slack)["blocks"], "mms_step_cancel", user=ADMIN)
    done = finished(slack, cancelled["event"]["function_execution_id"])
    assert done.outputs == {"queued": 0, "left_out": 3, "outcome": "cancelled"}
    expired = finished(slack, ignored["event"]["function_execution_id"])
    assert expired.outputs["outcome"] == "cancelled"
    bot.wait_quiet()
    assert "nobody decided within" in flatten(review_post(slack, "C2")) and cellcast.calls == []
    assert "Cancelled by <@UADMIN>" in flatten(review_post(slack))


@pytest.mark.sqlite_only
def test_a_person_not_allowed_to_send_and_bad_inputs_fail_the_step_and_say_so_in_the_channel(bot, slack, cellcast):
    slack.host_file("FNOTE", "notes.txt", b"not an image at all")
    runs = {
        "not allowed": slack.run_step(inputs(sent_by="UNOBODY")),
        "no numbers": slack.run_step(inputs(sent_by=ADMIN, contacts="12345, hello")),
        "not an image": slack.run_step(inputs(sent_by=ADMIN, image="FNOTE")),
        "no such file": slack.run_step(inputs(sent_by=ADMIN, contacts_file="FGONE")),
    }
    for event in runs.values():
        assert bot.event(event).status_code == 200
    errors = {name: finished(slack, e["event"]["function_execution_id"]) for name, e in runs.items()}
    assert all(e.state == "failed" for e in errors.values())
    assert "(UNOBODY) is not on the list" in errors["not allowed"].error and "/mms allow" in errors["not allowed"].error
    assert errors["no numbers"].error.startswith("Send an MMS could not go ahead: contacts:")
    assert "image:" in errors["not an image"].error and "contacts_file:" in errors["no such file"].error
    bot.wait_quiet()
    said = [c.params["text"] for c in slack.channel_posts("C1")]
    assert len(said) == 4 and all("step for" in t and "failed" in t and "Nothing was sent" in t for t in said)
    assert cellcast.calls == []


@pytest.mark.sqlite_only
def test_an_image_and_a_contacts_file_given_as_file_ids_are_sent(bot, slack, cellcast):
    image = png((1200, 900))
    slack.host_file("FIMG", "poster.png", image)
    slack.host_file("FCSV", "people.csv", b"Name,Mobile\nAnn,0400000011\nBo,0400 000 012\n")
    event = slack.run_step(inputs(sent_by=ADMIN, contacts=None, contacts_file="FCSV", image="FIMG"))
    bot.event(event)
    review = review_post(slack)
    assert "2 numbers" in flatten(review) and "poster.png" in flatten(review)
    wait_for(lambda: any(h.channels == {"C1"} and h.name == "poster.png" for h in slack.files.values()))  # in thread
    bot.click(review["blocks"], "mms_step_send", user=ADMIN)
    done = finished(slack, event["event"]["function_execution_id"])
    assert done.outputs["queued"] == 2 and done.outputs["outcome"] == "sent"
    call = cellcast.calls[0]
    assert sorted(call.contacts) == ["+61400000011", "+61400000012"] and call.media is not None
    assert call.media[1][:8] == b"\x89PNG\r\n\x1a\n" or call.media[2] in ("image/jpeg", "image/png", "image/gif")


@pytest.mark.sqlite_only
def test_a_channel_the_bot_cannot_post_in_fails_the_step_with_what_to_do(bot, slack, cellcast):
    slack.not_in_channel.add("GPRIVATE")
    event = slack.run_step(inputs(sent_by=ADMIN, channel="GPRIVATE"))
    bot.event(event)
    done = finished(slack, event["event"]["function_execution_id"])
    assert done.state == "failed" and "invite @mms-bot" in done.error and "not_in_channel" in done.error
    assert cellcast.calls == []


@pytest.mark.sqlite_only
def test_the_step_runs_over_socket_mode(slack, cellcast, socket_mode_bot):
    _, link = socket_mode_bot
    event = slack.run_step(inputs(sent_by=ADMIN))
    link.push("events_api", event)
    review = review_post(slack)
    link.push("interactive", block_action(slack, review["blocks"], "mms_step_send", user=ADMIN))
    done = finished(slack, event["event"]["function_execution_id"])
    assert done.outputs == {"send_id": "1", "queued": 2, "left_out": 1, "outcome": "sent"}
    assert len(cellcast.calls) == 1


@pytest.mark.sqlite_only  # the store side (a step follows its approval) runs on both engines
def test_a_step_above_the_approval_threshold_waits_for_an_approver_and_a_rejection_refuses_it(
    bot_factory, slack, cellcast
):
    bot = bot_factory(MMS_APPROVAL_ABOVE="1", MMS_APPROVERS="UAPPROVER", MMS_APPROVALS_CHANNEL="CAPPROVALS")
    approved, rejected = slack.run_step(inputs(sent_by=ADMIN)), slack.run_step(inputs(sent_by=ADMIN, channel="C2"))
    for event in (approved, rejected):
        bot.event(event)
        channel = "C1" if event is approved else "C2"
        bot.click(review_post(slack, channel)["blocks"], "mms_step_send", user=ADMIN)
    requests = wait_for(lambda: len(posts := slack.channel_posts("CAPPROVALS")) == 2 and posts)
    time.sleep(1.2)  # the dispatcher would have sent by now
    assert cellcast.calls == [] and "an approver must approve it first" in flatten(review_post(slack))
    first = next(p for p in requests if "in <#C1>" in flatten(p.params))
    bot.click(first.params["blocks"], "mms_approve", user="UAPPROVER", channel="CAPPROVALS")
    done = finished(slack, approved["event"]["function_execution_id"])
    assert done.outputs["outcome"] == "sent" and done.outputs["queued"] == 2 and len(cellcast.calls) == 1
    second = next(p for p in requests if "in <#C2>" in flatten(p.params))
    bot.click(second.params["blocks"], "mms_reject", user="UAPPROVER", channel="CAPPROVALS")
    reason_form = wait_for(lambda: slack.accepted("views.open"))[-1].answer["view"]
    payload = view_submission(
        {"reason": {"value": {"type": "plain_text_input", "value": "not now"}}}, "UAPPROVER", "", reason_form["id"]
    )
    payload["view"].update(callback_id="mms_reject_reason", private_metadata=reason_form["private_metadata"])
    assert bot.post(urlencode({"payload": json.dumps(payload)}).encode()).json() == {"response_action": "clear"}
    refused = finished(slack, rejected["event"]["function_execution_id"])
    assert refused.outputs == {"queued": 0, "left_out": 3, "outcome": "refused"} and len(cellcast.calls) == 1
    bot.wait_quiet()
    assert "Not sent: not now" in flatten(review_post(slack, "C2"))
