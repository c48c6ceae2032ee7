"""Turn what people paste or upload into Australian mobile numbers the gateway will take.

Every number is kept in the 9-digit national form (``4xxxxxxxx``) because that is the form the
gateway answers with, whatever form was sent; de-duplication and matching use it too.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field

# Characters people put inside one number for readability; they carry no meaning.
_DECORATION = str.maketrans("", "", " -().\u00a0\u2009")
# Characters that separate entries from each other (spaces are handled apart: they can be either).
_ENTRY_SEPARATORS = re.compile(r"[,;\n\r\t|]+")
_DIGITS = re.compile(r"[0-9]+")
# A token that could be (part of) a number: digits with optional leading + and decoration.
_NUMBERISH = re.compile(r"\+?[0-9()\-.]+")
_LONGEST_FORM = 13  # "+610" + 9 digits, the longest spelling we accept


class InvalidNumber(ValueError):
    """An entry that is not an Australian mobile number; the message is for a person."""


@dataclass(frozen=True)
class Rejected:
    entry: str
    reason: str


@dataclass
class ContactList:
    numbers: list[str] = field(default_factory=list)  # national form, unique, first-seen order
    rejected: list[Rejected] = field(default_factory=list)
    duplicates: int = 0

    def merge(self, other: "ContactList") -> "ContactList":
        """Combine two inputs (text box and file) de-duplicating across them."""
        merged = ContactList(list(self.numbers), self.rejected + other.rejected, self.duplicates + other.duplicates)
        seen = set(merged.numbers)
        for number in other.numbers:
            if number in seen:
                merged.duplicates += 1
            else:
                seen.add(number)
                merged.numbers.append(number)
        return merged


def normalise(entry: str) -> str:
    """Return the national form of one entry, or raise InvalidNumber saying why not."""
    compact = entry.strip().translate(_DECORATION)
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


class _Collector:
    def __init__(self) -> None:
        self.result = ContactList()
        self._seen: set[str] = set()

    def accept(self, national: str) -> None:
        if national in self._seen:
            self.result.duplicates += 1
        else:
            self._seen.add(national)
            self.result.numbers.append(national)

    def reject(self, entry: str, reason: str) -> None:
        self.result.rejected.append(Rejected(entry.strip(), reason))

    def entry(self, entry: str) -> None:
        try:
            self.accept(normalise(entry))
        except InvalidNumber as exc:
            self.reject(entry, str(exc))

    def chunk(self, chunk: str) -> None:
        """One comma/line-separated chunk: a single number, or several separated by spaces."""
        chunk = chunk.strip().strip("\"'[]")
        if not chunk:
            return
        try:
            self.accept(normalise(chunk))
            return
        except InvalidNumber as whole_error:
            if " " not in chunk or not any(ch.isdigit() for ch in chunk):
                self.reject(chunk, str(whole_error))
                return
        self._spaced(chunk.split())

    def _spaced(self, tokens: list[str]) -> None:
        # Spaces both group digits ("0400 000 000") and separate numbers ("0400000000 0411111111"):
        # join tokens left to right and take a number as soon as the joined text is one.
        pending: list[str] = []
        for token in tokens:
            if not _NUMBERISH.fullmatch(token):
                self._flush(pending)
                pending = []
                self.entry(token)
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
                    self._flush(pending)
                    pending = []
                    if number is not None:
                        self.accept(number)
                        continue
                    candidate = [token]
            pending = candidate
        self._flush(pending)

    def _flush(self, pending: list[str]) -> None:
        if pending:
            self.entry(" ".join(pending))


def _digits_of(tokens: list[str]) -> str:
    return "".join(tokens).translate(_DECORATION).lstrip("+")


def parse_text(text: str) -> ContactList:
    """Numbers typed or pasted: separated by commas, semicolons, newlines or spaces, or a JSON array."""
    collector = _Collector()
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
    for chunk in _ENTRY_SEPARATORS.split(text):
        collector.chunk(chunk)
    return collector.result


def decode_upload(data: bytes) -> str:
    """Spreadsheet exports are UTF-8 (often with a BOM) or, from older Excel, Windows-1252."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def parse_csv(data: bytes) -> ContactList:
    """A CSV export: the column that holds the most numbers is used; a header row is skipped."""
    text = decode_upload(data)
    sample = text[:8192]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in row)]
    if not rows:
        return ContactList()
    column = _number_column(rows[:200])
    if not any(ch.isdigit() for ch in _cell(rows[0], column)):
        rows = rows[1:]  # a header such as "phone" or "Mobile number"
    collector = _Collector()
    for row in rows:
        cell = _cell(row, column)
        if cell.strip():
            collector.entry(cell)
    return collector.result


def _cell(row: list[str], column: int) -> str:
    return row[column] if column < len(row) else ""


def _number_column(rows: list[list[str]]) -> int:
    counts: dict[int, int] = {}
    for row in rows:
        for index, cell in enumerate(row):
            try:
                normalise(cell)
            except InvalidNumber:
                continue
            counts[index] = counts.get(index, 0) + 1
    return max(counts, key=lambda index: (counts[index], -index)) if counts else 0


def parse_file(filename: str, data: bytes) -> ContactList:
    """A contacts upload: .csv is read as columns, anything else (.txt) as free text."""
    if filename.lower().endswith(".csv"):
        return parse_csv(data)
    return parse_text(decode_upload(data))
