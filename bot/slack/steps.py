"""The Workflow Builder step ``send_mms``: a workflow asks, a person still reviews, and the workflow is told.

``function_executed`` is acknowledged at once and recorded once per execution; the inputs are checked on
this module's workers exactly as the form is (files, numbers, image, suppression, balance); the review is
posted in the step's channel with Send and Cancel, which only the person it sends for (``sent_by``) or an
admin may press. Send sends as the form's review does (the rate limit, approvals, daily limits). The step is
completed through the outbox, with the bot's own token, when its send is done, or at once when it is
cancelled, refused or cannot go ahead (``functions.completeError`` with what the workflow's builder must fix).
Why the bot token: the token Slack hands a step (``bot_access_token``) lives 15 minutes at most, and a review
may wait ``MMS_STEP_REVIEW_HOURS``.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import uuid

from bot.sending.budget import Abandoned, Budget, Gate
from bot.sending.request import draft_record, request_from_draft
from bot.sending.review import FileRef, FormInput, Problems, instant_checks
from bot.sending.states import STEP_CANCELLED, STEP_REFUSED, STEP_REVIEWING
from bot.slack.blocks import ACTION_STEP_CANCEL, ACTION_STEP_SEND
from bot.slack.kit import refusal, tell
from bot.workers import Workers

log = logging.getLogger(__name__)

CALLBACK_ID = "send_mms"  # the manifest's functions.send_mms
# The step's inputs, by the form field each stands for (the checks name problems by form field).
INPUT_OF_FIELD = {
    "message": "message",
    "sender": "sender_id",
    "media": "image",
    "contacts": "contacts",
    "contacts_file": "contacts_file",
    "gateway": "the Cellcast account",
}
EXPIRED = "because nobody decided within {hours:g} hours"
_USER = re.compile(r"^[UW][A-Z0-9]+$")
_CHANNEL = re.compile(r"^[CDG][A-Z0-9]+$")
ALREADY = "This step was already decided; nothing was changed."
MAX_ERROR = 1000  # what the workflow's run history shows of a failure


def register(app) -> None:
    app.function(CALLBACK_ID)(step_executed)
    app.action(ACTION_STEP_SEND)(step_send_clicked)
    app.action(ACTION_STEP_CANCEL)(step_cancel_clicked)


# -- the step runs ---------------------------------------------------------------------------


def step_executed(event: dict, inputs: dict, context, fail) -> None:
    """Acknowledged before this runs (Bolt does it for a function); records the run once and hands the check
    to a worker. Inputs Slack should never send (no channel, no person) fail the step at once."""
    services = context["services"]
    inputs = inputs if isinstance(inputs, dict) else {}
    channel, sent_by = _text(inputs, "channel"), _text(inputs, "sent_by")
    if not _CHANNEL.match(channel or "") or not _USER.match(sent_by or ""):
        log.warning("a send_mms step came without a channel or a person to send for; failed")
        fail("Send an MMS needs a channel (where its review goes) and the person it sends for (sent_by).")
        return
    draft_id = uuid.uuid4().hex
    try:
        recorded = services.store.create_step(
            draft_id,
            str(event.get("function_execution_id") or ""),
            event.get("workflow_execution_id"),
            channel,
            sent_by,
            {name: _text(inputs, name) for name in ("message", "contacts", "contacts_file", "image", "sender_id")},
            owner=services.checker.owner,
            lease=services.checker.lease,
        )
    except Exception:
        log.exception("could not record a send_mms step")
        fail("The bot cannot record this step now (its database refuses writes; its operators can see why in its log).")
        return
    if recorded is None:
        log.info("a send_mms step delivered again; it runs once")
        return
    if not services.permissions.can_send(sent_by):
        services.store.step_failed(
            draft_id,
            f"the person it sends for ({sent_by}) is not on the list of people who can send MMS: an admin adds "
            "them with /mms allow, or the workflow names someone on the list as sent_by.",
        )
        services.reporter.wake()
        return
    services.steps.start(draft_id, services.store.find_step(draft_id))


def _text(inputs: dict, name: str) -> str | None:
    value = inputs.get(name)
    return value.strip() or None if isinstance(value, str) else None


def form_of(step: dict) -> FormInput:
    """The step's inputs as the form's fields (its files by id: their names and links come from files.info)."""
    inputs = step["inputs"] or {}
    return FormInput(
        user_id=step["sent_by"],
        channel_id=step["channel_id"],
        message=inputs.get("message"),
        sender=inputs.get("sender_id"),
        contacts_text=inputs.get("contacts"),
        contacts_file=FileRef(inputs["contacts_file"], "") if inputs.get("contacts_file") else None,
        media=FileRef(inputs["image"], "") if inputs.get("image") else None,
    )


def problems_text(problems: dict[str, str]) -> str:
    """Problems by form field, as a workflow's builder reads them: by the step's inputs."""
    text = " ".join(f"{INPUT_OF_FIELD.get(field, field)}: {problem}" for field, problem in problems.items())
    return text[:MAX_ERROR]


class StepChecker:
    """The checks of the step's inputs, on threads of their own, held with a lease like the form's; a check a
    stopped process left is taken up by ``resume`` in a live one."""

    MAX_CHECKS = 3

    def __init__(
        self,
        checker,
        store,
        *,
        review_hours: float,
        optout_text: str,
        check_seconds: float,
        stopping: threading.Event,
        on_report_due,
        workers: int = 2,
    ) -> None:
        self._checker = checker  # the form's: its checks, files.info, downloads
        self._store = store
        self._review_seconds = review_hours * 3600
        self._optout_text = optout_text
        self._check_seconds = check_seconds
        self._gate = Gate(1)
        self._stopping = stopping
        self._on_report_due = on_report_due
        self._queue: queue.Queue = queue.Queue()
        self._held: set[str] = set()  # runs this process is checking: their leases to renew
        self._held_lock = threading.Lock()
        self._workers = Workers("step", self._next, count=workers, idle=0.0, stopping=stopping)
        self._workers.start()

    def start(self, draft_id: str, step: dict) -> None:
        with self._held_lock:
            self._held.add(draft_id)
        self._queue.put((draft_id, step))

    def renew(self) -> None:
        """Every 2 s, only while this process checks a run (no write transaction for nothing)."""
        with self._held_lock:
            if not self._held:
                return
        self._store.renew_step_leases(self._checker.owner, self._checker.lease)

    def resume(self) -> None:
        if self._stopping.is_set():
            return
        for step in self._store.claim_stranded_steps(self._checker.owner, self._checker.lease):
            log.info("step %s: its check was left by a process that stopped; checking it again", step["draft_id"])
            if step["checks"] > self.MAX_CHECKS:
                self._failed(step["draft_id"], f"the bot stopped {self.MAX_CHECKS} times while checking its inputs")
                continue
            self.start(step["draft_id"], step)

    def shutdown(self) -> None:
        try:
            self._store.release_steps(self._checker.owner)
        except Exception:
            log.exception("could not hand over the step checks in progress; others take them when their leases end")

    def _next(self) -> bool:
        try:
            draft_id, step = self._queue.get(timeout=0.5)
        except queue.Empty:
            return False
        try:
            self._run(draft_id, step)
        finally:
            with self._held_lock:
                self._held.discard(draft_id)
        return True

    def _run(self, draft_id: str, step: dict) -> None:
        budget = Budget(self._check_seconds, gate=self._gate, stopping=self._stopping)
        try:
            review = self._checker.review(instant_checks(form_of(step), self._optout_text), budget)
        except Abandoned:
            log.info("step %s: check abandoned, the process is stopping; another process checks it again", draft_id)
            return
        except Problems as exc:
            log.info("step %s has problems with %s", draft_id, ", ".join(exc.problems))
            self._failed(draft_id, problems_text(exc.problems))
            return
        except Exception:
            log.exception("checking step %s failed", draft_id)
            self._failed(draft_id, "something went wrong in the bot while checking the inputs (now in its log)")
            return
        record, numbers, media = draft_record(review)
        left_out = len(review.rejected) + len(review.suppressed)
        if self._store.step_checked(draft_id, record, numbers, media, left_out, self._review_seconds):
            log.info("step %s checked: %d numbers; its review is due in the channel", draft_id, len(numbers))
        self._on_report_due()

    def _failed(self, draft_id: str, why: str) -> None:
        self._store.step_failed(draft_id, why)
        self._on_report_due()


def expire(store, hours: float, on_report_due) -> int:
    """Every 5 s: reviews nobody decided in time are cancelled (and their workflows told)."""
    expired = store.expire_steps(EXPIRED.format(hours=hours))
    if expired:
        on_report_due()
    return len(expired)


# -- the review's buttons --------------------------------------------------------------------


def _pressed(body, services, respond) -> tuple[str, dict | None]:
    """Who pressed, and the run (None, told why, when it is not theirs to decide or is decided)."""
    user = body["user"]["id"]
    draft_id = str(body["actions"][0].get("value", ""))
    # A press just past the review's time does not send: it is cancelled first.
    expire(services.store, services.settings.step_review_hours, services.reporter.wake)
    step = services.store.find_step(draft_id) if draft_id else None
    if step is None:
        tell(respond, "This step is not known (any more); nothing was changed.")
        return user, None
    admins = services.permissions.admins
    if user != step["sent_by"] and user not in admins:
        tell(
            respond,
            refusal(f"Only <@{step['sent_by']}> (or an admin) can decide this; nothing was changed.", user, admins),
        )
        return user, None
    if step["state"] != STEP_REVIEWING:
        tell(respond, ALREADY)
        return user, None
    return user, step


def step_send_clicked(ack, body, respond, context) -> None:
    """The decision and the send are one transaction: a double click, or both people at once, send once."""
    ack()
    services = context["services"]
    user, step = _pressed(body, services, respond)
    if step is None:
        return
    draft_id, sent_by, total = step["draft_id"], step["sent_by"], step["total"] or 0
    assessment = services.allowance(sent_by, total)  # again: other sends may have counted since the review
    why_not = assessment.problem
    if not services.permissions.can_send(sent_by):
        why_not = "the person it sends for can no longer send MMS (an admin removed them from the list)"
    if why_not:
        if not services.store.step_decided(draft_id, user, STEP_REFUSED, why_not):
            tell(respond, ALREADY)
        services.reporter.wake()
        return
    media = services.store.step_media(draft_id)
    with services.store.transaction() as tx:
        if not services.store.step_decided(draft_id, user, None, tx=tx):
            tell(respond, ALREADY)
            return
        if assessment.approval:
            approval_id = services.store.create_approval(
                draft_id,
                sent_by,
                step["channel_id"],
                step["review"],
                step["numbers"],
                media,
                assessment.approval,
                services.settings.approval_hours * 3600,
                tx=tx,
            )
            services.store.step_send_recorded(draft_id, approval_id=approval_id, tx=tx)
        else:
            request = request_from_draft(draft_id, sent_by, step["channel_id"], step["review"], step["numbers"], media)
            send_id = services.dispatcher.record(request, tx=tx)
            services.store.step_send_recorded(draft_id, send_id=send_id, tx=tx)
    log.info("step %s: Send pressed; %d numbers", draft_id, total)
    services.reporter.wake()
    services.dispatcher.wake()


def step_cancel_clicked(ack, body, respond, context) -> None:
    ack()
    services = context["services"]
    user, step = _pressed(body, services, respond)
    if step is None:
        return
    if not services.store.step_decided(step["draft_id"], user, STEP_CANCELLED):
        tell(respond, ALREADY)
        return
    services.reporter.wake()
