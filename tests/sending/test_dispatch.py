"""Send orchestration with the real client, a loopback gateway and a real database (SQLite and PostgreSQL)."""

import threading
import time

import pytest

from bot.cellcast import CellcastClient
from bot.sending import outcomes as o
from bot.sending.contacts import parse_text
from bot.sending.dispatch import Dispatcher
from bot.sending.gateway import NotSent
from bot.sending.request import SendRequest
from bot.sending.summary import summarise
from bot.sending.throttle import RateLimiter
from bot.store import Store
from bot.store.clock import ManualClock
from tests.fakes.server import wait_for


def numbers(count, start=0):
    return [f"04{i:08d}" for i in range(start, start + count)]


class Rig:
    """A store, a gateway client and one or more dispatchers (processes) on one database file."""

    def __init__(self, cellcast, database):
        cellcast.calls_per_second = None  # these dispatchers run faster than Cellcast allows, to keep the tests quick
        self.cellcast = cellcast
        self.database = database
        self.clock = ManualClock()  # every process of the rig reads this one clock, as they read the database's
        self.store = Store(database.url, clock=self.clock)
        self.stores = [self.store]
        self.dispatchers = []
        self.clients = []

    def dispatcher(self, name="p1", per_second=1000, max_in_flight=4, **kwargs):
        store = Store(self.database.url, clock=self.clock)
        self.stores.append(store)
        store.register_instance(name, 0, "test")
        stopping = threading.Event()
        limiter = RateLimiter(per_second, window=kwargs.pop("window", 1.0))

        def take_slot(kind):
            if not limiter.acquire(kind):
                raise NotSent("stopping")

        client = CellcastClient(
            "k",
            self.cellcast.base_url,
            timeout=kwargs.pop("timeout", 2.0),
            sleep=stopping.wait,
            before_request=take_slot,
        )
        dispatcher = Dispatcher(
            store, client, limiter, instance_id=name, stopping=stopping, max_in_flight=max_in_flight, **kwargs
        )
        dispatcher.limiter = limiter
        self.dispatchers.append(dispatcher)
        self.clients.append(client)
        return dispatcher

    def close(self):
        for dispatcher in self.dispatchers:
            dispatcher.stop(grace=2)
        for client in self.clients:
            client.close()
        for store in self.stores:
            store.close()


@pytest.fixture
def rig(cellcast, database):
    rig = Rig(cellcast, database)
    yield rig
    rig.close()


def request_for(text, key="V1"):
    parsed = parse_text(text)
    return SendRequest(
        key=key,
        user_id="U1",
        channel_id="C1",
        message="hi",
        sender=None,
        gif_url=None,
        media=None,
        media_note="",
        numbers=parsed.numbers,
        rejected=parsed.rejected,
        duplicates=parsed.duplicates,
    )


def send(dispatcher, contacts, key="V1", start=True, timeout=30):
    send_id = dispatcher.record(request_for("\n".join(contacts), key))
    if start:
        dispatcher.start()
    return send_id


def done(store, send_id, timeout=30):
    wait_for(lambda: store.get_send(send_id).state == "done", timeout=timeout)
    return summarise(store, send_id)


def test_2500_contacts_make_three_calls_of_at_most_1000_and_every_number_is_accounted_for(rig, cellcast):
    dispatcher = rig.dispatcher()
    send_id = send(dispatcher, numbers(2500))
    summary = done(rig.store, send_id)
    assert sorted(len(call.contacts) for call in cellcast.calls) == [500, 1000, 1000]
    assert summary.count(o.QUEUED) == 2500 and summary.send.settled == 2500 == summary.send.entries
    assert sorted(cellcast.all_contacts()) == sorted("+61" + n[1:] for n in numbers(2500))
    assert rig.store.reports_due() >= 1  # the channel message and the summary are due for Slack


def test_one_failed_batch_does_not_hide_the_others(rig, cellcast):
    cellcast.then("ok", "500", "ok")
    summary = done(rig.store, send(rig.dispatcher(max_in_flight=1), numbers(3000)))
    assert summary.count(o.QUEUED) == 2000 and summary.count(o.UNKNOWN) == 1000
    assert [(g.outcome, g.count) for g in summary.groups] == [(o.UNKNOWN, 1000)]
    assert "server error" in summary.groups[0].reason and len(summary.groups[0].examples) == 5


