"""A confirmed review becomes a send request: the draft kept in the store between the two.

The draft holds exactly what the review showed, so what is sent is what the person confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.sending.contacts import Rejected
from bot.sending.gateway import MMS, MediaFile
from bot.sending.review import CheckedForm, FileRef, Review


@dataclass(frozen=True)
class SendRequest:
    key: str  # the draft's id: a draft is only ever sent once
    user_id: str
    channel_id: str
    message: str
    sender: str | None
    gif_url: str | None
    media: MediaFile | None
    media_note: str
    numbers: list[str]
    rejected: list[Rejected] = field(default_factory=list)
    duplicates: int = 0
    suppressed: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False
    send_at: float | None = None  # scheduled for then; None: now
    schedule_tz: str | None = None  # the zone the time is shown in (its sender's)
    medium: str = MMS  # SMS: an answer without an image
    answer_to: int | None = None  # the reply this answers
    texts: list[str] | None = None  # a personal message: ``texts[i]`` is what ``numbers[i]`` gets


def form_record(form: CheckedForm) -> dict:
    """What the store keeps of a form being checked, so that another process can check it again
    (the files are still in Slack: only their ids, names and links are kept)."""

    def ref(file: FileRef | None) -> list | None:
        return [file.id, file.name, file.url] if file else None

    return {
        "user_id": form.user_id,
        "channel_id": form.channel_id,
        "message": form.message,
        "sender": form.sender,
        "gif_url": form.gif_url,
        "contacts_text": form.contacts_text,
        "contacts_file": ref(form.contacts_file),
        "media": ref(form.media),
        "send_at": form.send_at,
    }


def form_from_record(record: dict) -> CheckedForm:
    def ref(value: list | None) -> FileRef | None:
        return FileRef(*value) if value else None

    return CheckedForm(
        record["user_id"],
        record["channel_id"],
        record["message"],
        record["sender"],
        record["gif_url"],
        record["contacts_text"],
        ref(record["contacts_file"]),
        ref(record["media"]),
        record.get("send_at"),  # absent in a form kept by an earlier version
    )


def draft_record(review: Review, schedule_tz: str | None = None) -> tuple[dict, list[str], bytes | None]:
    """What the store keeps of a review until it is confirmed: (record, numbers, image bytes), with the zone
    a scheduled time was shown in."""
    media = review.media
    record = {
        "message": review.message,
        "sender": review.sender,
        "gif_url": review.gif_url,
        "media_name": media.filename if media else None,
        "media_type": media.content_type if media else None,
        "media_note": media.note if media else "",
        "rejected": [[r.entry, r.reason, r.where] for r in review.rejected],
        "duplicates": review.duplicates,
        "suppressed": [list(s) for s in review.suppressed],
        "dry_run": review.dry_run,
        "send_at": review.send_at,
        "schedule_tz": schedule_tz if review.send_at else None,
        "texts": review.texts,
        "credits": review.credits_needed,
        "balance": review.balance.credits,
        "approval": review.approval,
    }
    return record, review.numbers, media.content if media else None


def request_from_draft(
    key: str, user_id: str, channel_id: str, record: dict, numbers: list[str], media: bytes | None
) -> SendRequest:
    return SendRequest(
        key=key,
        user_id=user_id,
        channel_id=channel_id,
        message=record["message"],
        sender=record["sender"],
        gif_url=record["gif_url"],
        media=MediaFile(record["media_name"], media, record["media_type"]) if media else None,
        media_note=record["media_note"],
        numbers=numbers,
        rejected=[Rejected(entry, reason, where) for entry, reason, where in record["rejected"]],
        duplicates=record["duplicates"],
        suppressed=[tuple(s) for s in record["suppressed"]],
        dry_run=record["dry_run"],
        send_at=record.get("send_at"),
        schedule_tz=record.get("schedule_tz"),
        texts=record.get("texts"),
    )
