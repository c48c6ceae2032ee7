"""Block Kit builders: the modal, the channel message, the thread summary and its CSV."""

from __future__ import annotations

import csv
import io
import json

from bot.sending.summary import SendSummary
from bot.slack.kit import display_number, escape

ACTION_RESEND = "mms_resend_failed"
VALUE = "value"  # action_id of every input element: the block_id says which field it is
INLINE_LIMIT = 25  # problem lines shown in the thread before the full list moves to a CSV file
_SECTION_MAX = 2900  # Slack's section text limit is 3,000 characters


def _text(text: str) -> dict:
    return {"type": "plain_text", "text": text}


def _md(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def channel_message(summary: SendSummary) -> tuple[str, list[dict]]:
    send = summary.send
    who = f"<@{send.user_id}> is sending" if not summary.finished else f"<@{send.user_id}> sent"
    sender = f" from *{escape(send.sender)}*" if send.sender else ""
    headline = f"{who} an MMS to {_count(send.total_contacts, 'number')}{sender}."
    if send.dry_run:
        headline = ":test_tube: *Dry run: nothing was sent.* " + headline
    if send.resend_of:
        headline += " (a resend of the failed and unknown numbers of an earlier send)"
    quoted = "\n".join("> " + line for line in escape(send.message.replace("\r\n", "\n")).split("\n"))
    blocks = [{"type": "section", "text": _md(headline)}, {"type": "section", "text": _md(quoted[:_SECTION_MAX])}]
    if send.media_ref:
        blocks.append({"type": "image", "slack_file": {"id": send.media_ref}, "alt_text": send.media_name or "MMS image"})
    if send.gif_url:
        blocks.append({"type": "image", "image_url": send.gif_url, "alt_text": "MMS GIF"})
    blocks.append({"type": "context", "elements": [_md(status_line(summary))]})
    return headline.replace("*", ""), blocks


def status_line(summary: SendSummary) -> str:
    if not summary.finished:
        return f":hourglass_flowing_sand: Sending… {summary.batches_done} of {_count(summary.batches_total, 'batch')} done."
    return ":white_check_mark: Done. " + _totals(summary) + " Details in the thread."


def _totals(summary: SendSummary) -> str:
    parts = [f"{len(summary.queued):,} queued"]
    if summary.refused_locally or summary.refused_by_gateway:
        parts.append(f"{len(summary.refused_locally) + len(summary.refused_by_gateway):,} invalid")
    if summary.unsubscribed:
        parts.append(f"{len(summary.unsubscribed):,} unsubscribed")
    if summary.failed_numbers:
        parts.append(f"{len(summary.failed_numbers):,} not sent")
    if summary.unknown_numbers:
        parts.append(f"{len(summary.unknown_numbers):,} outcome unknown")
    return ", ".join(parts) + "."


def thread_summary(summary: SendSummary) -> tuple[str, list[dict], bool]:
    """The thread reply; the flag says the lists were too long and belong in a CSV file."""
    send = summary.send
    lines = [f"*Result:* {_totals(summary)}"]
    if send.dry_run:
        lines.insert(0, ":test_tube: *Dry run: nothing was sent.* Numbers show as queued with `dry-run-` message ids.")
    if send.duplicates:
        lines.append(f"{_count(send.duplicates, 'duplicate number')} left out (each number gets one message).")
    if send.media_note:
        lines.append(f":frame_with_picture: {send.media_note}")
    if send.resumed:
        lines.append(":arrows_counterclockwise: The bot restarted during this send; batches that had not started were sent after the restart.")
    blocks = [{"type": "section", "text": _md("\n".join(lines))}]

    for problem in summary.batch_problems:
        icon = ":x:" if problem.state == "failed" else ":grey_question:"
        state = "not sent" if problem.state == "failed" else "outcome unknown"
        text = f"{icon} *Batch {problem.seq + 1} of {summary.batches_total}* ({_count(len(problem.numbers), 'number')}): {state}. {escape(problem.reason)}"
        blocks.append({"type": "section", "text": _md(text[:_SECTION_MAX])})

    problem_lines = (
        [f"• {escape(p.number)} — {escape(p.reason)}" for p in summary.refused_locally]
        + [f"• {escape(display_number(p.number))} — refused by the gateway: {escape(p.reason)}" for p in summary.refused_by_gateway]
        + [f"• {display_number(n)} — unsubscribed" for n in summary.unsubscribed]
    )
    batch_numbers = sum(len(p.numbers) for p in summary.batch_problems)
    too_long = len(problem_lines) > INLINE_LIMIT or batch_numbers > INLINE_LIMIT
    if problem_lines and not too_long:
        blocks.append({"type": "section", "text": _md(("*Numbers not sent:*\n" + "\n".join(problem_lines))[:_SECTION_MAX])})
    if summary.batch_problems and not too_long:
        numbers = ", ".join(display_number(n) for p in summary.batch_problems for n in p.numbers)
        blocks.append({"type": "section", "text": _md(f"*Numbers in those batches:* {numbers}"[:_SECTION_MAX])})
    if too_long:
        blocks.append({"type": "context", "elements": [_md("The full list, number by number, is in the CSV file below.")]})
    redo = len(summary.failed_numbers) + len(summary.unknown_numbers)
    if redo:
        blocks.append(resend_actions(send.id, len(summary.failed_numbers), len(summary.unknown_numbers)))
    return f"Result: {_totals(summary)}", blocks, too_long


def resend_actions(send_id: int, failed: int, unknown: int) -> dict:
    warning = "Numbers whose outcome is unknown may already have received this MMS: they could get it twice and be charged twice." if unknown else ""
    return {
        "type": "actions",
        "block_id": "resend",
        "elements": [{
            "type": "button",
            "action_id": ACTION_RESEND,
            "text": _text(f"Send again to {failed + unknown:,} failed/unknown numbers"),
            "value": str(send_id),
            "confirm": {
                "title": _text("Send again?"),
                "text": _text(f"Send this MMS again to {_count(failed, 'failed number')} and {_count(unknown, 'number')} of unknown outcome. {warning}".strip()),
                "confirm": _text("Send again"),
                "deny": _text("Cancel"),
                "style": "danger",
            },
        }],
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: make them plain text."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _csv_number(national: str) -> str:
    return display_number(national).replace(" ", "")


def results_csv(summary: SendSummary) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["number", "outcome", "reason", "message_id"])
    rows = [(_csv_number(n), "queued", "", message_id) for n, message_id in summary.queued]
    rows += [(p.number, "invalid", p.reason, "") for p in summary.refused_locally]
    rows += [(p.number, "invalid", f"refused by the gateway: {p.reason}", "") for p in summary.refused_by_gateway]
    rows += [(_csv_number(n), "unsubscribed", "", "") for n in summary.unsubscribed]
    for problem in summary.batch_problems:
        outcome = "not sent" if problem.state == "failed" else "unknown"
        rows += [(_csv_number(n), outcome, problem.reason, "") for n in problem.numbers]
    writer.writerows([_cell(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


HELP = (
    "*MMS bot*\n"
    "• `/mms` — open the form to send an MMS (picture message) to Australian mobiles.\n"
    "• `/mms help` — this help.\n"
    "Admins only:\n"
    "• `/mms allow @user` — let someone send.\n"
    "• `/mms revoke @user` — stop someone sending.\n"
    "• `/mms list` — who may send.\n"
    "Results are posted in the channel you sent from, with details in the thread. "
    "If the bot is not in that channel, you get them by direct message: invite it with `/invite @MMS bot`."
)
