"""Several instances on one database (each test on SQLite and on PostgreSQL): the account's rate across
all of them, fencing of frozen owners, hand-over at SIGTERM, and a review confirmed elsewhere."""

import signal

from bot.sending.throttle import most_in_any_window
from tests.e2e.harness import form
from tests.e2e.test_send import numbers, wait_finished
from tests.fakes.server import wait_for
from tests.fakes.slack import flatten

FAST_LEASES = {"MMS_LEASE_SECONDS": "2"}


def calls_at_the_gateway(cellcast) -> list[float]:
    """Every call's arrival, sends and reads and refusals: Cellcast's limit counts them all. Arrivals are
    timed by a fake sharing this test process with others, so they carry tens of ms of jitter: here the
    promise checked is Cellcast's own (15 in any second, no 429); the grants themselves (14 in any
    window across processes) are checked on the limiter's clock in tests/store/test_rate.py."""
    return [c.at for c in cellcast.calls] + [at for _, at in cellcast.reads] + [at for _, at in cellcast.over_limit]


def test_three_instances_one_killed_one_stopped_send_every_number_once_within_the_accounts_rate(
    bot_factory, slack, cellcast, tmp_path
):
    cellcast.latency = 0.3
    bots = [bot_factory(CELLCAST_MAX_IN_FLIGHT="4", **FAST_LEASES) for _ in range(3)]
    for index, bot in enumerate(bots):
        bot.send(
            form(contacts="\n".join(numbers(8000, start=index * 100_000))), view_id=f"V{index}", channel=f"C{index}"
        )
    wait_for(lambda: len(cellcast.calls) >= 6)
    # Each channel message updated once: its ts is in the store (a kill between Slack's accepting a post and the
    # store's recording it would post it again: README, "Several instances").
    wait_for(
        lambda: all(
            any(c.params["channel"] == channel for c in slack.accepted("chat.update")) for channel in ("C0", "C1", "C2")
        ),
        timeout=30,
    )
    bots[0].stop(signal.SIGKILL)  # what it had on the wire is of unknown outcome; its pending batches go to the others
    bots[1].stop(signal.SIGTERM)  # hands its waiting batches back at once
    assert bots[1].process.returncode == 0
    for channel in ("C0", "C1", "C2"):
        wait_for(lambda channel=channel: slack.thread_replies(channel), timeout=90)
    sent = cellcast.processed_contacts()
    assert len(sent) == len(set(sent))  # no number reached the gateway twice
    for channel in ("C0", "C1", "C2"):
        assert len(slack.thread_replies(channel)) == 1 and len(slack.channel_posts(channel)) == 1
    outcomes = [(n, outcome) for send_id in (1, 2, 3) for n, outcome in bots[2].outcomes(send_id).items()]
    assert len(outcomes) == len({n for n, _ in outcomes}) == 24_000  # every number settled once
    assert {"+61" + n for n, outcome in outcomes if outcome == "queued"} <= set(sent)
    assert most_in_any_window(calls_at_the_gateway(cellcast), 1.0) <= 15 and cellcast.over_limit == []


def test_a_second_instance_starting_mid_send_never_lifts_the_account_above_its_limit(bot_factory, slack, cellcast):
    cellcast.latency = 0.2
    first = bot_factory(CELLCAST_MAX_IN_FLIGHT="8")
    first.send(form(contacts="\n".join(numbers(40_000))), view_id="VA", channel="CA")
    wait_for(lambda: len(cellcast.calls) >= 3)
    second = bot_factory(CELLCAST_MAX_IN_FLIGHT="8")
    second.send(form(contacts="\n".join(numbers(20_000, start=100_000))), view_id="VB", channel="CB")
    for channel in ("CA", "CB"):
        wait_for(lambda channel=channel: slack.thread_replies(channel), timeout=60)
    assert most_in_any_window(calls_at_the_gateway(cellcast), 1.0) <= 15 and cellcast.over_limit == []


