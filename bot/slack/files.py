"""Download files people attached in the modal, sending the bot token to Slack's hosts only."""

from __future__ import annotations

import logging
from urllib.parse import urljoin, urlsplit

import httpx

log = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 20_000_000  # Slack's file_input takes files up to 10 MB
_MAX_REDIRECTS = 3


class FileDownloadError(Exception):
    """The file could not be fetched; the message is for a person."""


class SlackFileFetcher:
    def __init__(self, bot_token: str, api_url: str, timeout: float = 20.0) -> None:
        api = urlsplit(api_url)
        # The bot token may go to Slack's file host and to the Web API host we were configured with.
        self._trusted = {("https", "files.slack.com"), (api.scheme, api.netloc)}
        self._token = bot_token
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)

    def is_trusted(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme, parts.netloc) in self._trusted and not parts.username

    def fetch(self, url: str, max_bytes: int | None = None) -> bytes:
        for _ in range(_MAX_REDIRECTS + 1):
            if not self.is_trusted(url):
                log.warning("refused to send the bot token to %s", urlsplit(url).netloc or "an invalid address")
                raise FileDownloadError("The file is not hosted by Slack, so it was not downloaded.")
            try:
                with self._http.stream("GET", url, headers={"Authorization": f"Bearer {self._token}"}) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("Location", ""))
                        continue
                    if response.status_code != 200:
                        raise FileDownloadError(f"Slack would not give the file (HTTP {response.status_code}). Try attaching it again.")
                    content = _read_limited(response, max_bytes or MAX_DOWNLOAD_BYTES)
                    head = content[:512].lstrip().lower()
                    if "text/html" in response.headers.get("Content-Type", "") or head.startswith((b"<!doctype html", b"<html")):
                        # Slack answers a bad token or missing files:read scope with its login page.
                        raise FileDownloadError("Slack returned a web page instead of the file: the app may lack the files:read scope.")
                    return content
            except httpx.HTTPError as exc:
                log.warning("file download failed: %s", type(exc).__name__)
                raise FileDownloadError("The file could not be downloaded from Slack. Try again.") from None
        raise FileDownloadError("The file download was redirected too many times.")


def _read_limited(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FileDownloadError(f"The file is too large ({int(declared) / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB).")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise FileDownloadError(f"The file is too large (over {limit / 1e6:.0f} MB).")
        chunks.append(chunk)
    return b"".join(chunks)
