"""The message text and the sender ID, as the gateway's field rules say."""

from __future__ import annotations

import re

_SENDER_CHARACTERS = re.compile(r"[A-Za-z0-9 \-]+")
MAX_NUMERIC_SENDER = 16
MAX_ALPHANUMERIC_SENDER = 11


class FieldError(ValueError):
    """A field the gateway would refuse; the message is for a person."""


def validate_sender(raw: str | None) -> str | None:
    """Blank means the gateway's default sender; otherwise the gateway's character and length rules."""
    sender = (raw or "").strip()
    if not sender:
        return None
    if not _SENDER_CHARACTERS.fullmatch(sender):
        raise FieldError("Sender ID may use only letters, digits, spaces and dashes (no + or other symbols).")
    if sender.isdigit():
        if len(sender) > MAX_NUMERIC_SENDER:
            raise FieldError(f"A numeric sender ID can be at most {MAX_NUMERIC_SENDER} digits.")
    elif len(sender) > MAX_ALPHANUMERIC_SENDER:
        raise FieldError(f"A sender ID with letters can be at most {MAX_ALPHANUMERIC_SENDER} characters.")
    return sender


def normalise_message(raw: str | None) -> str:
    """The gateway wants CRLF line breaks; Slack gives LF."""
    text = (raw or "").strip()
    if not text:
        raise FieldError("Write a message to send.")
    return re.sub(r"\r\n|\r|\n", "\r\n", text)
