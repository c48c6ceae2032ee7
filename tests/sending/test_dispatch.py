"""Send orchestration with the real client, a loopback gateway and a real SQLite file."""

import threading

import pytest

from bot.cellcast import CellcastClient
from bot.sending.dispatch import Dispatcher
from bot.sending.contacts import parse_text
from bot.sending.request import SendRequest
from bot.sending.summary import summarise
from bot.sending.throttle import RateLimiter
from bot.store import Store


class RecordingReporter:
    def __init__(self):
        self.events = []
        self.finished = threading.Event()

    def send_started(self, send_id):
        self.events.append(("started", send_id))

    def send_progressed(self, send_id):
        self.events.append(("progressed", send_id))

    def send_finished(self, send_id):
        self.events.append(("finished", send_id))
        self.finished.set()


def numbers(count, start=0):
    return [f"04{i:08d}" for i in range(start, start + count)]


@pytest.fixture
def rig(cellcast, tmp_path):
    store = Store(str(tmp_path / "t.db"))
    reporter = RecordingReporter()
    client = CellcastClient("k", cellcast.base_url, timeout=1.0, sleep=lambda s: None)
    dispatcher = Dispatcher(store, client, reporter, RateLimiter(1000), max_in_flight=4)
    yield store, reporter, dispatcher
    dispatcher.shutdown()
    client.close()


def request_for(text, key):
    parsed = parse_text(text)
    return SendRequest(key=key, user_id="U1", channel_id="C1", message="hi", sender=None, gif_url=None, media=None,
                       media_note="", numbers=parsed.numbers, rejected=parsed.rejected, duplicates=parsed.duplicates)


def submit(dispatcher, contacts, key="V1"):
    request = request_for("\n".join(contacts), key)
    send_id = dispatcher.record(request)
    dispatcher.start(send_id).result(timeout=30)
    return send_id


def test_2500_contacts_make_three_calls_of_at_most_1000_and_one_merged_result(rig, cellcast):
    store, reporter, dispatcher = rig
    send_id = submit(dispatcher, numbers(2500))
    sizes = sorted(len(call.contacts) for call in cellcast.calls)
    assert sizes == [500, 1000, 1000]
    summary = summarise(store, send_id)
    assert len(summary.queued) == 2500 and summary.finished and not summary.batch_problems
    assert sorted(cellcast.all_contacts()) == sorted("+61" + n[1:] for n in numbers(2500))
    assert reporter.events[0] == ("started", send_id) and reporter.events[-1] == ("finished", send_id)


def test_one_failed_batch_does_not_hide_the_others(rig, cellcast):
    store, _, dispatcher = rig
    cellcast.then("ok", "500", "ok")
    send_id = submit(dispatcher, numbers(2500))
    summary = summarise(store, send_id)
    assert len(summary.batch_problems) == 1
    problem = summary.batch_problems[0]
    assert problem.state == "unknown" and problem.kind == "server_error"
    assert len(summary.queued) + len(problem.numbers) == 2500
    assert len(cellcast.calls) == 3


def test_account_level_failure_stops_further_calls(rig, cellcast):
    store, _, dispatcher = rig
    cellcast.then("422")
    single = Dispatcher(store, dispatcher._gateway, RecordingReporter(), RateLimiter(1000), max_in_flight=1)
    send_id = submit(single, numbers(3000))
    summary = summarise(store, send_id)
    assert len(cellcast.calls) == 1
    assert [p.state for p in summary.batch_problems] == ["failed"] * 3
    assert all(p.kind == "balance_too_low" for p in summary.batch_problems)
    single.shutdown()


def test_same_key_is_recorded_and_sent_once(rig, cellcast):
    store, _, dispatcher = rig
    request = request_for("0400000001", "V9")
    assert dispatcher.record(request) is not None
    assert dispatcher.record(request) is None


def test_rate_limit_holds_across_concurrent_batches(rig, cellcast):
    store, reporter, _ = rig
    client = CellcastClient("k", cellcast.base_url, timeout=2.0)
    dispatcher = Dispatcher(store, client, reporter, RateLimiter(5, window=0.5), max_in_flight=8)
    submit(dispatcher, numbers(12 * 1000), key="V2")
    starts = sorted(call.at for call in cellcast.calls)
    busiest = max(sum(1 for t in starts if s <= t < s + 0.45) for s in starts)
    assert len(starts) == 12 and busiest <= 5
    assert starts[-1] - starts[0] >= 1.0  # 12 calls at 5 per half second need at least two more windows
    dispatcher.shutdown()


def test_summary_lists_local_and_gateway_refusals(rig, cellcast):
    store, _, dispatcher = rig
    cellcast.unsubscribed = {"400000002"}
    request = request_for("0400000001, 0400000002, 12345", "V3")
    send_id = dispatcher.record(request)
    dispatcher.start(send_id).result(timeout=10)
    summary = summarise(store, send_id)
    assert [q[0] for q in summary.queued] == ["400000001"]
    assert summary.unsubscribed == ["400000002"]
    assert [(p.number, "too short" in p.reason) for p in summary.refused_locally] == [("12345", True)]
