"""Tells people in Slack how a send is going: a channel message, progress, then a thread summary.

If the bot cannot post in the channel (not a member, private channel, archived), the same reports go
to the sender by direct message, with a line saying how to invite the bot.
"""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sending.summary import summarise
from bot.slack.blocks import channel_message, results_csv, thread_summary
from bot.store import Store

log = logging.getLogger(__name__)

PROGRESS_EVERY = 2.0  # seconds between progress edits: chat.update is rate limited per channel


class SlackReporter:
    def __init__(self, client: WebClient, store: Store) -> None:
        self._client = client
        self._store = store
        self._last_progress: dict[int, float] = {}
        self._lock = threading.Lock()

    def send_started(self, send_id: int) -> None:
        summary = summarise(self._store, send_id)
        send = summary.send
        text, blocks = channel_message(summary)
        try:
            ts = self._post(send.channel_id, text, blocks)
            self._store.set_report(send_id, send.channel_id, ts)
            return
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown_error")
            log.warning("cannot post in %s (%s); reporting send %d by direct message", send.channel_id, error, send_id)
        note = _why_dm(error, send.channel_id)
        dm = self._client.conversations_open(users=send.user_id)["channel"]["id"]
        ts = self._post(dm, text, [{"type": "section", "text": {"type": "mrkdwn", "text": note}}] + blocks)
        self._store.set_report(send_id, dm, ts, note)

    def send_progressed(self, send_id: int) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last_progress.get(send_id, 0.0) < PROGRESS_EVERY:
                return
            self._last_progress[send_id] = now
        try:
            self._update(send_id)
        except SlackApiError as exc:
            log.warning("progress update for send %d failed: %s", send_id, exc.response.get("error"))

    def send_finished(self, send_id: int) -> None:
        with self._lock:
            self._last_progress.pop(send_id, None)
        summary = self._update(send_id)
        send = summary.send
        text, blocks, needs_file = thread_summary(summary)
        self._client.chat_postMessage(channel=send.report_channel, thread_ts=send.report_ts, text=text, blocks=blocks)
        if needs_file:
            self._client.files_upload_v2(
                channel=send.report_channel, thread_ts=send.report_ts, content=results_csv(summary),
                filename=f"mms-send-{send.id}-results.csv", title="Every number and what happened to it",
            )

    def _update(self, send_id: int):
        summary = summarise(self._store, send_id)
        send = summary.send
        if send.report_ts is None:
            raise RuntimeError(f"send {send_id} has no channel message to update")
        text, blocks = channel_message(summary)
        if send.report_note:
            blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": send.report_note}}] + blocks
        self._client.chat_update(channel=send.report_channel, ts=send.report_ts, text=text, blocks=blocks)
        return summary

    def _post(self, channel: str, text: str, blocks: list[dict]) -> str:
        try:
            return self._client.chat_postMessage(channel=channel, text=text, blocks=blocks)["ts"]
        except SlackApiError as exc:
            if exc.response.get("error") != "invalid_blocks":
                raise
            # An image Slack will not show (e.g. a file it cannot share here): post without images.
            plain = [b for b in blocks if b["type"] != "image"]
            return self._client.chat_postMessage(channel=channel, text=text, blocks=plain)["ts"]


def _why_dm(error: str, channel: str) -> str:
    if error in ("not_in_channel", "channel_not_found"):
        return (f":information_source: I couldn't post in <#{channel}> because I'm not a member of it (private channels need an "
                "invitation). Invite me with `/invite @MMS bot` in that channel; until then, results come here.")
    if error == "is_archived":
        return f":information_source: <#{channel}> is archived, so results come here."
    return f":information_source: I couldn't post in <#{channel}> (Slack said `{error}`), so results come here."
