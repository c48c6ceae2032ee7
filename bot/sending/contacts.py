"""Turn what people type or paste into Australian mobile numbers the gateway will take.

Every number is kept in the 9-digit national form (``4xxxxxxxx``) because that is the form the
gateway answers with, whatever form was sent; de-duplication and matching use it too.
Files (CSV, TXT, Excel) are read in ``contact_files``; this module holds the number rules.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field

# Characters people (and word processors) put inside one number for readability: spaces of every
# width, zero-width marks, dashes of every length, brackets and dots. They carry no meaning.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_SPACES = " \u00a0\u2007\u2009\u202f\u2002\u2003\u2004\u2005\u2006\u2008\u200a\u3000"
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
_DECORATION = str.maketrans("", "", _INVISIBLE + _SPACES + _DASHES + "().\uff08\uff09")
# Entries are separated by commas, semicolons, line breaks, tabs or bars (spaces are handled apart:
# they can both group digits and separate numbers).
ENTRY_SEPARATORS = re.compile(r"[,;\n\r\t|\u2028\u2029\uff0c\uff1b]+")
_DIGITS = re.compile(r"[0-9]+")
# A token that could be (part of) a number: digits with optional leading + and decoration.
_NUMBERISH = re.compile(r"\+?[0-9()\-.]+")
# What a spreadsheet makes of a long number in a General-formatted cell: 4.12346E+08.
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+")
# The spellings nearly every list uses, matched in one step before the general rules.
_PLAIN = re.compile(r"(?:\+?61|0)?(4[0-9]{8})")
_LONGEST_FORM = 14  # "0061" + "0" + 9 digits, the longest spelling we accept


class InvalidNumber(ValueError):
    """An entry that is not an Australian mobile number; the message is for a person."""


@dataclass(frozen=True)
class Rejected:
    entry: str
    reason: str
    where: str = ""  # e.g. "row 12" for an entry from a file


@dataclass
class ContactList:
    numbers: list[str] = field(default_factory=list)  # national form, unique, first-seen order
    rejected: list[Rejected] = field(default_factory=list)
    duplicates: int = 0
    rows: dict[str, tuple[int, list[str]]] = field(default_factory=dict)  # number → (row, cells), when kept

    def merge(self, other: ContactList) -> ContactList:
        """Combine two inputs (text box and file) de-duplicating across them."""
        merged = ContactList(
            list(self.numbers),
            self.rejected + other.rejected,
            self.duplicates + other.duplicates,
            {**other.rows, **self.rows},
        )
        seen = set(merged.numbers)
        for number in other.numbers:
            if number in seen:
                merged.duplicates += 1
            else:
                seen.add(number)
                merged.numbers.append(number)
        return merged


def _ascii_digits(text: str) -> str:
    """Full-width and other scripts' decimal digits as 0-9, and a full-width plus as +."""
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
        elif ch == "\uff0b":
            out.append("+")
        else:
            value = unicodedata.decimal(ch, None)
            out.append(str(value) if value is not None else ch)
    return "".join(out)


def normalise(entry: str) -> str:
    """Return the national form of one entry, or raise InvalidNumber saying why not."""
    text = entry.strip()
    plain = _PLAIN.fullmatch(text)
    if plain:
        return plain.group(1)
    if not text.isascii():
        text = _ascii_digits(text)
    if _SCIENTIFIC.fullmatch(text.strip()):
        raise InvalidNumber(
            "a spreadsheet turned this number into scientific notation, which loses digits; "
            "format the column as Text and export again"
        )
    compact = text.translate(_DECORATION)
    if not compact:
        raise InvalidNumber("empty entry")
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not _DIGITS.fullmatch(digits):
        raise InvalidNumber("has letters or symbols in it; a mobile number is digits only")
    if plus:
        if not digits.startswith("61"):
            raise InvalidNumber(f"not an Australian number (+{digits[:2]}…); only +61 mobiles can be sent to")
        national = digits[2:]
    elif digits.startswith("0061"):
        national = digits[4:]  # dialled with the international prefix 00
    elif digits.startswith("61") and len(digits) >= 11:
        national = digits[2:]
    else:
        national = digits
    if national.startswith("0"):
        national = national[1:]  # 04xx xxx xxx, and +61 (0)4xx xxx xxx
    if len(national) < 9:
        raise InvalidNumber("too short for a mobile number (Australian mobiles have 10 digits, 04xx xxx xxx)")
    if len(national) > 9:
        raise InvalidNumber("too long for a mobile number (Australian mobiles have 10 digits, 04xx xxx xxx)")
    if national[0] != "4":
        raise InvalidNumber("not a mobile number (Australian mobiles start with 04)")
    return national


def e164(national: str) -> str:
    return "+61" + national


