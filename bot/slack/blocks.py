"""Block Kit for the channel message and the thread summary, and the results CSV.

Everything here stays within Slack's limits at any size: at most 50 blocks, 3,000 characters a
section, 40,000 a message's text. Problems are grouped by reason (a line per reason with counts and a
few examples, not a block per batch); whenever something is left out, the thread says so and the
CSV with every number is attached.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from bot.sending import outcomes as o
from bot.sending.gateway import SMS
from bot.sending.optouts import MAYBE, OPTOUT
from bot.sending.records import INBOUND, Exchange
from bot.sending.schedule import UTC_ZONE, describe, zone
from bot.sending.states import (
    APPROVAL_APPROVED,
    APPROVAL_EXPIRED,
    APPROVAL_REFUSED,
    APPROVAL_REJECTED,
    APPROVAL_WAITING,
    APPROVAL_WITHDRAWN,
    SEND_CANCELLED,
    SEND_OPEN,
    SEND_SCHEDULED,
    STEP_CANCELLED,
    STEP_FAILED,
    STEP_REFUSED,
    STEP_REVIEWING,
    STEP_SENDING,
    STEP_SENT,
)
from bot.sending.summary import SendSummary
from bot.slack.kit import (
    MAX_MESSAGE_TEXT,
    MAX_SECTION_TEXT,
    context,
    count,
    cut,
    display_number,
    escape,
    local_time,
    plain,
    quote,
    section,
    split_sections,
    utc_minute,
    where,
)

ACTION_RESEND = "mms_resend_failed"
ACTION_SUPPRESS = "mms_suppress_number"
ACTION_CANCEL_SCHEDULED = "mms_cancel_scheduled"
ACTION_REPLY = "mms_reply"
MAX_GROUPS = 20  # reasons shown one by one in the thread; the rest are counted, and all are in the CSV
EXAMPLES = 5
DRY_RUN = ":test_tube: *Dry run: nothing was sent.*"

LABELS = {
    o.QUEUED: "queued",
    o.INVALID: "invalid",
    o.REJECTED: "refused by the gateway",
    o.UNSUBSCRIBED: "unsubscribed",
    o.SUPPRESSED: "suppressed",
    o.UNCONFIRMED: "not confirmed by the gateway",
    o.FAILED: "not sent",
    o.UNKNOWN: "outcome unknown",
    o.EXPIRED: "not sent (expired)",
}
ICONS = {
    o.INVALID: ":no_entry_sign:",
    o.REJECTED: ":no_entry_sign:",
    o.UNSUBSCRIBED: ":no_bell:",
    o.SUPPRESSED: ":no_bell:",
    o.UNCONFIRMED: ":grey_question:",
    o.FAILED: ":x:",
    o.UNKNOWN: ":grey_question:",
    o.EXPIRED: ":hourglass:",
}


def totals(summary: SendSummary) -> str:
    parts = [
        f"{summary.count(outcome):,} {LABELS[outcome]}"
        for outcome in o.OUTCOMES
        if summary.count(outcome) or outcome == o.QUEUED
    ]
    return ", ".join(parts) + "."


def scheduled_time(send) -> str:
    """A scheduled send's time as its sender picked it: in their zone, named."""
    return describe(send.send_at, zone(send.schedule_tz, UTC_ZONE)) if send.send_at else ""


def cancelled_time(send) -> str:
    """When it was cancelled, in the zone its time was picked in."""
    if not send.cancelled_at:
        return ""
    return describe(datetime.fromisoformat(send.cancelled_at).timestamp(), zone(send.schedule_tz, UTC_ZONE))


