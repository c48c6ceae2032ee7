"""Scheduling through the listeners, in-process: the time in the sender's zone (or MMS_TIMEZONE when Slack
will not say), a picker value that is not a time, and a review confirmed after its time passed."""

import json
import logging
import time

import pytest

from tests.e2e.harness import ADMIN, form, view_submission
from tests.fakes.server import wait_for
from tests.fakes.slack import flatten
from tests.slack.conftest import in_process


@pytest.fixture
def make_app(tmp_path):
    made = []

    def make(**env):
        folder = tmp_path / str(len(made))
        folder.mkdir()
        inproc, slack = in_process(folder, MMS_QUIET_HOURS="", **env)
        made.append((inproc, slack))
        return inproc

    yield make
    for inproc, _ in made:
        inproc.close()


def review_of(app, values) -> dict:
    pushed = app.payload(view_submission(values, ADMIN, "C1", "V1")).json()
    assert pushed["response_action"] == "push", pushed
    external_id = pushed["view"]["external_id"]
    return wait_for(
        lambda: [c for c in app.slack.calls_to("views.update") if c.params.get("external_id") == external_id],
        timeout=20,
    )[-1].params["view"]


def test_the_review_shows_the_time_in_the_senders_own_zone(make_app):
    app = make_app()
    app.slack.user_zones[ADMIN] = "Australia/Perth"
    review = review_of(app, form(contacts="0400000001", send_at=time.time() + 3 * 3600))
    assert "AWST" in flatten(review["blocks"]) and "(in 3 hours)" in flatten(review["blocks"])
    assert review["submit"]["text"] == "Schedule for 1 number"
    assert [c.params["user"] for c in app.slack.accepted("users.info")] == [ADMIN]


def test_without_users_read_the_time_is_shown_in_mms_timezone_and_the_log_says_what_to_add(make_app, caplog):
    app = make_app(MMS_TIMEZONE="Australia/Adelaide")
    app.slack.scopes.discard("users:read")
    with caplog.at_level(logging.WARNING, logger="bot.slack.review"):
        review = review_of(app, form(contacts="0400000001", send_at=time.time() + 3600))
    assert "ACDT" in flatten(review["blocks"])  # Adelaide in December
    assert "add the users:read scope" in caplog.text


@pytest.mark.parametrize("picked", ["tomorrow", True, -5, 1e300, {"at": 1}, [1]])
def test_a_picker_value_that_is_not_a_time_is_taken_as_empty_and_the_send_is_for_now(make_app, picked):
    app = make_app()
    values = form(contacts="0400000001")
    values["send_at"]["send_at"]["selected_date_time"] = picked
    review = review_of(app, values)
    assert review["submit"]["text"] == "Send to 1 number" and "Scheduled" not in flatten(review["blocks"])


def test_a_review_confirmed_after_its_time_passed_schedules_nothing_and_says_so(make_app):
    app = make_app()
    picked = time.time() + 3600
    review = review_of(app, form(contacts="0400000001", send_at=picked))
    store = app.services.store
    draft_id = review["external_id"].removeprefix("mms-review-")
    record = store.get_draft(draft_id)["review"]
    with store.transaction() as tx:  # the review stayed open past its time (a clock cannot be moved in Slack)
        tx.execute(
            "UPDATE drafts SET review = :review WHERE id = :id",
            {"review": json.dumps({**record, "send_at": time.time() - 120}), "id": draft_id},
        )
    confirm = view_submission({}, ADMIN, "", "V2")
    confirm["view"].update(callback_id="mms_review", private_metadata=review["private_metadata"])
    answer = app.payload(confirm).json()
    assert answer["response_action"] == "update" and "has passed" in flatten(answer["view"])
    assert store.recent_sends(ADMIN, 10) == []


def a_scheduled_send(app, hours=2.0) -> int:
    return app.services.store.create_send(
        {
            "view_id": "draft-later",
            "user_id": ADMIN,
            "channel_id": "C1",
            "message": "Later",
            "send_at": time.time() + hours * 3600,
            "schedule_tz": "Australia/Sydney",
        },
        None,
        [["400000001", "400000002"]],
    )


def test_history_status_and_the_app_home_show_a_scheduled_send_as_such(make_app):
    app = make_app()
    send_id = a_scheduled_send(app)
    history = app.command("history").json()["text"]
    assert "2 numbers: scheduled for" in history and "AEDT" in history and "queued" not in history
    status = app.command(f"status {send_id}").json()
    assert "Scheduled for" in flatten(status["blocks"]) and "mms_cancel_scheduled" in flatten(status["blocks"])
    assert "Result for" not in flatten(status["blocks"])  # nothing was sent yet: no results to show
    app.event({"type": "app_home_opened", "user": ADMIN, "tab": "home", "channel": "D1"})
    home = wait_for(lambda: app.slack.accepted("views.publish"))[0].params["view"]
    assert "scheduled for" in flatten(home)
