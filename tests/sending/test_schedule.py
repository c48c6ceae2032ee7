"""Scheduling's rules: times shown in a zone across daylight saving, quiet hours, the form's limits, and
what a send falling due gets (with a stand-in store: the store's own side is tested on both engines)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sending import outcomes as o
from bot.sending.records import SEND_FIELDS, SendRecord
from bot.sending.review import Balance
from bot.sending.schedule import (
    BALANCE_TOO_LOW,
    REVOKED,
    DueSends,
    check_send_at,
    describe,
    how_far,
    is_now,
    parse_quiet_hours,
    quiet_warning,
)
from bot.sending.states import EXPIRED, FAILED

SYDNEY = ZoneInfo("Australia/Sydney")
NOW = 1_790_000_000.0


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_a_time_is_shown_in_the_zone_with_its_name_as_it_was_then():
    assert describe(at("2026-12-02T22:00:00"), SYDNEY) == "Thu 3 Dec, 9:00 am AEDT"
    assert describe(at("2026-07-01T02:30:00"), SYDNEY) == "Wed 1 Jul, 12:30 pm AEST"
    assert describe(at("2026-12-02T22:00:00"), ZoneInfo("Australia/Perth")) == "Thu 3 Dec, 6:00 am AWST"
    assert describe(at("2026-12-02T12:00:00"), ZoneInfo("UTC")) == "Wed 2 Dec, 12:00 pm UTC"


def test_a_local_time_that_happens_twice_is_told_apart_by_its_zone_name():
    # Sydney, 5 April 2026: 3:00 am AEDT becomes 2:00 am AEST, so 2:30 am happens twice, an hour apart.
    first, second = at("2026-04-04T15:30:00"), at("2026-04-04T16:30:00")
    assert describe(first, SYDNEY) == "Sun 5 Apr, 2:30 am AEDT"
    assert describe(second, SYDNEY) == "Sun 5 Apr, 2:30 am AEST"


def test_a_local_time_that_does_not_exist_is_never_shown():
    # Sydney, 4 October 2026: 2:00 am AEST becomes 3:00 am AEDT; no instant shows as 2:30 am.
    assert describe(at("2026-10-03T15:59:00"), SYDNEY) == "Sun 4 Oct, 1:59 am AEST"
    assert describe(at("2026-10-03T16:00:00"), SYDNEY) == "Sun 4 Oct, 3:00 am AEDT"
    shown = {describe(at("2026-10-03T15:00:00") + minute * 60, SYDNEY) for minute in range(180)}
    assert not any(", 2:" in text for text in shown)


def test_how_far_says_it_as_people_do():
    assert how_far(30) == "in a minute"
    assert how_far(25 * 60) == "in 25 minutes"
    assert how_far(14 * 3600) == "in 14 hours"
    assert how_far(3 * 86400) == "in 3 days"


def test_the_form_refuses_a_time_past_or_too_far_ahead_and_takes_the_minute_just_gone_as_now():
    assert "has passed" in check_send_at(NOW - 61, NOW, 30)
    assert check_send_at(NOW - 30, NOW, 30) is None and is_now(NOW - 30, NOW)
    assert check_send_at(NOW + 30, NOW, 30) is None and not is_now(NOW + 30, NOW)
    assert check_send_at(NOW + 30 * 86400, NOW, 30) is None
    assert "up to 30 days ahead" in check_send_at(NOW + 30 * 86400 + 1, NOW, 30)


def test_quiet_hours_across_midnight_in_local_time_through_daylight_saving():
    quiet = parse_quiet_hours("20:00-08:00", SYDNEY)
    assert quiet.contains(at("2026-12-02T10:00:00"))  # 9 pm AEDT
    assert not quiet.contains(at("2026-12-02T22:00:00"))  # 9 am AEDT
    assert quiet.contains(at("2026-07-01T21:30:00"))  # 7:30 am AEST
    assert not quiet.contains(at("2026-07-01T22:30:00"))  # 8:30 am AEST
    daytime = parse_quiet_hours("12:00-13:00", SYDNEY)
    assert daytime.contains(at("2026-12-02T01:30:00")) and not daytime.contains(at("2026-12-02T02:00:00"))
    assert parse_quiet_hours("  ", SYDNEY) is None


def test_a_send_in_quiet_hours_gets_a_warning_saying_when_and_a_send_outside_none():
    quiet = parse_quiet_hours("20:00-08:00", SYDNEY)
    warning = quiet_warning(at("2026-12-02T10:00:00"), quiet, scheduled=True)
    assert "Wed 2 Dec, 9:00 pm AEDT" in warning and "20:00–08:00 Australia/Sydney" in warning
    assert quiet_warning(at("2026-12-02T22:00:00"), quiet, scheduled=True) is None
    assert quiet_warning(at("2026-12-02T10:00:00"), None, scheduled=False) is None


@given(st.integers(0, 23), st.integers(0, 59), st.integers(0, 23), st.integers(0, 59))
def test_quiet_hours_parse_every_valid_pair_and_a_time_is_quiet_exactly_between_them(h1, m1, h2, m2):
    text = f"{h1}:{m1:02d} - {h2:02d}:{m2:02d}"
    if (h1, m1) == (h2, m2):
        with pytest.raises(ValueError):
            parse_quiet_hours(text, SYDNEY)
        return
    quiet = parse_quiet_hours(text, SYDNEY)
    assert (quiet.start.hour, quiet.start.minute, quiet.end.hour, quiet.end.minute) == (h1, m1, h2, m2)
    start = datetime(2026, 12, 2, h1, m1, tzinfo=SYDNEY).timestamp()
    assert quiet.contains(start)  # its first minute is quiet
    end = datetime(2026, 12, 3 if (h2, m2) < (h1, m1) else 2, h2, m2, tzinfo=SYDNEY).timestamp()
    assert not quiet.contains(end) and quiet.contains(end - 60)  # its end is not; the minute before is


@given(st.text(max_size=20))
def test_quiet_hours_refuse_anything_else_with_a_message_showing_the_form(text):
    try:
        quiet = parse_quiet_hours(text, SYDNEY)
    except ValueError as exc:
        assert "20:00-08:00" in str(exc) or "different times" in str(exc)
    else:
        assert quiet is None or quiet.start != quiet.end


# -- falling due ----------------------------------------------------------------------------------


def send(send_id=1, user="U1", total=3, send_at=NOW - 1, dry_run=0) -> SendRecord:
    values = dict.fromkeys(SEND_FIELDS)
    values.update(id=send_id, user_id=user, total_contacts=total, send_at=send_at, dry_run=dry_run)
    return SendRecord(**values)


class DueStore:
    def __init__(self, sends):
        self.due = list(sends)
        self.started: dict[int, object] = {}

    def due_sends(self, limit=50, *, tx=None):
        return [s for s in self.due if s.id not in self.started]

    def start_scheduled(self, send_id, settled=None, *, tx=None):
        self.started[send_id] = settled
        return True


def due_sends(store, *, allowed=("U1",), credits=100.0, reads=None, resume_within=900.0):
    def balance():
        if reads is not None:
            reads.append(1)
        return Balance(credits)

    return DueSends(
        store,
        can_send=lambda user: user in allowed,
        balance=balance,
        credits_per_mms=1.0,
        resume_within=resume_within,
        clock=lambda: NOW,
        zone_of=lambda send: SYDNEY,
    )


def test_a_due_send_goes_out_when_its_sender_may_send_and_the_balance_covers_it():
    store = DueStore([send()])
    assert due_sends(store).run() == 1
    assert store.started == {1: None}


def test_a_revoked_sender_or_a_balance_too_low_settles_it_unsent_with_the_reason():
    store = DueStore([send(1, user="UGONE"), send(2, total=500)])
    due_sends(store).run()
    assert store.started[1].state == FAILED and store.started[1].reason == REVOKED
    assert store.started[2].outcome == o.FAILED
    assert store.started[2].reason == BALANCE_TOO_LOW.format(credits=100.0, needed=500.0)


def test_the_balance_is_read_once_a_round_and_what_the_round_starts_counts_against_it():
    reads = []
    store = DueStore([send(1, total=60), send(2, total=60), send(3, total=40, dry_run=1), send(4, total=40)])
    due_sends(store, reads=reads).run()
    assert reads == [1]
    assert store.started[1] is None and store.started[2].state == FAILED  # 60 + 60 > 100
    assert store.started[3] is None and store.started[4] is None  # a dry run costs nothing; 40 of 40 left


def test_a_send_found_due_later_than_resume_within_expires_with_its_time_named():
    store = DueStore([send(send_at=NOW - 3600)])
    due_sends(store, resume_within=900).run()
    settled = store.started[1]
    assert settled.state == EXPIRED and settled.outcome == o.EXPIRED
    assert "(Mon 21 Sep, 11:13 pm AEST)" in settled.reason and "more than 15 minutes later" in settled.reason
