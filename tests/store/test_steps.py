"""Workflow Builder steps in the store, on both engines: recorded once per execution, decided once whoever
decides at once, finished with their send's figures in the transaction that finishes the send."""

import threading

from bot.sending import outcomes as o
from bot.sending.reports import step_key
from tests.store.test_approvals import RECORD


def reviewing(store, draft="D1", execution="Fx1", numbers=("400000001", "400000002"), left_out=1, lifetime=3600):
    assert store.create_step(draft, execution, "Wx1", "C1", "UBOB", {"message": "Hi"}, owner="P1", lease=10) == draft
    assert store.step_checked(draft, RECORD, list(numbers), b"img", left_out, lifetime)
    return draft


def test_an_execution_delivered_twice_is_one_run(store):
    assert store.create_step("D1", "Fx1", "Wx1", "C1", "UBOB", {}, owner="P1", lease=10) == "D1"
    assert store.create_step("D2", "Fx1", "Wx1", "C1", "UBOB", {}, owner="P2", lease=10) is None
    assert store.find_step("D2") is None and store.find_step("D1")["state"] == "checking"


def test_send_cancel_and_the_expiry_racing_decide_a_review_once(stores, clock):
    """Twenty rounds: three processes decide one review at the same moment; exactly one decision holds."""
    processes = [stores() for _ in range(3)]
    for round_ in range(20):
        draft = reviewing(processes[0], f"D{round_}", f"Fx{round_}", lifetime=0)
        clock.advance(1)  # due to expire: the sweep races the two buttons
        start = threading.Barrier(3)
        won = []

        def decide(store, how, draft=draft, start=start, won=won):
            start.wait()
            if how == "expired":
                decided = bool(store.expire_steps("nobody decided"))
            else:
                decided = store.step_decided(draft, "UBOB", None if how == "sending" else how)
            if decided:
                won.append(how)

        hows = ("sending", "cancelled", "expired")
        threads = [threading.Thread(target=decide, args=a) for a in zip(processes, hows, strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        step = processes[1].find_step(draft)
        assert len(won) == 1, won
        assert step["state"] == ("sending" if won == ["sending"] else "finished")


def test_a_run_finishes_with_its_sends_figures_when_the_last_batch_settles(store):
    draft = reviewing(store)
    with store.transaction() as tx:
        assert store.step_decided(draft, "UBOB", None, tx=tx)
        send_id = store.create_send(
            {"view_id": draft, "user_id": "UBOB", "channel_id": "C1", "message": "Hi"},
            None,
            [["400000001", "400000002"]],
            [o.NumberOutcome("12345", o.INVALID, "too short")],
            tx=tx,
        )
        store.step_send_recorded(draft, send_id=send_id, tx=tx)
    assert store.find_step(draft)["state"] == "sending"
    batch = store.claim_next_batch("P1", 30)
    store.finish_batch(
        batch.id,
        o.QUEUED,
        [o.NumberOutcome("400000001", o.QUEUED), o.NumberOutcome("400000002", o.UNSUBSCRIBED)],
        owner="P1",
    )
    step = store.find_step(draft)
    assert (step["state"], step["outcome"], step["queued"], step["left_out"]) == ("finished", "sent", 1, 2)
    assert store.find_step(draft)["send_id"] == send_id


def test_a_run_whose_send_queued_nothing_failed(store):
    draft = reviewing(store, numbers=("400000001",))
    with store.transaction() as tx:
        store.step_decided(draft, "UBOB", None, tx=tx)
        send_id = store.create_send(
            {"view_id": draft, "user_id": "UBOB", "channel_id": "C1", "message": "Hi"}, None, [["400000001"]], tx=tx
        )
        store.step_send_recorded(draft, send_id=send_id, tx=tx)
    batch = store.claim_next_batch("P1", 30)
    store.finish_batch(batch.id, o.FAILED, [o.NumberOutcome("400000001", o.FAILED, "refused")], owner="P1")
    step = store.find_step(draft)
    assert (step["outcome"], step["queued"], step["left_out"]) == ("failed", 0, 1)


def test_a_run_waiting_for_an_approver_is_refused_when_rejected_and_follows_the_send_when_approved(store):
    rejected, approved = reviewing(store, "D1", "Fx1"), reviewing(store, "D2", "Fx2")
    ids = {}
    for draft in (rejected, approved):
        with store.transaction() as tx:
            store.step_decided(draft, "UBOB", None, tx=tx)
            ids[draft] = store.create_approval(draft, "UBOB", "C1", RECORD, ["400000001"], None, "big", 60, tx=tx)
            store.step_send_recorded(draft, approval_id=ids[draft], tx=tx)
    assert store.decide_approval(ids[rejected], "rejected", "UA", "not today", "told")
    step = store.find_step(rejected)
    assert (step["state"], step["outcome"], step["note"], step["queued"]) == ("finished", "refused", "not today", 0)
    with store.transaction() as tx:
        assert store.decide_approval(ids[approved], "approved", "UA", "", "told", tx=tx)
        send_id = store.create_send(
            {"view_id": "approval-2", "user_id": "UBOB", "channel_id": "C1", "message": "Hi"},
            None,
            [["400000001"]],
            tx=tx,
        )
        store.approval_sent(ids[approved], send_id, tx=tx)
    assert store.find_step(approved)["send_id"] == send_id and store.find_step(approved)["state"] == "sending"


def test_a_review_left_undecided_is_cancelled_once_and_then_cannot_be_sent(store, clock):
    draft = reviewing(store, lifetime=60)
    clock.advance(59)
    assert store.expire_steps("nobody decided") == []
    clock.advance(2)
    assert store.expire_steps("nobody decided") == [draft] and store.expire_steps("nobody decided") == []
    assert not store.step_decided(draft, "UBOB", None)
    step = store.find_step(draft)
    assert (step["outcome"], step["queued"], step["left_out"]) == ("cancelled", 0, 3)  # 2 numbers + 1 left out
    assert store.step_media(draft) is None  # nothing kept that will never be sent


def test_a_check_left_by_a_stopped_process_is_claimed_by_one_live_process(stores, clock):
    first, second, third = stores(), stores(), stores()
    first.create_step("D1", "Fx1", None, "C1", "UBOB", {"message": "Hi"}, owner="P1", lease=5)
    assert second.claim_stranded_steps("P2", 5) == []  # its holder is alive
    clock.advance(6)
    won = []
    start = threading.Barrier(2)

    def claim(store, owner):
        start.wait()
        won.extend(store.claim_stranded_steps(owner, 5))

    threads = [threading.Thread(target=claim, args=a) for a in ((second, "P2"), (third, "P3"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [(s["draft_id"], s["checks"], s["inputs"]) for s in won] == [("D1", 2, {"message": "Hi"})]


def test_every_change_of_a_run_makes_its_report_due(store):
    draft = reviewing(store)
    key = step_key(draft)
    with store.transaction() as tx:
        assert tx.scalar("SELECT COUNT(*) FROM reports WHERE key = :key AND done_at IS NULL", {"key": key}) == 1
    (report,) = store.claim_reports("P1", 30)
    assert store.report_done(report)
    assert store.step_failed(draft, "no numbers") and not store.step_failed(draft, "again")
    with store.transaction() as tx:  # delivered before, due again with the failure
        assert tx.scalar("SELECT COUNT(*) FROM reports WHERE key = :key AND done_at IS NULL", {"key": key}) == 1
    assert store.find_step(draft)["error"] == "no numbers"


def test_a_run_whose_approval_request_is_withdrawn_is_cancelled_and_says_why(store):
    draft = reviewing(store)
    with store.transaction() as tx:
        store.step_decided(draft, "UBOB", None, tx=tx)
        approval_id = store.create_approval(draft, "UBOB", "C1", RECORD, ["400000001"], None, "big", 60, tx=tx)
        store.step_send_recorded(draft, approval_id=approval_id, tx=tx)
    assert store.decide_approval(approval_id, "withdrawn", "UBOB", "", "told")
    step = store.find_step(draft)
    assert (step["outcome"], step["note"]) == ("cancelled", "because its approval request was withdrawn")
