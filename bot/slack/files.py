"""Download files people attached in the form, giving the bot token to Slack's hosts only.

Slack serves files from ``files.slack.com`` and may redirect to ``files-origin.slack.com``
(Enterprise Grid) or to its CDN under ``slack-edge.com`` (signed links: no token needed there).
A redirect anywhere else is not followed. A redirect to a workspace's sign-in page, or an HTML page
instead of the file, is how Slack says the app may not read files: the message names the scope.
"""

from __future__ import annotations

import logging
from urllib.parse import SplitResult, urljoin, urlsplit

import httpx

from bot.sending.budget import UNLIMITED, Budget

log = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 20_000_000  # images: Slack's file_input takes files up to 10 MB
_MAX_REDIRECTS = 5
NO_FILES_READ = (
    "Slack sent its sign-in page instead of the file: the app lacks the files:read scope. "
    "An admin must add files:read to the app (see manifest.yml) and reinstall it."
)


class FileDownloadError(Exception):
    """The file could not be fetched; the message is for a person."""


def _parts(url: str) -> SplitResult | None:
    """The URL's parts, or None for one that does not parse ("https://[/x": an unclosed IPv6 address)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a port that is not a number raises here
        return parts
    except ValueError:
        return None


def _host(url: str) -> str:
    parts = _parts(url)
    return (parts.hostname if parts else None) or "an invalid address"


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


class SlackFileFetcher:
    def __init__(self, bot_token: str, api_url: str, timeout: float = 20.0) -> None:
        api = urlsplit(api_url)
        self._api = (api.scheme, api.netloc)  # the Web API host we were configured with (tests: loopback)
        self._token = bot_token
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)

    def may_have_token(self, url: str) -> bool:
        """The token goes to https hosts under slack.com, and to the configured API host."""
        parts = _parts(url)
        if parts is None or parts.username or parts.password:
            return False
        return (parts.scheme, parts.netloc) == self._api or (
            parts.scheme == "https" and _under(parts.hostname or "", "slack.com")
        )

    def may_follow(self, url: str) -> bool:
        parts = _parts(url)
        if parts is None:
            return False
        return self.may_have_token(url) or (parts.scheme == "https" and _under(parts.hostname or "", "slack-edge.com"))

    def fetch(self, url: str, max_bytes: int | None = None, budget: Budget = UNLIMITED) -> bytes:
        """The file's bytes; the budget is looked at between chunks (OutOfTime, Abandoned go through)."""
        if not self.may_have_token(url):
            log.warning("refused to download a file from %s: not Slack", _host(url))
            raise FileDownloadError("The file is not hosted by Slack, so it was not downloaded.")
        for _ in range(_MAX_REDIRECTS + 1):
            headers = {"Authorization": f"Bearer {self._token}"} if self.may_have_token(url) else {}
            try:
                with self._http.stream("GET", url, headers=headers) as response:
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("Location", ""))
                        if _is_sign_in(target):
                            raise FileDownloadError(NO_FILES_READ)
                        if not self.may_follow(target):
                            log.warning(
                                "refused a file redirect to %s: not Slack",
                                _host(target),
                            )
                            raise FileDownloadError(
                                "Slack redirected the download away from Slack, so it was not followed."
                            )
                        url = target
                        continue
                    if response.status_code != 200:
                        raise FileDownloadError(
                            f"Slack would not give the file (HTTP {response.status_code}). Try attaching it again."
                        )
                    content = _read_limited(response, max_bytes or MAX_DOWNLOAD_BYTES, budget)
                    head = content[:512].lstrip().lower()
                    if "text/html" in response.headers.get("Content-Type", "") or head.startswith(
                        (b"<!doctype html", b"<html")
                    ):
                        raise FileDownloadError(NO_FILES_READ)
                    return content
            except httpx.HTTPError as exc:
                log.warning("file download failed: %s", type(exc).__name__)
                raise FileDownloadError("The file could not be downloaded from Slack. Try again.") from None
        raise FileDownloadError("The file download was redirected too many times.")


def _is_sign_in(url: str) -> bool:
    """``https://<workspace>.slack.com/?redir=…``: the sign-in page, where a file Slack won't give us points."""
    parts = _parts(url)
    if parts is None:
        return False
    host = parts.hostname or ""
    return (
        _under(host, "slack.com")
        and not host.startswith("files")
        and (parts.path in ("", "/") or "redir=" in parts.query)
    )


def _read_limited(response: httpx.Response, limit: int, budget: Budget = UNLIMITED) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FileDownloadError(
            f"The file is too large ({int(declared) / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB)."
        )
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        budget.check()
        size += len(chunk)
        if size > limit:
            raise FileDownloadError(f"The file is too large (over {limit / 1e6:.0f} MB).")
        chunks.append(chunk)
    return b"".join(chunks)
