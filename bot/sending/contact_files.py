"""Contacts files as people export them: CSV (comma, semicolon, tab), TXT, and Excel .xlsx.

Which column holds the numbers is decided by the header first (a person named it), and only
without one by the values: a column of customer ids can look just like a column of mobiles.
When the file does not say and several columns could be meant, the person is asked rather than
guessed for.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bot.sending.budget import UNLIMITED, Budget
from bot.sending.contacts import ENTRY_SEPARATORS, Collector, ContactList, is_scientific, looks_like_mobile

# Words in a header that name a phone column, strongest first: a "Mobile" column beats a "Phone"
# column (which may hold landlines), and both beat a "Number" or "Contact" column.
_MOBILE_WORDS = {"mobile", "mobiles", "mob", "msisdn", "cell", "cellphone", "mobilephone", "sms"}
_PHONE_WORDS = {"phone", "phones", "telephone", "tel", "ph"}
_WEAK_WORDS = {"number", "numbers", "no", "contact", "contacts"}
# Words that say a column is about something else, even beside a phone word ("Contact name").
_OTHER_WORDS = {
    "name",
    "email",
    "mail",
    "id",
    "type",
    "date",
    "address",
    "code",
    "ext",
    "extension",
    "country",
    "owner",
    "status",
}
_SAMPLE_ROWS = 1000
_CHECK_EVERY = 2000  # rows between two looks at the time budget

# A workbook is a zip: its parts are checked by their unpacked size before anything reads them (zipfile
# never unpacks a member past the size its header declares: it fails the CRC instead). The shared
# strings are read whole by openpyxl (about 160 bytes of memory a string); sheets are streamed.
XLSX_MAX_PART = 150_000_000  # bytes a part unpacks to (a 1,000,000-row sheet of two columns: ~115 MB)
XLSX_MAX_SHARED_STRINGS = 30_000_000  # ~1.1 million short strings, ~200 MB once read
XLSX_MAX_TOTAL = 250_000_000
XLSX_MAX_RATIO = 100  # unpacked ÷ packed, for parts over a megabyte: spreadsheets pack 5–20×, zip bombs 1,000×
XLSX_MAX_COLUMNS = 256  # columns read (IV, the old Excel's last): a cell declared at XFD pads no row to 16,384
_MOSTLY = 0.5  # share of a column's filled cells that must be mobiles for the column to hold them


class ContactsFileError(ValueError):
    """The file cannot be used as a list of numbers; the message is for a person."""


@dataclass(frozen=True)
class FileSource:
    """Where a file's numbers came from, in words for the review."""

    filename: str
    kind: str  # "CSV", "TXT", "Excel workbook"
    rows: int  # data rows read (a header excluded)
    column: int | None = None  # 0-based; None for free text
    header: str | None = None
    headers: tuple[str, ...] = ()  # the whole header row, when the file has one (placeholders name them)

    def describe(self) -> str:
        rows = f"{self.rows:,} row{'' if self.rows == 1 else 's'}"
        if self.column is None:
            return f"{self.filename} ({self.kind}, {rows})"
        name = f" “{self.header}”" if self.header else " (no header)"
        return f"{self.filename} ({self.kind}): column {column_letter(self.column)}{name}, {rows}"


@dataclass(frozen=True)
class FileLimits:
    max_bytes: int
    max_rows: int


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def parse_contacts_file(
    filename: str, data: bytes, limits: FileLimits, budget: Budget = UNLIMITED, keep_rows: bool = False
) -> tuple[ContactList, FileSource]:
    """The numbers of a file; with ``keep_rows``, each number's row too (for placeholders)."""
    if len(data) > limits.max_bytes:
        raise ContactsFileError(
            f"The file is {len(data) / 1e6:.1f} MB; the limit is {limits.max_bytes / 1e6:.0f} MB. Split it into "
            "smaller files."
        )
    if not data.strip():
        raise ContactsFileError("The file is empty.")
    _refuse_other_formats(data)
    if data.startswith(b"PK\x03\x04"):
        return _parse_rows(filename, "Excel workbook", _xlsx_rows(data), limits, budget, keep_rows)
    text = decode_text(data)
    kind = "TXT" if filename.lower().endswith(".txt") else "CSV"
    first_lines = text[:65536].splitlines()[:50]
    delimiter = _delimiter(first_lines)
    headed = any(line.strip() for line in first_lines) and _is_header(
        [next(line for line in first_lines if line.strip())]
    )
    if delimiter is None or (kind == "TXT" and not headed):
        # One entry per line; a line may still hold several numbers separated by spaces.
        return _parse_rows(filename, kind, ([line.rstrip("\r\n")] for line in _lines(text)), limits, budget, keep_rows)
    try:
        return _parse_rows(filename, kind, csv.reader(_lines(text), delimiter=delimiter), limits, budget, keep_rows)
    except csv.Error as exc:  # a cell over the reader's 131,072 characters, a NUL in the text, …
        raise ContactsFileError(
            f"The file could not be read as {kind} ({exc}): it does not look like a list of numbers."
        ) from None


