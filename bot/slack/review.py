"""The form's submission and the review's: ack at once, check on a worker, send only when confirmed.

Submitting the form answers in milliseconds with a "Checking…" view pushed over the form; the
checks (downloads, parsing, image, suppression, balance) run on this module's own workers, never
on Bolt's listener threads, and replace that view with the review or with the problems found.
Submitting the review turns the stored draft into a send, once.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError

from bot.sending.budget import Abandoned, Budget, Gate, OutOfTime
from bot.sending.reports import Notice, ReportKind, stranded_check_key
from bot.sending.request import draft_record, form_from_record, form_record, request_from_draft
from bot.sending.review import CheckedForm, FileRef, FormInput, Problems, Review, Upload, check, instant_checks
from bot.sending.schedule import GRACE, UTC_ZONE, zone
from bot.sending.states import DRAFT_READY, DRAFT_SENT
from bot.slack import approvals
from bot.slack.files import FileDownloadError
from bot.slack.kit import refusal
from bot.slack.payload import file_ref, metadata, picked_time, state_values, text_value
from bot.slack.views import (
    CALLBACK_REVIEW,
    CALLBACK_SEND,
    MESSAGE,
    SEND_AT,
    checking_view,
    message_block_id,
    notice_view,
    problems_view,
    review_external_id,
    review_view,
)
from bot.workers import Workers

log = logging.getLogger(__name__)

DRAFT_LIFETIME = timedelta(hours=1)
NOT_ALLOWED = "You can no longer send MMS: an admin removed you from the list."
CANNOT_RECORD = (
    "The bot cannot record {what} now (its database refuses writes; its operators can see why in its log "
    "and its health check), so nothing was sent. Try again in a few minutes."
)


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
        ack(
            response_action="errors",
            errors={message_block_id(view): refusal(NOT_ALLOWED, user, services.permissions.admins)},
        )
        return
    form = form_input(view, user)
    try:
        checked = instant_checks(
            form, services.settings.optout_text, now=time.time(), max_days=services.settings.schedule_max_days
        )
    except Problems as exc:
        ack(response_action="errors", errors=_on_blocks(exc.problems, view))
        return
    draft_id = uuid.uuid4().hex
    try:
        services.store.create_draft(
            draft_id,
            user,
            checked.channel_id,
            form=form_record(checked),
            owner=services.checker.owner,
            lease=services.checker.lease,
        )
    except Exception:
        log.exception("could not record a draft")
        ack(response_action="errors", errors={message_block_id(view): CANNOT_RECORD.format(what="this form")})
        return
    ack(response_action="push", view=checking_view(draft_id))
    services.checker.start(draft_id, checked)


def _on_blocks(problems: dict[str, str], view: dict) -> dict[str, str]:
    """Problems by field, as errors by the form's block ids (the message's may be ``message~N``)."""
    block = message_block_id(view)
    return {(block if field == MESSAGE else field): text for field, text in problems.items()}


def review_submitted(ack, body, context) -> None:
    """The person confirmed: permission again, then the draft becomes a send, at most once."""
    services = context["services"]
    user = body["user"]["id"]
    draft_id = _draft_id(body["view"])
    draft = services.store.get_draft(draft_id) if draft_id else None
    if draft is None or draft["user_id"] != user or _expired(draft):
        ack(
            response_action="update",
            view=notice_view(
                "Review expired",
                "This review is no longer open (reviews last an hour), so nothing was sent. Run `/mms` again to send.",
            ),
        )
        return
    if not services.permissions.can_send(user):
        ack(
            response_action="update",
            view=notice_view(
                "Not sent", refusal(NOT_ALLOWED + " Nothing was sent.", user, services.permissions.admins)
            ),
        )
        return
    if draft["state"] == DRAFT_SENT:
        ack(response_action="clear")  # submitted twice (double click, or Slack retrying): sent once already
        return
    if draft["state"] != DRAFT_READY:
        ack(
            response_action="update",
            view=notice_view("Not sent", "This review was not complete, so nothing was sent. Run `/mms` again."),
        )
        return
    send_at = draft["review"].get("send_at")
    if send_at is not None and send_at < time.time() - GRACE:  # within the grace: due at once
        ack(
            response_action="update",
            view=notice_view(
                "Not scheduled",
                "The time picked for this send has passed while the review was open, so nothing was scheduled "
                "or sent. Run `/mms` again and pick a later time (or none, to send at once).",
            ),
        )
        return
    assessment = services.allowance(user, len(draft["numbers"]))  # again: other sends may have counted meanwhile
    if assessment.problem:
        ack(response_action="update", view=notice_view("Not sent", assessment.problem))
        return
    if assessment.approval:
        try:
            approvals.ask(services, draft_id, user, draft, assessment.approval)  # once per draft
            services.store.draft_sent(draft_id)
        except Exception:
            log.exception("could not record approval request %s", draft_id)
            ack(response_action="update", view=notice_view("Not sent", CANNOT_RECORD.format(what="this request")))
            return
        ack(
            response_action="update",
            view=notice_view(
                "Waiting for approval",
                f"Nothing is sent yet: {assessment.approval}, so an approver must approve it first. The request "
                "is in your messages with the app, where you can withdraw it; you are told when it is decided.",
            ),
        )
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
    """Runs the slow checks for drafts on its own threads and shows the outcome in the modal.

    Each check has a time budget and takes turns at a gate for memory-heavy files. A check holds its
    draft with a lease (renewed by ``renew``); a check abandoned by a process that stopped (SIGTERM: at
    once; a kill: when its lease runs out) is taken up by ``resume`` in a live process, which shows the
    result in the same modal, or, when the modal is gone, tells the person by direct message.
    """

    MAX_CHECKS = 3  # a form whose check stopped its process this often is not tried again

    def __init__(
        self,
        client,
        store,
        fetcher,
        *,
        checks,
        owner: str,
        lease: float,
        check_seconds: float = 20.0,
        files_at_once: int = 2,
        stopping: threading.Event | None = None,
        on_report_due=lambda: None,
        workers: int = 4,
        view_wait: float = 10.0,
        timezone: ZoneInfo = UTC_ZONE,
    ) -> None:
        self._client = client
        self._store = store
        self._fetcher = fetcher
        self._checks = checks  # keyword arguments for review.check(): limits, suppression, balance, …
        self.owner = owner
        self.lease = lease
        self._check_seconds = check_seconds
        self._gate = Gate(files_at_once)
        self._stopping = stopping or threading.Event()
        self._on_report_due = on_report_due
        self._view_wait = view_wait
        self._timezone = timezone
        self._queue: queue.Queue = queue.Queue()
        # Daemon threads: a decode in progress never holds the process past its shutdown grace; they stop taking
        # checks when the process stops (the drafts still queued are handed over by shutdown()).
        self._workers = Workers("check", self._check_next, count=workers, idle=0.0, stopping=self._stopping)
        self._workers.start()

    def start(self, draft_id: str, form: CheckedForm, resumed: bool = False) -> None:
        self._queue.put((draft_id, form, resumed))

    def shutdown(self) -> None:
        """Checks in progress stop at their next look at the budget; this process's drafts are let go."""
        self._stopping.set()
        try:
            released = self._store.release_drafts(self.owner)
        except Exception:
            log.exception(
                "could not hand over the checks in progress; other processes take them when their leases run out"
            )
            return
        if released:
            log.info("%d check(s) in progress handed over to the next process", released)

    def renew(self) -> None:
        self._store.renew_draft_leases(self.owner, self.lease)

    def resume(self) -> None:
        """Drafts whose check a stopped process left: checked again here, from the form kept with them."""
        if self._stopping.is_set():
            return
        for draft in self._store.claim_stranded_drafts(self.owner, self.lease, DRAFT_LIFETIME.total_seconds()):
            log.info(
                "draft %s: its check was left by a process that stopped; checking it again (attempt %d)",
                draft["id"],
                draft["checks"],
            )
            if draft["checks"] > self.MAX_CHECKS:
                problems = {
                    "message": f"This form could not be checked: the bot stopped {self.MAX_CHECKS} times while "
                    "checking it. Press Back, check the attached files, and try again."
                }
                self._store.draft_has_problems(draft["id"], problems)
                self._show(draft["id"], problems_view(draft["id"], problems), draft["user_id"])
                continue
            self.start(draft["id"], form_from_record(draft["form"]), resumed=True)

    def _check_next(self) -> bool:
        """One queued check; False when none came within half a second."""
        try:
            draft_id, form, resumed = self._queue.get(timeout=0.5)
        except queue.Empty:
            return False
        self._run(draft_id, form, resumed)
        return True

    def _run(self, draft_id: str, form: CheckedForm, resumed: bool = False) -> None:
        started = time.monotonic()
        budget = Budget(self._check_seconds, gate=self._gate, stopping=self._stopping)
        person = form.user_id if resumed else None
        try:
            review = self.review(form, budget)
        except Abandoned:
            log.info("draft %s: check abandoned, the process is stopping; another process checks it again", draft_id)
            return
        except Problems as exc:
            log.info("draft %s has problems with %s", draft_id, ", ".join(exc.problems))
            self._store.draft_has_problems(draft_id, exc.problems)
            self._show(draft_id, problems_view(draft_id, exc.problems), person)
            return
        except Exception:
            log.exception("checking draft %s failed", draft_id)
            problems = {
                "message": "Something went wrong while checking this form (an error in the bot, now logged). "
                "Press Back and try again."
            }
            self._store.draft_has_problems(draft_id, problems)  # not left "checking", to be taken up again
            self._show(draft_id, problems_view(draft_id, problems), person)
            return
        tz = self.sender_zone(form.user_id) if review.send_at else self._timezone
        record, numbers, media = draft_record(review, tz.key)
        if not self._store.draft_checked(draft_id, record, numbers, media):
            log.warning("draft %s expired while it was being checked", draft_id)
            return
        log.info("draft %s checked in %.0f ms: %d numbers", draft_id, (time.monotonic() - started) * 1000, len(numbers))
        self._show(draft_id, review_view(draft_id, review, tz, time.time()), person)

    def sender_zone(self, user: str) -> ZoneInfo:
        """The zone the person's Slack shows times in (``users.info``, scope ``users:read``), so that a
        scheduled time is shown as they picked it; MMS_TIMEZONE when Slack will not say."""
        try:
            name = self._client.users_info(user=user)["user"].get("tz")
        except SlackApiError as exc:
            error = exc.response.get("error")
            hint = " (add the users:read scope and reinstall the app)" if error == "missing_scope" else ""
            log.warning("users.info failed (%s)%s; showing times in %s", error, hint, self._timezone.key)
            return self._timezone
        except Exception as exc:  # Slack unreachable, or an answer without a user: the review still shows
            log.warning("users.info gave no zone (%s); showing times in %s", type(exc).__name__, self._timezone.key)
            return self._timezone
        return zone(name if isinstance(name, str) else None, self._timezone)

    def review(self, form: CheckedForm, budget: Budget) -> Review:
        """The slow checks: the files fetched, then everything else; raises Problems (by field) or Abandoned."""
        uploads, problems = self.download(form, budget)
        if problems:
            raise Problems(problems)
        return check(form, uploads, budget=budget, **self._checks)

    def download(self, form: CheckedForm, budget: Budget) -> tuple[dict[str, Upload], dict[str, str]]:
        """The form's files, by field; problems by field for those that could not be fetched."""
        uploads, problems = {}, {}
        limits = self._checks["file_limits"]
        for field, ref, cap in (("media", form.media, None), ("contacts_file", form.contacts_file, limits.max_bytes)):
            if ref is None:
                continue
            try:
                ref = self.resolve(ref)
                uploads[field] = Upload(ref.name, self.fetch(ref, budget, cap))
            except FileDownloadError as exc:
                problems[field] = str(exc)
            except OutOfTime as exc:
                problems[field] = (
                    f"Downloading {ref.name or 'the file'} from Slack took longer than the {exc.seconds:g} seconds a "
                    "check may take, so it was stopped. Try again; if it happens again, attach a smaller file."
                )
        return uploads, problems

    def fetch(self, ref: FileRef, budget: Budget, max_bytes: int | None = None) -> bytes:
        """A file attached in a form, from Slack (asking files.info where it came without its link)."""
        return self._fetcher.fetch(self.resolve(ref).url, max_bytes=max_bytes, budget=budget)

    def resolve(self, ref: FileRef) -> FileRef:
        """A file can arrive without its URLs ("file_access": "check_file_info"), or as a bare id (a Workflow
        Builder step's input): files.info says its name and where it is."""
        if ref.url and ref.name:
            return ref
        try:
            info = self._client.files_info(file=ref.id)["file"]
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning("files.info failed: %s", error)
            if error == "file_not_found":
                raise FileDownloadError("Slack has no such file (it may have been deleted).") from None
            raise FileDownloadError("Slack would not share the file with the bot. Try attaching it again.") from None
        url = info.get("url_private_download") or info.get("url_private")
        if not url:
            raise FileDownloadError("Slack did not say where the file is. Try attaching it again.")
        return FileRef(ref.id, ref.name or str(info.get("name") or ref.id), url)

    def _show(self, draft_id: str, view: dict, person: str | None = None) -> None:
        """views.update by external id; Slack may not have taken the pushed view yet, so wait a little.
        For a check taken over from a stopped process (``person`` set), a modal that is gone means the
        person is told by direct message instead."""
        deadline = time.monotonic() + self._view_wait
        delay = 0.1
        while True:
            try:
                self._client.views_update(external_id=review_external_id(draft_id), view=view)
                return
            except SlackApiError as exc:
                error = exc.response.get("error")
                if error != "not_found" or time.monotonic() > deadline or person:
                    # The person closed the modal, or Slack refused the view: nothing more can be shown there.
                    log.warning("could not show the review of draft %s: %s", draft_id, error)
                    if person:
                        self._tell(person, draft_id)
                    return
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def _tell(self, person: str, draft_id: str) -> None:
        text = (
            ":information_source: The bot restarted while it was checking your MMS form, and the form was closed "
            "meanwhile, so its review could not be shown. Nothing was sent. Run `/mms` again to send it."
        )
        self._store.report_due(stranded_check_key(draft_id), None, ReportKind.NOTICE, Notice(text, user_id=person))
        self._on_report_due()


