"""Buttons in the bot's messages: "Send again" to the numbers a send could not reach, "Suppress" a number
that may have opted out, "Cancel" a scheduled send."""

from __future__ import annotations

import logging

from bot.sending.contacts import national_or_none
from bot.sending.optouts import SOURCE_REPLY
from bot.sending.states import SEND_CANCELLED
from bot.slack.blocks import ACTION_CANCEL_SCHEDULED, ACTION_RESEND, ACTION_SUPPRESS, scheduled_time
from bot.slack.kit import NOT_ON_THE_LIST, count, display_number, refusal, tell
from bot.slack.payload import parse_id

log = logging.getLogger(__name__)


def register(app) -> None:
    app.action(ACTION_RESEND)(resend_clicked)
    app.action(ACTION_SUPPRESS)(suppress_clicked)
    app.action(ACTION_CANCEL_SCHEDULED)(cancel_scheduled_clicked)


def _may_send(body, respond, services) -> str | None:
    """The clicking person's id if they may send; otherwise they are told why, and None."""
    user = body["user"]["id"]
    if services.permissions.can_send(user):
        return user
    tell(respond, refusal(NOT_ON_THE_LIST, user, services.permissions.admins))
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
        tell(respond, "This button no longer works; nothing was sent.")
        return
    new_id = services.dispatcher.resend(send_id, user)
    if new_id is None:
        tell(
            respond,
            "These numbers were already sent again (or nothing is left to resend); see the newer message in the "
            "channel.",
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


def cancel_scheduled_clicked(ack, body, respond, context) -> None:
    """The sender or an admin cancels a send before its time (confirmed in a dialog first). Cancel and the
    send's start are one conditional change in the store: whichever comes first wins, and this says which."""
    ack()
    services = context["services"]
    user = body["user"]["id"]
    send_id = parse_id(str(body["actions"][0].get("value", "")))
    send = services.store.find_send(send_id) if send_id is not None else None
    if send is None:
        tell(respond, "This button no longer works (that send is not known); nothing was changed.")
        return
    if user != send.user_id and not services.permissions.is_admin(user):
        tell(
            respond,
            refusal(
                "Only the person who scheduled this send, or an admin, can cancel it; nothing was changed.",
                user,
                services.permissions.admins,
            ),
        )
        return
    if services.store.cancel_scheduled(send.id, user):
        log.info("scheduled send %d cancelled by %s", send.id, user)
        services.reporter.wake()
        tell(
            respond,
            f"Cancelled: the MMS to {count(send.total_contacts, 'number')} scheduled for {scheduled_time(send)} "
            "will not be sent.",
        )
        return
    now = services.store.get_send(send.id)
    if now.state == SEND_CANCELLED:
        tell(respond, f"This send was already cancelled, by <@{now.cancelled_by}>; nothing was sent.")
    else:
        tell(
            respond,
            "Too late to cancel: this send has started (its time came), so it carries on; its message in the "
            "channel shows how it goes.",
        )