def test_an_account_level_refusal_stops_further_calls_within_one_round_trip(rig, cellcast):
    cellcast.latency = 0.2
    cellcast.then(*["401"] * 50)
    dispatcher = rig.dispatcher(max_in_flight=4)
    summary = done(rig.store, send(dispatcher, numbers(20_000)))
    assert len(cellcast.calls) <= 4  # only the calls already on the wire when the first 401 came back
    assert summary.count(o.FAILED) == 20_000 and summary.send.batches_done == 20
    assert all("API key was refused" in g.reason for g in summary.groups)


def test_the_same_key_is_recorded_once(rig):
    dispatcher = rig.dispatcher()
    assert dispatcher.record(request_for("0400000001", "V9")) is not None
    assert dispatcher.record(request_for("0400000001", "V9")) is None


def test_the_limiter_grants_no_more_than_its_limit_in_any_window(rig, cellcast):
    dispatcher = rig.dispatcher(per_second=5, max_in_flight=8, window=0.5)
    done(rig.store, send(dispatcher, numbers(12_000)))
    assert len(cellcast.calls) == 12
    assert dispatcher.limiter.most_in_any_window(0.5) <= 5  # the promise, on the limiter's own clock
    granted = sorted(t for t, _ in dispatcher.limiter.starts_log)
    assert granted[-1] - granted[0] >= 1.0  # 12 calls at 5 per half second need two more windows


def test_local_and_gateway_refusals_and_an_untidy_answer_all_end_in_one_outcome_each(rig, cellcast):
    cellcast.unsubscribed = {"400000002"}
    cellcast.then("untidy")
    dispatcher = rig.dispatcher()
    summary = done(rig.store, send(dispatcher, ["0400000001", "0400000002", "12345", "0400000003"]))
    assert summary.count(o.QUEUED) == 2 and summary.count(o.UNSUBSCRIBED) == 1 and summary.count(o.INVALID) == 1
    assert summary.send.settled == summary.send.entries == 4  # duplicates in the answer counted once, the stray ignored
    rows = {number: outcome for number, outcome, *_ in rig.store.iter_recipients(summary.send.id)}
    assert rows == {"400000001": "queued", "400000002": "unsubscribed", "400000003": "queued", "12345": "invalid"}


def test_numbers_the_gateway_did_not_mention_are_not_confirmed_and_can_be_sent_again(rig, cellcast):
    cellcast.then(("omit", 2))
    dispatcher = rig.dispatcher()
    summary = done(rig.store, send(dispatcher, numbers(5)))
    assert summary.count(o.QUEUED) == 3 and summary.count(o.UNCONFIRMED) == 2 and summary.resendable == 2
    assert rig.store.resendable(summary.send.id, o.RESENDABLE) == ["400000003", "400000004"]


def test_fair_turns_a_small_send_goes_between_the_batches_of_a_big_one(rig, cellcast):
    cellcast.latency = 0.05
    dispatcher = rig.dispatcher(per_second=4, max_in_flight=2, window=0.5)
    big = send(dispatcher, numbers(20_000), key="BIG")
    wait_for(lambda: len(cellcast.calls) >= 3)
    small = dispatcher.record(request_for("0499000001, 0499000002", "SMALL"))
    summary = done(rig.store, small)
    assert summary.count(o.QUEUED) == 2
    big_done = rig.store.get_send(big).batches_done
    assert big_done < 12  # the small send did not wait for the big one's 20 batches
    position = next(i for i, call in enumerate(cellcast.calls) if "+61499000001" in call.contacts)
    assert position <= 3 + 2 + 1  # at most one round (two workers) after it was recorded


