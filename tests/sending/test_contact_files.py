"""Contacts files as spreadsheets export them: the column chosen, the encodings, the formats refused."""

import codecs
import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from bot.sending.contact_files import ContactsFileError, FileLimits, parse_contacts_file

LIMITS = FileLimits(max_bytes=5_000_000, max_rows=10_000)
nationals = st.from_regex(r"4[0-9]{8}", fullmatch=True)


def parse(name, data, limits=LIMITS):
    return parse_contacts_file(name, data, limits)


def xlsx(rows):
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_a_mobile_header_wins_over_ids_that_look_like_mobiles():
    data = b"CustomerID,Name,Mobile\n400012345,Ann,0411 111 111\n400012346,Ben,0422 222 222\n400012347,Cat,\n"
    contacts, source = parse("crm.csv", data)
    assert contacts.numbers == ["411111111", "422222222"]
    assert source.column == 2 and source.header == "Mobile" and source.rows == 3
    assert "column C “Mobile”, 3 rows" in source.describe()


@pytest.mark.parametrize(
    "header", ["Mobile 1", "mobile number", "MOBILE PHONE", "Cell", "MSISDN", "Phone", "Contact Number", "Number"]
)
def test_headers_that_name_a_phone_column(header):
    contacts, source = parse("a.csv", f"Name,{header},Notes\nAnn,0400000001,x\n".encode())
    assert contacts.numbers == ["400000001"] and source.header == header


def test_a_mobile_column_beats_a_phone_column_and_contact_name_is_not_a_number_column():
    contacts, source = parse("a.csv", b"Contact Name,Phone,Mobile\nAnn,0298765432,0400000001\n")
    assert contacts.numbers == ["400000001"] and source.header == "Mobile"


def test_two_mobile_columns_and_no_header_to_decide_is_a_problem_that_says_so():
    with pytest.raises(ContactsFileError, match="Several columns hold numbers"):
        parse("a.csv", b"0400000001,0400000002\n0400000003,0400000004\n")
    with pytest.raises(ContactsFileError, match="Mobile 1.*Mobile 2"):
        parse("a.csv", b"Name,Mobile 1,Mobile 2\nAnn,0400000001,0400000002\n")


def test_without_a_header_the_single_column_of_mobiles_is_used():
    contacts, source = parse("a.csv", b"Ann,0400000001,5\nBen,0400000002,7\nCat,bogus,1\n")
    assert contacts.numbers == ["400000001", "400000002"] and source.column == 1 and source.header is None
    assert [(r.entry, r.where) for r in contacts.rejected] == [("bogus", "row 3")]


def test_the_header_row_never_counts_as_an_invalid_number():
    for data in (b"Mobile\n0400000001\n", b"Name;Mobile\nAnn;0400000001\n", b"mobiles\r\n0400000001\r\n"):
        contacts, _ = parse("a.csv", data)
        assert contacts.numbers == ["400000001"] and contacts.rejected == []


@pytest.mark.parametrize(
    "encoding, bom",
    [
        ("utf-8", b""),
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("cp1252", b""),
    ],
)
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_encodings_and_delimiters_spreadsheets_export(encoding, bom, delimiter):
    text = (
        delimiter.join(["Nom", "Téléphone portable", "Mobile"])
        + "\r\n"
        + delimiter.join(["Zoë", "x", "0400 000 001"])
        + "\r\n"
    )
    contacts, source = parse("export.csv", bom + text.encode(encoding))
    assert contacts.numbers == ["400000001"] and source.header == "Mobile" and contacts.rejected == []


def test_xlsx_with_numbers_stored_as_numbers_that_lost_their_leading_zero():
    data = xlsx(
        [
            ["Name", "Mobile"],
            ["Ann", 412345678],
            ["Ben", 61498765432],
            ["Cat", "0400 000 001"],
            ["Dan", 400000001.0],
            ["Eve", None],
        ]
    )
    contacts, source = parse("list.xlsx", data)
    assert contacts.numbers == ["412345678", "498765432", "400000001"] and contacts.duplicates == 1
    assert source.kind == "Excel workbook" and source.rows == 5


def test_scientific_notation_from_a_general_formatted_column_is_refused_with_the_reason():
    contacts, _ = parse("a.csv", b"Mobile\n4.12346E+08\n0400000001\n")
    assert contacts.numbers == ["400000001"]
    assert "scientific notation" in contacts.rejected[0].reason and contacts.rejected[0].where == "row 2"


