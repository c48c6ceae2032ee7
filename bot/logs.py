"""Logging that cannot leak: secrets and phone numbers are masked in every line, whoever logs it.

Masking at the formatter catches what libraries log too (slack_sdk at DEBUG logs request bodies).
"""

from __future__ import annotations

import logging
import re
import sys

# An Australian mobile in any common spelling, digits not part of a longer run.
_MOBILE = re.compile(r"(?<!\d)(?:\+?61[ -]?(?:\(0\)[ -]?)?|0)?4(?:[ ()-]?\d){5}((?:[ -]?\d){3})(?!\d)")
_TOKEN = re.compile(r"\b(?:xox[abposre]|xapp)-[A-Za-z0-9-]+")


def mask_number(match: re.Match) -> str:
    return "04xx xxx " + re.sub(r"\D", "", match.group(1))


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if len(secret) >= 6:
            text = text.replace(secret, "[redacted]")
    text = _TOKEN.sub("[redacted]", text)
    return _MOBILE.sub(mask_number, text)


class RedactingFormatter(logging.Formatter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
        self._secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


def configure_logging(level: str, secrets: list[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
