"""Files into Slack (the image as sent, the results CSV, the suppression list): Slack's three-step upload,
the bytes streamed from a temporary file or from memory, never doubled."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

import httpx

from bot.slack.reporting.calls import Later, SlackCalls


class Uploads:
    def __init__(self, calls: SlackCalls) -> None:
        self._calls = calls
        self._http = httpx.Client(timeout=60.0, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def upload(self, body: bytes | str, filename: str) -> str:
        """Steps one and two: the bytes (a path, or in memory) at the URL Slack hands out; the file's id."""
        length = os.path.getsize(body) if isinstance(body, str) else len(body)
        client = self._calls.client
        ticket = self._calls(client.files_getUploadURLExternal, filename=filename, length=length)
        try:
            if isinstance(body, str):
                with open(body, "rb") as stream:
                    response = self._http.post(
                        ticket["upload_url"], content=stream, headers={"Content-Length": str(length)}
                    )
            else:
                response = self._http.post(ticket["upload_url"], content=body)
        except httpx.HTTPError as exc:
            raise Later(f"upload: {type(exc).__name__}") from None
        if response.status_code != 200:
            raise Later(f"upload: HTTP {response.status_code}")
        return ticket["file_id"]

    def share(self, file_id: str, title: str, channel: str, thread_ts: str | None = None) -> None:
        """Step three: the uploaded file appears in the channel (or thread)."""
        where = {"channel_id": channel, **({"thread_ts": thread_ts} if thread_ts else {})}
        self._calls(self._calls.client.files_completeUploadExternal, files=[{"id": file_id, "title": title}], **where)


@contextmanager
def csv_file(write: Callable[[IO[str]], object]) -> Iterator[str]:
    """A CSV written row by row to a temporary file (never whole in memory); its path, deleted after."""
    with tempfile.NamedTemporaryFile("w+", suffix=".csv", encoding="utf-8-sig", newline="", delete=False) as out:
        path = out.name
        write(out)
    try:
        yield path
    finally:
        os.unlink(path)
