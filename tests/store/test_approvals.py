"""Approval requests in the store, on both engines: decided once whoever decides at once; the daily count."""

import threading
from zoneinfo import ZoneInfo

from bot.sending.guardrails import Guardrails
from bot.store.clock import iso

# A reviewed send as the store keeps it with its request (the in-process listener tests use it too).
RECORD = {
    "message": "Hello",
    "sender": None,
    "gif_url": None,
    "media_name": None,
    "media_type": None,
    "media_note": "",
    "rejected": [],
    "duplicates": 0,
    "suppressed": [],
    "dry_run": False,
}


def test_a_request_is_decided_once_when_an_approval_a_rejection_and_a_withdrawal_race(stores):
    """Twenty rounds: three processes decide one request at the same moment; exactly one decision holds."""
    processes = [stores() for _ in range(3)]
    decisions = [("approved", "UA"), ("rejected", "UB"), ("withdrawn", "UBOB")]
    for round_ in range(20):
        approval_id = processes[0].create_approval(f"D{round_}", "UBOB", "C1", RECORD, ["400000001"], None, "big", 3600)
        start = threading.Barrier(3)
        won = []

        def decide(store, state, user, approval_id=approval_id, start=start, won=won):
            start.wait()
            if store.decide_approval(approval_id, state, user, "", "told"):
                won.append(state)

        threads = [threading.Thread(target=decide, args=(p, *d)) for p, d in zip(processes, decisions, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1 and processes[1].find_approval(approval_id)["state"] == won[0]


def test_a_request_asked_twice_is_one_and_one_left_undecided_expires_once(store, clock):
    assert store.create_approval("D1", "UBOB", "C1", RECORD, ["400000001"], b"img", "big", 60) == 1
    assert store.create_approval("D1", "UBOB", "C1", RECORD, ["400000001"], b"img", "big", 60) is None
    clock.advance(59)
    assert store.expire_approvals("expired") == []
    clock.advance(2)
    assert store.expire_approvals("expired") == [1] and store.expire_approvals("expired") == []
    assert not store.decide_approval(1, "approved", "UA", "", "told")


def test_a_daily_count_is_the_numbers_recorded_since_a_time_and_resets_with_the_day(store, clock):

    rails = Guardrails(None, 5, False, ZoneInfo("Australia/Sydney"))
    store.create_send({"view_id": "A", "user_id": "U1", "channel_id": "C1", "message": "x"}, None, [["400000001"] * 3])
    later = store.create_send(
        {"view_id": "B", "user_id": "U1", "channel_id": "C1", "message": "x", "send_at": clock.now() + 60},
        None,
        [["400000002"]],
    )
    store.create_send({"view_id": "C", "user_id": "U2", "channel_id": "C1", "message": "x"}, None, [["400000003"]])
    today = iso(rails.day_start(clock.now()))
    assert store.numbers_recorded_since("U1", today) == 4  # a scheduled send counts the day it was confirmed
    store.cancel_scheduled(later, "U1")
    assert store.numbers_recorded_since("U1", today) == 3  # a cancelled one does not
    clock.advance(rails.day_start(clock.now() + 86400) - clock.now() + 1)  # just past the next local midnight
    assert store.numbers_recorded_since("U1", iso(rails.day_start(clock.now()))) == 0