def channel_message(summary: SendSummary, note: str = "") -> tuple[str, list[dict]]:
    send = summary.send
    if send.state in (SEND_SCHEDULED, SEND_CANCELLED):
        return _scheduled_message(summary, note)
    verb = "sent" if summary.finished else "is sending"
    sender = f" from *{escape(send.sender)}*" if send.sender else ""
    headline = f"<@{send.user_id}> {verb} an MMS to {count(send.total_contacts, 'number')}{sender}."
    if send.send_at:
        headline += f" (scheduled for {scheduled_time(send)})"
    if send.resend_of:
        headline += " (sending again the numbers an earlier send could not reach)"
    if send.dry_run:
        headline = f"{DRY_RUN} {headline}"
    blocks = []
    if note:
        blocks.append(section(note))
    blocks += [section(headline), section(quote(send.message))]
    if send.gif_url and send.images_ok:
        blocks.append({"type": "image", "image_url": send.gif_url, "alt_text": "The GIF sent with the MMS"})
    blocks.append(context(status_line(summary)))
    return cut(headline.replace("*", ""), MAX_MESSAGE_TEXT), blocks


def _scheduled_message(summary: SendSummary, note: str) -> tuple[str, list[dict]]:
    """Waiting for its time (with Cancel), or cancelled before it: the same message carries on when it starts."""
    send = summary.send
    sender = f" from *{escape(send.sender)}*" if send.sender else ""
    headline = (
        f"<@{send.user_id}> scheduled an MMS to {count(send.total_contacts, 'number')}{sender} "
        f"for *{scheduled_time(send)}*."
    )
    if send.dry_run:
        headline = f"{DRY_RUN} {headline}"
    blocks = [section(note)] if note else []
    blocks += [section(headline), section(quote(send.message))]
    if send.state == SEND_CANCELLED:
        at = f" on {cancelled_time(send)}" if send.cancelled_at else ""
        blocks.append(context(f":no_entry_sign: Cancelled by <@{send.cancelled_by}>{at}. Nothing was sent."))
    else:
        blocks.append(context(":alarm_clock: Scheduled. The sender or an admin can cancel it until it starts."))
        blocks.append(cancel_actions(send))
    return cut(headline.replace("*", ""), MAX_MESSAGE_TEXT), blocks


def cancel_actions(send) -> dict:
    return {
        "type": "actions",
        "block_id": f"cancel_{send.id}",
        "elements": [
            {
                "type": "button",
                "action_id": ACTION_CANCEL_SCHEDULED,
                "text": plain("Cancel"),
                "value": str(send.id),
                "style": "danger",
                "confirm": {
                    "title": plain("Cancel this send?"),
                    "text": plain(
                        f"The MMS to {count(send.total_contacts, 'number')} scheduled for {scheduled_time(send)} "
                        "will not be sent."
                    ),
                    "confirm": plain("Cancel the send"),
                    "deny": plain("Keep it"),
                    "style": "danger",
                },
            }
        ],
    }


def status_line(summary: SendSummary) -> str:
    send = summary.send
    if send.state == SEND_SCHEDULED:
        return f":alarm_clock: Scheduled for {scheduled_time(send)}."
    if send.state == SEND_CANCELLED:
        return f":no_entry_sign: Cancelled by <@{send.cancelled_by}>; nothing was sent."
    if not summary.finished:
        so_far = f" {send.n_queued:,} queued so far." if send.batches_done else ""
        batches = count(send.batches_total, "batch", "batches")
        return f":hourglass_flowing_sand: Sending… {send.batches_done:,} of {batches} done.{so_far}"
    return ":white_check_mark: Done: " + totals(summary) + delivery_line(summary) + " Details in the thread."


def delivery_line(summary: SendSummary) -> str:
    send = summary.send
    if send.dry_run or not send.n_queued:
        return ""
    if send.n_delivered + send.n_undelivered == 0:
        return " Delivery: not reported yet." if not send.delivery_done_at else " Delivery: not reported."
    counts = f" Delivery: {send.n_delivered:,} delivered, {send.n_undelivered:,} not delivered"
    if not send.delivery_pending:
        return counts + "."
    return counts + f", {send.delivery_pending:,} {'pending' if not send.delivery_done_at else 'not reported'}."


@dataclass(frozen=True)
class ThreadSummary:
    text: str  # the notification text
    blocks: list[dict]
    left_out: bool  # numbers were left out of the blocks: the CSV with every number must follow


