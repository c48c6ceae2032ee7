"""End to end: personal messages from the contacts file's columns, grouped into as few calls as possible."""

from collections import Counter

import pytest

from tests.e2e.harness import form
from tests.e2e.test_review import text_of
from tests.e2e.test_send import problem, wait_finished
from tests.fakes.slack import flatten

# The features' store sides are tested on both engines in tests/store/.
pytestmark = pytest.mark.sqlite_only

MESSAGE = "Hi ((first name)) from ((suburb))((vip?? Your seat is kept.))"


def contacts(slack, rows, name="people.csv", header="Mobile,First name,Suburb,VIP"):
    return slack.host_file("FCSV", name, (header + "\n" + "\n".join(rows) + "\n").encode())


def test_each_number_gets_its_own_text_and_identical_texts_share_calls(bot, slack, cellcast):
    rows = [f"04000000{i:02d},{'Ann' if i % 2 else 'Bob'},Bondi,{'yes' if i == 1 else ''}" for i in range(1, 7)]
    bot.submit(form(message=MESSAGE, contacts_file=contacts(slack, rows)))
    review = bot.review()
    shown = text_of(review)
    assert "3 distinct texts" in shown and "3 calls" in shown and "under a minute" in shown
    assert "Hi Ann from Bondi Your seat is kept." in shown and "0400 ••• 001" in shown  # first rows, masked
    assert review["submit"]["text"] == "Send to 6 numbers"
    bot.confirm(review)
    reply = wait_finished(slack)
    assert "6 queued" in flatten(reply.params)
    texts = {c: call.fields["message"].split("\r\n")[0] for call in cellcast.calls for c in call.contacts}
    assert texts["+61400000001"] == "Hi Ann from Bondi Your seat is kept."
    assert texts["+61400000003"] == texts["+61400000005"] == "Hi Ann from Bondi"
    assert texts["+61400000002"] == "Hi Bob from Bondi"
    assert len(cellcast.calls) == 3 and sorted(len(c.contacts) for c in cellcast.calls) == [1, 2, 3]
    by_number = {r["number"]: r["message"] for r in bot.recipients(1)}
    assert by_number["400000002"].startswith("Hi Bob from Bondi")  # the CSV keeps each number's text


def test_a_placeholder_with_no_column_names_the_closest_headers(bot, slack):
    bot.submit(form(message="Hi ((frist name))", contacts_file=contacts(slack, ["0400000001,Ann,Bondi,"])))
    text = problem(bot.review(), "message")
    assert "((frist name)) matches no column of people.csv" in text and "First name" in text


def test_placeholders_with_typed_numbers_only_are_a_problem(bot, slack):
    bot.submit(form(message="Hi ((first name))", contacts="0400000001"))
    assert "the numbers are typed" in problem(bot.review(), "message")


def test_a_blank_cell_leaves_its_row_out_saying_which_and_why(bot, slack, cellcast):
    rows = ["0400000001,Ann,Bondi,", "0400000002,,Manly,", "0400000003,Cy,,"]
    bot.send(form(message=MESSAGE, contacts_file=contacts(slack, rows)))
    reply = flatten(wait_finished(slack).params)
    assert "1 queued" in reply and "no value for ((first name))" in reply and "no value for ((suburb))" in reply
    assert [c.contacts for c in cellcast.calls] == [["+61400000001"]]


def test_markup_in_a_cell_is_shown_escaped_on_the_review_and_sent_as_written(bot, slack, cellcast):
    rows = ["0400000001,<!channel> Ann,<https://evil.example|Bondi>,"]
    bot.submit(form(message=MESSAGE, contacts_file=contacts(slack, rows)))
    review = bot.review()
    shown = text_of(review)
    assert "&lt;!channel&gt; Ann" in shown and "<!channel>" not in shown and "<https://evil" not in shown
    bot.confirm(review)
    wait_finished(slack)
    assert cellcast.calls[0].fields["message"].startswith("Hi <!channel> Ann from <https://evil.example|Bondi>")


def test_a_hundred_distinct_texts_are_a_hundred_calls_and_the_review_says_how_long(bot, slack, cellcast):
    rows = [f"04{i:08d},Person {i},Town {i % 7}," for i in range(100)]
    bot.submit(form(message=MESSAGE, contacts_file=contacts(slack, rows)))
    shown = text_of(bot.review())
    assert "100 distinct texts, 100 calls to Cellcast" in shown
    assert Counter(len(c.contacts) for c in cellcast.calls) == Counter()