def test_two_processes_on_one_database_never_send_a_batch_twice(rig, cellcast):
    cellcast.latency = 0.05
    first, second = rig.dispatcher("p1", max_in_flight=3), rig.dispatcher("p2", max_in_flight=3)
    a = first.record(request_for("\n".join(numbers(15_000)), "A"))
    b = second.record(request_for("\n".join(numbers(15_000, start=50_000)), "B"))
    first.start()
    second.start()
    done(rig.store, a)
    done(rig.store, b)
    sent = cellcast.all_contacts()
    assert len(sent) == len(set(sent)) == 30_000
    owners = {row[0] for row in rig.database.rows("SELECT worked_by FROM sends")}
    assert owners <= {"p1", "p2"}


def test_a_dead_owners_batch_becomes_unknown_once_its_lease_runs_out(rig, cellcast):
    dispatcher = rig.dispatcher("alive", lease=0.5)
    send_id = dispatcher.record(request_for("0400000001", "V1"))
    claimed = rig.store.claim_next_batch("dead", 0.3)  # a process that then died
    assert claimed is not None
    rig.clock.advance(0.29)
    dispatcher.settle_abandoned()
    assert rig.store.batch_states(send_id) == {"sending": 1}  # its lease has not run out yet: hands off
    rig.clock.advance(0.02)
    dispatcher.settle_abandoned()
    summary = summarise(rig.store, send_id)
    assert rig.store.batch_states(send_id) == {"unknown": 1} and summary.count(o.UNKNOWN) == 1
    assert "stopped while this batch was being sent" in summary.groups[0].reason
    assert cellcast.calls == []


def test_pending_batches_left_longer_than_resume_within_expire_instead_of_going_out(rig, cellcast):
    dispatcher = rig.dispatcher(resume_within=0.2)
    send_id = dispatcher.record(request_for("0400000001, 0400000002", "V1"))
    rig.clock.advance(0.3)  # the bot was "down"
    dispatcher.settle_abandoned()
    dispatcher.start()
    summary = done(rig.store, send_id)
    assert summary.count(o.EXPIRED) == 2 and summary.resendable == 2 and cellcast.calls == []
    assert "the bot was down" in summary.groups[0].reason


def test_stopping_while_a_batch_waits_out_a_429_puts_it_back_to_pending(rig, cellcast):
    cellcast.then(("429", 30))
    dispatcher = rig.dispatcher()
    send_id = send(dispatcher, ["0400000001"])
    wait_for(lambda: len(cellcast.calls) == 1)
    time.sleep(0.1)
    started = time.monotonic()
    dispatcher.stop(grace=5)
    assert time.monotonic() - started < 2  # it did not sit out the 30 s
    assert rig.store.batch_states(send_id) == {"pending": 1}
    assert len(cellcast.calls) == 1


def test_a_number_suppressed_after_the_review_is_not_sent(rig, cellcast):
    dispatcher = rig.dispatcher()
    send_id = dispatcher.record(request_for("0400000001, 0400000002", "V1"))
    rig.store.suppress("400000002", "reply", "STOP")
    dispatcher.start()
    summary = done(rig.store, send_id)
    assert cellcast.all_contacts() == ["+61400000001"]
    assert summary.count(o.SUPPRESSED) == 1 and summary.count(o.QUEUED) == 1


def test_a_batch_settled_elsewhere_between_its_claim_and_its_request_is_not_sent(rig, cellcast):
    """Fencing: the owner freezes after claiming (a GC pause, SIGSTOP); its lease runs out and another
    process settles the batch; when the owner wakes, the check before the request stops it."""
    owner, other = rig.dispatcher("p1", lease=0.5), rig.dispatcher("p2", lease=0.5)
    send_id = owner.record(request_for("0400000001", "V1"))
    send_mms = owner._gateway.send_mms

    def frozen_then_sent(**kwargs):
        rig.clock.advance(1.0)  # the owner was frozen past its lease
        other.settle_abandoned()
        return send_mms(**kwargs)

    owner._gateway.send_mms = frozen_then_sent
    owner.start()
    wait_for(lambda: rig.store.batch_states(send_id) == {"unknown": 1})
    wait_for(lambda: not owner._held)  # the owner's worker is done with it
    assert cellcast.calls == []
    assert summarise(rig.store, send_id).count(o.UNKNOWN) == 1