@pytest.mark.parametrize(
    "data, words",
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel .xls"),
        (b"%PDF-1.7\n" + b"\x00" * 100, "PDF"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image"),
        (b"\x7fELF\x02\x01\x01" + b"\x00\x01\x02" * 100, "not a text file"),
        (b"PK\x03\x04" + b"\x00" * 100, "compressed file"),
        (b"   \n\n", "empty"),
    ],
)
def test_other_formats_are_a_clear_problem_never_binary_quoted_back(data, words):
    with pytest.raises(ContactsFileError, match=words) as caught:
        parse("renamed.csv", data)
    assert "\x00" not in str(caught.value)


def test_size_caps_by_bytes_and_rows():
    with pytest.raises(ContactsFileError, match="limit is"):
        parse("a.csv", b"Mobile\n" + b"0400000001\n" * 1000, FileLimits(max_bytes=5000, max_rows=10_000))
    with pytest.raises(ContactsFileError, match="more than 100 rows"):
        parse("a.csv", b"Mobile\n" + b"0400000001\n" * 101, FileLimits(max_bytes=5_000_000, max_rows=100))


def test_txt_with_several_numbers_a_line_is_free_text():
    contacts, source = parse("list.txt", b"0400000001 0400000002\n0400000003, 0400000004\n0400 000 005\n")
    assert contacts.numbers == ["400000001", "400000002", "400000003", "400000004", "400000005"]
    assert source.kind == "TXT" and source.rows == 3


@settings(max_examples=60, deadline=None)
@given(
    st.lists(nationals, min_size=1, max_size=40),
    st.integers(0, 3),
    st.sampled_from([",", ";", "\t"]),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
    st.sampled_from(["Mobile", "mobile number", "Phone", "MSISDN"]),
)
def test_the_named_column_is_used_whatever_else_the_file_holds(numbers, position, delimiter, encoding, header):
    """Other columns hold ids that look like mobiles; the header decides, and nothing else is refused."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    columns = ["CustomerID", "Name", "Notes"]
    columns.insert(position, header)
    writer.writerow(columns)
    for i, national in enumerate(numbers):
        row = [str(400000000 + i), f"Person {i}", "n"]
        row.insert(position, "0" + national)
        writer.writerow(row)
    contacts, source = parse("export.csv", buffer.getvalue().encode(encoding))
    assert contacts.numbers == list(dict.fromkeys(numbers))
    assert contacts.rejected == [] and source.column == position and source.rows == len(numbers)


# -- hostile workbooks: refused or read cheaply, whatever they declare ---------------------------

from bench.hostile import dimension_bomb, far_row, shared_strings_bomb, wide_rows  # noqa: E402
from bot.sending.budget import Budget, OutOfTime  # noqa: E402
from bot.sending.contact_files import XLSX_MAX_SHARED_STRINGS, check_workbook_parts  # noqa: E402

LIMITS = FileLimits(30_000_000, 1_000_000)


def test_a_workbook_whose_shared_strings_unpack_past_the_cap_is_refused_before_reading():
    bomb = shared_strings_bomb(XLSX_MAX_SHARED_STRINGS + 1_000_000)
    with pytest.raises(ContactsFileError, match="unpacks to more than the bot reads"):
        check_workbook_parts(bomb)


def test_a_sheet_declaring_a_million_rows_and_16384_columns_reads_the_one_row_it_has():
    contacts, source = parse_contacts_file("dimension.xlsx", dimension_bomb(), LIMITS)
    assert contacts.numbers == ["400000001"] and source.rows == 1


def test_a_row_far_down_and_empty_cells_far_right_cost_nothing_to_skip():
    contacts, source = parse_contacts_file("far.xlsx", far_row(), LIMITS)
    assert contacts.numbers == ["400000001"] and source.header == "Mobile"
    with pytest.raises(ContactsFileError, match="no rows with anything"):
        parse_contacts_file("wide.xlsx", wide_rows(3000), LIMITS)


def test_a_file_that_takes_longer_than_the_budget_is_stopped():
    clock = iter(range(0, 10**6, 5)).__next__  # each look at the clock: five more seconds
    rows = "Mobile\n" + "".join(f"04000{i:05d}\n" for i in range(10_000))
    with pytest.raises(OutOfTime):
        parse_contacts_file("big.csv", rows.encode(), LIMITS, Budget(20, clock=clock))


def test_a_csv_cell_longer_than_the_reader_takes_is_a_clear_problem():
    with pytest.raises(ContactsFileError, match="does not look like a list of numbers"):
        parse_contacts_file("line.csv", b"Mobile,Note\n0400000001," + b"x" * 200_000 + b"\n", LIMITS)