def test_an_owner_frozen_while_waiting_out_a_429_sends_nothing_after_its_batch_was_settled_and_sent_again(
    bot_factory, slack, cellcast, tmp_path
):
    frozen = bot_factory(**FAST_LEASES)
    cellcast.then(("429", 4))
    frozen.send(form(contacts="0400000001, 0400000002"))
    wait_for(lambda: len(cellcast.calls) == 1)  # refused: the owner now waits 4 s holding its claim
    frozen.process.send_signal(signal.SIGSTOP)
    try:
        other = bot_factory(**FAST_LEASES)
        wait_for(lambda: other.batch_states() == {"unknown": 1}, timeout=20)
        wait_for(lambda: slack.thread_replies("C1"), timeout=30)
        assert other.click_resend(1).status_code == 200  # a person presses Send again
        wait_for(lambda: len(cellcast.processed_contacts()) == 2, timeout=20)
    finally:
        frozen.process.send_signal(signal.SIGCONT)
    wait_for(lambda: "claim on the batch lapsed" in frozen.log(), timeout=20)  # it woke, checked, and did not send
    assert cellcast.processed_contacts() == ["+61400000001", "+61400000002"]  # once: the Send again
    assert len(cellcast.calls) == 2


def test_an_owner_frozen_with_its_request_on_the_wire_has_the_answer_recorded_when_it_wakes(
    bot_factory, slack, cellcast, tmp_path
):
    frozen = bot_factory(CELLCAST_TIMEOUT="20", **FAST_LEASES)
    cellcast.then(("slow", 6))
    frozen.send(form(contacts="0400000001, 0400000002"))
    wait_for(lambda: len(cellcast.calls) == 1)
    frozen.process.send_signal(signal.SIGSTOP)
    try:
        other = bot_factory(**FAST_LEASES)
        wait_for(lambda: other.batch_states() == {"unknown": 1}, timeout=20)
        wait_for(lambda: slack.thread_replies("C1"), timeout=30)
    finally:
        frozen.process.send_signal(signal.SIGCONT)
    wait_for(lambda: other.batch_states() == {"queued": 1}, timeout=20)  # the answer is the truth
    assert other.outcomes(1) == {"400000001": "queued", "400000002": "queued"}
    notice = wait_for(
        lambda: [t for t in slack.posted_texts("C1") if "came after it had been marked unknown" in t], timeout=20
    )
    assert "2 queued" in notice[0]
    assert len(cellcast.calls) == 1


def test_slow_cellcast_reads_never_cost_a_live_process_its_leases(bot_factory, slack, cellcast, tmp_path):
    bot = bot_factory(
        CELLCAST_SYNC_SECONDS="1", CELLCAST_TIMEOUT="20", **FAST_LEASES
    )  # it holds the sync: its reads are slow
    cellcast.fail_reads("/api/v1/apiClient/getOptout", *[("slow", 5)] * 10)
    cellcast.fail_reads("/api/v1/apiClient/getResponses", *[("slow", 5)] * 10)
    cellcast.then(("slow", 4))  # the batch's answer takes twice the lease
    bot.send(form(contacts="0400000001"))
    wait_for(lambda: len(cellcast.calls) == 1)
    bot_factory(**FAST_LEASES)  # another process, ready to settle the batch if its owner's lease ran out
    reply = wait_finished(slack, timeout=30)
    assert "1 queued" in flatten(reply.params) and "unknown" not in flatten(reply.params)
    assert bot.batch_states() == {"queued": 1}


def test_a_review_checked_by_one_instance_and_confirmed_through_another_sends_once(bot_factory, slack, cellcast):
    first, second = bot_factory(), bot_factory()
    first.submit(form(contacts="0400000001, 0400000002"))
    review = first.review()
    answer = second.confirm(review)
    assert answer.status_code == 200 and answer.json() == {"response_action": "clear"}
    assert first.confirm(review).status_code == 200  # Slack's retry reaching the other instance: no second send
    reply = wait_finished(slack)
    first.wait_quiet()
    second.wait_quiet()
    assert "2 queued" in flatten(reply.params) and len(cellcast.calls) == 1
