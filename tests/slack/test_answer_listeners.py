"""Answering a recipient through the listeners, in-process: what the form refuses, and buttons or forms
the bot did not make."""

import json

import pytest

from tests.e2e.harness import ADMIN, view_submission
from tests.fakes.server import wait_for
from tests.slack.test_listeners import click


def a_reply(app, body="Is 9 ok?") -> int:
    store = app.services.store
    send_id = store.create_send(
        {"view_id": "draft-1", "user_id": ADMIN, "channel_id": "C1", "message": "Hello"}, None, [["400000001"]]
    )
    reply_id = store.record_reply("k1", "400000001", body, "2026-12-02T01:00:00.000Z", "webhook")
    store.settle_reply(reply_id, send_id, None)
    return reply_id


def answer(app, reply_id, text="Yes", user=ADMIN, metadata=None):
    values = {"text": {"value": {"type": "plain_text_input", "value": text}}, "media": {"value": {"files": []}}}
    payload = view_submission(values, user, "", "VR1")
    payload["view"].update(
        callback_id="mms_reply_form",
        private_metadata=metadata if metadata is not None else json.dumps({"reply_id": reply_id}),
    )
    return app.payload(payload).json()


def answers_recorded(app) -> list:
    return [s for s in app.services.store.recent_sends(None, 10) if s.answer_to is not None]


def test_an_answer_is_recorded_once_as_an_sms_to_the_one_number(app):
    reply_id = a_reply(app)
    assert answer(app, reply_id, "Yes, 9") == {"response_action": "clear"}
    assert answer(app, reply_id, "Yes, 9") == {"response_action": "clear"}
    (recorded,) = answers_recorded(app)
    assert recorded.medium == "sms" and recorded.total_contacts == 1 and recorded.message.startswith("Yes, 9")


@pytest.mark.parametrize("text", ["", "   ", None])
def test_an_empty_answer_is_refused_on_the_form(app, text):
    assert answer(app, a_reply(app), text)["response_action"] == "errors"
    assert answers_recorded(app) == []


@pytest.mark.parametrize(
    "metadata", ["", "not json", '{"reply_id": true}', '{"reply_id": "1"}', "[1]", '{"reply_id": 99}']
)
def test_a_form_the_bot_did_not_make_sends_nothing(app, metadata):
    a_reply(app)
    response = answer(app, None, metadata=metadata)
    assert response["response_action"] == "update" and "nothing was sent" in json.dumps(response)
    assert answers_recorded(app) == []


def test_a_person_removed_from_the_list_meanwhile_is_refused_on_the_form(app):
    assert "not on the list" in json.dumps(answer(app, a_reply(app), user="USTRANGER"))
    assert answers_recorded(app) == []


def test_a_number_suppressed_while_the_form_was_open_is_refused_on_the_form(app):
    reply_id = a_reply(app)
    app.services.store.suppress("400000001", "admin", "asked by phone", ADMIN)
    assert "cannot be answered" in json.dumps(answer(app, reply_id))
    assert answers_recorded(app) == []


@pytest.mark.parametrize("value", ["", "abc", "99", "1" * 30])
def test_a_reply_button_naming_no_known_reply_is_answered_and_opens_nothing(app, value):
    a_reply(app)
    click(app, "mms_reply", value)
    wait_for(lambda: app.slack.responses)
    assert "no longer works" in app.slack.responses[-1]["text"]
    assert app.slack.accepted("views.open") == []
