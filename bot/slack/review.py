"""The form's submission and the review's: ack at once, check on a worker, send only when confirmed.

Submitting the form answers in milliseconds with a "Checking…" view pushed over the form; the
checks (downloads, parsing, image, suppression, balance) run on this module's own workers, never
on Bolt's listener threads, and replace that view with the review or with the problems found.
Submitting the review turns the stored draft into a send, once.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from slack_sdk.errors import SlackApiError

from bot.sending.review import CheckedForm, FileRef, FormInput, Problems, Upload, check, instant_checks
from bot.sending.request import draft_record, request_from_draft
from bot.slack.files import FileDownloadError
from bot.slack.kit import refusal
from bot.slack.views import (
    CALLBACK_REVIEW,
    CALLBACK_SEND,
    VALUE,
    checking_view,
    notice_view,
    problems_view,
    review_external_id,
    review_view,
)

log = logging.getLogger(__name__)

DRAFT_LIFETIME = timedelta(hours=1)
NOT_ALLOWED = "You can no longer send MMS: an admin removed you from the list."
CANNOT_RECORD = ("The bot cannot record {what} now (its database refuses writes; its operators can see why in its log "
                 "and its health check), so nothing was sent. Try again in a few minutes.")


def register(app) -> None:
    app.view(CALLBACK_SEND)(form_submitted)
    app.view(CALLBACK_REVIEW)(review_submitted)


# -- listeners --------------------------------------------------------------------------------


def form_submitted(ack, body, context) -> None:
    """Instant checks inline; otherwise push "Checking…" and hand the slow checks to a worker."""
    services = context["services"]
    user = body["user"]["id"]
    view = body["view"]
    if not services.permissions.can_send(user):
        ack(response_action="errors", errors={"message": refusal(NOT_ALLOWED, user, services.permissions.admins)})
        return
    form = form_input(view, user)
    try:
        checked = instant_checks(form, services.settings.optout_text)
    except Problems as exc:
        ack(response_action="errors", errors=exc.problems)
        return
    draft_id = uuid.uuid4().hex
    try:
        services.store.create_draft(draft_id, user, checked.channel_id)
    except Exception:
        log.exception("could not record a draft")
        ack(response_action="errors", errors={"message": CANNOT_RECORD.format(what="this form")})
        return
    ack(response_action="push", view=checking_view(draft_id))
    services.checker.start(draft_id, checked)


def review_submitted(ack, body, context) -> None:
    """The person confirmed: permission again, then the draft becomes a send, at most once."""
    services = context["services"]
    user = body["user"]["id"]
    draft_id = _draft_id(body["view"])
    draft = services.store.get_draft(draft_id) if draft_id else None
    if draft is None or draft["user_id"] != user or _expired(draft):
        ack(response_action="update", view=notice_view(
            "Review expired", "This review is no longer open (reviews last an hour), so nothing was sent. "
            "Run `/mms` again to send."))
        return
    if not services.permissions.can_send(user):
        ack(response_action="update", view=notice_view("Not sent", refusal(NOT_ALLOWED + " Nothing was sent.", user, services.permissions.admins)))
        return
    if draft["state"] == "sent":
        ack(response_action="clear")  # submitted twice (double click, or Slack retrying): sent once already
        return
    if draft["state"] != "ready":
        ack(response_action="update", view=notice_view("Not sent", "This review was not complete, so nothing was sent. Run `/mms` again."))
        return
    request = request_from_draft(draft_id, user, draft["channel_id"], draft["review"], draft["numbers"], draft["media"])
    try:
        services.dispatcher.record(request)  # None when recorded before: sent once whatever happens
        services.store.draft_sent(draft_id)
    except Exception:
        log.exception("could not record send %s", draft_id)
        ack(response_action="update", view=notice_view("Not sent", CANNOT_RECORD.format(what="this send")))
        return
    ack(response_action="clear")


# -- the background checks ------------------------------------------------------------------


class ReviewChecker:
    """Runs the slow checks for drafts on its own threads and shows the outcome in the modal."""

    def __init__(self, client, store, fetcher, *, checks, workers: int = 4, view_wait: float = 10.0) -> None:
        self._client = client
        self._store = store
        self._fetcher = fetcher
        self._checks = checks  # keyword arguments for review.check(): limits, suppression, balance, …
        self._view_wait = view_wait
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="check")

    def start(self, draft_id: str, form: CheckedForm) -> None:
        self._pool.submit(self._run, draft_id, form)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, draft_id: str, form: CheckedForm) -> None:
        started = time.monotonic()
        try:
            uploads, problems = self._download(form)
            if problems:
                raise Problems(problems)
            review = check(form, uploads, **self._checks)
        except Problems as exc:
            log.info("draft %s has problems with %s", draft_id, ", ".join(exc.problems))
            self._store.draft_has_problems(draft_id, exc.problems)
            self._show(draft_id, problems_view(draft_id, exc.problems))
            return
        except Exception:
            log.exception("checking draft %s failed", draft_id)
            problems = {"message": "Something went wrong while checking this form (an error in the bot, now logged). Press Back and try again."}
            self._show(draft_id, problems_view(draft_id, problems))
            return
        record, numbers, media = draft_record(review)
        if not self._store.draft_checked(draft_id, record, numbers, media):
            log.warning("draft %s expired while it was being checked", draft_id)
            return
        log.info("draft %s checked in %.0f ms: %d numbers", draft_id, (time.monotonic() - started) * 1000, len(numbers))
        self._show(draft_id, review_view(draft_id, review))

    def _download(self, form: CheckedForm) -> tuple[dict[str, Upload], dict[str, str]]:
        uploads, problems = {}, {}
        limits = self._checks["file_limits"]
        for field, ref, cap in (("media", form.media, None), ("contacts_file", form.contacts_file, limits.max_bytes)):
            if ref is None:
                continue
            try:
                url = ref.url or self._file_url(ref)
                uploads[field] = Upload(ref.name, self._fetcher.fetch(url, max_bytes=cap))
            except FileDownloadError as exc:
                problems[field] = str(exc)
        return uploads, problems

    def _file_url(self, ref: FileRef) -> str:
        """A file can arrive without its URLs ("file_access": "check_file_info"): ask files.info."""
        try:
            info = self._client.files_info(file=ref.id)["file"]
        except SlackApiError as exc:
            log.warning("files.info failed: %s", exc.response.get("error"))
            raise FileDownloadError("Slack would not share the file with the bot. Try attaching it again.") from None
        url = info.get("url_private_download") or info.get("url_private")
        if not url:
            raise FileDownloadError("Slack did not say where the file is. Try attaching it again.")
        return url

    def _show(self, draft_id: str, view: dict) -> None:
        """views.update by external id; Slack may not have taken the pushed view yet, so wait a little."""
        deadline = time.monotonic() + self._view_wait
        delay = 0.1
        while True:
            try:
                self._client.views_update(external_id=review_external_id(draft_id), view=view)
                return
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error != "not_found" or time.monotonic() > deadline:
                    # The person closed the modal, or Slack refused the view: nothing more can be shown there.
                    log.warning("could not show the review of draft %s: %s", draft_id, error)
                    return
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def _expired(draft: dict) -> bool:
    """A draft older than its lifetime is gone, whether or not the hourly sweep has deleted it yet."""
    return datetime.fromisoformat(draft["created_at"]) < datetime.now(timezone.utc) - DRAFT_LIFETIME


def expire_drafts(store) -> int:
    """Reviews stay open for an hour; after that their drafts (and any image in them) are deleted."""
    return store.delete_drafts_older_than(DRAFT_LIFETIME.total_seconds())


# -- payload → domain -----------------------------------------------------------------------


def form_input(view: dict, user: str) -> FormInput:
    values = _object((view.get("state") or {}).get("values") if isinstance(view.get("state"), dict) else None)
    return FormInput(
        user_id=user, channel_id=_channel_of(view, user), message=_text(values, "message"), sender=_text(values, "sender"),
        gif_url=_text(values, "gif"), contacts_text=_text(values, "contacts"),
        contacts_file=_file(values, "contacts_file"), media=_file(values, "media"),
    )


def _object(value) -> dict:
    return value if isinstance(value, dict) else {}


def _element(values: dict, block_id: str) -> dict:
    return _object(_object(values.get(block_id)).get(VALUE))


def _text(values: dict, block_id: str) -> str | None:
    value = _element(values, block_id).get("value")
    return value if isinstance(value, str) else None


def _file(values: dict, block_id: str) -> FileRef | None:
    files = _element(values, block_id).get("files")
    if not isinstance(files, list) or not files or not isinstance(files[0], dict):
        return None
    info = files[0]
    url = info.get("url_private_download") or info.get("url_private")
    return FileRef(id=str(info.get("id") or ""), name=str(info.get("name") or "upload"), url=url if isinstance(url, str) else None)


def _metadata(view: dict) -> dict:
    """The view's private_metadata as the bot wrote it (a JSON object), or {} for anything else."""
    raw = view.get("private_metadata")
    try:
        return _object(json.loads(raw)) if isinstance(raw, str) and raw else {}
    except (ValueError, RecursionError):
        return {}


_CHANNEL = re.compile(r"^[CDG][A-Z0-9]+$")


def _channel_of(view: dict, user: str) -> str:
    channel = _metadata(view).get("channel_id")
    return channel if isinstance(channel, str) and _CHANNEL.match(channel) else user  # none recorded: report to the person


def _draft_id(view: dict) -> str | None:
    draft_id = _metadata(view).get("draft_id")
    return draft_id if isinstance(draft_id, str) and draft_id else None
