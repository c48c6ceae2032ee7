"""The placeholder parser, header matching, rendering and grouping, with properties for the first two."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sending.personalise import (
    MissingValue,
    Placeholder,
    PlaceholderError,
    Template,
    column_key,
    describe,
    group,
)

names = st.text(
    alphabet=st.characters(blacklist_characters="()?\r\n", blacklist_categories=("Cs",)), min_size=1
).filter(lambda s: s.strip())
plain_text = st.text(alphabet=st.characters(blacklist_characters="(", blacklist_categories=("Cs",)))


@given(plain_text)
def test_text_without_double_brackets_is_one_literal_and_renders_as_itself(text):
    template = Template(text)
    assert not template.personal and template.render([], {}) == text


@given(st.lists(st.tuples(plain_text, names), max_size=5), plain_text)
def test_every_placeholder_is_found_in_order_and_the_text_between_is_kept(pieces, tail):
    message = "".join(f"{text}(({name}))" for text, name in pieces) + tail
    template = Template(message)
    found = [part.name for part in template.parts if isinstance(part, Placeholder)]
    assert found == [name.strip() for _, name in pieces]
    literal = "".join(part for part in template.parts if isinstance(part, str))
    assert literal == "".join(text for text, _ in pieces) + tail


@given(names, st.sampled_from([" ", "_", "-", "  ", "_-"]))
def test_a_header_matches_its_placeholder_whatever_its_case_spaces_dashes_and_underscores(name, separator):
    words = name.split()
    header = separator.join(word.upper() for word in words) if words else name
    placeholder = " ".join(word.lower() for word in words)
    assert column_key(header) == column_key(placeholder)


@given(st.text(), st.text())
def test_column_keys_never_depend_on_separators_or_case(a, b):
    assert column_key(a + " _-" + b) == column_key(a + b)
    assert column_key(a.upper()) == column_key(a.lower()) or not a.isascii()


def test_rendering_fills_each_cell_and_optional_text_only_on_yes():
    template = Template("Hi ((First Name))!((vip?? Seat kept.)) See you in ((suburb)).")
    columns = template.columns(["Mobile", "first_name", "Suburb", "VIP"], "people.csv")
    assert template.render(["0400", "Ann", "Bondi", "Yes"], columns) == "Hi Ann! Seat kept. See you in Bondi."
    for no in ("", "no", "0", "maybe"):
        assert template.render(["0400", "Ann", "Bondi", no], columns) == "Hi Ann! See you in Bondi."
    with pytest.raises(MissingValue, match=r"no value for \(\(First Name\)\)"):
        template.render(["0400", "  ", "Bondi", ""], columns)
    with pytest.raises(MissingValue):  # a short row: its cell is blank
        template.render(["0400", "Ann"], columns)


def test_a_placeholder_without_a_column_names_the_closest_headers():
    with pytest.raises(PlaceholderError) as refused:
        Template("Hi ((frist name))").columns(["Mobile", "First_Name", "Surname"], "people.csv")
    assert "((frist name)) matches no column of people.csv. The closest: First_Name" in str(refused.value)


def test_things_that_look_like_placeholders_but_are_not_stay_as_written():
    for text in ["(( ))", "((a(b))", "((unclosed", "((really?))", "(single)"]:
        assert not Template(text).personal and Template(text).render([], {}) == text


def test_identical_texts_share_calls_of_at_most_the_size_in_first_seen_order():
    numbers = [f"4000000{i:02d}" for i in range(7)]
    texts = ["a", "b", "a", "a", "c", "a", "b"]
    assert group(numbers, texts, 2) == [
        (["400000000", "400000002"], "a"),
        (["400000003", "400000005"], "a"),
        (["400000001", "400000006"], "b"),
        (["400000004"], "c"),
    ]
    summary = describe(numbers, texts, 2, 14.0)
    assert (summary.distinct, summary.calls, summary.longest) == (3, 4, "a")
    assert summary.examples == [("400000000", "a"), ("400000001", "b"), ("400000002", "a")]
