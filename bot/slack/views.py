"""The modals: the form, "Checking…", the review, the problems, and a review that is gone.

The review is pushed over the form, so closing it ("Back") returns to the form with every input
as the person left it.
"""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from bot.sending.personalise import Template
from bot.sending.records import INBOUND, Exchange
from bot.sending.review import ACCOUNT, Review
from bot.sending.schedule import UTC_ZONE, describe, how_far
from bot.slack.kit import (
    MAX_PLAIN_TITLE,
    MAX_SECTION_TEXT,
    MAX_VIEW_BLOCKS,
    context,
    count,
    cut,
    display_number,
    escape,
    plain,
    quote,
    section,
    utc_minute,
)

CALLBACK_SEND = "mms_send"
CALLBACK_REVIEW = "mms_review"
CALLBACK_PROBLEMS = "mms_problems"
CALLBACK_REPLY_FORM = "mms_reply_form"
VALUE = "value"  # action_id of every input element but the time: the block_id says which field it is
SEND_AT = "send_at"  # the time's block and action id (the contract names both)
MESSAGE = "message"  # the message's block id (``message~N`` once a template filled it)
TEMPLATE = "template"  # the template select's block and action id (the contract names both)
ACTION_SAVE_TEMPLATE = "mms_template_save"
CALLBACK_TEMPLATE_NAME = "mms_template_name"
MAX_TEMPLATE_OPTIONS = 100  # Slack's limit for a static select
EXAMPLES = 5  # refused entries shown on the review; all of them go to the thread and CSV after sending

FIELD_LABELS = {
    "sender": "Sender ID",
    "message": "Message",
    "media": "Image",
    "gif": "GIF link",
    "contacts": "Mobile numbers",
    "contacts_file": "Numbers from a file",
    "send_at": "Send at",
    ACCOUNT: "Cellcast account",
}


def _input(block_id: str, label: str, element: dict, *, optional: bool = True, hint: str | None = None) -> dict:
    block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "optional": optional,
        "element": {"action_id": VALUE, **element},
    }
    if hint:
        block["hint"] = plain(hint)
    return block


def send_form(
    channel_id: str, templates: list[dict] | None = None, message: str | None = None, message_block: str = MESSAGE
) -> dict:
    """The form. With saved templates, a Template select above the message; a template picked fills the
    message: Slack keeps what was typed in an input whose block id stays, so the filled message comes in a
    block with a new id (``message~2``), and every other input keeps what the person entered."""
    message_element = {"type": "plain_text_input", "multiline": True, "max_length": 3000}
    if message is not None:
        message_element["initial_value"] = message[:3000]
    picker = [template_picker(templates)] if templates else []
    return {
        "type": "modal",
        "callback_id": CALLBACK_SEND,
        "title": plain("Send MMS"),
        "submit": plain("Review"),
        "close": plain("Cancel"),
        "private_metadata": json.dumps({"channel_id": channel_id}),
        "blocks": [
            _input(
                "sender",
                "Sender ID",
                {"type": "plain_text_input", "max_length": 16},
                hint="Optional. Letters, digits, spaces and dashes: up to 11 characters, or 16 digits. "
                "Blank uses the default.",
            ),
            *picker,
            _input(
                message_block,
                "Message",
                message_element,
                optional=False,
                hint="((first name)) and other column names of the contacts file personalise it.",
            ),
            _input(
                "media",
                "Image",
                {"type": "file_input", "filetypes": ["jpg", "jpeg", "png"], "max_files": 1},
                hint="Optional JPG or PNG. Images over 230 KB are shrunk to fit.",
            ),
            _input("gif", "GIF link", {"type": "url_text_input"}, hint="Optional https link ending in .gif."),
            _input(
                "contacts",
                "Mobile numbers",
                {"type": "plain_text_input", "multiline": True, "max_length": 3000},
                hint="Australian mobiles separated by commas, spaces or new lines, e.g. 0400 000 000 or +61400000000.",
            ),
            _input(
                "contacts_file",
                "Numbers from a file",
                {"type": "file_input", "filetypes": ["csv", "txt", "xlsx", "xls"], "max_files": 1},
                hint="Optional CSV, TXT or Excel (.xlsx). The column headed Mobile (or Phone) is used. "
                "Combined with the numbers above.",
            ),
            {
                "type": "input",
                "block_id": SEND_AT,
                "label": plain("Send at"),
                "optional": True,
                "element": {"type": "datetimepicker", "action_id": SEND_AT},
                "hint": plain("Optional: leave empty to send when you confirm the review. In your time zone."),
            },
        ],
    }


