"""One submission's inputs checked against the gateway's rules, as plain data (no Slack types)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.sending.contacts import ContactList, parse_file, parse_text
from bot.sending.fields import FieldError, normalise_message, validate_sender
from bot.sending.media import Media, MediaError, prepare_media, validate_gif_url


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes
    ref: str = ""  # where it came from (e.g. Slack's file id), to show it again later


@dataclass(frozen=True)
class SubmissionInput:
    key: str  # unique per submission (Slack's view id): the same key is only ever sent once
    user_id: str
    channel_id: str
    message: str | None = None
    sender: str | None = None
    gif_url: str | None = None
    contacts_text: str | None = None
    contacts_file: Upload | None = None
    media: Upload | None = None


@dataclass(frozen=True)
class SendRequest:
    key: str
    user_id: str
    channel_id: str
    message: str
    sender: str | None
    gif_url: str | None
    media: Media | None
    media_ref: str
    contacts: ContactList


class InvalidSubmission(ValueError):
    """Field name → message for a person. Field names match the form's fields."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


def build_send_request(submission: SubmissionInput) -> SendRequest:
    errors: dict[str, str] = {}
    message = sender = gif_url = media = None
    try:
        message = normalise_message(submission.message)
    except FieldError as exc:
        errors["message"] = str(exc)
    try:
        sender = validate_sender(submission.sender)
    except FieldError as exc:
        errors["sender"] = str(exc)
    if submission.gif_url and submission.gif_url.strip():
        try:
            gif_url = validate_gif_url(submission.gif_url)
        except MediaError as exc:
            errors["gif"] = str(exc)
    if submission.media is not None:
        try:
            media = prepare_media(submission.media.filename, submission.media.content)
        except MediaError as exc:
            errors["media"] = str(exc)
    contacts = parse_text(submission.contacts_text or "")
    if submission.contacts_file is not None:
        contacts = contacts.merge(parse_file(submission.contacts_file.filename, submission.contacts_file.content))
    if not contacts.numbers:
        field = "contacts" if (submission.contacts_text or "").strip() or submission.contacts_file is None else "contacts_file"
        errors[field] = _no_contacts_message(contacts)
    if errors:
        raise InvalidSubmission(errors)
    return SendRequest(
        key=submission.key, user_id=submission.user_id, channel_id=submission.channel_id, message=message,
        sender=sender, gif_url=gif_url, media=media, media_ref=submission.media.ref if submission.media else "",
        contacts=contacts,
    )


def _no_contacts_message(contacts: ContactList) -> str:
    if not contacts.rejected:
        return "Add at least one Australian mobile number, here or as a CSV/TXT file."
    first = contacts.rejected[0]
    more = len(contacts.rejected) - 1
    return f"No valid Australian mobile number found. “{first.entry[:40]}”: {first.reason}" + (f" (and {more} more refused)" if more else "")