def thread_summary(summary: SendSummary) -> ThreadSummary:
    """The thread reply, saying whether the CSV must follow because something was left out."""
    send = summary.send
    lines = [f"*Result for {count(send.entries, 'entry', 'entries')}:* {totals(summary)}"]
    if send.dry_run:
        lines.insert(0, f"{DRY_RUN} Numbers show as queued with `dry-run-` message ids.")
    if send.duplicates:
        lines.append(f"{count(send.duplicates, 'duplicate number')} left out (each number gets one message).")
    if send.media_note:
        lines.append(f":frame_with_picture: {escape(send.media_note)}")
    if send.resumed:
        lines.append(
            ":arrows_counterclockwise: The bot restarted (or another copy of it took over) during this send; "
            "batches not yet sent were sent after that, each at most once."
        )
    blocks = [section("\n".join(lines))]
    left_out = False
    for group in summary.groups[:MAX_GROUPS]:
        shown = ", ".join(escape(display_number(n)) for n in group.examples[:EXAMPLES])
        more = group.count - min(len(group.examples), EXAMPLES)
        if more:
            shown += f" and {more:,} more"
            left_out = True
        reason = f" {escape(group.reason)}" if group.reason else ""
        blocks.append(
            section(
                f"{ICONS.get(group.outcome, '•')} *{count(group.count, 'number')} "
                f"{LABELS[group.outcome]}.*{reason}\n{shown}"
            )
        )
    if len(summary.groups) > MAX_GROUPS:
        rest = summary.groups[MAX_GROUPS:]
        blocks.append(
            section(
                f"… and {count(sum(g.count for g in rest), 'number')} more, for {count(len(rest), 'other reason')}."
            )
        )
        left_out = True
    if left_out:
        blocks.append(context("Every number, with what happened to it, is in the CSV file below."))
    if summary.resendable:
        blocks.append(resend_actions(send.id, summary))
    return ThreadSummary(cut(f"Result: {totals(summary)}", MAX_MESSAGE_TEXT), blocks, left_out)


def resend_actions(send_id: int, summary: SendSummary) -> dict:
    uncertain = summary.count(o.UNKNOWN) + summary.count(o.UNCONFIRMED)
    total = summary.resendable
    warning = (
        (
            "Numbers whose outcome is unknown may already have received this MMS: they could get it twice "
            "and be charged twice. Check Cellcast's reports first."
        )
        if uncertain
        else ""
    )
    return {
        "type": "actions",
        "block_id": "resend",
        "elements": [
            {
                "type": "button",
                "action_id": ACTION_RESEND,
                "text": plain(cut(f"Send again to {total:,} numbers", 75, "")),
                "value": str(send_id),
                "confirm": {
                    "title": plain("Send again?"),
                    "text": plain(
                        cut(
                            f"Send this MMS again to {count(total, 'number')} that it may not have reached "
                            f"({count(uncertain, 'number')} of unknown outcome). {warning}".strip(),
                            300,
                            "…",
                        )
                    ),
                    "confirm": plain("Send again"),
                    "deny": plain("Cancel"),
                    "style": "danger",
                },
            }
        ],
    }


def history_line(send) -> str:
    """One send in a line: when, who, where, how many, what happened, and its id for /mms status."""
    counts = [f"{send.n_queued:,} queued"]
    if send.n_delivered or send.n_undelivered:
        counts += [f"{send.n_delivered:,} delivered", f"{send.n_undelivered:,} not delivered"]
    if send.n_unknown or send.n_unconfirmed:
        counts.append(f"{send.n_unknown + send.n_unconfirmed:,} unknown")
    if send.n_failed or send.n_expired:
        counts.append(f"{send.n_failed + send.n_expired:,} not sent")
    dry = " (dry run)" if send.dry_run else ""
    head = f"• {utc_minute(send.created_at)} — <@{send.user_id}> in {where(send.channel_id)} — "
    if send.state == SEND_SCHEDULED:
        return f"{head}{count(send.total_contacts, 'number')}{dry}: scheduled for {scheduled_time(send)} — `{send.id}`"
    if send.state == SEND_CANCELLED:
        return (
            f"{head}{count(send.total_contacts, 'number')}{dry}: scheduled for {scheduled_time(send)}, cancelled by "
            f"<@{send.cancelled_by}> — send `{send.id}`"
        )
    state = " (sending)" if send.state == SEND_OPEN else ""
    when = f" (scheduled for {scheduled_time(send)})" if send.send_at else ""
    if send.answer_to:
        when = f" (an answer to a reply, as {'SMS' if send.medium == SMS else 'MMS'})"
    return f"{head}{count(send.total_contacts, 'number')}{dry}{when}{state}: {', '.join(counts)} — send `{send.id}`"


