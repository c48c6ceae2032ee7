"""Saved templates: picking one on the form, saving a reviewed message as one, and ``/mms templates``.

A template is the message as typed, placeholders and all (no image, no numbers, no opt-out footer: the
footer is added when it is sent, as to any message). Names are unique whatever their case.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.slack.kit import context, cut, escape, plain, quote, refusal, section, tell
from bot.slack.payload import metadata, parse_id, state_values, text_value
from bot.slack.views import (
    ACTION_SAVE_TEMPLATE,
    CALLBACK_TEMPLATE_NAME,
    MESSAGE,
    TEMPLATE,
    message_block_id,
    notice_view,
    send_form,
    template_name_view,
)

log = logging.getLogger(__name__)

ACTION_DELETE_TEMPLATE = "mms_template_delete"
SHOWN = 20  # templates listed by /mms templates, a block each


def register(app) -> None:
    app.action(TEMPLATE)(template_picked)
    app.action(ACTION_SAVE_TEMPLATE)(save_clicked)
    app.view(CALLBACK_TEMPLATE_NAME)(name_submitted)
    app.action(ACTION_DELETE_TEMPLATE)(delete_clicked)


def template_picked(ack, body, client, context) -> None:
    """The form again, its message filled from the template; every other input keeps what was entered."""
    ack()
    services = context["services"]
    view = body.get("view") or {}
    selected = (body["actions"][0].get("selected_option") or {}).get("value", "")
    template_id = parse_id(str(selected))
    template = services.store.find_template(template_id) if template_id is not None else None
    if template is None:
        log.info("a template picked on the form is gone (deleted meanwhile)")
        return
    current = message_block_id(view)
    turn = int(current.split("~", 1)[1]) + 1 if "~" in current and current.split("~", 1)[1].isdigit() else 2
    channel = metadata(view).get("channel_id")
    form = send_form(
        channel if isinstance(channel, str) else body["user"]["id"],
        services.store.list_templates(),
        message=template["text"],
        message_block=f"{MESSAGE}~{turn}",
    )
    try:
        client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=form)
    except SlackApiError as exc:  # hash_conflict: the form changed meanwhile; the person can pick again
        log.warning("could not fill the form from a template: %s", exc.response.get("error"))


def save_clicked(ack, body, client, context) -> None:
    """From the review: ask for a name, on a view pushed over it (Back returns to the review)."""
    ack()
    services = context["services"]
    user = body["user"]["id"]
    draft_id = str(body["actions"][0].get("value", ""))
    if not services.permissions.can_send(user):
        return  # the review's own submit says why; nothing to save for someone who may not send
    try:
        client.views_push(trigger_id=body["trigger_id"], view=template_name_view(draft_id))
    except SlackApiError as exc:
        log.warning("could not open the template name form: %s", exc.response.get("error"))


def name_submitted(ack, body, context) -> None:
    services = context["services"]
    user = body["user"]["id"]
    view = body["view"]
    name = " ".join((text_value(state_values(view), "name") or "").split())
    if not name:
        ack(response_action="errors", errors={"name": "Give the template a name."})
        return
    draft_id = metadata(view).get("draft_id")
    draft = services.store.get_draft(draft_id) if isinstance(draft_id, str) and draft_id else None
    if draft is None or draft["user_id"] != user or not draft.get("review"):
        ack(response_action="update", view=notice_view("Not saved", "This review is gone, so nothing was saved."))
        return
    text = typed_message(draft["review"]["message"], services.settings.optout_text)
    if not services.store.save_template(name, text, user):
        taken = services.store.template_named(name) or {}
        when = f" on {taken['created_at'][:10]}" if taken.get("created_at") else ""
        ack(
            response_action="errors",
            errors={"name": f"“{cut(taken.get('name', name), 40, '…')}” is taken (saved{when}). Pick another name."},
        )
        return
    log.info("template saved by %s", user)
    ack(
        response_action="update",
        view=notice_view("Template saved", f"Saved as “{escape(name)}”. It is in the Template list of `/mms`."),
    )


def typed_message(message: str, footer: str) -> str:
    """The message without the opt-out footer the bot added (it is added again to whatever is sent)."""
    ending = "\r\n" + footer.strip()
    return message[: -len(ending)] if footer.strip() and message.endswith(ending) else message


def templates_command(services, actor: str) -> tuple[str, list[dict]]:
    """Every template: name, text, who saved it and when; admins get a Delete button on each."""
    templates = services.store.list_templates()
    if not templates:
        text = "No templates yet. Review a message and press *Save as template*."
        return text, [section(text)]
    admin = services.permissions.is_admin(actor)
    blocks = [section(f"*Templates* ({len(templates):,}); pick one on the form of `/mms`:")]
    for template in templates[:SHOWN]:
        block = section(
            f"*{escape(template['name'])}* — saved by <@{template['created_by']}> on {template['created_at'][:10]}\n"
            + quote(cut(template["text"].replace("\r\n", "\n"), 500, "…"))
        )
        if admin:
            block["accessory"] = {
                "type": "button",
                "action_id": ACTION_DELETE_TEMPLATE,
                "value": str(template["id"]),
                "style": "danger",
                "text": plain("Delete"),
                "confirm": {
                    "title": plain("Delete this template?"),
                    "text": plain(cut(f"“{template['name']}” will no longer be offered on the form.", 300, "…")),
                    "confirm": plain("Delete"),
                    "deny": plain("Keep it"),
                },
            }
        blocks.append(block)
    if len(templates) > SHOWN:
        blocks.append(context(f"… and {len(templates) - SHOWN:,} more; the form offers the first 100."))
    return f"Templates: {len(templates):,}", blocks


def delete_clicked(ack, body, respond, context) -> None:
    ack()
    services = context["services"]
    user = body["user"]["id"]

    if not services.permissions.is_admin(user):
        tell(
            respond,
            refusal("Only admins can delete templates; nothing was changed.", user, services.permissions.admins),
        )
        return
    template_id = parse_id(str(body["actions"][0].get("value", "")))
    deleted = services.store.delete_template(template_id, user) if template_id is not None else None
    if deleted is None:
        tell(respond, "That template was already deleted.")
        return
    log.info("template %d deleted by %s", deleted["id"], user)
    tell(respond, f"Deleted the template “{escape(deleted['name'])}”.")
