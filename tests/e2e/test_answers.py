"""End to end: answering a recipient from the thread, by SMS (text) or MMS (with an image), once."""

import json
from urllib.parse import urlencode

import httpx
import pytest

from tests.e2e.harness import ADMIN, form, view_submission
from tests.e2e.test_send import png, wait_finished
from tests.fakes.server import wait_for
from tests.fakes.slack import flatten

# The features' store sides are tested on both engines in tests/store/.
pytestmark = pytest.mark.sqlite_only

SECRET = "whsec-0123456789abcdefXYZ"


def reply_posts(slack, channel="C1"):
    return [c for c in slack.thread_replies(channel) if "Reply from" in flatten(c.params)]


def answer_posts(slack, channel="C1"):
    return [c for c in slack.thread_replies(channel) if "↪" in flatten(c.params)]


def answers_now(slack, channel="C1") -> list[str]:
    """The answers' thread messages as they read now (their outcome is an edit of the posted message)."""
    return [flatten(slack.messages[(channel, c.answer["ts"])]) for c in answer_posts(slack, channel)]


def reply_arrives(bot, slack, text, number="+61400000001", ident=1, shown=None):
    """A recipient's reply, pushed by Cellcast's webhook; the thread post that carries it."""
    reply = {
        "_id": f"66b5b93b1e2c012dfe96{ident:04d}",
        "status": "delivered",
        "type": "receive",
        "message": text,
        "sender": number,
        "receiver": "+61400000009",
    }
    assert httpx.post(f"{bot.url}/cellcast/webhook/{SECRET}", json=reply).status_code == 200
    return wait_for(lambda: [c for c in reply_posts(slack) if (shown or text) in flatten(c.params)])[-1]


def open_reply_form(bot, slack, post, user=ADMIN) -> dict:
    before = len(slack.accepted("views.open"))
    assert bot.click(post.params["blocks"], "mms_reply", user=user).status_code == 200
    return wait_for(lambda: slack.accepted("views.open")[before:])[-1].answer["view"]


def submit_answer(bot, view, text, user=ADMIN, media=None) -> httpx.Response:
    values = {
        "text": {"value": {"type": "plain_text_input", "value": text}},
        "media": {"value": {"type": "file_input", "files": [media] if media else []}},
    }
    payload = view_submission(values, user, "", view["id"])
    payload["view"].update(callback_id="mms_reply_form", private_metadata=view["private_metadata"])
    return bot.post(urlencode({"payload": json.dumps(payload)}).encode())


def sent_and_replied(bot_factory, slack, **env):
    bot = bot_factory(CELLCAST_WEBHOOK_SECRET=SECRET, **env)
    bot.send(form(contacts="0400000001, 0400000002", sender="0400000009"))
    wait_finished(slack)
    return bot


def test_a_text_answer_is_one_sms_to_that_number_from_the_same_sender_posted_in_the_thread_once(
    bot_factory, slack, cellcast
):
    bot = sent_and_replied(bot_factory, slack)
    post = reply_arrives(bot, slack, "Is 9 ok?")
    view = open_reply_form(bot, slack, post)
    assert view["callback_id"] == "mms_reply_form" and "0400 ••• 001" in flatten(view["blocks"])
    assert "Is 9 ok?" in flatten(view["blocks"]) and "Hello from the test" in flatten(view["blocks"])
    assert "400000001" not in flatten(view["blocks"])  # the number masked
    assert submit_answer(bot, view, "Yes, 9 is fine").json() == {"response_action": "clear"}
    assert submit_answer(bot, view, "Yes, 9 is fine").json() == {"response_action": "clear"}  # a double submit
    wait_for(lambda: any("Sent as an SMS" in text for text in answers_now(slack)), timeout=15)
    bot.wait_quiet()
    sms = [c for c in cellcast.calls if c.sms]
    assert len(sms) == 1 and sms[0].contacts == ["+61400000001"] and sms[0].fields["sender"] == "0400000009"
    assert sms[0].fields["message"].startswith("Yes, 9 is fine")
    assert "media" not in sms[0].fields and sms[0].content_type.startswith("application/json")
    (message,) = answer_posts(slack)
    assert message.params["thread_ts"] == post.params["thread_ts"]  # in the reply's thread
    assert "↪ <@UADMIN> replied to 0400 000 001" in answers_now(slack)[0]
    # Their reply to the answer carries on the same conversation, in the same thread (not the answer's).
    again = reply_arrives(bot, slack, "Great, thanks", ident=9)
    assert again.params["thread_ts"] == post.params["thread_ts"]
    follow_up = open_reply_form(bot, slack, again)
    assert "Yes, 9 is fine" in flatten(follow_up["blocks"]) and "Great, thanks" in flatten(follow_up["blocks"])


