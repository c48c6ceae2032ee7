"""Personal messages: ``((first name))`` filled from the contacts file's columns, row by row.

A placeholder names a column as people write it: case, spaces, ``-`` and ``_`` do not matter, so
``((first name))`` fills from ``First_Name`` (as GOV.UK Notify matches them). ``((vip??Your seat is
kept.))`` shows its text when the row's ``vip`` cell says yes (yes, y, true or 1) and nothing otherwise.
A row whose cell is blank for a plain placeholder is left out, with its row number and why. Values are
sent as written; showing them to people (escaped) is the Slack layer's job.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

# (( name )) or (( name ?? optional text )): no brackets inside, something other than spaces in the name.
_PLACEHOLDER = re.compile(r"\(\(([^()?]*[^()?\s][^()?]*)(?:\?\?([^()]*))?\)\)")
_SEPARATORS = re.compile(r"[\s\-_]+")
YES = frozenset({"yes", "y", "true", "1"})


def column_key(name: str) -> str:
    """How a placeholder and a header are compared: without case, spaces, ``-`` or ``_``."""
    return _SEPARATORS.sub("", name).casefold()


@dataclass(frozen=True)
class Placeholder:
    name: str  # as written, trimmed
    optional: str | None  # the text shown when the cell says yes; None for a plain placeholder

    @property
    def key(self) -> str:
        return column_key(self.name)

    def __str__(self) -> str:
        return f"(({self.name}??{self.optional}))" if self.optional is not None else f"(({self.name}))"


class PlaceholderError(ValueError):
    """A placeholder that cannot be filled from this file; the message is for a person."""


class MissingValue(ValueError):
    """A row with a blank cell for a plain placeholder: that row is left out."""

    def __init__(self, placeholder: Placeholder) -> None:
        super().__init__(f"no value for {placeholder}")
        self.placeholder = placeholder


class Template:
    """A message split into text and placeholders, ready to render many rows fast."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.parts: list[str | Placeholder] = []
        at = 0
        for match in _PLACEHOLDER.finditer(message):
            if match.start() > at:
                self.parts.append(message[at : match.start()])
            optional = match.group(2)
            self.parts.append(Placeholder(match.group(1).strip(), optional if optional is not None else None))
            at = match.end()
        if at < len(message):
            self.parts.append(message[at:])

    @property
    def placeholders(self) -> list[Placeholder]:
        seen: dict[Placeholder, None] = {}
        for part in self.parts:
            if isinstance(part, Placeholder):
                seen.setdefault(part)
        return list(seen)

    @property
    def personal(self) -> bool:
        return any(isinstance(part, Placeholder) for part in self.parts)

    def columns(self, headers: Sequence[str], filename: str) -> dict[str, int]:
        """Placeholder key → column index; PlaceholderError naming the closest headers for one that matches none."""
        by_key: dict[str, int] = {}
        for index, header in enumerate(headers):
            by_key.setdefault(column_key(header), index)
        columns = {}
        for placeholder in self.placeholders:
            if placeholder.key in by_key:
                columns[placeholder.key] = by_key[placeholder.key]
                continue
            named = [h.strip() for h in headers if h.strip()]
            close = difflib.get_close_matches(placeholder.key, [column_key(h) for h in named], n=3, cutoff=0.5)
            closest = [h for h in named if column_key(h) in close] or named[:3]
            hint = f" The closest: {', '.join(closest)}." if closest else " It has no named columns."
            raise PlaceholderError(f"{placeholder} matches no column of {filename}.{hint}")
        return columns

    def render(self, cells: Sequence[str], columns: dict[str, int]) -> str:
        """This row's text; MissingValue when a plain placeholder's cell is blank."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            index = columns[part.key]
            value = cells[index].strip() if index < len(cells) else ""
            if part.optional is not None:
                out.append(part.optional if value.casefold() in YES else "")
            elif not value:
                raise MissingValue(part)
            else:
                out.append(value)
        return "".join(out)


@dataclass(frozen=True)
class Personalised:
    """What the review says of a personal send: how many texts, calls and seconds, examples, the longest."""

    distinct: int
    calls: int
    seconds: float
    examples: list[tuple[str, str]]  # (number, text) of the first rows
    longest: str


def group(numbers: Sequence[str], texts: Sequence[str], size: int) -> list[tuple[list[str], str]]:
    """Numbers with the same text share calls of at most ``size``, texts in the order they first appear."""
    by_text: dict[str, list[str]] = {}
    for number, text in zip(numbers, texts, strict=True):
        by_text.setdefault(text, []).append(number)
    return [
        (members[start : start + size], text)
        for text, members in by_text.items()
        for start in range(0, len(members), size)
    ]


def describe(numbers: Sequence[str], texts: Sequence[str], size: int, calls_per_second: float) -> Personalised:
    """``texts[i]`` is the text for ``numbers[i]``."""
    counts: dict[str, int] = {}
    for text in texts:
        counts[text] = counts.get(text, 0) + 1
    calls = sum(math.ceil(n / size) for n in counts.values())
    return Personalised(
        distinct=len(counts),
        calls=calls,
        seconds=calls / calls_per_second,
        examples=list(zip(numbers[:3], texts[:3], strict=True)),
        longest=max(counts, key=len) if counts else "",
    )
