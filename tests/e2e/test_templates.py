"""End to end: saving a reviewed message as a template, listing, picking it on the form, deleting it."""

import json
from urllib.parse import urlencode

import pytest

from tests.e2e.harness import ADMIN, form, view_submission
from tests.fakes.server import wait_for
from tests.fakes.slack import flatten

# The features' store sides are tested on both engines in tests/store/.
pytestmark = pytest.mark.sqlite_only


def view_action(bot, view, action: dict, user=ADMIN):
    """A block action inside a modal, as Slack sends it (the view with its state, and a trigger)."""
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "trigger_id": "1.2.3",
        "container": {"type": "view", "view_id": view["id"]},
        "view": {**view, "state": {"values": {}}},
        "actions": [{"action_ts": "1.0", **action}],
    }
    return bot.post(urlencode({"payload": json.dumps(payload)}).encode())


def save_as_template(bot, slack, name, message="Hi ((first name))", user=ADMIN, view_id="V1"):
    """Review a message, press Save as template, give the name: the answer to the name form."""
    contacts = slack.host_file(f"F{view_id}", "people.csv", b"Mobile,First name\n0400000001,Ann\n")
    bot.submit(form(message=message, contacts_file=contacts), user=user, view_id=view_id)
    review = bot.review(view_id)
    before = len(slack.accepted("views.push"))
    view_action(
        bot,
        review,
        {
            "type": "button",
            "action_id": "mms_template_save",
            "block_id": "save_template",
            "value": json.loads(review["private_metadata"])["draft_id"],
        },
        user=user,
    )
    pushed = wait_for(lambda: slack.accepted("views.push")[before:])[-1].answer["view"]
    assert pushed["callback_id"] == "mms_template_name"
    payload = view_submission({"name": {"value": {"type": "plain_text_input", "value": name}}}, user, "", pushed["id"])
    payload["view"].update(callback_id="mms_template_name", private_metadata=pushed["private_metadata"])
    return bot.post(urlencode({"payload": json.dumps(payload)}).encode()).json()


def test_a_template_is_saved_listed_picked_on_the_form_and_deleted(bot, slack):
    saved = save_as_template(bot, slack, "Reminder")
    assert saved["response_action"] == "update" and "Saved as “Reminder”" in flatten(saved["view"])
    listed = bot.command("templates", user=ADMIN).json()
    shown = flatten(listed["blocks"])
    assert "Reminder" in shown and "Hi ((first name))" in shown and "<@UADMIN>" in shown
    assert "Reply STOP" not in shown  # the footer is added when sent, not kept in the template
    assert "mms_template_delete" in shown  # an admin may delete
    # The form offers it; picking it fills the message and keeps every other input's block.
    bot.command()
    opened = wait_for(lambda: slack.accepted("views.open"))[-1].answer["view"]
    ids = [b["block_id"] for b in opened["blocks"]]
    assert ids.index("template") == ids.index("message") - 1
    picker = next(b for b in opened["blocks"] if b["block_id"] == "template")["elements"][0]
    option = next(o for o in picker["options"] if o["text"]["text"] == "Reminder")
    view_action(
        bot,
        opened,
        {"type": "static_select", "action_id": "template", "block_id": "template", "selected_option": option},
    )
    updated = wait_for(lambda: slack.accepted("views.update"))[-1].params["view"]
    blocks = {b["block_id"]: b for b in updated["blocks"]}
    assert blocks["message~2"]["element"]["initial_value"] == "Hi ((first name))"
    assert [i for i in ids if i != "message"] == [b for b in blocks if b != "message~2"]
    # A form filled from a template is read from its new message block.
    submitted = form(message=None, contacts="0400000001")
    submitted["message~2"] = submitted.pop("message")
    submitted["message~2"]["value"]["value"] = "From the template"
    assert bot.submit(submitted, view_id="V9").json()["response_action"] == "push"
    assert "From the template" in flatten(bot.review("V9"))
    # Deleted by an admin; a second press is answered.
    delete = listed["blocks"][1]["accessory"]
    bot.click([{"type": "actions", "elements": [delete]}], "mms_template_delete")
    wait_for(lambda: slack.responses)
    assert "Deleted the template “Reminder”" in slack.responses[-1]["text"]
    assert "No templates yet" in bot.command("templates").json()["text"]


def test_a_name_taken_twice_whatever_its_case_is_refused_on_the_name_form(bot, slack):
    assert save_as_template(bot, slack, "Reminder", view_id="V1")["response_action"] == "update"
    taken = save_as_template(bot, slack, "  reMINDER ", message="Other ((first name))", view_id="V2")
    assert taken["response_action"] == "errors" and "is taken" in taken["errors"]["name"]
    assert "Other" not in flatten(bot.command("templates").json()["blocks"])


def test_only_admins_delete_templates(bot, slack):
    save_as_template(bot, slack, "Reminder")
    bot.command("allow UBOB")
    listed = bot.command("templates", user="UBOB").json()
    assert "mms_template_delete" not in flatten(listed["blocks"])
    admin_list = bot.command("templates").json()
    bot.click(
        [{"type": "actions", "elements": [admin_list["blocks"][1]["accessory"]]}], "mms_template_delete", user="UBOB"
    )
    wait_for(lambda: slack.responses)
    assert "Only admins can delete templates" in slack.responses[-1]["text"]
    assert "Reminder" in flatten(bot.command("templates").json()["blocks"])
