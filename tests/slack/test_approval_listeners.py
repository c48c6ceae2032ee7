"""Approval buttons and the rejection form in-process: forged values and the wrong people change nothing."""

import json

import pytest

from tests.e2e.harness import ADMIN, view_submission
from tests.fakes.server import wait_for
from tests.slack.test_listeners import click
from tests.store.test_approvals import RECORD


def a_request(app, requester="UBOB") -> int:
    return app.services.store.create_approval("D1", requester, "C1", RECORD, ["400000001"], None, "big", 3600)


@pytest.mark.parametrize("value", ["", "abc", "99", "-1", "1" * 30])
def test_a_button_naming_no_known_request_changes_nothing(app, value):
    a_request(app)
    click(app, "mms_approve", value)
    wait_for(lambda: app.slack.responses)
    assert "not known" in app.slack.responses[-1]["text"]
    assert app.services.store.find_approval(1)["state"] == "waiting"


def test_withdrawing_someone_elses_request_is_refused(app):
    approval_id = a_request(app)
    click(app, "mms_withdraw", str(approval_id), user=ADMIN)
    wait_for(lambda: app.slack.responses)
    assert "Only the person who asked" in app.slack.responses[-1]["text"]
    assert app.services.store.find_approval(approval_id)["state"] == "waiting"


@pytest.mark.parametrize("metadata", ["", "nope", '{"approval_id": true}', '{"approval_id": "1"}'])
def test_a_rejection_form_the_bot_did_not_make_decides_nothing(app, metadata):
    a_request(app)
    payload = view_submission({"reason": {"value": {"value": "no"}}}, ADMIN, "", "VR")
    payload["view"].update(callback_id="mms_reject_reason", private_metadata=metadata)
    assert app.payload(payload).json()["response_action"] == "errors"
    assert app.services.store.find_approval(1)["state"] == "waiting"


def test_a_rejection_without_a_reason_is_asked_for_one(app):
    approval_id = a_request(app)
    payload = view_submission({"reason": {"value": {"value": "   "}}}, ADMIN, "", "VR")
    payload["view"].update(callback_id="mms_reject_reason", private_metadata=json.dumps({"approval_id": approval_id}))
    answer = app.payload(payload).json()
    assert answer["response_action"] == "errors" and "Say why" in answer["errors"]["reason"]