def notice(text: str) -> tuple[str, list[dict]]:
    return cut(text.replace("*", ""), MAX_MESSAGE_TEXT), [section(text)]


MAX_REPLY_SECTIONS = 40  # 120,000 characters: longer than any SMS or MMS reply Cellcast carries


def reply_message(reply: dict) -> tuple[str, list[dict]]:
    """A recipient's reply, in full (the thread is the team's), and what the bot did about it.
    Everything of the reply is escaped, in the notification text as in the blocks: a stranger's
    ``<!channel>`` or disguised link is shown as typed, never acted on."""
    number = display_number(reply["number"])
    body = reply["body"] or "(empty)"
    pieces = [
        p if i == 0 or p.startswith("> ") else "> " + p  # a line carried on into the next part stays quoted
        for i, p in enumerate(split_sections(quote(body), MAX_SECTION_TEXT - 200))
    ]
    shown = pieces[:MAX_REPLY_SECTIONS]
    parts = f" ({len(body):,} characters, in {len(shown)} parts)" if len(shown) > 1 else ""
    blocks = [section(f":speech_balloon: *Reply from {number}{parts}:*\n{shown[0]}")]
    blocks += [section(piece) for piece in shown[1:]]
    if len(pieces) > len(shown):
        blocks.append(
            context(
                f"The reply goes on for {len(body) - sum(len(p) for p in shown):,} more characters, "
                "not shown here; Cellcast's dashboard has it whole."
            )
        )
    if reply["kind"] == OPTOUT:
        blocks.append(
            context(
                f":no_bell: An opt-out: {number} is now on the suppression list and will not be sent to again, "
                "so it cannot be answered either."
            )
        )
    elif reply["kind"] == MAYBE:
        blocks.append(
            section(f":warning: This *may be an opt-out*. If it is, suppress {number} so that it is not sent to again.")
        )
        blocks.append(
            {
                "type": "actions",
                "block_id": "suppress",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ACTION_SUPPRESS,
                        "style": "danger",
                        "value": reply["number"],
                        "text": plain(f"Suppress {number}"),
                        "confirm": {
                            "title": plain("Suppress this number?"),
                            "text": plain(f"{number} will not be sent any MMS again."),
                            "confirm": plain("Suppress"),
                            "deny": plain("Cancel"),
                        },
                    }
                ],
            }
        )
    if reply["kind"] != OPTOUT and reply.get("send_id") is not None and reply.get("id") is not None:
        blocks.append(
            {
                "type": "actions",
                "block_id": "answer",
                "elements": [
                    {"type": "button", "action_id": ACTION_REPLY, "value": str(reply["id"]), "text": plain("Reply")}
                ],
            }
        )
    return cut(f"Reply from {number}: {escape(body)}", MAX_MESSAGE_TEXT), blocks


def answer_message(summary: SendSummary, number: str) -> tuple[str, list[dict]]:
    """An answer to one recipient, in their reply's thread: who answered, what, and what became of it."""
    send = summary.send
    how = "an SMS" if send.medium == SMS else "an MMS"
    image = " (with an image)" if send.media_name else ""
    head = f"↪ <@{send.user_id}> replied to {display_number(number)}{image}:"
    blocks = [section(f"{head}\n{quote(send.message)}")]
    if not summary.finished:
        status = f":hourglass_flowing_sand: Sending as {how}…"
    elif send.n_queued:
        status = f":white_check_mark: Sent as {how}: queued at the gateway."
    else:
        group = summary.groups[0] if summary.groups else None
        why = f" {escape(group.reason)}" if group and group.reason else ""
        label = LABELS.get(group.outcome, group.outcome) if group else "not sent"
        status = f"{ICONS.get(group.outcome, ':x:') if group else ':x:'} Not sent ({label}).{why}"
    blocks.append(context(status))
    return cut(f"{head} {escape(send.message)}".replace("*", ""), MAX_MESSAGE_TEXT), blocks


