"""Whatever a signed request holds, the bot answers it (a 4xx for what is not Slack's, a clear message for
what is): never a 500, which Slack shows people as a generic error. In-process: the bot's own WSGI app
(Bolt, the listeners, the webhook) over a SQLite file, with the loopback Slack behind it."""

import json
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.web import EVENTS_PATH
from tests.e2e.harness import ADMIN, form, sign, view_submission
from tests.slack.conftest import WEBHOOK_SECRET

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
KEYS = st.sampled_from(
    [
        "type",
        "user",
        "view",
        "actions",
        "private_metadata",
        "state",
        "values",
        "id",
        "value",
        "callback_id",
        "draft_id",
        "channel_id",
        "message",
        "files",
        "_id",
        "sender",
        "receiver",
        "status",
        "reply",
    ]
)
SHAPED = st.recursive(JSON, lambda children: st.dictionaries(KEYS, children, max_size=6), max_leaves=40)


def post_payload(client, payload) -> httpx.Response:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return client.post(EVENTS_PATH, content=body, headers=sign(body))


def slash(client, text: str) -> httpx.Response:
    body = urlencode(
        {
            "command": "/mms",
            "text": text,
            "user_id": ADMIN,
            "channel_id": "C1",
            "team_id": "T1",
            "trigger_id": "1.2.3",
            "response_url": "http://127.0.0.1:9/respond",
        }
    ).encode()
    return client.post(EVENTS_PATH, content=body, headers=sign(body))


@pytest.mark.parametrize(
    "argument", ["99999999999999999999999", "²", "١٢", "-1", "1e9", "0x10", "  ", "`12`x", "<!channel>"]
)
def test_status_of_anything_typed_is_a_clear_answer(client, argument):
    response = slash(client, f"status {argument}")
    assert response.status_code == 200
    text = response.json()["text"]
    assert "There is no send" in text and "<!channel>" not in text


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", "1700000000 1", "+1700000000", "9" * 40, "-5"])
def test_a_timestamp_that_is_not_a_number_is_unauthorised(client, timestamp):
    body = b"command=%2Fmms&text=help&user_id=UADMIN"
    headers = sign(body)
    headers["X-Slack-Request-Timestamp"] = timestamp
    assert client.post(EVENTS_PATH, content=body, headers=headers).status_code == 401


def test_a_body_that_is_not_utf8_or_nested_thousands_deep_is_a_bad_request(client):
    for body in (b"payload=%ff%fe" + b"\xff" * 10, urlencode({"payload": "[" * 5000 + "]" * 5000}).encode()):
        assert client.post(EVENTS_PATH, content=body, headers=sign(body)).status_code in (400, 401)
    deep = b"[" * 5000 + b"]" * 5000
    assert client.post(f"/cellcast/webhook/{WEBHOOK_SECRET}", content=deep).status_code == 404


@pytest.mark.parametrize(
    "metadata",
    [
        "[1, 2]",
        "null",
        '"a string"',
        "42",
        '{"draft_id": 7}',
        '{"draft_id": ["x"]}',
        '{"draft_id": null}',
        "{not json",
        '{"channel_id": {"a": 1}}',
        '{"channel_id": "<!here>"}',
    ],
)
def test_a_review_whose_metadata_is_not_the_bots_says_nothing_was_sent(client, metadata):
    payload = view_submission({}, ADMIN, "C1", "V9")
    payload["view"].update(callback_id="mms_review", private_metadata=metadata)
    response = post_payload(client, payload)
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "update" and "nothing was sent" in json.dumps(answer["view"]).lower()


@pytest.mark.parametrize("metadata", ["[1, 2]", "null", '"C1"', '{"channel_id": 5}', '{"channel_id": "<!here>"}'])
def test_a_form_whose_metadata_is_not_the_bots_is_still_checked(client, metadata):
    payload = view_submission(form(contacts="0400000001"), ADMIN, "C1", "V8")
    payload["view"]["private_metadata"] = metadata
    response = post_payload(client, payload)
    assert response.status_code == 200 and response.json()["response_action"] == "push"


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    kind=st.sampled_from(["view_submission", "block_actions", "view_closed", "shortcut", None]),
    callback=st.sampled_from(["mms_send", "mms_review", "other"]),
    anything=SHAPED,
    where=st.sampled_from(["view", "actions", "root"]),
)
def test_random_json_in_a_signed_payload_is_never_a_500(client, kind, callback, anything, where):
    payload = view_submission(form(), ADMIN, "C1", "V7")
    payload["view"]["callback_id"] = callback
    if kind is None:
        payload = anything
    else:
        payload["type"] = kind
        if kind == "block_actions":
            payload["actions"] = [
                {"action_id": "mms_resend_failed", "value": "1"},
                {"action_id": "mms_suppress_number"},
            ][: 1 + (callback == "other")]
        if where == "view":
            payload["view"] = (
                anything
                if callback == "other"
                else {**payload["view"], "state": anything, "private_metadata": json.dumps(anything)}
            )
        elif where == "actions" and kind == "block_actions":
            payload["actions"] = [anything] if not isinstance(anything, list) else anything
        elif where == "root" and isinstance(anything, dict):
            payload.update(anything)
    assert post_payload(client, payload).status_code != 500


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(anything=SHAPED)
def test_random_json_at_the_webhook_is_never_a_500(client, anything):
    response = client.post(f"/cellcast/webhook/{WEBHOOK_SECRET}", content=json.dumps(anything))
    assert response.status_code in (200, 404)
