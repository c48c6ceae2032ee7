"""Reading what Slack sends in a view submission, trusting nothing of its shape: a value of the wrong type,
a missing block or a private_metadata the bot did not write reads as empty, never as an error."""

from __future__ import annotations

import json

from bot.sending.review import FileRef
from bot.slack.views import VALUE


def as_object(value) -> dict:
    return value if isinstance(value, dict) else {}


def state_values(view: dict) -> dict:
    """``view.state.values``: block id → action id → element state."""
    return as_object(as_object(view.get("state")).get("values"))


def _element(values: dict, block_id: str, action_id: str = VALUE) -> dict:
    return as_object(as_object(values.get(block_id)).get(action_id))


def text_value(values: dict, block_id: str) -> str | None:
    value = _element(values, block_id).get("value")
    return value if isinstance(value, str) else None


def picked_time(values: dict, block_id: str) -> float | None:
    """A datetime picker's ``selected_date_time`` (its action id is its block id): epoch seconds, or None."""
    value = _element(values, block_id, block_id).get("selected_date_time")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 2**40:
        return None
    return float(value)


def file_ref(values: dict, block_id: str) -> FileRef | None:
    files = _element(values, block_id).get("files")
    if not isinstance(files, list) or not files or not isinstance(files[0], dict):
        return None
    info = files[0]
    url = info.get("url_private_download") or info.get("url_private")
    return FileRef(
        id=str(info.get("id") or ""), name=str(info.get("name") or "upload"), url=url if isinstance(url, str) else None
    )


def metadata(view: dict) -> dict:
    """The view's private_metadata as the bot wrote it (a JSON object), or {} for anything else."""
    raw = view.get("private_metadata")
    try:
        return as_object(json.loads(raw)) if isinstance(raw, str) and raw else {}
    except (ValueError, RecursionError):
        return {}


def parse_id(text: str) -> int | None:
    """A send's id as people type it: ASCII digits that fit the database's integer ("²" and 10**30 do not)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        return None
    return int(text)
