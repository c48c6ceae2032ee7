"""The /mms slash command: open the form, help, history, status, scheduled sends, and the admins' commands."""

from __future__ import annotations

import logging
import re
import time

from slack_sdk.errors import SlackApiError

from bot.sending.contacts import InvalidNumber, normalise
from bot.sending.optouts import SOURCE_ADMIN, UnsuppressRefused, check_unsuppress
from bot.sending.permissions import NotAdmin, Permissions
from bot.sending.reports import FileFor, ReportKind, asked_key
from bot.sending.schedule import how_far
from bot.sending.states import SEND_CANCELLED, SEND_SCHEDULED
from bot.sending.summary import summarise
from bot.slack.blocks import (
    HELP,
    approval_line,
    cancel_actions,
    conversation_lines,
    history_line,
    scheduled_time,
    status_line,
    thread_summary,
)
from bot.slack.kit import (
    MAX_MESSAGE_TEXT,
    MAX_SECTION_TEXT,
    NOT_ON_THE_LIST,
    context,
    count,
    cut,
    display_number,
    escape,
    refusal,
    section,
    utc_minute,
    where,
)
from bot.slack.payload import parse_id
from bot.slack.templates import templates_command
from bot.slack.views import send_form

log = logging.getLogger(__name__)

# <@U123|name>, <@U123>, or a bare id; user ids start with U or W.
_USER = re.compile(r"^(?:<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|@?([UW][A-Z0-9]+))$")


def parse_user(text: str) -> str | None:
    match = _USER.match(text.strip())
    return (match.group(1) or match.group(2)) if match else None


def register(app) -> None:
    app.command("/mms")(mms_command)


def mms_command(ack, command, client, respond, context) -> None:
    permissions: Permissions = context["services"].permissions
    user = command["user_id"]
    words = command.get("text", "").strip().split(None, 1)
    verb = words[0].lower() if words else ""
    argument = words[1] if len(words) > 1 else ""
    if verb == "":
        open_form(ack, command, client, respond, permissions, context["services"].store.list_templates())
    elif verb == "help":
        ack(text=HELP, response_type="ephemeral")
    elif verb in ("allow", "revoke", "list"):
        ack(text=admin_command(permissions, user, verb, argument), response_type="ephemeral")
    elif verb in ("suppress", "unsuppress", "suppressed"):
        ack(text=suppression_command(context["services"], user, verb, argument), response_type="ephemeral")
    elif verb == "history":
        ack(text=history(context["services"], user, argument), response_type="ephemeral")
    elif verb == "templates":
        text, blocks = templates_command(context["services"], user)
        ack(text=text, blocks=blocks, response_type="ephemeral")
    elif verb == "scheduled":
        text, blocks = scheduled(context["services"], user, argument)
        ack(text=text, blocks=blocks, response_type="ephemeral")
    elif verb == "status":
        text, blocks = status(context["services"], user, argument)
        ack(text=text, blocks=blocks, response_type="ephemeral")
    else:
        ack(text=f"I don't know `/mms {escape(cut(verb, 40, '…'))}`.\n\n{HELP}", response_type="ephemeral")


def open_form(ack, command, client, respond, permissions: Permissions, templates: list[dict]) -> None:
    user = command["user_id"]
    if not permissions.can_send(user):
        log.info("refused /mms from %s: not on the allowlist", user)
        ack(text=refusal(NOT_ON_THE_LIST, user, permissions.admins), response_type="ephemeral")
        return
    ack()
    try:
        client.views_open(trigger_id=command["trigger_id"], view=send_form(command["channel_id"], templates))
    except SlackApiError as exc:
        log.error("views.open failed: %s", exc.response.get("error"))
        respond(
            text="Sorry, the form could not be opened (Slack said: "
            f"`{exc.response.get('error')}`). Please run `/mms` again.",
            response_type="ephemeral",
        )


_NUMBER_PART = re.compile(r"[+\d()\-.]+")


