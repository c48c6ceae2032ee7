"""The review view within Slack's view limits, for list sizes a test through the whole bot would not reach."""

from hypothesis import given
from hypothesis import strategies as st

from bot.sending.review import Balance, Review
from bot.slack.kit import MAX_PLAIN_TITLE, MAX_VIEW_BLOCKS
from bot.slack.views import review_view
from tests.fakes.slack import flatten


class _Counted(list):
    """A list that only knows its length: a million numbers without a million strings."""

    def __init__(self, length: int) -> None:
        super().__init__()
        self._length = length

    def __len__(self) -> int:
        return self._length


def review_of(numbers: int) -> Review:
    return Review(
        message="Hi\r\nReply STOP to opt out",
        sender=None,
        gif_url=None,
        media=None,
        numbers=_Counted(numbers),
        typed=numbers,
        from_file=0,
        file_source=None,
        rejected=[],
        duplicates=0,
        suppressed=[],
        balance=Balance(50_000_000.0),
        credits_per_mms=1,
    )


@given(st.integers(1, 20_000_000))
def test_the_submit_button_says_how_many_within_slacks_24_characters(numbers):
    submit = review_view("D1", review_of(numbers))["submit"]["text"]
    assert len(submit) <= MAX_PLAIN_TITLE
    assert f"{numbers:,}" in submit


def test_a_million_numbers_keep_the_count_whole():
    view = review_view("D1", review_of(1_234_567))
    assert view["submit"]["text"] == "Send to 1,234,567"
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS


def _answered(sender):
    from bot.sending.records import SEND_FIELDS, SendRecord

    values = dict.fromkeys(SEND_FIELDS)
    values.update(id=1, message="Hello <!here>", sender=sender, created_at="2026-12-02T01:00:00.000+00:00")
    return SendRecord(**values)


def test_the_reply_form_says_which_number_the_answer_comes_from_and_when_they_cannot_answer_back():
    from bot.sending.records import Exchange
    from bot.slack.views import reply_form

    reply = {"id": 7, "number": "412345678"}
    talk = [Exchange("412345678", "2026-12-02T01:05:00.000+00:00", "in", "Is 9 ok? <!channel>", None, None)]
    named = flatten(reply_form(reply, _answered("ACME"), talk))
    assert "names cannot receive replies" in named and "0412 ••• 678" in named and "412345678" not in named
    assert "&lt;!channel&gt;" in named and "&lt;!here&gt;" in named  # their words and ours, shown, never acted on
    assert "stays on one number" in flatten(reply_form(reply, _answered("0400000009"), talk))
    assert "shared numbers" in flatten(reply_form(reply, _answered(None), talk))
    assert len(reply_form(reply, _answered(None), talk * 100)["blocks"]) <= MAX_VIEW_BLOCKS