def _lines(text: str) -> Iterator[str]:
    """The text's lines, each with its line break, one at a time (a StringIO would copy the whole
    text at up to four bytes a character; splitlines() would hold every line at once)."""
    start, end = 0, len(text)
    while start < end:
        stop = text.find("\n", start)
        stop = end if stop == -1 else stop + 1
        yield text[start:stop]
        start = stop


def _refuse_other_formats(data: bytes) -> None:
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ContactsFileError(
            "This is an old Excel .xls file. Save it as .xlsx or CSV (File → Save As) and attach that."
        )
    known = {
        b"%PDF": "a PDF",
        b"\x89PNG": "an image",
        b"\xff\xd8\xff": "an image",
        b"GIF8": "an image",
        b"\x1f\x8b": "a compressed file",
    }
    for magic, what in known.items():
        if data.startswith(magic):
            raise ContactsFileError(f"This file is {what}, not a list of numbers. Attach a CSV, TXT or .xlsx file.")
    if data.startswith(b"PK\x03\x04") and b"xl/" not in data[:4096] and b"[Content_Types].xml" not in data[:4096]:
        raise ContactsFileError("This is a compressed file, not a spreadsheet. Attach a CSV, TXT or .xlsx file.")


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or else Windows-1252 (older Excel exports)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data[:4096]:
        zeros_at_odd = data[1:4096:2].count(0)
        if zeros_at_odd > len(data[1:4096:2]) * 0.4:
            return data.decode("utf-16-le", errors="replace")  # UTF-16 without its BOM
        raise ContactsFileError("This is not a text file (it holds binary data). Attach a CSV, TXT or .xlsx file.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _delimiter(lines: list[str]) -> str | None:
    """The separator that splits the first lines into the same number of columns, if any."""
    sample = [line for line in lines if line.strip()][:20]
    if not sample:
        return None
    best, best_score = None, 0
    for delimiter in (",", ";", "\t"):
        counts = [len(next(csv.reader([line], delimiter=delimiter))) for line in sample]
        common = max(set(counts), key=counts.count)
        agreeing = counts.count(common)
        if common >= 2 and agreeing >= 0.8 * len(counts) and agreeing > best_score:
            best, best_score = delimiter, agreeing
    return best


def check_workbook_parts(data: bytes) -> None:
    """Refuse a workbook whose parts would unpack past the caps, from the zip's directory alone."""
    try:
        parts = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise ContactsFileError(
            "The Excel file could not be read; it may be damaged. Save it again as .xlsx or CSV."
        ) from exc
    total = 0
    for part in parts:
        total += part.file_size
        cap = XLSX_MAX_SHARED_STRINGS if part.filename.lower().endswith("sharedstrings.xml") else XLSX_MAX_PART
        packed_ratio = part.file_size / max(part.compress_size, 1)
        if (
            part.file_size > cap
            or total > XLSX_MAX_TOTAL
            or (part.file_size > 1_000_000 and packed_ratio > XLSX_MAX_RATIO)
        ):
            raise ContactsFileError(
                f"This workbook unpacks to more than the bot reads ({part.filename} alone is "
                f"{part.file_size / 1e6:,.0f} MB"
                f"{f', packed {packed_ratio:,.0f} times' if packed_ratio > XLSX_MAX_RATIO else ''}). "
                "Save the sheet with the numbers as CSV (File → Save As) and attach that."
            )


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    """The first sheet's rows as streamed, whatever size the sheet declares (its ``dimension`` may lie)."""
    from openpyxl import load_workbook

    check_workbook_parts(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or foreign zip
        raise ContactsFileError(
            "The Excel file could not be read; it may be damaged. Save it again as .xlsx or CSV."
        ) from exc
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # rows and columns as they are, not as the header claims
        for row in sheet.iter_rows(values_only=True, max_col=XLSX_MAX_COLUMNS):
            if row.count(None) == len(row):
                yield []  # a row missing from the file, or all empty: cheaply (a sheet may skip a million)
                continue
            cells = [_cell_text(value) for value in row]
            while cells and not cells[-1]:
                cells.pop()
            yield cells
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    """Excel keeps numbers as numbers: 412345678.0 must read as 412345678, its leading 0 long gone."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _parse_rows(
    filename: str,
    kind: str,
    rows: Iterable[list[str]],
    limits: FileLimits,
    budget: Budget = UNLIMITED,
    keep_rows: bool = False,
) -> tuple[ContactList, FileSource]:
    numbered = enumerate(rows, start=1)  # row numbers as the spreadsheet shows them
    head: list[tuple[int, list[str]]] = []
    for number, row in numbered:
        if number % _CHECK_EVERY == 0:
            budget.check()
        if any(cell.strip() for cell in row):
            head.append((number, row))
        if len(head) > _SAMPLE_ROWS:
            break
    if not head:
        raise ContactsFileError("The file has no rows with anything in them.")
    header = head[0][1] if _is_header(head[0][1]) else None
    sample = head[1:] if header else head
    column = _choose_column(header, [row for _, row in sample])
    single = max(len(row) for _, row in head) == 1
    collector = Collector()
    count = 0
    for number, row in _chain(sample, numbered):
        if number % _CHECK_EVERY == 0:
            budget.check()
        cell = row[column] if column < len(row) else ""
        if not cell.strip():
            if any(c.strip() for c in row):
                count += 1
            continue
        count += 1
        if count > limits.max_rows:
            raise ContactsFileError(
                f"The file has more than {limits.max_rows:,} rows; the limit is {limits.max_rows:,}. Split it into "
                "smaller files."
            )
        if single:  # free text: "0400 000 001", "0400000001 0400000002", "0400000001, 0400000002"
            for piece in ENTRY_SEPARATORS.split(cell):
                collector.chunk(piece, f"row {number}")
        else:
            national = collector.cell(cell, number)
            if keep_rows and national is not None:
                collector.result.rows[national] = (number, row)
    name = header[column].strip() if header and column < len(header) else None
    return collector.result, FileSource(filename, kind, count, column, name or None, tuple(header or ()))


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


def _is_header(row: list[str]) -> bool:
    """A first row with words and no mobile number in it (4.00E+08 is a mangled number, not a word)."""
    worded = any(any(ch.isalpha() for ch in cell) and not is_scientific(cell) for cell in row)
    return worded and not any(looks_like_mobile(cell) for cell in row if cell.strip())


def _words(header: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", header)  # CustomerID, MobilePhone
    return {word.lower() for word in re.split(r"[^A-Za-z]+", spaced) if word}


def _header_rank(header: str) -> int:
    """3 mobile, 2 phone, 1 number/contact, 0 none (or a word naming something else: "Contact name")."""
    words = _words(header)
    if words & _OTHER_WORDS:
        return 0
    joined = " ".join(words)
    if words & _MOBILE_WORDS or "mobile" in joined:
        return 3
    if words & _PHONE_WORDS or "phone" in joined:
        return 2
    return 1 if words & _WEAK_WORDS else 0


def _mobile_share(sample: list[list[str]], column: int) -> float:
    filled = [row[column] for row in sample if column < len(row) and row[column].strip()]
    if not filled:
        return 0.0
    return sum(looks_like_mobile(cell) for cell in filled) / len(filled)


def _choose_column(header: list[str] | None, sample: list[list[str]]) -> int:
    width = max(len(row) for row in ([header] if header else []) + sample)
    if width == 1:
        return 0
    shares = {column: _mobile_share(sample, column) for column in range(width)}
    if header:
        for rank in (3, 2, 1):
            named = [c for c in range(len(header)) if _header_rank(header[c]) == rank]
            if len(named) == 1:
                return named[0]
            if named:
                holding = [c for c in named if shares[c] >= _MOSTLY]
                if len(holding) == 1:
                    return holding[0]
                raise ContactsFileError(
                    "Several columns could hold the numbers: "
                    + ", ".join(f"{column_letter(c)} “{header[c].strip()}”" for c in (holding or named))
                    + ". Keep only the column to send to, or rename the others, and attach the file again."
                )
    candidates = [c for c in range(width) if shares[c] >= _MOSTLY]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ContactsFileError(
            "No column of Australian mobile numbers was found. Put the numbers in a column with a header such as "
            "“Mobile”."
        )
    raise ContactsFileError(
        "Several columns hold numbers that look like mobiles ("
        + ", ".join(f"column {column_letter(c)}" for c in candidates)
        + ") and no header says which to use. Add a header row with “Mobile” above the column to send to."
    )
