"""The Workflow Builder step in-process: forged buttons and the wrong people change nothing, inputs Slack
should never send fail the step at once, and the step's message stays within Slack's limits in every state."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.blocks import step_message
from bot.slack.steps import INPUT_OF_FIELD, MAX_ERROR, problems_text
from tests.e2e.harness import ADMIN
from tests.fakes.server import wait_for
from tests.fakes.slack import MAX_MESSAGE_BLOCKS, _block_errors
from tests.slack.test_listeners import click
from tests.store.test_approvals import RECORD


def a_review(app, sent_by="UBOB") -> str:
    store = app.services.store
    store.create_step("D1", "Fx1", "Wx1", "C1", sent_by, {"message": "Hi"}, owner="P", lease=30)
    assert store.step_checked("D1", RECORD, ["400000001"], None, 0, 3600)
    return "D1"


@pytest.mark.parametrize("value", ["", "nope", "D2", "1" * 300])
def test_a_button_naming_no_known_step_changes_nothing(app, value):
    a_review(app)
    click(app, "mms_step_send", value)
    wait_for(lambda: app.slack.responses)
    assert "not known" in app.slack.responses[-1]["text"]
    assert app.services.store.find_step("D1")["state"] == "reviewing"


@pytest.mark.parametrize("action", ["mms_step_send", "mms_step_cancel"])
def test_only_the_person_it_sends_for_or_an_admin_may_decide(app, action):
    draft = a_review(app)
    click(app, action, draft, user="UEVE")
    wait_for(lambda: app.slack.responses)
    assert "Only <@UBOB> (or an admin)" in app.slack.responses[-1]["text"]
    assert app.services.store.find_step(draft)["state"] == "reviewing"
    click(app, "mms_step_cancel", draft, user=ADMIN)
    wait_for(lambda: app.services.store.find_step(draft)["state"] == "finished")
    assert app.services.store.find_step(draft)["outcome"] == "cancelled"


@pytest.mark.parametrize(
    "inputs",
    [{}, {"channel": "C1", "message": "Hi"}, {"sent_by": "UBOB", "message": "Hi"}, {"channel": 7, "sent_by": ["U"]}],
)
def test_a_step_without_a_channel_or_a_person_fails_at_once_and_records_nothing(app, inputs):
    event = app.slack.run_step(inputs)
    assert app.event(event["event"]).status_code == 200
    execution = app.slack.executions[event["event"]["function_execution_id"]]
    wait_for(lambda: execution.state == "failed")
    assert "needs a channel" in execution.error
    with app.services.store.transaction() as tx:
        assert tx.scalar("SELECT COUNT(*) FROM steps") == 0


def step(state, **fields):
    long = "A long notice. " * 400  # longer than a section may hold
    return {
        "draft_id": "D1",
        "sent_by": "UBOB",
        "state": state,
        "total": 3000,
        "review": {**RECORD, "message": long, "media_name": "poster.png", "balance": 10.0, "credits": 3000},
        "expires_at": 1_790_000_000.0,
        "decided_by": ADMIN,
        "decided_at": "2026-12-02T01:07:00+00:00",
        **fields,
    }


@pytest.mark.parametrize(
    "shown",
    [
        step("reviewing"),
        step("sending", send_id=4),
        step("sending", approval_id=2),
        step("finished", outcome="sent", send_id=4, queued=2990, left_out=10),
        step("finished", outcome="cancelled", note="because nobody decided within 24 hours <script>"),
        step("finished", outcome="refused", note="x" * 5000, completion_error="execution_not_in_running_state"),
        step("finished", review=None, error="contacts: " + "no numbers " * 500),
    ],
)
def test_the_steps_message_is_within_slacks_limits_in_every_state(shown):
    text, blocks = step_message(shown)
    assert _block_errors(blocks) == [] and len(blocks) <= MAX_MESSAGE_BLOCKS and text
    buttons = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons == (["mms_step_send", "mms_step_cancel"] if shown["state"] == "reviewing" else [])


@given(st.dictionaries(st.sampled_from([*INPUT_OF_FIELD, "send_at", "other"]), st.text(max_size=3000)))
def test_problems_are_told_by_the_steps_input_names_and_fit_the_run_history(problems):
    told = problems_text(problems)
    assert len(told) <= MAX_ERROR
    first = next(iter(problems), None)
    if first is not None:
        assert told.startswith(f"{INPUT_OF_FIELD.get(first, first)}:")
