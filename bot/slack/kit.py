"""Small Block Kit helpers and Slack's limits, in one place."""

from __future__ import annotations

import re
from datetime import UTC, datetime

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_MESSAGE_TEXT = 40_000
MAX_CONTEXT_TEXT = 2000  # (per element: Block Kit limits a context element's text as a section's; kept shorter)
MAX_PLAIN_TITLE = 24  # a view's title, submit and close labels
MORE = "\n… (more in the CSV file)"

_ENTITY_TAIL = re.compile(r"&[a-z]{0,4}$")
_LINK_TAIL = re.compile(r"<[^>]*$")


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": text}


def md(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def section(text: str, block_id: str | None = None, limit: int = MAX_SECTION_TEXT) -> dict:
    block = {"type": "section", "text": md(cut(text, limit))}
    if block_id:
        block["block_id"] = block_id
    return block


def context(text: str) -> dict:
    return {"type": "context", "elements": [md(cut(text, MAX_CONTEXT_TEXT))]}


def escape(text: str) -> str:
    """Slack's three control characters in mrkdwn text; everything else is shown as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int, more: str = "\n… (cut short)") -> str:
    """At most ``limit`` characters, cut at a line end where possible, never inside an
    ``&amp;``-style entity or a ``<…>`` link, and saying that something was left out."""
    if len(text) <= limit:
        return text
    room = max(0, limit - len(more))
    head = text[:room]
    newline = head.rfind("\n")
    if newline > room // 2:
        head = head[:newline]
    head = _ENTITY_TAIL.sub("", head)
    head = _LINK_TAIL.sub("", head)
    return head + more


def split_sections(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Text longer than a section, whole, in pieces of at most ``limit`` characters: cut at line ends
    where possible, never inside an ``&amp;``-style entity."""
    pieces = []
    while len(text) > limit:
        head = text[:limit]
        newline = head.rfind("\n")
        if newline > limit // 2:
            head = head[: newline + 1]
        elif entity := _ENTITY_TAIL.search(head):
            head = head[: entity.start()]
        pieces.append(head)
        text = text[len(head) :]
    return pieces + [text] if text or not pieces else pieces


def count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def display_number(national: str) -> str:
    if len(national) == 9 and national.isdigit():
        return f"0{national[:3]} {national[3:6]} {national[6:]}"
    return national


def where(channel: str, dm: str = "a direct message") -> str:
    """A channel as Slack links it, or ``dm`` for a direct message (whose id Slack cannot link)."""
    return f"<#{channel}>" if channel.startswith(("C", "G")) else dm


def utc_minute(stamp: str) -> str:
    """``2026-12-02 01:07 UTC`` from the store's ISO text (UTC)."""
    return f"{stamp[:16].replace('T', ' ')} UTC"


def local_time(epoch: float) -> str:
    """An instant as Slack shows it to each reader, in their own zone (UTC where Slack cannot)."""
    fallback = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(epoch)}^{{date_short_pretty}} at {{time}}|{fallback}>"


def quote(text: str) -> str:
    return "\n".join("> " + line for line in escape(text.replace("\r\n", "\n")).split("\n"))


NOT_ON_THE_LIST = "You are not on the list of people who can send MMS. Ask an admin to run `/mms allow @you`."


def tell(respond, text: str) -> None:
    """An answer to a button only the person who pressed it sees; the message they pressed stays as it is."""
    respond(text=text, response_type="ephemeral", replace_original=False)


def refusal(why: str, user: str, admins) -> str:
    """A refusal a person can act on: who they are to the bot, and whom to ask."""
    who = ", ".join(f"<@{admin}>" for admin in sorted(admins)) or "none yet (MMS_ADMINS is empty)"
    return f"{why} Your member id is `{user}`; admins: {who}."
