"""The listeners in-process, through Bolt and the bot's WSGI app: the slash command's verbs, the buttons, the
App Home and the form and review, as a person sees their answers (every view and message is checked by the
loopback Slack against slack_sdk's Block Kit models)."""

import json

from bot.sending import outcomes as o
from bot.sending.states import FAILED
from tests.e2e.harness import ADMIN, form, view_submission
from tests.fakes.server import wait_for
from tests.fakes.slack import flatten


def text_of(response) -> str:
    answer = response.json()
    return answer.get("text", "") + flatten(answer.get("blocks") or [])


def click(app, action_id: str, value: str, user: str = ADMIN):
    return app.payload(
        {
            "type": "block_actions",
            "user": {"id": user},
            "api_app_id": "A1",
            "trigger_id": "1.2.3",
            "team": {"id": "T1"},
            "container": {"type": "message", "channel_id": "C1"},
            "channel": {"id": "C1"},
            "response_url": f"{app.slack.server.base_url}/respond/action",
            "actions": [
                {"type": "button", "action_id": action_id, "block_id": "b", "value": value, "action_ts": "1.0"}
            ],
        }
    )


def a_failed_send(app) -> int:
    store = app.services.store
    send = {"view_id": "draft-1", "user_id": ADMIN, "channel_id": "C1", "message": "Hello"}
    send_id = store.create_send(send, None, [["400000001", "400000002"]], [])
    batch = store.claim_next_batch("worker", 10)
    store.finish_batch(batch.id, FAILED, o.all_of(batch.contacts, o.FAILED, "balance too low"), owner="worker")
    return send_id


def test_help_and_an_unknown_verb(app):
    assert "/mms history" in text_of(app.command("help"))
    unknown = text_of(app.command("<!channel>"))
    assert "I don't know" in unknown and "<!channel>" not in unknown


def test_only_people_on_the_list_get_the_form(app):
    refused = text_of(app.command("", user="USTRANGER"))
    assert "not on the list" in refused and "USTRANGER" in refused
    assert app.command("").status_code == 200
    opened = wait_for(lambda: app.slack.accepted("views.open"))
    assert opened[0].params["view"]["callback_id"] == "mms_send"


def test_admins_keep_the_allowlist_and_others_may_not(app):
    assert "can now send MMS" in text_of(app.command("allow <@U2|bob>"))
    assert "<@U2>" in text_of(app.command("list"))
    assert "Only admins" in text_of(app.command("allow <@U3>", user="U2"))
    assert "as plain text, not as a person" in text_of(app.command("allow @bob"))
    assert "can no longer send MMS" in text_of(app.command("revoke <@U2>"))
    assert "was not on the list" in text_of(app.command("revoke <@U2>"))


def test_admins_keep_the_suppression_list_with_reasons(app):
    assert "is now suppressed" in text_of(app.command("suppress 0412 345 678 asked by phone"))
    assert "was already suppressed" in text_of(app.command("suppress 0412345678"))
    listed = text_of(app.command("suppressed"))
    assert "1 numbers are suppressed" in listed and "asked by phone" in listed and "on its way" in listed
    assert "not an Australian mobile number" in text_of(app.command("suppress 12345"))
    assert "no longer suppressed" in text_of(app.command("unsuppress 0412345678 mistake"))
    assert "not on the suppression list" in text_of(app.command("unsuppress 0412345678"))


def test_history_and_status_of_a_send(app):
    assert "You have not sent any MMS yet." in text_of(app.command("history"))
    send_id = a_failed_send(app)
    assert f"send `{send_id}`" in text_of(app.command("history"))
    status = app.command(f"status {send_id}")
    assert "2 not sent" in text_of(status) and "on its way to you by direct message" in text_of(status)
    assert "Only the person who sent it" in text_of(app.command(f"status {send_id}", user="U2"))
    assert "Only admins can see everyone's" in text_of(app.command("history all", user="U2"))


def test_send_again_resends_the_numbers_not_reached_once(app):
    send_id = a_failed_send(app)
    assert click(app, "mms_resend_failed", str(send_id)).status_code == 200
    new = wait_for(lambda: app.services.store.find_send(send_id + 1))
    assert new.resend_of == send_id and new.total_contacts == 2
    click(app, "mms_resend_failed", str(send_id))  # a double click
    wait_for(lambda: any("already sent again" in json.dumps(r) for r in app.slack.responses))
    assert app.services.store.find_send(send_id + 2) is None


def test_a_stranger_pressing_a_button_is_told_why_and_nothing_changes(app):
    click(app, "mms_suppress_number", "400000001", user="USTRANGER")
    wait_for(lambda: any("not on the list" in json.dumps(r) for r in app.slack.responses))
    assert app.services.store.suppression_entry("400000001") is None
    click(app, "mms_suppress_number", "400000001")
    wait_for(lambda: app.services.store.suppression_entry("400000001"))


def test_the_app_home_is_published_with_the_form_button(app):
    app.event({"type": "app_home_opened", "user": ADMIN, "tab": "home", "channel": "D1"})
    home = wait_for(lambda: app.slack.accepted("views.publish"))[0].params["view"]
    assert "Send MMS" in flatten(home) and "Suppressed numbers" in flatten(home)


def test_the_form_is_checked_in_the_background_and_the_review_becomes_a_send(app):
    submitted = app.payload(view_submission(form(contacts="0400000001, 0400000002, hello"), ADMIN, "C1", "V1"))
    pushed = submitted.json()
    assert pushed["response_action"] == "push" and "Checking" in flatten(pushed["view"])
    external_id = pushed["view"]["external_id"]
    review_update = wait_for(
        lambda: [c for c in app.slack.calls_to("views.update") if c.params.get("external_id") == external_id],
        timeout=20,
    )[-1]
    review = review_update.params["view"]
    assert review["submit"]["text"] == "Send to 2 numbers" and "hello" in flatten(review)
    confirm = view_submission({}, ADMIN, "", "V2")
    confirm["view"].update(callback_id="mms_review", private_metadata=review["private_metadata"])
    assert app.payload(confirm).json() == {"response_action": "clear"}
    assert app.payload(confirm).json() == {"response_action": "clear"}  # again: recorded once
    sends = app.services.store.recent_sends(ADMIN, 10)
    assert len(sends) == 1 and sends[0].total_contacts == 2


def test_a_form_with_nothing_to_send_to_answers_on_the_form(app):
    answer = app.payload(view_submission(form(contacts=None), ADMIN, "C1", "V1")).json()
    assert answer["response_action"] == "errors" and "contacts" in answer["errors"]
