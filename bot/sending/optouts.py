"""Opt-outs: which replies are an unsubscribe request, and the opt-out instruction in every message.

Australia's Spam Act 2003 requires a functional unsubscribe facility in every commercial message
(s18) and that a request be honoured. A reply whose whole text is an opt-out keyword ("STOP",
"Stop.", "opt-out") is one; a longer reply that merely contains such a word ("please stop this
bill") is shown to a person as "may be an opt-out" rather than acted on.
"""

from __future__ import annotations

import re
import unicodedata

KEYWORDS = frozenset(
    {"stop", "stop all", "unsubscribe", "unsub", "cancel", "end", "quit", "opt out", "optout", "no more"}
)
_WORDS = frozenset({"stop", "unsubscribe", "unsub", "cancel", "end", "quit", "optout"})
_PHRASES = ("opt out", "no more")
OPTOUT = "optout"
MAYBE = "maybe"

# Where a suppressed number came from (kept with it, shown in the thread and the CSV).
SOURCE_CELLCAST = "Cellcast's opt-out list"
SOURCE_REPLY = "replied"
SOURCE_UNSUBSCRIBED = "Cellcast reported it unsubscribed"
SOURCE_ADMIN = "suppressed by an admin"

# An instruction already in the message: "reply STOP", "text STOP", "opt out", "unsubscribe".
_INSTRUCTION = re.compile(
    r"\b(?:reply|text|sms|send)\s+['\"“”‘’]?stop\b|\bopt[\s-]?out\b|\bunsubscribe\b", re.IGNORECASE
)


def _simplified(text: str) -> str:
    """Case-folded, punctuation and symbols as spaces, spaces collapsed."""
    out = []
    for ch in unicodedata.normalize("NFKC", text).casefold():
        out.append(" " if unicodedata.category(ch)[0] in "PSZC" else ch)
    return " ".join("".join(out).split())


def classify_reply(text: str) -> str | None:
    """OPTOUT when the whole reply is an opt-out keyword, MAYBE when it contains one, else None."""
    simple = _simplified(text)
    if simple in KEYWORDS:
        return OPTOUT
    words = simple.split()
    if any(word in _WORDS for word in words) or any(f" {phrase} " in f" {simple} " for phrase in _PHRASES):
        return MAYBE
    return None


def has_optout_instruction(message: str) -> bool:
    return bool(_INSTRUCTION.search(message))


def with_footer(message: str, footer: str) -> str:
    """The message as sent: the opt-out footer appended (on its own line) unless it already says how."""
    footer = footer.strip()
    if not footer or has_optout_instruction(message):
        return message
    return f"{message}\r\n{footer}"


class UnsuppressRefused(ValueError):
    """Taking this number off the list needs more than asking; the message says what."""


def check_unsuppress(entry: dict | None, reason: str) -> None:
    """A number that opted out itself comes back only with a recorded reason (its consent);
    one on Cellcast's own list cannot come back here at all: Cellcast would refuse it anyway."""
    if entry is None:
        raise UnsuppressRefused("That number is not on the suppression list.")
    if entry["source"] == SOURCE_CELLCAST:
        raise UnsuppressRefused(
            "That number is on Cellcast's own opt-out list, which the bot cannot change: "
            "Cellcast would refuse to send to it. It must be removed there first."
        )
    if entry["source"] == SOURCE_REPLY and not reason.strip():
        raise UnsuppressRefused(
            f"That number opted out by replying ({entry['reason']}) on {entry['added_at'][:10]}. "
            "Only take it off with the person's consent, and say so: `/mms unsuppress <number> <reason>`."
        )
