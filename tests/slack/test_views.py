"""The review view within Slack's view limits, for list sizes a test through the whole bot would not reach."""

from hypothesis import given
from hypothesis import strategies as st

from bot.sending.review import Balance, Review
from bot.slack.kit import MAX_PLAIN_TITLE, MAX_VIEW_BLOCKS
from bot.slack.views import review_view


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