def template_picker(templates: list[dict]) -> dict:
    return {
        "type": "actions",
        "block_id": TEMPLATE,
        "elements": [
            {
                "type": "static_select",
                "action_id": TEMPLATE,
                "placeholder": plain("Start from a saved template"),
                "options": [
                    {"text": plain(cut(t["name"], 75, "…")), "value": str(t["id"])}
                    for t in templates[:MAX_TEMPLATE_OPTIONS]
                ],
            }
        ],
    }


def message_block_id(view: dict) -> str:
    """The message's block id in this form (``message``, or ``message~N`` after a template filled it), from the
    view's blocks or, when a payload leaves them out, from its state."""
    blocks = view.get("blocks") if isinstance(view.get("blocks"), list) else []
    state = view.get("state") if isinstance(view.get("state"), dict) else {}
    values = state.get("values") if isinstance(state.get("values"), dict) else {}
    named = [b.get("block_id") for b in blocks if isinstance(b, dict)] + list(values)
    for block_id in named:
        if isinstance(block_id, str) and (block_id == MESSAGE or block_id.startswith(MESSAGE + "~")):
            return block_id
    return MESSAGE


def template_name_view(draft_id: str) -> dict:
    return {
        "type": "modal",
        "callback_id": CALLBACK_TEMPLATE_NAME,
        "title": plain("Save as template"),
        "submit": plain("Save"),
        "close": plain("Back"),
        "private_metadata": json.dumps({"draft_id": draft_id}),
        "blocks": [
            context("The message is saved as typed, placeholders and all; the image and numbers are not."),
            _input("name", "Name", {"type": "plain_text_input", "max_length": 40}, optional=False),
        ],
    }


def review_external_id(draft_id: str) -> str:
    return f"mms-review-{draft_id}"


def _stacked(draft_id: str, callback_id: str, blocks: list[dict], submit: str | None = None) -> dict:
    view = {
        "type": "modal",
        "callback_id": callback_id,
        "external_id": review_external_id(draft_id),
        "title": plain("Review MMS"),
        "close": plain("Back"),
        "private_metadata": json.dumps({"draft_id": draft_id}),
        "blocks": blocks[:MAX_VIEW_BLOCKS],
    }
    if submit:
        view["submit"] = plain(submit)
    return view


def checking_view(draft_id: str) -> dict:
    """Shown at once, without a submit button: nothing can be sent until the checks are done."""
    return _stacked(
        draft_id,
        CALLBACK_REVIEW,
        [
            section(
                ":hourglass_flowing_sand: *Checking…* Reading the numbers and the image, and the account's balance."
            ),
            context("This takes a few seconds for a large list. Nothing is sent until you confirm on the next screen."),
        ],
    )


def problems_view(draft_id: str, problems: dict[str, str]) -> dict:
    blocks = [
        section(
            ":warning: *Some things need fixing before this can be sent.* Press *Back* to return to the form; "
            "everything you entered is still there."
        )
    ]
    for field, message in problems.items():
        label = FIELD_LABELS.get(field, field)
        blocks.append(section(f"*{escape(label)}:* {escape(message)}", block_id=f"problem_{field}"))
    return _stacked(draft_id, CALLBACK_PROBLEMS, blocks)


