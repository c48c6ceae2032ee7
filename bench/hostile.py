"""Hostile files through the review's checks: time and peak extra memory (RSS) for each alone, and four at once.

Each case runs in a fresh Python process (peak RSS is per process), through the same gate and time
budget the bot uses (``bot.sending.budget``), after the file is in memory as a download leaves it.
Targets (issue 19): any file within the byte caps ≤ 300 MB extra and ≤ 20 s; four hostile files at once
≤ 600 MB. Usage: ``python -m bench.hostile [--quick]``.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from PIL import Image

CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b'<Override PartName="/xl/sharedStrings.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    b"</Types>"
)
RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    b'Target="xl/workbook.xml"/>'
    b"</Relationships>"
)
WORKBOOK = (
    b'<?xml version="1.0" encoding="UTF-8"?><workbook '
    b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
    b'<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    b'Target="worksheets/sheet1.xml"/>'
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" '
    b'Target="sharedStrings.xml"/>'
    b"</Relationships>"
)
SHEET_HEAD = b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'


def workbook(
    sheet_parts, shared_parts=(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"></sst>',)
) -> bytes:
    """An .xlsx written part by part (a 2 GB member never sits in memory)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in (
            ("[Content_Types].xml", CONTENT_TYPES),
            ("_rels/.rels", RELS),
            ("xl/workbook.xml", WORKBOOK),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
        ):
            z.writestr(name, data)
        for name, parts in (("xl/worksheets/sheet1.xml", sheet_parts), ("xl/sharedStrings.xml", shared_parts)):
            with z.open(name, "w", force_zip64=True) as member:
                for part in parts:
                    member.write(part)
    return out.getvalue()


def dimension_bomb() -> bytes:
    return workbook(
        [
            SHEET_HEAD,
            b'<dimension ref="A1:XFD1048576"/><sheetData>',
            b'<row r="1"><c r="A1" t="inlineStr"><is><t>0400000001</t></is></c></row></sheetData></worksheet>',
        ]
    )


def shared_strings_bomb(size: int) -> bytes:
    chunk = b"<si><t>" + b"A" * 65_000 + b"</t></si>"

    def strings():
        yield b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        for _ in range(size // len(chunk)):
            yield chunk
        yield b"</sst>"

    return workbook(
        [SHEET_HEAD, b'<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>'], strings()
    )


def many_strings(size: int) -> bytes:
    """Shared strings up to the cap, each short: the most memory a workbook the caps let through can take."""
    count = size // 26

    def strings():
        yield b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        for i in range(count):
            yield b"<si><t>04%08d</t></si>" % i
        yield b"</sst>"

    return workbook(
        [SHEET_HEAD, b'<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>'], strings()
    )


def long_sheet(rows: int) -> bytes:
    def parts():
        yield SHEET_HEAD + b"<sheetData>"
        for i in range(1, rows + 1):
            yield b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>P %d</t></is></c><c r="B%d"><v>4%08d</v></c></row>' % (
                i,
                i,
                i,
                i,
                i,
            )
        yield b"</sheetData></worksheet>"

    return workbook(parts())


def wide_rows(rows: int) -> bytes:
    """Every row has one empty cell in the last column Excel has (XFD): a row of 16,384 cells each."""

    def parts():
        yield SHEET_HEAD + b"<sheetData>"
        for r in range(1, rows + 1):
            yield b'<row r="%d"><c r="XFD%d"/></row>' % (r, r)
        yield b"</sheetData></worksheet>"

    return workbook(parts())


def far_row() -> bytes:
    return workbook(
        [
            SHEET_HEAD,
            b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Mobile</t></is></c></row>'
            b'<row r="1048576"><c r="A1048576" '
            b't="inlineStr"><is><t>0400000001</t></is></c></row></sheetData></worksheet>',
        ]
    )


def png(width: int, height: int, mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), (10, 200, 30, 128) if mode == "RGBA" else 0).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 10)).save(out, "JPEG", quality=95)
    return out.getvalue()


def one_line_csv(size: int) -> bytes:
    return b"Mobile," + b"x" * size + b"\n"


def big_csv(rows: int) -> bytes:
    return b"Name,Mobile\n" + b"".join(b"Person %d,04%08d\n" % (i, i) for i in range(rows))