class SeenNumbers:
    """Which national numbers were seen: a set for short lists, a bitmap of every 4xxxxxxxx for long
    ones (12.5 MB, where a set of a million numbers costs 50 MB while it grows)."""

    _BITMAP_FROM = 100_000

    def __init__(self) -> None:
        self._set: set[str] | None = set()
        self._bits: bytearray | None = None

    def add(self, national: str) -> bool:
        """True if the number is new."""
        if self._set is not None:
            if national in self._set:
                return False
            self._set.add(national)
            if len(self._set) >= self._BITMAP_FROM:
                self._bits = bytearray(12_500_000)
                for number in self._set:
                    self._mark(number)
                self._set = None
            return True
        return self._mark(national)

    def _mark(self, national: str) -> bool:
        index = int(national) - 400_000_000
        byte, bit = index >> 3, 1 << (index & 7)
        if self._bits[byte] & bit:
            return False
        self._bits[byte] |= bit
        return True


class Collector:
    """Accumulates accepted numbers (de-duplicated) and refused entries with their reasons."""

    def __init__(self) -> None:
        self.result = ContactList()
        self._seen = SeenNumbers()

    def accept(self, national: str) -> bool:
        """True when the number is new (a duplicate is counted)."""
        if self._seen.add(national):
            self.result.numbers.append(national)
            return True
        self.result.duplicates += 1
        return False

    def reject(self, entry: str, reason: str, where: str = "") -> None:
        self.result.rejected.append(Rejected(entry.strip()[:200], reason, where))

    def entry(self, entry: str, where: str = "") -> None:
        try:
            self.accept(normalise(entry))
        except InvalidNumber as exc:
            self.reject(entry, str(exc), where)

    def cell(self, cell: str, row: int) -> str | None:
        """A spreadsheet cell; the row number is only formatted for a refusal. The number when it is new."""
        try:
            national = normalise(cell)
        except InvalidNumber as exc:
            self.reject(cell, str(exc), f"row {row}")
            return None
        return national if self.accept(national) else None

    def chunk(self, chunk: str, where: str = "") -> None:
        """One comma/line-separated chunk: a single number, or several separated by spaces."""
        chunk = chunk.strip().strip("\"'[]")
        if not chunk:
            return
        try:
            self.accept(normalise(chunk))
            return
        except InvalidNumber as whole_error:
            if not any(ch.isspace() for ch in chunk) or not any(ch.isdigit() for ch in chunk):
                self.reject(chunk, str(whole_error), where)
                return
        self._spaced(chunk.split(), where)

    def _spaced(self, tokens: list[str], where: str) -> None:
        # Spaces both group digits ("0400 000 000") and separate numbers ("0400000000 0411111111"):
        # join tokens left to right and take a number as soon as the joined text is one.
        pending: list[str] = []
        for token in tokens:
            if not _NUMBERISH.fullmatch(_ascii_digits(token).translate(_DECORATION) or "-"):
                self._flush(pending, where)
                pending = []
                self.entry(token, where)
                continue
            candidate = pending + [token]
            try:
                self.accept(normalise("".join(candidate)))
                pending = []
                continue
            except InvalidNumber:
                pass
            if pending:
                try:
                    number = normalise(token)  # the token is a number of its own: what came before was not
                except InvalidNumber:
                    number = None
                if number is not None or len(_digits_of(candidate)) > _LONGEST_FORM:
                    self._flush(pending, where)
                    pending = []
                    if number is not None:
                        self.accept(number)
                        continue
                    candidate = [token]
            pending = candidate
        self._flush(pending, where)

    def _flush(self, pending: list[str], where: str) -> None:
        if pending:
            self.entry(" ".join(pending), where)


def _digits_of(tokens: list[str]) -> str:
    return _ascii_digits("".join(tokens)).translate(_DECORATION).lstrip("+")


def parse_text(text: str) -> ContactList:
    """Numbers typed or pasted: separated by commas, semicolons, newlines or spaces, or a JSON array."""
    collector = Collector()
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except ValueError:
            items = None
        if isinstance(items, list):
            for item in items:
                if isinstance(item, (str, int)) and not isinstance(item, bool):
                    collector.entry(str(item))
                else:
                    collector.reject(json.dumps(item), "not a phone number")
            return collector.result
    for chunk in ENTRY_SEPARATORS.split(text):
        collector.chunk(chunk)
    return collector.result


def is_scientific(cell: str) -> bool:
    return bool(_SCIENTIFIC.fullmatch(cell.strip()))


def national_or_none(entry: str) -> str | None:
    """The 9-digit national form, or None when the entry is not an Australian mobile."""
    try:
        return normalise(entry)
    except InvalidNumber:
        return None


def looks_like_mobile(cell: str) -> bool:
    return national_or_none(cell) is not None