def _expired(draft: dict) -> bool:
    """A draft older than its lifetime is gone, whether or not the hourly sweep has deleted it yet."""
    return datetime.fromisoformat(draft["created_at"]) < datetime.now(UTC) - DRAFT_LIFETIME


def expire_drafts(store) -> int:
    """Reviews stay open for an hour; after that their drafts (and any image in them) are deleted."""
    return store.delete_drafts_older_than(DRAFT_LIFETIME.total_seconds())


# -- payload → domain -----------------------------------------------------------------------


def form_input(view: dict, user: str) -> FormInput:
    values = state_values(view)
    return FormInput(
        user_id=user,
        channel_id=_channel_of(view, user),
        message=text_value(values, message_block_id(view)),
        sender=text_value(values, "sender"),
        gif_url=text_value(values, "gif"),
        contacts_text=text_value(values, "contacts"),
        contacts_file=file_ref(values, "contacts_file"),
        media=file_ref(values, "media"),
        send_at=picked_time(values, SEND_AT),
    )


_CHANNEL = re.compile(r"^[CDG][A-Z0-9]+$")


def _channel_of(view: dict, user: str) -> str:
    channel = metadata(view).get("channel_id")
    return (
        channel if isinstance(channel, str) and _CHANNEL.match(channel) else user
    )  # none recorded: report to the person


def _draft_id(view: dict) -> str | None:
    draft_id = metadata(view).get("draft_id")
    return draft_id if isinstance(draft_id, str) and draft_id else None
