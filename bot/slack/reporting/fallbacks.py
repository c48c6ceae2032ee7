"""Slack's fallbacks, as one policy: where a send's messages go when Slack refuses where they were going.

- ``not_in_channel``, ``channel_not_found``, ``is_archived`` → the sender's DM, saying why;
- ``message_not_found``, ``cant_update_message``, ``thread_not_found`` → a new channel message carries on;
- ``invalid_blocks`` about images → the same message without image blocks (remembered for the send);
- anything else Slack calls malformed (a bug of ours) → logged, then a plain-text version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.sending.records import SendRecord
from bot.sending.summary import progress, summarise
from bot.slack.blocks import answer_message, channel_message
from bot.slack.kit import MAX_SECTION_TEXT, cut
from bot.slack.reporting.calls import Refused, SlackCalls

log = logging.getLogger(__name__)

DM_ERRORS = {"not_in_channel", "channel_not_found", "is_archived"}
GONE_ERRORS = {"message_not_found", "cant_update_message", "thread_not_found"}
MALFORMED_ERRORS = {"invalid_blocks", "msg_too_long", "invalid_arguments", "invalid_attachments"}
MOVED = ":information_source: The earlier message about this send was deleted, so it carries on here."


class SendMessages:
    """A send's channel message and its thread, wherever Slack lets them be."""

    def __init__(self, calls: SlackCalls, store) -> None:
        self._calls = calls
        self._store = store

    def ensure_posted(self, send: SendRecord) -> SendRecord:
        """The channel message exists (posting it now if not): everything else goes in its thread. An
        answer to a reply has no channel message of its own: its message goes in the reply's thread."""
        if send.report_ts:
            return send
        text, blocks = self._rendered(send)
        channel, thread = self._thread_of(send)
        try:
            ts = self._post(send, channel, text, blocks, thread)
            self._store.set_report(send.id, channel, ts)
        except Refused as refused:
            if refused.error not in DM_ERRORS:
                raise
            self._to_dm(send, refused.error)
        return self._store.get_send(send.id)

    def update(self, send: SendRecord) -> SendRecord:
        """The channel message shows the send as it is now."""
        text, blocks = self._rendered(send, send.report_note)
        try:
            self._call(
                send, self._client.chat_update, channel=send.report_channel, ts=send.report_ts, text=text, blocks=blocks
            )
            return send
        except Refused as refused:
            return self._carry_on(send, refused)

    def in_thread(self, send: SendRecord, text: str, blocks: list[dict]) -> None:
        self.anywhere(
            send,
            lambda where: self._call(
                where,
                self._client.chat_postMessage,
                channel=where.report_channel,
                thread_ts=where.report_ts,
                text=text,
                blocks=blocks,
            ),
        )

    def anywhere(self, send: SendRecord, deliver: Callable[[SendRecord], object]) -> None:
        """``deliver`` into the send's thread; when that thread or channel is gone, into where it carries on."""
        try:
            deliver(send)
        except Refused as refused:
            if refused.error not in GONE_ERRORS | DM_ERRORS:
                raise
            deliver(self._carry_on(send, refused))

    @property
    def _client(self):
        return self._calls.client

    def _to_dm(self, send: SendRecord, error: str, moved: bool = False) -> SendRecord:
        """Carry on in the sender's DM, saying why; the DM gets the channel message anew."""
        note = why_dm(error, send.channel_id, moved)
        log.warning("cannot use %s for send %d (%s); reporting by direct message", send.channel_id, send.id, error)
        dm = self._calls.dm(send.user_id)
        text, blocks = self._rendered(send, note)
        ts = self._post(send, dm, text, blocks)
        self._store.set_report(send.id, dm, ts, note)
        return self._store.get_send(send.id)

    def _carry_on(self, send: SendRecord, refused: Refused) -> SendRecord:
        """The message or channel went away mid-send: post anew (in the channel, or the DM)."""
        if refused.error in GONE_ERRORS:
            log.warning("the message of send %d is gone (%s); posting a new one", send.id, refused.error)
            text, blocks = self._rendered(send, MOVED)
            try:
                ts = self._post(send, send.report_channel, text, blocks)
                self._store.set_report(send.id, send.report_channel, ts, MOVED)
                return self._store.get_send(send.id)
            except Refused as again:
                refused = again
        if refused.error in DM_ERRORS and not send.report_channel.startswith("D"):
            return self._to_dm(send, refused.error, moved=True)
        raise refused

    def _rendered(self, send: SendRecord, note: str = "") -> tuple[str, list[dict]]:
        if send.answer_to is None:
            return channel_message(progress(self._store, send.id), note)
        number = self._store.get_reply(send.answer_to)["number"]
        return answer_message(summarise(self._store, send.id), number)  # its one number's reason, if it failed

    def _thread_of(self, send: SendRecord) -> tuple[str, str | None]:
        """Where a send's message goes: its channel; for an answer, the thread of the send it answers."""
        if send.answer_to is None:
            return send.channel_id, None
        answered = self._store.get_send(self._store.get_reply(send.answer_to)["send_id"])
        if answered.report_channel and answered.report_ts:
            return answered.report_channel, answered.report_ts
        return send.channel_id, None

    def _post(self, send: SendRecord, channel: str, text: str, blocks: list[dict], thread: str | None = None) -> str:
        kwargs = {"thread_ts": thread} if thread else {}
        return self._call(send, self._client.chat_postMessage, channel=channel, text=text, blocks=blocks, **kwargs)[
            "ts"
        ]

    def _call(self, send: SendRecord, method, **kwargs) -> dict:
        """Slack may refuse an image it cannot fetch: the same message without image blocks, from now on.
        A message Slack calls malformed for another reason (a bug of ours) goes out as plain text."""
        try:
            return self._calls(method, **kwargs)
        except Refused as refused:
            if refused.about_images:
                log.warning(
                    "Slack refused the image of send %d (%s); showing the message without it", send.id, refused.details
                )
                self._store.images_refused(send.id)
                kwargs["blocks"] = [b for b in kwargs["blocks"] if b.get("type") != "image"]
                return self._calls(method, **kwargs)
            if refused.error not in MALFORMED_ERRORS:
                raise
            log.error(
                "Slack refused the message of send %d (%s: %s); sending it as plain text",
                send.id,
                refused.error,
                refused.details,
            )
            kwargs.pop("blocks", None)
            kwargs["text"] = cut(kwargs.get("text", ""), MAX_SECTION_TEXT)
            return self._calls(method, **kwargs)


def why_dm(error: str, channel: str, moved: bool = False) -> str:
    lead = ":information_source: "
    if error in ("not_in_channel", "channel_not_found"):
        return (
            f"{lead}I couldn't post in <#{channel}> because I'm not a member of it (private channels need an "
            "invitation). Invite me with `/invite @mms-bot` in that channel; until then, results come here."
        )
    if error == "is_archived":
        return (
            f"{lead}<#{channel}> {'was archived during this send' if moved else 'is archived'}, so results come here."
        )
    return f"{lead}I couldn't post in <#{channel}> (Slack said `{error}`), so results come here."