def review_view(draft_id: str, review: Review, tz: ZoneInfo = UTC_ZONE, now: float = 0.0) -> dict:
    """What exactly would be sent, to whom, when (in the sender's zone ``tz``) and at what cost."""
    total = len(review.numbers)
    blocks = []
    if review.dry_run:
        blocks.append(section(":test_tube: *Dry run: nothing will be sent.* Everything else happens as it would."))
    if review.send_at:
        blocks.append(
            section(
                f":alarm_clock: *Scheduled for {describe(review.send_at, tz)}* "
                f"({how_far(review.send_at - now)}). Until then it can be cancelled from its message in the channel.",
                block_id="send_at",
            )
        )
    blocks.append(section(f"*This MMS goes to {count(total, 'number')}.*\n{_sources(review)}"))
    left_out = _left_out(review)
    if left_out:
        blocks.append(section(left_out, block_id="left_out"))
    if review.personalised:
        blocks.extend(_personal(review))
    else:
        blocks.append(
            section(
                "*Message, exactly as it will be sent:*\n" + quote(review.message.replace("\r\n", "\n")),
                block_id="message",
            )
        )
    blocks.append(
        context(
            ("" if review.personalised else f"{len(review.message.replace(chr(13), '')):,} characters. ")
            + "Sender ID: "
            + (f"*{escape(review.sender)}*" if review.sender else "gateway default")
        )
    )
    media_lines = []
    if review.media:
        how = f"re-encoded to fit: {escape(review.media.note)}" if review.media.reencoded else "sent as attached"
        media_lines.append(f":frame_with_picture: Image: {review.media.describe()}, {how}.")
    if review.gif_url:
        media_lines.append(f":link: GIF link: {escape(review.gif_url)}")
    if media_lines:
        blocks.append(section("\n".join(media_lines), block_id="media"))
    blocks.append(section(_credits(review), block_id="credits"))
    if review.left_today is not None:
        blocks.append(context(f"Your daily limit: {review.left_today:,} numbers left today, before this send."))
    if review.approval:
        blocks.append(
            section(
                f":raised_hand: *This send needs an approver's OK*: {escape(review.approval)}. Asking sends nothing: "
                "an approver sees this review in Slack and approves or rejects it; you are told either way.",
                block_id="approval",
            )
        )
    if review.optouts_note and review.optouts_note not in review.warnings:
        blocks.append(context(escape(review.optouts_note)))
    for warning in review.warnings:
        blocks.append(section(f":warning: {escape(warning)}"))
    blocks.append(
        {
            "type": "actions",
            "block_id": "save_template",
            "elements": [
                {
                    "type": "button",
                    "action_id": ACTION_SAVE_TEMPLATE,
                    "value": draft_id,
                    "text": plain("Save as template"),
                }
            ],
        }
    )
    submit = approval_label(total) if review.approval else submit_label(total, scheduled=bool(review.send_at))
    return _stacked(draft_id, CALLBACK_REVIEW, blocks, submit=submit)


def approval_label(total: int) -> str:
    """``Ask for approval (1,234 numbers)`` where it fits Slack's 24 characters, shorter where not."""
    return _fitting(
        [f"Ask for approval ({_numbers(total)})", f"Ask for approval ({total:,})", f"Ask approval ({total:,})"]
    )


def submit_label(total: int, scheduled: bool) -> str:
    """``Send to 1,234 numbers`` or ``Schedule for 1,234 numbers``, shortened to fit Slack's 24 characters."""
    if scheduled:
        return _fitting([f"Schedule for {_numbers(total)}", f"Schedule: {_numbers(total)}", f"Schedule for {total:,}"])
    return _fitting([f"Send to {_numbers(total)}", f"Send to {total:,}"])


def _numbers(total: int) -> str:
    return f"{total:,} numbers" if total != 1 else "1 number"


def _fitting(labels: list[str]) -> str:
    """The first label within a button's 24 characters (the last, shortest one, whatever happens)."""
    return next((label for label in labels if len(label) <= MAX_PLAIN_TITLE), labels[-1])


def _personal(review: Review) -> list[dict]:
    """A personal message: how many texts and calls, how long, the first rows as sent, the longest text."""
    personal = review.personalised
    names = ", ".join(str(p) for p in Template(review.message).placeholders)
    head = (
        f"*Personal messages* filled from {escape(names)}: {count(personal.distinct, 'distinct text')}, "
        f"{count(personal.calls, 'call')} to Cellcast, {duration(personal.seconds)} at the account's rate."
    )
    examples = "\n".join(
        f"{mask(number)}:\n{quote(cut(text.replace(chr(13), ''), 600, '…'))}" for number, text in personal.examples
    )
    longest = personal.longest.replace("\r\n", "\n")
    return [
        section(head, block_id="message"),
        section(f"*The first rows, exactly as they will be sent:*\n{examples}", block_id="examples"),
        section(f"*The longest ({len(longest):,} characters):*\n{quote(cut(longest, 1500, '…'))}", block_id="longest"),
    ]


def duration(seconds: float) -> str:
    """``about 2 hours``: how long sending takes, as people say it."""
    if seconds < 60:
        return "under a minute"
    if seconds < 5400:
        return f"about {round(seconds / 60)} minutes"
    return f"about {round(seconds / 3600)} hours"