def cases(quick: bool) -> dict[str, tuple[str, str, bytes]]:
    """name → (field, file name, bytes)"""
    scale = 10 if quick else 1
    return {
        "xlsx dimension A1:XFD1048576": ("contacts_file", "dimension.xlsx", dimension_bomb()),
        "xlsx sharedStrings → 2 GB": ("contacts_file", "strings.xlsx", shared_strings_bomb(2_000_000_000 // scale)),
        "xlsx 200k rows × XFD": ("contacts_file", "wide.xlsx", wide_rows(200_000 // scale)),
        "xlsx row 1,048,576": ("contacts_file", "far.xlsx", far_row()),
        "xlsx 29.9 MB sharedStrings": ("contacts_file", "strings-at-cap.xlsx", many_strings(29_900_000 // scale)),
        "xlsx 1,000,000 rows": ("contacts_file", "long.xlsx", long_sheet(1_000_000 // scale)),
        "PNG 6300×6300 RGBA": ("media", "huge.png", png(6300 // scale, 6300 // scale)),
        "PNG 6300×6300 16-bit grey": ("media", "grey16.png", png(6300 // scale, 6300 // scale, "I;16")),
        "JPEG 7700×5100": ("media", "photo.jpg", jpeg(7700 // scale, 5100 // scale)),
        "CSV one 30 MB line": ("contacts_file", "line.csv", one_line_csv(29_000_000 // scale)),
        "CSV 1,000,000 rows": ("contacts_file", "big.csv", big_csv(1_000_000 // scale)),
    }


FOURS = [
    ["xlsx sharedStrings → 2 GB", "xlsx 200k rows × XFD", "PNG 6300×6300 RGBA", "PNG 6300×6300 16-bit grey"],
    ["xlsx 29.9 MB sharedStrings", "PNG 6300×6300 RGBA", "CSV 1,000,000 rows", "JPEG 7700×5100"],
]  # the heaviest the caps let in

CHILD = r"""
import json, sys, threading, time
from bot.sending.budget import Budget, Gate
from bot.sending.contact_files import ContactsFileError, FileLimits, parse_contacts_file
from bot.sending.media import MediaError, prepare_media
from bot.sending.budget import OutOfTime
# imported before the baseline is taken
import openpyxl, openpyxl.reader.excel, PIL.Image, PIL.PngImagePlugin, PIL.JpegImagePlugin
jobs = json.loads(sys.argv[1])
blobs = [open(path, "rb").read() for _, _, path in jobs]
def status_mb(field):  # VmHWM, not getrusage: ru_maxrss survives exec, so it would hold the parent's peak
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
base = status_mb("VmRSS")
gate = Gate(2)
results = [None] * len(jobs)
def run(i):
    field, name, _ = jobs[i]
    budget = Budget(20.0, gate=gate)
    started = time.monotonic()
    try:
        if field == "media":
            prepare_media(name, blobs[i], budget)
        else:
            parse_contacts_file(name, blobs[i], FileLimits(30_000_000, 1_000_000), budget)
        outcome = "read"
    except (ContactsFileError, MediaError, OutOfTime) as exc:
        outcome = type(exc).__name__ + ": " + str(exc)[:70]
    except Exception as exc:
        outcome = "CRASHED " + type(exc).__name__ + ": " + str(exc)[:70]
    results[i] = (time.monotonic() - started, outcome)
threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
started = time.monotonic()
for t in threads: t.start()
for t in threads: t.join()
peak = status_mb("VmHWM")
print(json.dumps({"seconds": time.monotonic() - started, "extra_mb": peak - base, "results": results}))
"""


def measure(jobs: list[tuple[str, str, Path]]) -> dict:
    argument = json.dumps([(field, name, str(path)) for field, name, path in jobs])
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, argument], capture_output=True, text=True, cwd=root, timeout=600
    )
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for name, (field, filename, data) in cases(quick).items():
            path = Path(tmp) / filename
            path.write_bytes(data)
            files[name] = (field, filename, path)
        print(
            f"hostile files{' (quick: small inputs, figures not meaningful)' if quick else ''}: time and peak extra RSS"
        )
        for name, job in files.items():
            figures = measure([job])
            seconds, outcome = figures["results"][0]
            print(
                f"  {name:<30} {job[2].stat().st_size / 1e6:7.2f} MB  {seconds:6.2f} s  {figures['extra_mb']:7.0f} MB  "
                f"{outcome}"
            )
        for four in FOURS:
            figures = measure([files[name] for name in four])
            print(f"  four at once ({', '.join(four)}): {figures['seconds']:.2f} s, {figures['extra_mb']:.0f} MB extra")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args().quick)