# -- the results CSV ---------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_HEADER = ["number", "outcome", "reason", "message_id", "delivery", "message", "conversation"]


def _cell(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: make them plain text."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def write_results_csv(
    rows: Iterable[tuple[str, str, str, str, str, str]],
    out: IO[str],
    conversations: dict[str, list[Exchange]] | None = None,
) -> int:
    """Every entry and what happened to it (with its own text, for a personal message), with its replies and the
    answers to them, written as it is read (never built whole in memory; the conversations of one send are few)."""
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    written = 0
    conversations = conversations or {}
    for number, outcome, reason, message_id, delivery, text in rows:
        shown = display_number(number).replace(" ", "") if outcome != o.INVALID else number
        talk = " | ".join(_exchange_line(e) for e in conversations.get(number, []))
        writer.writerow(
            [_cell(shown), LABELS.get(outcome, outcome), _cell(reason), message_id, delivery, _cell(text), _cell(talk)]
        )
        written += 1
    return written


def results_csv(store, send_id: int, out: IO[str]) -> int:
    return write_results_csv(store.iter_recipients(send_id), out, store.conversations_of(send_id))


def _exchange_line(exchange: Exchange) -> str:
    at = utc_minute(exchange.at)
    if exchange.direction == INBOUND:
        return f"{at} they wrote: {exchange.text}"
    state = "sent" if exchange.outcome else "not sent"
    return f"{at} answered by {exchange.by} ({state}): {exchange.text}"


def conversation_lines(conversations: dict[str, list[Exchange]], limit: int = 10) -> list[str]:
    """The latest replies and answers of a send, for people (escaped: a recipient's text is theirs)."""
    latest = sorted((e for talk in conversations.values() for e in talk), key=lambda e: e.at)[-limit:]
    lines = []
    for exchange in latest:
        number = display_number(exchange.number)
        text = escape(cut(exchange.text.replace("\r\n", " ").replace("\n", " "), 200, "…"))
        if exchange.direction == INBOUND:
            lines.append(f"• {number} wrote: “{text}”")
        else:
            state = "" if exchange.outcome else " (not sent)"
            lines.append(f"• ↪ <@{exchange.by}> answered {number}{state}: “{text}”")
    return lines


def write_suppression_csv(rows: Iterable[tuple], out: IO[str]) -> None:
    writer = csv.writer(out)
    writer.writerow(["number", "source", "reason", "added_by", "added_at"])
    for number, source, reason, added_by, added_at in rows:
        writer.writerow(
            [
                _cell(display_number(number).replace(" ", "")),
                _cell(source or ""),
                _cell(reason or ""),
                added_by or "",
                added_at,
            ]
        )


HELP = (
    "*MMS bot*\n"
    "• `/mms` — open the form to send an MMS (picture message) to Australian mobiles. You see a review before anything "
    "is sent.\n"
    "• `/mms help` — this help.\n"
    "• `/mms history` — your last 10 sends (admins: `/mms history all`).\n"
    "• `/mms status <send id>` — one send's full summary, and its CSV by direct message.\n"
    "• `/mms scheduled` — your sends waiting for their time, with a Cancel button (admins: everyone's).\n"
    "• `/mms templates` — the saved message templates (admins can delete them).\n"
    "Admins only:\n"
    "• `/mms allow @user` — let someone send.\n"
    "• `/mms revoke @user` — stop someone sending.\n"
    "• `/mms list` — who may send.\n"
    "• `/mms suppress <number> [reason]` — never send to a number again.\n"
    "• `/mms unsuppress <number> [reason]` — take a number off the suppression list (a reason is needed if it opted "
    "out).\n"
    "• `/mms suppressed` — how many are suppressed, the latest, and the full list as a CSV by direct message.\n"
    "Results are posted in the channel you sent from, with details in the thread. "
    "If the bot is not in that channel, you get them by direct message: invite it with `/invite @mms-bot`."
)


