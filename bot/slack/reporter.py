"""Delivers what Slack must be told, from the store, until Slack accepts it.

What people must see (the channel message, progress, the image that was sent, the thread summary,
the results CSV, notices) becomes *due* in the store when it becomes true. The reporter claims due
reports (one send at a time, with this process's id and a lease) and delivers them in order, with
fallbacks chosen by Slack's answer:

- ``not_in_channel``, ``channel_not_found``, ``is_archived`` → the sender's DM, saying why;
- ``message_not_found``, ``cant_update_message``, ``thread_not_found`` → a new channel message carries on;
- ``invalid_blocks`` about images → the same message without image blocks (remembered for the send);
- ``invalid_auth``, ``token_revoked``, ``account_inactive`` → logged naming SLACK_BOT_TOKEN; reports
  stay due until a restart with a working token;
- 429 → after Retry-After; 5xx, timeouts and connection errors → backoff, for as long as it takes;
- anything else (a message Slack calls malformed) → logged, then a plain-text version.
Sending never waits for any of this.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from typing import IO
from urllib.error import URLError

import httpx
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sending.records import SendRecord
from bot.sending.summary import progress, summarise
from bot.slack.blocks import (
    channel_message,
    notice,
    reply_message,
    thread_summary,
    write_results_csv,
    write_suppression_csv,
)
from bot.slack.kit import MAX_SECTION_TEXT, cut
from bot.store import Report, Store

log = logging.getLogger(__name__)

DM_ERRORS = {"not_in_channel", "channel_not_found", "is_archived"}
GONE_ERRORS = {"message_not_found", "cant_update_message", "thread_not_found"}
AUTH_ERRORS = {"invalid_auth", "token_revoked", "account_inactive", "not_authed", "token_expired", "no_permission"}
MALFORMED_ERRORS = {"invalid_blocks", "msg_too_long", "invalid_arguments", "invalid_attachments"}
TRANSIENT_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
MAX_BACKOFF = 300.0


class Later(Exception):
    """Slack could not take it now: try again after ``retry_after`` seconds (429), else with backoff."""

    def __init__(self, error: str, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.retry_after = retry_after

    def delay(self, attempts: int) -> float:
        wait = self.retry_after if self.retry_after is not None else _backoff(attempts)
        return max(wait, 0.5)


class Refused(Exception):
    """Slack refused the call for a reason that a different call may get round."""

    def __init__(self, error: str, details: list[str]) -> None:
        super().__init__(error)
        self.error = error
        self.details = details

    @property
    def about_images(self) -> bool:
        return self.error == "invalid_blocks" and any("image" in d or "slack_file" in d for d in self.details)


class AuthFailed(Exception):
    pass


class SlackReporter:
    def __init__(
        self,
        client: WebClient,
        store: Store,
        instance_id: str,
        *,
        workers: int = 2,
        lease: float = 60.0,
        poll: float = 0.5,
        on_delivered: Callable[[str], None] = lambda kind: None,
        on_error: Callable[[str, str], None] = lambda method, error: None,
    ) -> None:
        self._client = client
        self._store = store
        self._owner = instance_id
        self._workers = workers
        self._lease = lease
        self._poll = poll
        self._on_delivered = on_delivered
        self._on_error = on_error
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._dm_channels: dict[str, str] = {}
        self.auth_error: str | None = None  # set when Slack refused the token: reports wait for a restart
        self._upload_http = httpx.Client(timeout=60.0, follow_redirects=False)

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        for index in range(self._workers):
            thread = threading.Thread(target=self._loop, name=f"report-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def stop(self, grace: float) -> None:
        self._stopping.set()
        self.wake()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._upload_http.close()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            if self.auth_error:
                self._stopping.wait(5.0)
                continue
            try:
                reports = self._store.claim_reports(self._owner, self._lease)
            except Exception:
                log.exception("could not read the reports due")
                self._stopping.wait(2.0)
                continue
            if not reports:
                with self._wake:
                    self._wake.wait(self._poll)
                continue
            try:
                self._deliver_all(reports)
            except (
                Exception
            ):  # the store refused to record a delivery (a full disk): the claims lapse, and it is redone
                log.exception("could not record what was delivered to Slack; trying again")
                self._stopping.wait(2.0)

    def _deliver_all(self, reports: list[Report]) -> None:
        """In order (post, image, progress, summary, csv, notices): a later one needs the earlier ones."""
        for index, report in enumerate(reports):
            try:
                self._deliver(report)
            except Later as later:
                delay = later.delay(report.attempts)
                log.info(
                    "report %s of send %s not delivered yet (%s); again in %.0f s",
                    report.kind,
                    report.send_id,
                    later.error,
                    delay,
                )
                for rest in reports[index:]:
                    self._store.report_retry(rest.id, delay, later.error)
                return
            except AuthFailed as exc:
                self.auth_error = str(exc)
                log.error(
                    "Slack refused the bot token (%s): check SLACK_BOT_TOKEN (reinstall the app if it was revoked) "
                    "and restart; the bot's reports wait until then",
                    exc,
                )
                for rest in reports[index:]:
                    self._store.report_retry(rest.id, 0.0, str(exc))
                return
            except Exception as exc:
                log.exception("report %s of send %s failed", report.kind, report.send_id)
                self._store.report_retry(report.id, _backoff(report.attempts), f"{type(exc).__name__}: {exc}")
                for rest in reports[index + 1 :]:
                    self._store.report_retry(rest.id, _backoff(report.attempts), "waiting for an earlier report")
                return
            self._store.report_done(report.id)
            self._on_delivered(report.kind)

    # -- what each report does ---------------------------------------------------------------

    def _deliver(self, report: Report) -> None:
        if report.send_id is None:
            return self._standalone(report)
        send = self._store.get_send(report.send_id)
        if report.kind == "post":
            self._ensure_posted(send)
        elif report.kind == "image":
            send = self._ensure_posted(send)
            self._upload_into_thread(
                send, lambda s: self._store.get_media(s.id), send.media_name or "image.jpg", "The image as it was sent"
            )
        elif report.kind == "progress":
            if send.state == "open":
                self._update(self._ensure_posted(send))
        elif report.kind == "delivery":
            self._update(self._ensure_posted(send))  # the channel message's delivery counts
        elif report.kind == "summary":
            send = self._update(self._ensure_posted(send))
            summary = summarise(self._store, send.id)
            text, blocks, needs_csv = thread_summary(summary)
            self._in_thread(send, text, blocks)
            with self._store.transaction() as tx:  # reported, and its CSV due, or neither
                self._store.mark_reported(send.id, tx=tx)
                if needs_csv:
                    self._store.report_due(f"csv:{send.id}", send.id, "csv", tx=tx)
        elif report.kind == "csv":
            send = self._ensure_posted(send)
            self._upload_csv(send)
        elif report.kind == "notice":
            text, blocks = notice(report.payload.get("text", ""))
            self._in_thread(self._ensure_posted(send), text, blocks)
        elif report.kind == "reply":
            text, blocks = reply_message(self._store.get_reply(report.payload["reply_id"]))
            self._in_thread(self._ensure_posted(send), text, blocks)
        else:
            log.error("unknown report kind %r; dropped", report.kind)

    def _standalone(self, report: Report) -> None:
        """Reports that belong to no send: a reply nobody was sent to, a notice, a CSV for a person."""
        payload = report.payload
        if report.kind == "reply":
            text, blocks = reply_message(self._store.get_reply(payload["reply_id"]))
        elif report.kind == "suppression_csv":
            return self._suppression_csv(payload["user_id"])
        elif report.kind == "send_csv":
            return self._send_csv(payload["user_id"], payload["send_id"])
        else:
            text, blocks = notice(payload.get("text", ""))
        channel = payload.get("channel") or (self._dm(payload["user_id"]) if payload.get("user_id") else None)
        if channel:
            try:
                self._call("chat_postMessage", channel=channel, text=text, blocks=blocks)
            except Refused as refused:
                log.error(
                    "Slack refused a %s for %s (%s); check MMS_REPLIES_CHANNEL and invite the bot there",
                    report.kind,
                    channel,
                    refused.error,
                )

    def _send_csv(self, user_id: str, send_id: int) -> None:
        self._with_csv(
            lambda out: write_results_csv(self._store.iter_recipients(send_id), out),
            lambda path: self._share(
                self._upload(path, f"mms-send-{send_id}-results.csv"),
                f"Send {send_id}: every number",
                self._dm(user_id),
            ),
        )

    def _suppression_csv(self, user_id: str) -> None:
        self._with_csv(
            lambda out: write_suppression_csv(self._store.iter_suppressions(), out),
            lambda path: self._share(
                self._upload(path, "mms-suppression-list.csv"), "Every suppressed number", self._dm(user_id)
            ),
        )

    @staticmethod
    def _with_csv(write: Callable[[IO[str]], object], upload: Callable[[str], None]) -> None:
        """A CSV written row by row to a temporary file (never whole in memory), uploaded, then deleted."""
        with tempfile.NamedTemporaryFile("w+", suffix=".csv", encoding="utf-8-sig", newline="", delete=False) as out:
            path = out.name
            write(out)
        try:
            upload(path)
        finally:
            os.unlink(path)

    def _ensure_posted(self, send: SendRecord) -> SendRecord:
        """The channel message exists (posting it now if not): everything else goes in its thread."""
        if send.report_ts:
            return send
        text, blocks = channel_message(progress(self._store, send.id))
        try:
            ts = self._post(send, send.channel_id, text, blocks)
            self._store.set_report(send.id, send.channel_id, ts)
        except Refused as refused:
            if refused.error not in DM_ERRORS:
                raise
            self._to_dm(send, refused.error)
        return self._store.get_send(send.id)

    def _to_dm(self, send: SendRecord, error: str, moved: bool = False) -> SendRecord:
        """Carry on in the sender's DM, saying why; the DM gets the channel message anew."""
        note = why_dm(error, send.channel_id, moved)
        log.warning("cannot use %s for send %d (%s); reporting by direct message", send.channel_id, send.id, error)
        dm = self._dm(send.user_id)
        text, blocks = channel_message(progress(self._store, send.id), note)
        ts = self._post(send, dm, text, blocks)
        self._store.set_report(send.id, dm, ts, note)
        return self._store.get_send(send.id)

    def _update(self, send: SendRecord) -> SendRecord:
        text, blocks = channel_message(progress(self._store, send.id), send.report_note)
        try:
            self._call_with_images(
                send, "chat_update", channel=send.report_channel, ts=send.report_ts, text=text, blocks=blocks
            )
            return send
        except Refused as refused:
            return self._carry_on(send, refused)

    def _carry_on(self, send: SendRecord, refused: Refused) -> SendRecord:
        """The message or channel went away mid-send: post anew (in the channel, or the DM)."""
        if refused.error in GONE_ERRORS:
            note = ":information_source: The earlier message about this send was deleted, so it carries on here."
            log.warning("the message of send %d is gone (%s); posting a new one", send.id, refused.error)
            text, blocks = channel_message(progress(self._store, send.id), note)
            try:
                ts = self._post(send, send.report_channel, text, blocks)
                self._store.set_report(send.id, send.report_channel, ts, note)
                return self._store.get_send(send.id)
            except Refused as again:
                refused = again
        if refused.error in DM_ERRORS and not send.report_channel.startswith("D"):
            return self._to_dm(send, refused.error, moved=True)
        raise refused

    def _in_thread(self, send: SendRecord, text: str, blocks: list[dict]) -> None:
        try:
            self._call_with_images(
                send,
                "chat_postMessage",
                channel=send.report_channel,
                thread_ts=send.report_ts,
                text=text,
                blocks=blocks,
            )
        except Refused as refused:
            if refused.error not in GONE_ERRORS | DM_ERRORS:
                raise
            send = self._carry_on(send, refused)
            self._call_with_images(
                send,
                "chat_postMessage",
                channel=send.report_channel,
                thread_ts=send.report_ts,
                text=text,
                blocks=blocks,
            )

    def _post(self, send: SendRecord, channel: str, text: str, blocks: list[dict]) -> str:
        return self._call_with_images(send, "chat_postMessage", channel=channel, text=text, blocks=blocks)["ts"]

    def _call_with_images(self, send: SendRecord, method: str, **kwargs) -> dict:
        """Slack may refuse an image it cannot fetch: the same message without image blocks, from now on.
        A message Slack calls malformed for another reason (a bug of ours) goes out as plain text."""
        try:
            return self._call(method, **kwargs)
        except Refused as refused:
            if refused.about_images:
                log.warning(
                    "Slack refused the image of send %d (%s); showing the message without it", send.id, refused.details
                )
                self._store.images_refused(send.id)
                kwargs["blocks"] = [b for b in kwargs["blocks"] if b.get("type") != "image"]
                return self._call(method, **kwargs)
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
            return self._call(method, **kwargs)

    def _dm(self, user_id: str) -> str:
        if user_id not in self._dm_channels:
            self._dm_channels[user_id] = self._call("conversations_open", users=user_id)["channel"]["id"]
        return self._dm_channels[user_id]

    def _upload_csv(self, send: SendRecord) -> None:
        self._with_csv(
            lambda out: write_results_csv(self._store.iter_recipients(send.id), out),
            lambda path: self._upload_into_thread(
                send, lambda s: path, f"mms-send-{send.id}-results.csv", "Every number and what happened to it"
            ),
        )

    def _upload_into_thread(
        self, send: SendRecord, content: Callable[[SendRecord], bytes | str | None], filename: str, title: str
    ) -> None:
        body = content(send)
        if body is None:
            return
        file_id = self._upload(body, filename)
        try:
            self._share(file_id, title, send.report_channel, send.report_ts)
        except Refused as refused:
            if refused.error not in GONE_ERRORS | DM_ERRORS:
                raise
            send = self._carry_on(send, refused)
            self._share(
                file_id, title, send.report_channel, send.report_ts
            )  # the bytes are up already: only where changes

    def _upload(self, body: bytes | str, filename: str) -> str:
        """Slack's upload, steps one and two; the bytes are streamed from a file (a path) or memory, never doubled."""
        length = os.path.getsize(body) if isinstance(body, str) else len(body)
        ticket = self._call("files_getUploadURLExternal", filename=filename, length=length)
        try:
            if isinstance(body, str):
                with open(body, "rb") as stream:
                    response = self._upload_http.post(
                        ticket["upload_url"], content=stream, headers={"Content-Length": str(length)}
                    )
            else:
                response = self._upload_http.post(ticket["upload_url"], content=body)
        except httpx.HTTPError as exc:
            raise Later(f"upload: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise Later(f"upload: HTTP {response.status_code}")
        return ticket["file_id"]

    def _share(self, file_id: str, title: str, channel: str, thread_ts: str | None = None) -> None:
        """Step three: the uploaded file appears in the channel (or thread)."""
        where = {"channel_id": channel, **({"thread_ts": thread_ts} if thread_ts else {})}
        self._call("files_completeUploadExternal", files=[{"id": file_id, "title": title}], **where)

    # -- Slack's answers, sorted -------------------------------------------------------------

    def _call(self, method: str, **kwargs) -> dict:
        name = method.replace("_", ".", 1)  # chat_postMessage → chat.postMessage
        try:
            return getattr(self._client, method)(**kwargs).data
        except SlackApiError as exc:
            response = exc.response
            error = response.get("error") or f"http_{response.status_code}"
            self._on_error(name, error)
            if response.status_code == 429 or error == "ratelimited":
                raise Later(error, _seconds(response.headers.get("Retry-After"))) from None
            if response.status_code >= 500 or error in TRANSIENT_ERRORS:
                raise Later(error) from None
            if error in AUTH_ERRORS:
                raise AuthFailed(error) from None
            details = list(response.get("errors") or []) + list(
                (response.get("response_metadata") or {}).get("messages") or []
            )
            raise Refused(error, [str(d) for d in details]) from None
        except (URLError, TimeoutError, ConnectionError, OSError) as exc:
            self._on_error(name, type(exc).__name__)
            raise Later(type(exc).__name__) from None


def _seconds(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 1.0


def _backoff(attempts: int) -> float:
    """1, 2, 4 … seconds, at most five minutes, spread a little so that many reports don't retry at once."""
    return min(MAX_BACKOFF, 2.0 ** min(attempts, 9)) * random.uniform(0.8, 1.2)


def why_dm(error: str, channel: str, moved: bool = False) -> str:
    lead = ":information_source: "
    if error in ("not_in_channel", "channel_not_found"):
        return (
            f"{lead}I couldn't post in <#{channel}> because I'm not a member of it (private channels need an "
            "invitation). "
            "Invite me with `/invite @mms-bot` in that channel; until then, results come here."
        )
    if error == "is_archived":
        return (
            f"{lead}<#{channel}> {'was archived during this send' if moved else 'is archived'}, so results come here."
        )
    return f"{lead}I couldn't post in <#{channel}> (Slack said `{error}`), so results come here."