def split_number(argument: str) -> tuple[str, str]:
    """``0412 345 678 asked by phone`` → (``0412 345 678``, ``asked by phone``): people type spaces in numbers."""
    tokens = argument.split()
    taken: list[str] = []
    for token in tokens:
        if not _NUMBER_PART.fullmatch(token) or len(re.sub(r"\D", "", "".join(taken + [token]))) > 13:
            break
        taken.append(token)
    if not taken:
        return (tokens[0] if tokens else ""), " ".join(tokens[1:])
    return " ".join(taken), " ".join(tokens[len(taken) :])


def history(services, actor: str, argument: str) -> str:
    everyone = argument.strip().lower() == "all"
    if everyone and not services.permissions.is_admin(actor):
        return refusal(
            "Only admins can see everyone's sends; `/mms history` shows yours.", actor, services.permissions.admins
        )
    sends = services.store.recent_sends(None if everyone else actor, 10)
    requests = services.store.approvals_of(None if everyone else actor, 5)
    if not sends and not requests:
        return "No sends yet." if everyone else "You have not sent any MMS yet."
    title = "The last 10 sends" if everyone else "Your last 10 sends"
    text = f"*{title}* (details: `/mms status <send id>`):\n" + ("\n".join(history_line(s) for s in sends) or "• none")
    if requests:
        text += "\n*Approval requests* (the latest):\n" + "\n".join(approval_line(a) for a in requests)
    return cut(text, MAX_MESSAGE_TEXT)


SCHEDULED_SHOWN = 20  # a block each, with its Cancel button: well within a message's 50


def scheduled(services, actor: str, argument: str) -> tuple[str, list[dict]]:
    """Sends waiting for their time, soonest first, each with Cancel: yours; an admin's list has everyone's."""
    everyone = services.permissions.is_admin(actor)
    sends = services.store.upcoming_sends(None if everyone else actor, SCHEDULED_SHOWN + 1)
    if not sends:
        text = "No sends are scheduled." if everyone else "You have no sends scheduled."
        return text, [section(text)]
    now = time.time()
    title = "Scheduled sends (everyone's)" if everyone else "Your scheduled sends"
    blocks = [section(f"*{title}*, soonest first:")]
    for send in sends[:SCHEDULED_SHOWN]:
        who = f"<@{send.user_id}>, " if everyone else ""
        line = (
            f"*{scheduled_time(send)}* ({how_far((send.send_at or now) - now)}) — {who}{where(send.channel_id)} — "
            f"{count(send.total_contacts, 'number')} — send `{send.id}`\n{escape(cut(send.message, 150, '…'))}"
        )
        block = section(line)
        block["accessory"] = cancel_actions(send)["elements"][0]
        blocks.append(block)
    if len(sends) > SCHEDULED_SHOWN:
        blocks.append(context(f"Only the first {SCHEDULED_SHOWN} are shown."))
    return f"{title}: {len(sends[:SCHEDULED_SHOWN])}", blocks


def status(services, actor: str, argument: str) -> tuple[str, list[dict] | None]:
    """One send's summary, re-rendered from the store, for its sender and admins; the CSV follows by DM."""
    ident = argument.strip().lstrip("#`").rstrip("`")
    send_id = parse_id(ident)
    send = services.store.find_send(send_id) if send_id is not None else None
    if send is None:
        return f"There is no send `{escape(cut(ident, 40, '…'))}`. `/mms history` lists yours with their ids.", None
    if send.user_id != actor and not services.permissions.is_admin(actor):
        return refusal(
            "Only the person who sent it, or an admin, can see that send.", actor, services.permissions.admins
        ), None
    summary = summarise(services.store, send.id)
    approved = ""
    if send.approval_id is not None:
        approval = services.store.find_approval(send.approval_id) or {}
        approved = (
            f"\nAsked for approval by <@{approval.get('requester')}> on {utc_minute(str(approval.get('created_at')))}; "
            f"approved by <@{approval.get('decided_by')}> on {utc_minute(str(approval.get('decided_at')))}."
        )
    if send.state in (SEND_SCHEDULED, SEND_CANCELLED):  # nothing sent yet (or ever): no results to show
        head = section(history_line(send) + "\n" + status_line(summary) + approved)
        return history_line(send), [head] + ([cancel_actions(send)] if send.state == SEND_SCHEDULED else [])
    rendered = thread_summary(summary)
    text, blocks = rendered.text, rendered.blocks
    talk = conversation_lines(services.store.conversations_of(send.id))
    if talk:
        blocks = blocks + [section(cut("*Replies and answers* (the latest):\n" + "\n".join(talk), MAX_SECTION_TEXT))]
    head = section(
        history_line(send)
        + approved
        + (
            "\n" + escape(status_line(summary))
            if not send.purged_at
            else f"\nIts per-number details were deleted after {services.settings.retention_days} days; "
            "the counts stay."
        )
    )
    if not send.purged_at:
        key = asked_key(ReportKind.SEND_CSV, actor, time.time(), send.id)
        services.store.report_due(key, None, ReportKind.SEND_CSV, FileFor(actor, send.id))
        services.reporter.wake()
        blocks = blocks + [context("The CSV with every number is on its way to you by direct message.")]
    return text, [head] + blocks[:49]


