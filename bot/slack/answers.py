"""Answering a recipient from the thread: the Reply button on their reply, a small form, and the answer sent
to that one number the way every send goes (recorded first, within the rate limit, at most once: keyed by
the form's view, so a double submit or Slack's retry sends once), its outcome shown in the reply's thread.

Text alone goes as an SMS (``MMS_REPLY_AS``), with an image as an MMS. The image is fetched and prepared on
this module's worker, never before the ack; a failure there is said in the thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import replace

from slack_sdk.errors import SlackApiError

from bot.sending.budget import Budget, Gate, OutOfTime
from bot.sending.fields import FieldError, normalise_message
from bot.sending.gateway import MMS, SMS, MediaFile
from bot.sending.media import MediaError, prepare_media
from bot.sending.optouts import with_footer
from bot.sending.reports import Notice, ReportKind, answer_refused_key
from bot.sending.request import SendRequest
from bot.sending.review import FileRef
from bot.slack.blocks import ACTION_REPLY
from bot.slack.files import FileDownloadError
from bot.slack.kit import NOT_ON_THE_LIST, refusal, tell
from bot.slack.payload import file_ref, metadata, parse_id, state_values, text_value
from bot.slack.review import CANNOT_RECORD
from bot.slack.views import CALLBACK_REPLY_FORM, mask, notice_view, reply_form
from bot.workers import Workers

log = logging.getLogger(__name__)

CONVERSATION = 6  # messages shown in the form


def register(app) -> None:
    app.action(ACTION_REPLY)(reply_clicked)
    app.view(CALLBACK_REPLY_FORM)(answer_submitted)


def unanswerable(store, number: str) -> str | None:
    """Why a number cannot be answered: it opted out, or is suppressed for another reason."""
    entry = store.suppression_entry(number)
    if entry is None:
        return None
    return (
        f"{mask(number)} is on the suppression list ({entry['source']}), so it cannot be answered: the bot sends "
        "nothing more to it."
    )


def reply_clicked(ack, body, client, respond, context) -> None:
    """Opens the form for a person who may send; anyone else, and a number that opted out, is told why."""
    ack()
    services = context["services"]
    user = body["user"]["id"]

    if not services.permissions.can_send(user):
        tell(respond, refusal(NOT_ON_THE_LIST, user, services.permissions.admins))
        return
    reply_id = parse_id(str(body["actions"][0].get("value", "")))
    reply = services.store.find_reply(reply_id) if reply_id is not None else None
    if reply is None or reply["send_id"] is None:
        tell(respond, "This button no longer works (that reply is not known); nothing was sent.")
        return
    why = unanswerable(services.store, reply["number"])
    if why:
        tell(respond, why)
        return
    answered = services.store.get_send(reply["send_id"])
    conversation = services.store.conversation(answered.id, reply["number"], CONVERSATION)
    try:
        client.views_open(trigger_id=body["trigger_id"], view=reply_form(reply, answered, conversation))
    except SlackApiError as exc:
        log.warning("could not open the reply form: %s", exc.response.get("error"))
        tell(respond, "Slack would not open the reply form (it may have taken too long); press Reply again.")


def answer_submitted(ack, body, context) -> None:
    """Checked on the form (permission, text, opt-out), then recorded, or handed to the worker with its image."""
    services = context["services"]
    user = body["user"]["id"]
    view = body["view"]
    if not services.permissions.can_send(user):
        ack(response_action="errors", errors={"text": refusal(NOT_ON_THE_LIST, user, services.permissions.admins)})
        return
    reply_id = metadata(view).get("reply_id")
    reply = services.store.find_reply(reply_id) if type(reply_id) is int else None
    if reply is None or reply["send_id"] is None:
        ack(response_action="update", view=notice_view("Not sent", "That reply is no longer known; nothing was sent."))
        return
    values = state_values(view)
    try:
        text = with_footer(normalise_message(text_value(values, "text")), services.settings.optout_text)
    except FieldError as exc:
        ack(response_action="errors", errors={"text": str(exc)})
        return
    why = unanswerable(services.store, reply["number"])
    if why:
        ack(response_action="errors", errors={"text": why})
        return
    answered = services.store.get_send(reply["send_id"])
    image = file_ref(values, "media")
    request = SendRequest(
        key=f"answer-{view.get('id') or reply['id']}",
        user_id=user,
        channel_id=answered.channel_id,
        message=text,
        sender=answered.sender,  # the same number, so the conversation stays on it
        gif_url=None,
        media=None,
        media_note="",
        numbers=[reply["number"]],
        dry_run=bool(answered.dry_run),
        medium=MMS if image or services.settings.reply_as == MMS else SMS,
        answer_to=reply["id"],
    )
    if image is not None:
        ack(response_action="clear")
        services.answers.start(request, image, answered.id)
        return
    try:
        services.dispatcher.record(request)  # None when this form was recorded before: sent once
    except Exception:
        log.exception("could not record an answer to reply %d", reply["id"])
        ack(response_action="errors", errors={"text": CANNOT_RECORD.format(what="this answer")})
        return
    ack(response_action="clear")


class AnswerImages:
    """An answer's image, fetched from Slack and made to fit on a worker thread; then the answer is recorded.
    A file that cannot be used is said in the thread of the reply being answered (nothing is sent)."""

    def __init__(self, checker, dispatcher, store, *, check_seconds: float, stopping: threading.Event, on_report_due):
        self._checker = checker
        self._dispatcher = dispatcher
        self._store = store
        self._check_seconds = check_seconds
        self._gate = Gate(1)
        self._stopping = stopping
        self._on_report_due = on_report_due
        self._queue: queue.Queue = queue.Queue()
        self._workers = Workers("answer", self._next, count=1, idle=0.0, stopping=stopping)
        self._workers.start()

    def start(self, request: SendRequest, image: FileRef, answered_send: int) -> None:
        self._queue.put((request, image, answered_send))

    def _next(self) -> bool:
        try:
            request, image, answered_send = self._queue.get(timeout=0.5)
        except queue.Empty:
            return False
        budget = Budget(self._check_seconds, gate=self._gate, stopping=self._stopping)
        try:
            with budget.heavy():
                media = prepare_media(image.name, self._checker.fetch(image, budget), budget)
        except (FileDownloadError, MediaError) as exc:
            self._not_sent(request, answered_send, str(exc))
            return True
        except OutOfTime as exc:
            self._not_sent(request, answered_send, f"reading {image.name} took longer than {exc.seconds:g} seconds")
            return True
        try:
            self._dispatcher.record(
                replace(
                    request,
                    media=MediaFile(media.filename, media.content, media.content_type),
                    media_note=media.note if media.reencoded else "",
                )
            )
        except Exception:
            log.exception("could not record an answer to reply %s", request.answer_to)
            self._not_sent(request, answered_send, "the bot could not record it (its database refused); try again")
        return True

    def _not_sent(self, request: SendRequest, answered_send: int, why: str) -> None:
        log.info("an answer to reply %s was not sent: its image could not be used", request.answer_to)
        text = f":warning: <@{request.user_id}>'s answer to {mask(request.numbers[0])} was not sent: {why}"
        self._store.report_due(answer_refused_key(request.key), answered_send, ReportKind.NOTICE, Notice(text))
        self._on_report_due()
