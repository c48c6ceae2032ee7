"""The modal's submission: check, download, validate, record, acknowledge, hand off.

Everything before ack() must be quick (Slack allows 3 seconds); the send itself runs on the
dispatcher's own threads, never on Bolt's listener threads.
"""

from __future__ import annotations

import json
import logging

from slack_sdk.errors import SlackApiError

from bot.sending.dispatch import Dispatcher
from bot.sending.permissions import Permissions
from bot.sending.request import InvalidSubmission, SubmissionInput, Upload, build_send_request
from bot.slack.blocks import ACTION_RESEND, CALLBACK_SEND, VALUE
from bot.slack.files import FileDownloadError, SlackFileFetcher

log = logging.getLogger(__name__)


def register(app, permissions: Permissions, dispatcher: Dispatcher, fetcher: SlackFileFetcher) -> None:
    @app.view(CALLBACK_SEND)
    def submitted(ack, body, client):
        user = body["user"]["id"]
        view = body["view"]
        if not permissions.can_send(user):
            ack(response_action="errors", errors={"message": "You can no longer send MMS: an admin removed you from the list."})
            return
        values = view["state"]["values"]
        errors: dict[str, str] = {}
        uploads = {}
        for block_id in ("media", "contacts_file"):
            try:
                uploads[block_id] = _download(client, fetcher, values, block_id)
            except FileDownloadError as exc:
                errors[block_id] = str(exc)
        submission = SubmissionInput(
            key=view["id"],
            user_id=user,
            channel_id=_channel_of(view, user),
            message=_text(values, "message"),
            sender=_text(values, "sender"),
            gif_url=_text(values, "gif"),
            contacts_text=_text(values, "contacts"),
            contacts_file=uploads.get("contacts_file"),
            media=uploads.get("media"),
        )
        try:
            request = build_send_request(submission)
        except InvalidSubmission as exc:
            errors = {**exc.errors, **errors}
        if errors:
            ack(response_action="errors", errors=errors)
            return
        send_id = dispatcher.record(request)
        ack()
        if send_id is not None:
            dispatcher.start(send_id)

    @app.action(ACTION_RESEND)
    def resend(ack, body, respond):
        ack()
        user = body["user"]["id"]
        if not permissions.can_send(user):
            respond(text="You are not on the list of people who can send MMS.", response_type="ephemeral", replace_original=False)
            return
        send_id = int(body["actions"][0]["value"])
        new_id = dispatcher.resend(send_id, user)
        if new_id is None:
            respond(text="These numbers were already sent again (or nothing is left to resend); see the newer message in the channel.",
                    response_type="ephemeral", replace_original=False)


def _text(values: dict, block_id: str) -> str | None:
    return (values.get(block_id, {}).get(VALUE) or {}).get("value")


def _channel_of(view: dict, user: str) -> str:
    try:
        return json.loads(view.get("private_metadata") or "{}")["channel_id"]
    except (ValueError, KeyError):
        return user  # no channel recorded: report to the person directly


def _download(client, fetcher: SlackFileFetcher, values: dict, block_id: str) -> Upload | None:
    files = (values.get(block_id, {}).get(VALUE) or {}).get("files") or []
    if not files:
        return None
    info = files[0]
    url = info.get("url_private_download") or info.get("url_private")
    if not url:
        try:
            info = client.files_info(file=info["id"])["file"]
        except SlackApiError as exc:
            log.warning("files.info failed: %s", exc.response.get("error"))
            raise FileDownloadError("Slack would not share the file with the bot. Try attaching it again.") from None
        url = info.get("url_private_download") or info.get("url_private")
    return Upload(filename=info.get("name") or "upload", content=fetcher.fetch(url), ref=info.get("id", ""))
