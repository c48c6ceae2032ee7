"""Buttons in the bot's messages: "Send again" to the numbers a send could not reach."""

from __future__ import annotations

import logging

from bot.sending.contacts import national_or_none
from bot.sending.optouts import SOURCE_REPLY
from bot.slack.blocks import ACTION_RESEND, ACTION_SUPPRESS
from bot.slack.commands import parse_id
from bot.slack.kit import NOT_ON_THE_LIST, display_number, refusal

log = logging.getLogger(__name__)


def register(app) -> None:
    app.action(ACTION_RESEND)(resend_clicked)
    app.action(ACTION_SUPPRESS)(suppress_clicked)


def _may_send(body, respond, services) -> str | None:
    """The clicking person's id if they may send; otherwise they are told why, and None."""
    user = body["user"]["id"]
    if services.permissions.can_send(user):
        return user
    respond(
        text=refusal(NOT_ON_THE_LIST, user, services.permissions.admins),
        response_type="ephemeral",
        replace_original=False,
    )
    return None


def resend_clicked(ack, body, respond, context) -> None:
    """Confirmed in a dialog first; keyed by the original send, so a double click sends once."""
    ack()
    services = context["services"]
    user = _may_send(body, respond, services)
    if user is None:
        return
    send_id = parse_id(str(body["actions"][0].get("value", "")))
    if send_id is None:
        log.warning("a Send again click without a send id: %r", str(body["actions"][0].get("value"))[:40])
        respond(
            text="This button no longer works; nothing was sent.", response_type="ephemeral", replace_original=False
        )
        return
    new_id = services.dispatcher.resend(send_id, user)
    if new_id is None:
        respond(
            text="These numbers were already sent again (or nothing is left to resend); "
            "see the newer message in the channel.",
            response_type="ephemeral",
            replace_original=False,
        )


def suppress_clicked(ack, body, respond, context) -> None:
    """A reply that may be an opt-out: a person who may send decides (confirmed in a dialog first)."""
    ack()
    services = context["services"]
    user = _may_send(body, respond, services)
    if user is None:
        return
    number = national_or_none(str(body["actions"][0].get("value", "")))
    if number is None:
        log.warning("a Suppress click without a mobile number")
        respond(
            text="This button does not name a mobile number; nothing was changed.",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    added = services.store.suppress(number, SOURCE_REPLY, "a person read the reply as an opt-out", user)
    respond(
        text=(
            f"<@{user}> suppressed {display_number(number)}: it will not be sent to again."
            if added
            else f"{display_number(number)} was already suppressed."
        ),
        response_type="in_channel",
        replace_original=False,
    )
