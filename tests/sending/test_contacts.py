import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sending.contacts import InvalidNumber, normalise, parse_text

nationals = st.from_regex(r"4[0-9]{8}", fullmatch=True)


def spell(national: str, form: int, sep: str) -> str:
    body = {0: "+61" + national, 1: "61" + national, 2: "0" + national, 3: national}[form]
    if sep and form == 2:  # 0400 000 000 style
        return sep.join([body[:4], body[4:7], body[7:]])
    if sep and form == 0:
        return sep.join(["+61", national[:3], national[3:6], national[6:]])
    return body


@given(nationals, st.integers(0, 3), st.sampled_from(["", " ", "-"]))
def test_every_accepted_spelling_normalises_to_the_national_form(national, form, sep):
    assert normalise(spell(national, form, sep)) == national


@given(
    st.lists(st.tuples(nationals, st.integers(0, 3), st.sampled_from(["", " ", "-"])), min_size=1, max_size=30),
    st.sampled_from([",", "\n", ", ", " ", ";", "\r\n"]),
)
def test_pasted_lists_give_each_number_once_in_order(entries, separator):
    text = separator.join(spell(n, f, s) for n, f, s in entries)
    result = parse_text(text)
    expected = list(dict.fromkeys(n for n, _, _ in entries))
    assert result.numbers == expected
    assert result.rejected == []
    assert result.duplicates == len(entries) - len(expected)


@given(st.text(max_size=40))
def test_normalise_never_crashes_and_only_returns_national_mobiles(text):
    try:
        national = normalise(text)
    except InvalidNumber as exc:
        assert str(exc)
    else:
        assert len(national) == 9 and national[0] == "4" and national.isascii() and national.isdigit()


def test_formats_with_brackets_and_dashes_and_the_plus61_zero_habit():
    assert parse_text("(04) 0000-0001\n+61 (0)400 000 002\n61-400-000-003").numbers == [
        "400000001",
        "400000002",
        "400000003",
    ]


def test_duplicates_across_formats_are_collapsed():
    result = parse_text("+61400000001, 0400000001, 61400000001, 400000001")
    assert result.numbers == ["400000001"] and result.duplicates == 3


@pytest.mark.parametrize(
    "entry, reason",
    [
        ("0400 00", "too short"),
        ("04000000011", "too long"),
        ("0298765432", "not a mobile"),
        ("+44 7700 900123", "not an Australian number"),
        ("call me", "letters"),
        ("04OO000000", "letters"),
    ],
)
def test_rejected_entries_say_why_in_plain_words(entry, reason):
    result = parse_text(entry)
    assert result.numbers == []
    assert len(result.rejected) == 1 and reason in result.rejected[0].reason


def test_a_bad_entry_does_not_swallow_its_neighbours():
    result = parse_text("0400000001 123 0400000002 Bob 0400000003")
    assert result.numbers == ["400000001", "400000002", "400000003"]
    assert [r.entry for r in result.rejected] == ["123", "Bob"]


@pytest.mark.parametrize(
    "typed",
    [
        "\uff10\uff14\uff10\uff10 \uff10\uff10\uff10 "
        "\uff10\uff10\uff11",  # full-width digits, as typed on a Japanese keyboard
        "\u0660\u0664\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0661",  # Arabic-Indic digits
        "0400\u00a0000\u00a0001",  # no-break spaces (Word, Outlook)
        "0400\u202f000\u2009001",  # narrow no-break and thin spaces
        "0400\u2007000\u2007001",  # figure spaces
        "\u200b0400000001\u200b",  # zero-width spaces around a pasted number
        "0400\u2013000\u2014001",  # en and em dashes
        "\uff0b61 400 000 001",  # full-width plus
        "0061 400 000 001",  # dialled with the international prefix
    ],
)
def test_unicode_digits_spaces_and_dashes_in_numbers(typed):
    assert parse_text(typed).numbers == ["400000001"]


@pytest.mark.parametrize("cell", ["4.00E+08", "4.12346E+08", "6.14E+10"])
def test_scientific_notation_is_refused_saying_the_spreadsheet_mangled_it(cell):
    result = parse_text(cell)
    assert result.numbers == [] and "scientific notation" in result.rejected[0].reason


def test_pasted_json_array():
    result = parse_text(json.dumps(["+61400000001", 400000002, "nope", None]))
    assert result.numbers == ["400000001", "400000002"]
    assert [r.entry for r in result.rejected] == ["nope", "null"]


def test_merge_deduplicates_across_inputs():
    merged = parse_text("0400000001, 0400000002").merge(parse_text("0400000002\n0400000003\n"))
    assert merged.numbers == ["400000001", "400000002", "400000003"] and merged.duplicates == 1


@given(st.lists(st.integers(400_000_000, 499_999_999), max_size=300))
def test_seen_numbers_answers_like_a_set_before_and_after_it_turns_into_a_bitmap(values):
    from bot.sending.contacts import SeenNumbers

    SeenNumbers._BITMAP_FROM = 50  # small, so that both forms are exercised
    try:
        seen, reference = SeenNumbers(), set()
        for value in values + values[:10]:
            number = str(value)
            assert seen.add(number) == (number not in reference)
            reference.add(number)
    finally:
        SeenNumbers._BITMAP_FROM = 100_000


def test_a_long_list_is_de_duplicated_in_order():
    numbers = [f"04{i:08d}" for i in range(150_000)]
    result = parse_text("\n".join(numbers + numbers[:5]))
    assert (
        len(result.numbers) == 150_000 and result.duplicates == 5 and result.numbers[:2] == ["400000000", "400000001"]
    )
