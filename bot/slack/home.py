"""The App Home: a button that opens the form, the account's balance, your recent sends and the replies to
them still waiting for an answer; for admins, who may send and how many numbers are suppressed."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.sending.review import read_balance
from bot.slack.blocks import history_line
from bot.slack.kit import (
    MAX_SECTION_TEXT,
    NOT_ON_THE_LIST,
    context,
    cut,
    display_number,
    escape,
    plain,
    refusal,
    section,
    where,
)
from bot.slack.views import send_form

log = logging.getLogger(__name__)

ACTION_OPEN_FORM = "mms_open_form"
RECENT = 10


def register(app) -> None:
    app.event("app_home_opened")(home_opened)
    app.action(ACTION_OPEN_FORM)(open_form_clicked)


def home_opened(event, client, context) -> None:
    """Events are acknowledged by Bolt before this runs; the Home is built and published here."""
    if event.get("tab", "home") != "home":
        return  # the Messages tab: nothing to publish
    services = context["services"]
    user = event["user"]
    try:
        client.views_publish(user_id=user, view=home_view(services, user))
    except SlackApiError as exc:
        log.error("views.publish for the App Home failed: %s", exc.response.get("error"))


def open_form_clicked(ack, body, client, context) -> None:
    ack()
    services = context["services"]
    user = body["user"]["id"]
    if not services.permissions.can_send(user):
        client.chat_postMessage(channel=user, text=refusal(NOT_ON_THE_LIST, user, services.permissions.admins))
        return
    # From the Home there is no channel: the results come to the person's messages with the app.
    client.views_open(trigger_id=body["trigger_id"], view=send_form(user, services.store.list_templates()))


def home_view(services, user: str) -> dict:
    store, permissions = services.store, services.permissions
    blocks: list[dict] = [{"type": "header", "text": plain("MMS")}]
    if permissions.can_send(user):
        blocks.append(
            {
                "type": "actions",
                "block_id": "home_actions",
                "elements": [
                    {"type": "button", "action_id": ACTION_OPEN_FORM, "style": "primary", "text": plain("Send MMS")}
                ],
            }
        )
    else:
        blocks.append(section(refusal(NOT_ON_THE_LIST, user, permissions.admins)))
    balance = read_balance(services.gateway, services.settings.dry_run)
    blocks.append(
        section(
            f"*MMS balance:* {balance.credits:,g} credits"
            if balance.credits is not None
            else f"*MMS balance:* unknown ({balance.error})"
        )
    )
    sends = store.recent_sends(user, RECENT + 1)
    lines = [history_line(send) for send in sends[:RECENT]]
    more = "\n…and earlier ones: `/mms history`" if len(sends) > RECENT else ""
    blocks.append(section(cut("*Your recent sends*\n" + ("\n".join(lines) or "None yet.") + more, MAX_SECTION_TEXT)))
    waiting = store.open_replies(user, RECENT)
    if waiting:
        open_lines = [
            f"• {display_number(r['number'])} in {where(r['channel_id'], 'your messages with the app')}: "
            f"“{escape(cut(r['body'].replace(chr(10), ' '), 120, '…'))}” — send `{r['send_id']}`"
            for r in waiting
        ]
        blocks.append(
            section(
                cut(
                    "*Replies waiting for an answer* (press Reply under them in the thread)\n" + "\n".join(open_lines),
                    MAX_SECTION_TEXT,
                )
            )
        )
    if permissions.is_admin(user):
        allowed = permissions.allowed_users(user)
        admins = ", ".join(f"<@{u}>" for u in sorted(permissions.admins))
        names = ", ".join(f"<@{row['user_id']}>" for row in allowed) or "nobody else yet"
        blocks.append({"type": "divider"})
        blocks.append(section(cut(f"*Admins:* {admins}\n*May send:* {names}", MAX_SECTION_TEXT)))
        blocks.append(section(f"*Suppressed numbers:* {store.suppression_count():,} (`/mms suppressed` for the list)"))
    if services.settings.dry_run:
        blocks.append(context(":test_tube: Dry run: nothing is sent to Cellcast."))
    return {"type": "home", "blocks": blocks}
