"""The opt-out rules: which replies unsubscribe, the footer, and who may take a number back."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sending.optouts import (
    KEYWORDS,
    MAYBE,
    OPTOUT,
    SOURCE_ADMIN,
    SOURCE_CELLCAST,
    SOURCE_REPLY,
    UnsuppressRefused,
    check_unsuppress,
    classify_reply,
    with_footer,
)

decoration = st.text(alphabet=" \t\n.,!?;:-–—()\"'“”‘’*~…", max_size=6)
keywords = st.sampled_from(sorted(KEYWORDS))


def casing(draw_text: str, flips: list[bool]) -> str:
    return "".join(
        ch.upper() if flip else ch for ch, flip in zip(draw_text, flips + [False] * len(draw_text), strict=False)
    )


@given(keywords, decoration, decoration, st.lists(st.booleans(), max_size=20))
def test_a_reply_that_is_only_a_keyword_opts_out_whatever_its_case_spaces_and_punctuation(
    keyword, before, after, flips
):
    assert classify_reply(before + casing(keyword, flips) + after) == OPTOUT


@given(
    keywords,
    st.lists(
        st.sampled_from(["please", "this", "bill", "thanks", "at", "the", "weekend", "now", "ok"]),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_a_longer_reply_containing_a_keyword_is_only_flagged(keyword, others, first):
    words = [keyword] + others if first else others + [keyword]
    assert classify_reply(" ".join(words)) == MAYBE


@given(st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Zs", "Po")), max_size=60))
def test_classify_never_crashes_and_opts_out_only_on_a_whole_keyword(text):
    result = classify_reply(text)
    assert result in (None, MAYBE, OPTOUT)
    if result == OPTOUT:
        assert " ".join("".join(c if c.isalpha() else " " for c in text.casefold()).split()) in KEYWORDS


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("STOP", OPTOUT),
        ("Stop.", OPTOUT),
        (" stop all ", OPTOUT),
        ("Opt-out", OPTOUT),
        ("UNSUB!", OPTOUT),
        ("no more", OPTOUT),
        ("please stop this bill", MAYBE),
        ("Cancel my order?", MAYBE),
        ("Thanks!", None),
        ("stopover in Perth", None),
        ("", None),
        ("🛑", None),
    ],
)
def test_real_replies(reply, expected):
    assert classify_reply(reply) == expected


def test_the_footer_is_added_once_unless_the_message_already_says_how_to_opt_out():
    assert with_footer("Sale on now", "Reply STOP to opt out") == "Sale on now\r\nReply STOP to opt out"
    assert (
        with_footer("Sale on now. Reply STOP to unsubscribe", "Reply STOP to opt out")
        == "Sale on now. Reply STOP to unsubscribe"
    )
    assert with_footer("Sale. Text 'STOP' to 0400000000", "Reply STOP to opt out") == "Sale. Text 'STOP' to 0400000000"
    assert with_footer("Sale on now", "") == "Sale on now"


def test_who_may_take_a_number_off_the_list():
    reply = {"source": SOURCE_REPLY, "reason": "replied “STOP”", "added_at": "2026-11-28T01:02:03"}
    with pytest.raises(UnsuppressRefused, match="consent"):
        check_unsuppress(reply, "")
    check_unsuppress(reply, "rang us and asked to be added back")
    with pytest.raises(UnsuppressRefused, match="Cellcast's own opt-out list"):
        check_unsuppress({"source": SOURCE_CELLCAST, "reason": "", "added_at": ""}, "asked nicely")
    with pytest.raises(UnsuppressRefused, match="not on the suppression list"):
        check_unsuppress(None, "")
    check_unsuppress({"source": SOURCE_ADMIN, "reason": "typo", "added_at": ""}, "")


def test_reviews_while_the_opt_out_list_is_stale_share_one_refresh():
    import threading

    from bot.sending.gateway import Page
    from bot.sending.sync import CellcastSync

    reads, release = [], threading.Event()

    class SlowGateway:
        def optouts(self, page):
            reads.append(page)
            release.wait(5)
            return Page([], has_next=False)

    class Store:
        values: dict = {}

        def sync_value(self, name):
            return self.values.get(name)

        def set_sync_value(self, name, value):
            self.values[name] = value

        def suppress_many(self, *args):
            return 0

    asked = threading.Semaphore(0)

    class CountingSync(CellcastSync):
        def status(self):
            asked.release()  # each review looks at the list's age first
            return super().status()

    sync = CountingSync(Store(), SlowGateway(), owner="p1", every=300)
    waiting = [threading.Thread(target=sync.refresh_if_stale, args=(5.0,)) for _ in range(5)]
    for thread in waiting:
        thread.start()
    for _ in waiting:
        assert asked.acquire(timeout=5)  # all five found the list stale while the first refresh was still reading
    release.set()
    for thread in waiting:
        thread.join()
    assert reads == [1]  # one read of the list's first page, for five reviews