def suppression_command(services, actor: str, verb: str, argument: str) -> str:
    """Admins keep the suppression list by hand too; every change is audited with who and why."""
    if not services.permissions.is_admin(actor):
        return refusal("Only admins can change or see the suppression list.", actor, services.permissions.admins)
    store = services.store
    if verb == "suppressed":
        latest = store.latest_suppressions(10)
        lines = [
            f"• {display_number(e['number'])} — "
            f"{escape(e['source'])}{': ' + escape(e['reason']) if e['reason'] else ''} "
            f"({e['added_at'][:10]})"
            for e in latest
        ]
        key = asked_key(ReportKind.SUPPRESSION_CSV, actor, time.time())
        store.report_due(key, None, ReportKind.SUPPRESSION_CSV, FileFor(actor))
        services.reporter.wake()
        return (
            f"*{store.suppression_count():,} numbers are suppressed.* The latest:\n"
            + ("\n".join(lines) or "• none")
            + "\nThe full list is on its way to you by direct message, as a CSV file."
        )
    raw, reason = split_number(argument)
    try:
        number = normalise(raw)
    except InvalidNumber as exc:
        return (
            f"“{escape(raw)}” is not an Australian mobile number ({exc}). Usage: `/mms {verb} 0412 345 678 [reason]`."
        )
    if verb == "suppress":
        added = store.suppress(number, SOURCE_ADMIN, reason.strip(), actor)
        return (
            f"{display_number(number)} is now suppressed: it will not be sent to again."
            if added
            else f"{display_number(number)} was already suppressed."
        )
    try:
        check_unsuppress(store.suppression_entry(number), reason)
    except UnsuppressRefused as exc:
        return escape(str(exc))  # it may quote the opted-out person's reply
    store.unsuppress(number, actor, reason.strip())
    return f"{display_number(number)} is no longer suppressed (recorded, with your reason)."


def admin_command(permissions: Permissions, actor: str, verb: str, argument: str) -> str:
    try:
        if verb == "list":
            users = permissions.allowed_users(actor)
            admins = ", ".join(f"<@{u}>" for u in sorted(permissions.admins)) or "none"
            listed = "\n".join(
                f"• <@{u['user_id']}> (added by <@{u['added_by']}>, {u['added_at'][:10]})" for u in users
            )
            return f"*Admins:* {admins}\n*Allowed to send:*\n{listed or '• nobody yet'}"
        target = parse_user(argument)
        if target is None:
            if argument.strip().startswith("@"):
                return (
                    f"Slack sent “{escape(argument.strip())}” as plain text, not as a person. Type @ and pick them "
                    "from the list "
                    "(the app's manifest must have `should_escape: true` for /mms), or give their member id: "
                    f"`/mms {verb} U01ABCDEF`."
                )
            return f"Name one person: `/mms {verb} @someone`."
        if verb == "allow":
            added = permissions.allow(actor, target)
            return f"<@{target}> can now send MMS." if added else f"<@{target}> could already send MMS."
        removed = permissions.revoke(actor, target)
        if target in permissions.admins:
            return f"<@{target}> is an admin (set in MMS_ADMINS) and can still send; change MMS_ADMINS to remove them."
        return f"<@{target}> can no longer send MMS." if removed else f"<@{target}> was not on the list."
    except NotAdmin:
        return refusal("Only admins can change or see who may send MMS.", actor, permissions.admins)