def _sources(review: Review) -> str:
    parts = []
    if review.typed:
        parts.append(f"• {count(review.typed, 'number')} typed in the form")
    if review.file_source:
        parts.append(f"• {count(review.from_file, 'number')} from {escape(review.file_source.describe())}")
    return "\n".join(parts)


def _left_out(review: Review) -> str:
    if not review.left_out:
        return ""
    lines = [f"*{count(review.left_out, 'entry', 'entries')} left out:*"]
    if review.rejected:
        lines.append(f"• {count(len(review.rejected), 'invalid entry', 'invalid entries')}, for example:")
        for rejected in review.rejected[:EXAMPLES]:
            where = f" ({rejected.where})" if rejected.where else ""
            lines.append(f"    ◦ “{escape(rejected.entry[:40])}”{where}: {escape(rejected.reason)}")
        if len(review.rejected) > EXAMPLES:
            lines.append(
                f"    ◦ … and {len(review.rejected) - EXAMPLES:,} more, all listed in the thread after sending"
            )
    if review.duplicates:
        lines.append(f"• {count(review.duplicates, 'duplicate')} (each number gets one MMS)")
    if review.suppressed:
        shown = ", ".join(display_number(n) for n, _ in review.suppressed[:EXAMPLES])
        more = f" and {len(review.suppressed) - EXAMPLES:,} more" if len(review.suppressed) > EXAMPLES else ""
        lines.append(f"• {count(len(review.suppressed), 'number')} on the suppression list (opted out): {shown}{more}")
    return "\n".join(lines)


def _credits(review: Review) -> str:
    need = f"*Credits:* about {review.credits_needed:,g} ({review.credits_per_mms:g} per MMS)"
    if review.dry_run:
        return need + " — none used in a dry run."
    if review.balance.credits is None:
        return need + f"; balance unknown ({escape(review.balance.error)})."
    return need + f"; the account has {review.balance.credits:,g} MMS credits."


def notice_view(title: str, text: str) -> dict:
    """Replaces a review that can no longer be sent (expired, or already sent)."""
    return {"type": "modal", "title": plain(title[:24]), "close": plain("Close"), "blocks": [section(text)]}


def reply_form(reply: dict, answered, conversation: list[Exchange]) -> dict:
    """Answering one recipient: their number (masked), the send they replied to and the last messages since,
    the text and an optional image."""
    number = mask(reply["number"])
    sender = answered.sender
    lines = [f"*The send* ({utc_minute(answered.created_at)}):\n{quote(cut(answered.message, 300, '…'))}"]
    for exchange in conversation:
        who = "They wrote" if exchange.direction == INBOUND else f"<@{exchange.by}> answered"
        lines.append(f"*{who}* ({utc_minute(exchange.at)}):\n{quote(cut(exchange.text, 300, '…'))}")
    if sender and not sender.isdigit():
        how = (
            f":warning: The send went from “{escape(sender)}”, a name: this answer goes from it too, and names cannot "
            "receive replies, so they cannot answer it."
        )
    elif sender:
        how = f"From {escape(sender)}, as the send they replied to, so the conversation stays on one number."
    else:
        how = "From Cellcast's shared numbers, as the send they replied to (they may see another number)."
    blocks = [
        section(f"*To {number}*", block_id="to"),
        section(cut("\n".join(lines), MAX_SECTION_TEXT), block_id="conversation"),
        context(how),
        _input(
            "text", "Your answer", {"type": "plain_text_input", "multiline": True, "max_length": 1000}, optional=False
        ),
        _input(
            "media",
            "Image",
            {"type": "file_input", "filetypes": ["jpg", "jpeg", "png"], "max_files": 1},
            hint="Optional. With an image the answer goes as an MMS.",
        ),
    ]
    return {
        "type": "modal",
        "callback_id": CALLBACK_REPLY_FORM,
        "title": plain("Reply"),
        "submit": plain("Send"),
        "close": plain("Cancel"),
        "private_metadata": json.dumps({"reply_id": reply["id"]}),
        "blocks": blocks,
    }


def mask(national: str) -> str:
    """``0412 ••• 678``: enough to tell numbers apart, not enough to copy one."""
    shown = display_number(national)
    return f"{shown[:4]} ••• {shown[-3:]}" if len(national) == 9 else shown