# -- approval requests ------------------------------------------------------------------------

ACTION_APPROVE = "mms_approve"
ACTION_REJECT = "mms_reject"
ACTION_WITHDRAW = "mms_withdraw"
DECIDED = {
    APPROVAL_APPROVED: ":white_check_mark: Approved by <@{by}> on {at}: it is sent.",
    APPROVAL_REJECTED: ":no_entry_sign: Rejected by <@{by}> on {at}.",
    APPROVAL_WITHDRAWN: ":leftwards_arrow_with_hook: Withdrawn by <@{by}> on {at}; nothing was sent.",
    APPROVAL_EXPIRED: ":hourglass: Expired on {at}: nobody decided in time, so nothing was sent.",
    APPROVAL_REFUSED: ":no_entry_sign: Not sent: <@{requester}> could no longer send MMS when <@{by}> approved it.",
}


def approval_message(approval: dict, for_requester: bool) -> tuple[str, list[dict]]:
    """A request as the approvers see it (Approve, Reject) or as the person who asked does (Withdraw): who,
    where, how many, what was left out, the message as sent, the image, credits, the time if scheduled."""
    head = (
        f":raised_hand: <@{approval['requester']}> asks to send an MMS to {count(approval['total'], 'number')} "
        f"in {where(approval['channel_id'])} (request `{approval['id']}`), "
        f"because {escape(approval['why'] or 'it needs approval')}."
    )
    blocks = reviewed_send(head, approval["review"], "in this thread")
    state = approval["state"]
    if state == APPROVAL_WAITING:
        if for_requester:
            blocks.append(context("Waiting for an approver. Nothing is sent until one approves."))
            buttons = [_button(ACTION_WITHDRAW, "Withdraw", approval["id"], "danger")]
        else:
            buttons = [
                _button(ACTION_APPROVE, "Approve", approval["id"], "primary"),
                _button(ACTION_REJECT, "Reject", approval["id"], "danger"),
            ]
        blocks.append({"type": "actions", "block_id": f"approval_{approval['id']}", "elements": buttons})
    else:
        at = utc_minute(approval.get("decided_at") or "")
        decided = DECIDED[state].format(by=approval.get("decided_by"), at=at, requester=approval["requester"])
        if approval.get("decision_reason"):
            decided += f" Why: {escape(approval['decision_reason'])}"
        blocks.append(context(decided))
    return cut(head.replace("*", ""), MAX_MESSAGE_TEXT), blocks


def reviewed_send(head: str, review: dict, image_where: str) -> list[dict]:
    """A stored review as a message's first two sections: ``head``, then what was left out, the time if
    scheduled, the credits, the image (shown ``image_where``); then the message (or personal texts) as sent."""
    left_out = (
        len(review.get("rejected") or []) + int(review.get("duplicates") or 0) + len(review.get("suppressed") or [])
    )
    lines = [head]
    if left_out:
        lines.append(f"{count(left_out, 'entry', 'entries')} left out (invalid, duplicate or suppressed).")
    if review.get("send_at"):
        lines.append(
            f":alarm_clock: Scheduled for {describe(review['send_at'], zone(review.get('schedule_tz'), UTC_ZONE))}."
        )
    balance = review.get("balance")
    credits = f"*Credits:* about {review.get('credits', 0):,g}" + (
        f"; the account had {balance:,g} at the review." if balance is not None else "."
    )
    lines.append(credits)
    if review.get("media_name"):
        note = f" ({escape(review['media_note'])})" if review.get("media_note") else ""
        lines.append(f":frame_with_picture: With an image, {escape(review['media_name'])}{note}: {image_where}.")
    texts = review.get("texts")
    body = (
        f"*Personal messages*, {count(len(set(texts)), 'distinct text')}; the first:\n{quote(cut(texts[0], 1200, '…'))}"
        if texts
        else f"*Message, as it will be sent:*\n{quote(cut(review['message'], 2500, '…'))}"
    )
    return [section("\n".join(lines)), section(body)]


