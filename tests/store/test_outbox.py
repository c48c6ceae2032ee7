"""Reports due: one deliverer per send, in order, on the store's clock; both engines."""

import threading

from bot.sending.reports import Notice, ReportKind
from tests.store.conftest import make_send


def test_a_sends_reports_come_in_order_to_one_claimer(stores):
    a, b = stores(), stores()
    send_id = make_send(a, batches=0)  # post, image and summary due at once
    first = a.claim_reports("p1", 10)
    assert [r.kind for r in first] == ["post", "image", "summary"] and {r.send_id for r in first} == {send_id}
    assert b.claim_reports("p2", 10) == []  # p1 holds the send


def test_concurrent_deliverers_never_hold_reports_of_one_send_at_once(stores):
    processes = [stores() for _ in range(4)]
    for i in range(30):
        make_send(processes[0], f"K{i}", batches=0)
    holding: dict[int, str] = {}
    guard = threading.Lock()
    overlaps, delivered = [], []

    def deliverer(store, name):
        while reports := store.claim_reports(name, 30):
            send_id = reports[0].send_id
            with guard:
                if send_id in holding:
                    overlaps.append((send_id, holding[send_id], name))
                holding[send_id] = name
            for report in reports:
                delivered.append((send_id, report.kind))
                store.report_done(report)
            with guard:
                holding.pop(send_id, None)

    threads = [threading.Thread(target=deliverer, args=(processes[i % 4], f"d{i}")) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert len(delivered) == 90 and len(set(delivered)) == 90
    for i in range(30):
        kinds = [kind for send_id, kind in delivered if send_id == i + 1]
        assert kinds == ["post", "image", "summary"]


def test_slack_saying_later_holds_the_whole_send_until_the_delay_has_passed(store, clock):
    make_send(store, batches=0)
    reports = store.claim_reports("p1", 10)
    for report in reports:
        store.report_retry(report.id, 30, "ratelimited")
    clock.advance(29)
    assert store.claim_reports("p1", 10) == []
    clock.advance(2)
    assert [r.kind for r in store.claim_reports("p1", 10)] == ["post", "image", "summary"]


def test_a_dead_deliverers_claim_lapses_and_another_takes_over(stores, clock):
    a, b = stores(), stores()
    make_send(a, batches=0)
    assert a.claim_reports("dead", 10)
    clock.advance(11)
    assert [r.kind for r in b.claim_reports("p2", 10)] == ["post", "image", "summary"]


def test_a_report_made_due_twice_is_one_report(store, database):
    for _ in range(2):
        store.report_due("notice:1", None, ReportKind.NOTICE, Notice("hello"))
    assert database.rows("SELECT COUNT(*) FROM reports WHERE key = 'notice:1'") == [(1,)]


def test_a_kind_this_version_does_not_know_is_left_for_one_that_does(store):
    from bot.store import outbox

    with store.transaction() as tx:  # as a newer version, mid rolling deploy, would write it
        outbox.due(tx, "future:1", None, ReportKind.NOTICE)
        tx.execute("UPDATE reports SET kind = 'poll_result' WHERE key = 'future:1'")
    store.report_due("n:1", None, ReportKind.NOTICE, Notice("hello"))
    claimed = store.claim_reports("p1", 10)
    assert [r.payload for r in claimed] == [Notice("hello")]
    assert store.claim_reports("p1", 10) == []  # and it is never claimed, nor anything blocked behind it


def test_a_report_made_due_again_while_it_is_delivered_is_delivered_once_more(stores, clock):
    """The deliverer read the state before the change: marking it done would lose the change (an approval
    decided just after its request was posted once showed as waiting for ever)."""
    from bot.sending.reports import ApprovalReport, approval_key
    from bot.store import outbox

    a, b = stores(), stores()
    with a.transaction() as tx:
        outbox.due(tx, approval_key(1), None, ReportKind.APPROVAL, payload=ApprovalReport(1))
    (claimed,) = a.claim_reports("p1", 10)
    with b.transaction() as tx:  # another process decides meanwhile: the message must show it
        outbox.due(tx, approval_key(1), None, ReportKind.APPROVAL, payload=ApprovalReport(1))
    assert not a.report_done(claimed)
    (again,) = a.claim_reports("p1", 10)
    assert again.id == claimed.id and again.payload == ApprovalReport(1)
    assert a.report_done(again) and a.claim_reports("p1", 10) == []
    with a.transaction() as tx:  # delivered and due again later: re-armed as before
        outbox.due(tx, approval_key(1), None, ReportKind.APPROVAL, payload=ApprovalReport(1))
    assert [r.id for r in a.claim_reports("p1", 10)] == [claimed.id]


def test_a_progress_edit_made_due_while_one_is_delivered_comes_after_its_pacing(store, clock):
    from bot.sending.reports import send_key
    from bot.store import outbox

    send_id = make_send(store, batches=2)
    with store.transaction() as tx:
        outbox.due_paced(tx, send_key(ReportKind.PROGRESS, send_id), send_id, ReportKind.PROGRESS)
    claimed = store.claim_reports("p1", 10)
    progress = next(r for r in claimed if r.kind == ReportKind.PROGRESS)
    for report in claimed:
        if report is not progress:
            assert store.report_done(report)
    with store.transaction() as tx:  # a batch finished while the progress edit was on its way
        outbox.due_paced(tx, send_key(ReportKind.PROGRESS, send_id), send_id, ReportKind.PROGRESS)
    assert not store.report_done(progress)
    assert [r.kind for r in store.claim_reports("p1", 10)] == []  # not before the pacing
    clock.advance(ReportKind.PROGRESS.pacing + 0.1)
    assert [r.kind for r in store.claim_reports("p1", 10)] == [ReportKind.PROGRESS]
