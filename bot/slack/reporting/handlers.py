"""What each kind of report shows in Slack: one handler per kind, registered by kind. Handlers render and
deliver; what follows from a delivery (a send reported, its CSV due) is the store's to decide."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.sending.records import SendRecord
from bot.sending.reports import ApprovalReport, FileFor, Notice, ReplyReport, Report, ReportKind, StepReport
from bot.sending.states import APPROVAL_WAITING, SEND_OPEN, STEP_CHECKING, STEP_FINISHED, STEP_REVIEWING
from bot.sending.summary import summarise
from bot.slack.blocks import (
    approval_message,
    notice,
    reply_message,
    results_csv,
    step_message,
    thread_summary,
    write_suppression_csv,
)
from bot.slack.reporting.calls import Refused, SlackCalls
from bot.slack.reporting.fallbacks import SendMessages
from bot.slack.reporting.uploads import Uploads, csv_file

log = logging.getLogger(__name__)

IMAGE_TITLE = "The image as it was sent"
CSV_TITLE = "Every number and what happened to it"


class Handlers:
    def __init__(
        self,
        calls: SlackCalls,
        store,
        uploads: Uploads,
        *,
        approvals_channel: str | None = None,
        approvers: frozenset[str] = frozenset(),
    ) -> None:
        self._calls = calls
        self._store = store
        self._uploads = uploads
        self._approvals_channel = approvals_channel
        self._approvers = approvers
        self._messages = SendMessages(calls, store)
        # A send's reports, by kind (each gets the send as it is now, and the report).
        self._for_send: dict[ReportKind, Callable[[SendRecord, Report], None]] = {
            ReportKind.POST: lambda send, report: None,  # ensure_posted (below) is all it takes
            ReportKind.IMAGE: self._image,
            ReportKind.SCHEDULE: lambda send, report: self._messages.update(send),  # started, or cancelled
            ReportKind.PROGRESS: self._progress,
            ReportKind.DELIVERY: lambda send, report: self._messages.update(send),
            ReportKind.SUMMARY: self._summary,
            ReportKind.CSV: self._results_csv,
            ReportKind.NOTICE: self._send_notice,
            ReportKind.REPLY: self._send_reply,
        }
        # Reports that belong to no send: a reply nobody was sent to, a notice, a CSV for a person.
        self._standalone: dict[ReportKind, Callable[[Report], None]] = {
            ReportKind.NOTICE: self._standalone_notice,
            ReportKind.REPLY: self._standalone_reply,
            ReportKind.SEND_CSV: self._send_csv_for,
            ReportKind.SUPPRESSION_CSV: self._suppression_csv_for,
            ReportKind.APPROVAL: self._approval,
            ReportKind.STEP: self._step,
        }

    def deliver(self, report: Report) -> None:
        if report.send_id is None:
            handler = self._standalone.get(report.kind)
            if handler is None:
                log.error("a %s report without a send cannot be shown; dropped", report.kind)
                return
            handler(report)
            return
        handler = self._for_send.get(report.kind)
        if handler is None:
            log.error("a %s report of send %d cannot be shown; dropped", report.kind, report.send_id)
            return
        handler(self._messages.ensure_posted(self._store.get_send(report.send_id)), report)

    # -- a send's reports ----------------------------------------------------------------------

    def _image(self, send: SendRecord, report: Report) -> None:
        media = self._store.get_media(send.id)
        if media is not None:
            self._into_thread(send, self._uploads.upload(media, send.media_name or "image.jpg"), IMAGE_TITLE)

    def _progress(self, send: SendRecord, report: Report) -> None:
        if send.state == SEND_OPEN:
            self._messages.update(send)

    def _summary(self, send: SendRecord, report: Report) -> None:
        send = self._messages.update(send)
        if send.answer_to is not None:  # an answer's one message says its outcome: no summary, no CSV
            self._store.summary_delivered(send.id, False)
            return
        rendered = thread_summary(summarise(self._store, send.id))
        self._messages.in_thread(send, rendered.text, rendered.blocks)
        self._store.summary_delivered(send.id, rendered.left_out)

    def _results_csv(self, send: SendRecord, report: Report) -> None:
        with csv_file(lambda out: results_csv(self._store, send.id, out)) as path:
            self._into_thread(send, self._uploads.upload(path, f"mms-send-{send.id}-results.csv"), CSV_TITLE)

    def _send_notice(self, send: SendRecord, report: Report) -> None:
        payload = report.payload
        self._messages.in_thread(send, *notice(payload.text if isinstance(payload, Notice) else ""))

    def _send_reply(self, send: SendRecord, report: Report) -> None:
        assert isinstance(report.payload, ReplyReport)
        self._messages.in_thread(send, *reply_message(self._store.get_reply(report.payload.reply_id)))

    def _into_thread(self, send: SendRecord, file_id: str, title: str) -> None:
        """The bytes are up already: if the thread is gone, only where the file is shared changes."""
        self._messages.anywhere(
            send, lambda where: self._uploads.share(file_id, title, where.report_channel, where.report_ts)
        )

    # -- reports of no send --------------------------------------------------------------------

    def _standalone_notice(self, report: Report) -> None:
        payload = report.payload
        assert isinstance(payload, Notice)
        channel = payload.channel or (self._calls.dm(payload.user_id) if payload.user_id else None)
        self._post(report, channel, *notice(payload.text))

    def _standalone_reply(self, report: Report) -> None:
        payload = report.payload
        assert isinstance(payload, ReplyReport)
        self._post(report, payload.channel, *reply_message(self._store.get_reply(payload.reply_id)))

    def _post(self, report: Report, channel: str | None, text: str, blocks: list[dict]) -> None:
        if not channel:
            return
        try:
            self._calls(self._calls.client.chat_postMessage, channel=channel, text=text, blocks=blocks)
        except Refused as refused:
            log.error(
                "Slack refused a %s for %s (%s); check MMS_REPLIES_CHANNEL and invite the bot there",
                report.kind,
                channel,
                refused.error,
            )

    def _send_csv_for(self, report: Report) -> None:
        payload = report.payload
        assert isinstance(payload, FileFor) and payload.send_id is not None
        send_id = payload.send_id
        with csv_file(lambda out: results_csv(self._store, send_id, out)) as path:
            file_id = self._uploads.upload(path, f"mms-send-{send_id}-results.csv")
            self._uploads.share(file_id, f"Send {send_id}: every number", self._calls.dm(payload.user_id))

    def _suppression_csv_for(self, report: Report) -> None:
        payload = report.payload
        assert isinstance(payload, FileFor)
        with csv_file(lambda out: write_suppression_csv(self._store.iter_suppressions(), out)) as path:
            file_id = self._uploads.upload(path, "mms-suppression-list.csv")
            self._uploads.share(file_id, "Every suppressed number", self._calls.dm(payload.user_id))

    # -- approval requests -----------------------------------------------------------------------

    def _approval(self, report: Report) -> None:
        """Posted to MMS_APPROVALS_CHANNEL (or each approver's DM) and to the requester's DM, once each (what was
        posted is recorded as it goes, so a retry posts only what is missing); once decided, every copy shows it."""
        payload = report.payload
        assert isinstance(payload, ApprovalReport)
        approval = self._store.find_approval(payload.approval_id)
        if approval is None:
            return
        posts = [list(post) for post in approval["posts"]]
        posted = {post[0] for post in posts}
        missing = [target for target in self._approval_targets(approval) if target[0] not in posted]
        media = self._store.approval_media(approval["id"]) if missing else None  # read once, shared in each copy
        for channel, for_requester in missing:
            text, blocks = approval_message(approval, for_requester)
            try:
                ts = self._calls(self._calls.client.chat_postMessage, channel=channel, text=text, blocks=blocks)["ts"]
            except Refused as refused:
                log.error("Slack refused approval request %d in %s (%s)", approval["id"], channel, refused.error)
                continue
            posts.append([channel, ts, for_requester])
            self._store.set_approval_posts(approval["id"], posts)
            if media is not None:
                file_id = self._uploads.upload(media, approval["review"].get("media_name") or "image.jpg")
                self._uploads.share(file_id, IMAGE_TITLE, channel, ts)
        if approval["state"] != APPROVAL_WAITING:
            for channel, ts, for_requester in posts:
                text, blocks = approval_message(approval, for_requester)
                try:
                    self._calls(self._calls.client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks)
                except Refused as refused:  # deleted, or the channel archived: the other copies still say it
                    log.warning(
                        "could not update approval request %d in %s (%s)", approval["id"], channel, refused.error
                    )

    def _approval_targets(self, approval: dict) -> list[tuple[str, bool]]:
        """(channel, whether it is the requester's copy): the approvers' channel or DMs, then the requester."""
        if self._approvals_channel:
            targets = [(self._approvals_channel, False)]
        else:
            targets = [
                (self._calls.dm(user), False) for user in sorted(self._approvers) if user != approval["requester"]
            ]
        return targets + [(self._calls.dm(approval["requester"]), True)]

    # -- Workflow Builder steps --------------------------------------------------------------------

    def _step(self, report: Report) -> None:
        """The step's review posted in its channel (its image in the thread), then kept up to date; once the
        step is finished, the workflow is told, once. A review nobody can see (the bot cannot post there)
        fails the step, with what to do."""
        payload = report.payload
        assert isinstance(payload, StepReport)
        step = self._store.find_step(payload.draft_id)
        if step is None or step["state"] == STEP_CHECKING:
            return
        draft_id, channel = step["draft_id"], step["channel_id"]
        text, blocks = step_message(step)
        if step["review_ts"] is None:
            try:
                ts = self._calls(self._calls.client.chat_postMessage, channel=channel, text=text, blocks=blocks)["ts"]
            except Refused as refused:
                log.error("Slack refused step %s's message in %s (%s)", draft_id, channel, refused.error)
                if step["state"] == STEP_REVIEWING:
                    self._store.step_failed(draft_id, cannot_post(channel, refused.error))  # due again: told next
                    return
            else:
                self._store.set_step_review_ts(draft_id, ts)
                media = self._store.step_media(draft_id)
                if media is not None:
                    file_id = self._uploads.upload(media, step["review"].get("media_name") or "image.jpg")
                    self._uploads.share(file_id, IMAGE_TITLE, channel, ts)
        else:
            try:
                self._calls(
                    self._calls.client.chat_update, channel=channel, ts=step["review_ts"], text=text, blocks=blocks
                )
            except Refused as refused:  # deleted, or the channel archived: the workflow is still told
                log.warning("could not update step %s's message in %s (%s)", draft_id, channel, refused.error)
        if step["state"] == STEP_FINISHED and step["completed_at"] is None:
            self._complete(step)

    def _complete(self, step: dict) -> None:
        """functions.completeSuccess with the outputs, or completeError with what went wrong. A refusal (the run
        is gone, already ended, or the outputs refused) is final: it is recorded and shown on the message."""
        execution, client = step["execution_id"], self._calls.client
        try:
            if step["error"]:
                error = f"Send an MMS could not go ahead: {step['error']}"
                self._calls(client.functions_completeError, function_execution_id=execution, error=error)
            else:
                self._calls(
                    client.functions_completeSuccess, function_execution_id=execution, outputs=step_outputs(step)
                )
        except Refused as refused:
            log.error("Slack refused to complete step %s (%s)", step["draft_id"], refused.error)
            self._store.step_completed(step["draft_id"], refused.error)
            if step["review_ts"]:
                text, blocks = step_message({**step, "completion_error": refused.error})
                try:
                    self._calls(
                        client.chat_update, channel=step["channel_id"], ts=step["review_ts"], text=text, blocks=blocks
                    )
                except Refused as again:
                    log.warning("could not update step %s's message (%s)", step["draft_id"], again.error)
            return
        self._store.step_completed(step["draft_id"])
        log.info("step %s completed: %s", step["draft_id"], step["outcome"] or "failed")


def step_outputs(step: dict) -> dict:
    """The manifest's output_parameters: send_id only when a send was made."""
    outputs = {"queued": int(step["queued"] or 0), "left_out": int(step["left_out"] or 0), "outcome": step["outcome"]}
    if step.get("send_id"):
        outputs["send_id"] = str(step["send_id"])
    return outputs


def cannot_post(channel: str, error: str) -> str:
    return (
        f"the bot cannot post its review in <#{channel}> ({error}): invite @mms-bot to that channel "
        "(/invite @mms-bot), or pick a channel it is in."
    )
