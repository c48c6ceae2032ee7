"""Approval thresholds and daily limits, and the day they count in (local midnight, daylight saving too)."""

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.sending.guardrails import Guardrails

SYDNEY = ZoneInfo("Australia/Sydney")


def rails(above=None, limit=None, admins=False):
    return Guardrails(above, limit, admins, SYDNEY)


def test_a_send_above_the_threshold_needs_approval_and_one_at_it_does_not():
    assert rails(above=100).assess(101, 0, False).approval.startswith("it goes to more than 100")
    assert rails(above=100).assess(100, 0, False).approval is None
    assert rails().assess(10**6, 0, False) == rails().assess(1, 0, False)  # off: nothing to say


def test_the_daily_limit_allows_exactly_what_is_left_and_refuses_more_or_asks_for_approval_when_on():
    assert rails(limit=5).assess(2, 3, False).problem is None and rails(limit=5).assess(2, 3, False).left_today == 2
    refused = rails(limit=5).assess(3, 3, False)
    assert "more than the 2 numbers left of the 5" in refused.problem and refused.approval is None
    asked = rails(above=100, limit=5).assess(3, 3, False)
    assert asked.problem is None and "MMS_DAILY_LIMIT" in asked.approval
    assert rails(limit=5).assess(50, 50, True).problem is None  # admins exempt
    assert rails(limit=5, admins=True).assess(50, 50, True).problem is not None


def test_the_day_starts_at_local_midnight_even_on_a_day_of_23_hours():
    change = datetime(2026, 10, 4, 12, 0, tzinfo=SYDNEY).timestamp()  # 02:00 became 03:00 that morning
    start, end = rails().day_start(change), rails().day_start(change + 86400)
    assert datetime.fromtimestamp(start, SYDNEY).hour == 0 and end - start == 23 * 3600
