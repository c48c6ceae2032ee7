"""Several bot processes on one database, crashes, and shutdowns: nothing sent twice, nothing lost."""

import signal
import time

from tests.e2e.harness import db_rows, form
from tests.e2e.test_send import numbers, wait_finished
from tests.fakes.server import wait_for
from tests.fakes.slack import flatten


def test_two_processes_one_killed_mid_send_and_restarted_send_every_number_once_with_one_summary_each(
    bot_factory, slack, cellcast, tmp_path
):
    cellcast.latency = 0.4
    first = bot_factory(CELLCAST_MAX_IN_FLIGHT="2")
    second = bot_factory(CELLCAST_MAX_IN_FLIGHT="2")
    first.send(form(contacts="\n".join(numbers(2000))), view_id="VA", channel="CA")
    second.send(form(contacts="\n".join(numbers(2000, start=10_000))), view_id="VB", channel="CB")
    first.send(form(contacts="\n".join(numbers(6000, start=20_000))), view_id="VC", channel="CC")
    # Killed after Slack took the channel messages: a kill between Slack's accepting one and the store's
    # recording it would post it again from the other process (see the README, "Several instances").
    # An update of each channel message means its ts is in the store (updates read it from there).
    wait_for(
        lambda: all(
            any(c.params["channel"] == channel for c in slack.accepted("chat.update")) for channel in ("CA", "CB", "CC")
        ),
        timeout=20,
    )
    wait_for(lambda: len(cellcast.calls) >= 4)
    first.stop(signal.SIGKILL)  # whatever it had on the wire is now of unknown outcome
    third = bot_factory(CELLCAST_MAX_IN_FLIGHT="2")  # it comes back (a new process), beside the second
    for channel in ("CA", "CB", "CC"):
        wait_for(lambda channel=channel: slack.thread_replies(channel), timeout=60)
    second.wait_quiet()  # nothing left to send or to post: a second summary would be in Slack's records now
    third.wait_quiet()
    sent = cellcast.all_contacts()
    assert len(sent) == len(set(sent))  # no number reached the gateway twice
    for channel in ("CA", "CB", "CC"):
        assert len(slack.thread_replies(channel)) == 1 and len(slack.channel_posts(channel)) == 1
    states = third.batch_states()
    assert set(states) <= {"queued", "unknown"} and sum(states.values()) == 10
    outcomes = [(n, outcome) for send_id in (1, 2, 3) for n, outcome in third.outcomes(send_id).items()]
    assert len(outcomes) == len({n for n, _ in outcomes}) == 10_000  # every number, exactly one outcome
    queued = {"+61" + n for n, outcome in outcomes if outcome == "queued"}
    assert queued <= set(sent)  # and what is queued was really sent, once


def test_an_expired_key_on_a_20_batch_send_costs_at_most_the_calls_in_flight(bot_factory, slack, cellcast):
    bot = bot_factory(CELLCAST_MAX_IN_FLIGHT="4")
    cellcast.latency = 0.2
    cellcast.then(*["401"] * 20)
    bot.send(form(contacts_file=slack.host_file("F", "l.csv", ("\n".join(numbers(20_000))).encode())))
    reply = wait_finished(slack, timeout=30)
    assert len(cellcast.calls) <= 4
    assert "20,000 numbers not sent" in flatten(reply.params)


def test_sigterm_while_a_batch_waits_out_a_429_sends_it_after_the_restart_and_exits_cleanly(
    bot_factory, slack, cellcast, tmp_path
):
    bot = bot_factory()
    cellcast.then(("429", 30))
    bot.send(form(contacts="0400000001, 0400000002"))
    wait_for(lambda: len(cellcast.calls) == 1)
    time.sleep(0.2)
    started = time.monotonic()
    bot.stop(signal.SIGTERM)
    assert bot.process.returncode == 0 and time.monotonic() - started < 5
    assert db_rows(tmp_path, "SELECT state FROM batches") == [("pending",)]
    assert "Traceback" not in bot.log()
    bot_factory()
    reply = wait_finished(slack)
    assert "2 queued" in flatten(reply.params) and "unknown" not in flatten(reply.params)
    assert len(cellcast.calls) == 2 and cellcast.calls[1].contacts == ["+61400000001", "+61400000002"]


def test_sigterm_with_a_call_on_the_wire_waits_for_its_answer_within_the_grace(bot_factory, slack, cellcast, tmp_path):
    bot = bot_factory(MMS_SHUTDOWN_GRACE="5")
    cellcast.latency = 1.5
    bot.send(form(contacts="0400000001"))
    wait_for(lambda: len(cellcast.calls) == 1)
    bot.stop(signal.SIGTERM)
    assert bot.process.returncode == 0
    assert bot.outcomes(1) == {"400000001": "queued"}  # the answer came within the grace
    assert "Traceback" not in bot.log()