def _button(action_id: str, text: str, value: int | str, style: str) -> dict:
    return {"type": "button", "action_id": action_id, "text": plain(text), "value": str(value), "style": style}


def approval_line(approval: dict) -> str:
    """One request in a line, for /mms history: when, who, how many, and what became of it."""
    state = approval["state"]
    if state == APPROVAL_WAITING:
        what = "waiting for approval"
    else:
        what = f"{state} by <@{approval['decided_by']}>" if approval.get("decided_by") else state
        if approval.get("decision_reason"):
            what += f" (“{escape(cut(approval['decision_reason'], 80, '…'))}”)"
    sent = f" — send `{approval['send_id']}`" if approval.get("send_id") else ""
    return (
        f"• {utc_minute(approval['created_at'])} — <@{approval['requester']}> asked to send to "
        f"{count(approval['total'], 'number')}: {what} — request `{approval['id']}`{sent}"
    )


# -- Workflow Builder steps -------------------------------------------------------------------

ACTION_STEP_SEND = "mms_step_send"
ACTION_STEP_CANCEL = "mms_step_cancel"


def step_message(step: dict) -> tuple[str, list[dict]]:
    """A Workflow Builder step's review in its channel (Send, Cancel, for the person it sends for or an admin),
    then what became of it; a step that failed before its review says why."""
    who = f"<@{step['sent_by']}>"
    if step["review"] is None:
        head = (
            f":x: A workflow's *Send an MMS* step for {who} failed: {escape(step.get('error') or 'no reason given')} "
            "Nothing was sent."
        )
        blocks = [section(head)]
    else:
        head = f":clipboard: A workflow asks to send an MMS to {count(step['total'], 'number')} on behalf of {who}."
        blocks = reviewed_send(head, step["review"], "in this thread") + _step_state(step, who)
    if step.get("completion_error"):
        blocks.append(
            context(f":warning: The workflow could not be told how this step ended ({step['completion_error']}).")
        )
    return cut(head.replace("*", ""), MAX_MESSAGE_TEXT), blocks


def _step_state(step: dict, who: str) -> list[dict]:
    by, at = f"<@{step.get('decided_by')}>", utc_minute(step.get("decided_at") or "")
    if step["state"] == STEP_REVIEWING:
        return [
            context(
                f"Nothing is sent until {who} (or an admin) presses Send. Undecided, it is cancelled "
                f"{local_time(step.get('expires_at') or 0)}."
            ),
            {
                "type": "actions",
                "block_id": f"step_{step['draft_id']}",
                "elements": [
                    _button(ACTION_STEP_SEND, "Send", step["draft_id"], "primary"),
                    _button(ACTION_STEP_CANCEL, "Cancel", step["draft_id"], "danger"),
                ],
            },
        ]
    if step["state"] == STEP_SENDING:
        if step.get("send_id"):
            return [
                context(
                    f":outbox_tray: {by} pressed Send on {at}: send `{step['send_id']}`; its results follow in its "
                    "own message in this channel."
                )
            ]
        return [
            context(
                f":raised_hand: {by} pressed Send on {at}; an approver must approve it first "
                f"(request `{step.get('approval_id')}`)."
            )
        ]
    if step.get("error"):
        return [context(f":x: The step failed: {escape(step['error'])}")]
    sent = f" (send `{step['send_id']}`)" if step.get("send_id") else ""
    why = escape(step["note"]) if step.get("note") else f"by {by}"
    lines = {
        STEP_SENT: f":white_check_mark: Sent{sent}: {step.get('queued') or 0:,} queued, "
        f"{step.get('left_out') or 0:,} left out.",
        STEP_FAILED: f":x: Sent{sent}, but the gateway queued none of it; its thread says why.",
        STEP_CANCELLED: f":leftwards_arrow_with_hook: Cancelled {why}. Nothing was sent.",
        STEP_REFUSED: f":no_entry_sign: Not sent: {escape(step.get('note') or 'refused')}.",
    }
    return [context(lines.get(step.get("outcome"), f"Finished: {step.get('outcome')}."))]