def test_an_answer_with_an_image_is_one_mms(bot_factory, slack, cellcast):
    bot = sent_and_replied(bot_factory, slack)
    post = reply_arrives(bot, slack, "Can I see it?")
    view = open_reply_form(bot, slack, post)
    image = slack.host_file("FIMG", "photo.png", png())
    submit_answer(bot, view, "Here it is", media=image)
    wait_for(lambda: any("Sent as an MMS" in text for text in answers_now(slack)), timeout=15)
    answers = [c for c in cellcast.calls if c.contacts == ["+61400000001"] and not c.sms]
    assert len(answers) == 1 and answers[0].media is not None and answers[0].media[2] == "image/png"
    assert not any(c.sms for c in cellcast.calls)


def test_a_stranger_pressing_reply_is_refused_and_nothing_opens(bot_factory, slack, cellcast):
    bot = sent_and_replied(bot_factory, slack)
    post = reply_arrives(bot, slack, "Hello?")
    bot.click(post.params["blocks"], "mms_reply", user="USTRANGER")
    wait_for(lambda: slack.responses)
    assert "not on the list" in slack.responses[-1]["text"]
    assert slack.accepted("views.open") == []


def test_a_number_that_opted_out_cannot_be_answered_and_its_stop_has_no_reply_button(bot_factory, slack, cellcast):
    bot = sent_and_replied(bot_factory, slack)
    earlier = reply_arrives(bot, slack, "Who is this?", ident=1)
    stop = reply_arrives(bot, slack, "STOP", ident=2)
    assert "mms_reply" not in flatten(stop.params["blocks"])
    assert "cannot be answered" in flatten(stop.params["blocks"])
    bot.click(earlier.params["blocks"], "mms_reply")
    wait_for(lambda: slack.responses)
    assert "on the suppression list" in slack.responses[-1]["text"]
    assert slack.accepted("views.open") == [] and not any(c.sms for c in cellcast.calls)


def test_a_gateway_failure_is_shown_in_the_thread(bot_factory, slack, cellcast):
    bot = sent_and_replied(bot_factory, slack)
    post = reply_arrives(bot, slack, "Is 9 ok?")
    view = open_reply_form(bot, slack, post)
    cellcast.then("422")
    submit_answer(bot, view, "Yes")
    wait_for(lambda: any("Not sent" in text for text in answers_now(slack)), timeout=15)
    assert "balance" in answers_now(slack)[-1].lower()


def test_a_reply_that_is_no_question_of_sms_validation_refuses_mms_fields_at_the_gateway(cellcast):
    """The loopback Cellcast's SMS endpoint refuses what Cellcast documents it refuses."""
    url = cellcast.base_url + "/api/v1/gateway"
    ok = httpx.post(url, json={"message": "hi", "contacts": ["+61400000001"], "sender": "ACME"})
    assert ok.status_code == 200 and ok.json()["data"]["queueResponse"][0]["Contact"] == "400000001"
    assert httpx.post(url, json={"message": "hi", "contacts": ["+61400000001"], "gif": "x"}).status_code == 400
    assert httpx.post(url, json={"message": "hi", "contacts": ["+61400000001"] * 1001}).status_code == 400
    assert (
        httpx.post(url, json={"message": "hi", "contacts": ["+61400000001"], "sender": "TOOLONGNAME12"}).status_code
        == 400
    )
    assert httpx.post(url, data={"message": "hi", "contacts": "[]"}).status_code == 400  # not JSON


def test_status_the_csv_and_the_app_home_show_the_conversation_and_what_waits_for_an_answer(
    bot_factory, slack, cellcast
):
    bot = sent_and_replied(bot_factory, slack)
    answered = reply_arrives(bot, slack, "Is 9 ok?", ident=1)
    reply_arrives(bot, slack, "And <!channel> parking?", number="+61400000002", ident=2, shown="parking?")
    submit_answer(bot, open_reply_form(bot, slack, answered), "Yes, 9")
    wait_for(lambda: any("Sent as an SMS" in text for text in answers_now(slack)), timeout=15)
    status = flatten(bot.command("status 1").json()["blocks"])
    assert "0400 000 001 wrote: “Is 9 ok?”" in status and "↪ <@UADMIN> answered 0400 000 001: “Yes, 9" in status
    assert "&lt;!channel&gt;" in status and "<!channel>" not in status
    rows = {r["number"]: r["conversation"] for r in bot.recipients(1)}
    assert "they wrote: Is 9 ok?" in rows["400000001"] and "answered by UADMIN (sent): Yes, 9" in rows["400000001"]
    assert "they wrote: And <!channel> parking?" in rows["400000002"]  # the CSV has the text as written
    home = flatten(bot.open_home())
    assert "Replies waiting for an answer" in home and "0400 000 002" in home and "Is 9 ok?" not in home
