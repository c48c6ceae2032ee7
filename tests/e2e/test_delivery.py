"""What happened since: delivery reports, unknown outcomes confirmed, /mms history and status, the App Home."""

import time

import httpx

from bot.sending import outcomes as o
from bot.store import Store
from tests.e2e.harness import ADMIN, form
from tests.e2e.test_send import numbers, wait_finished
from tests.fakes.server import wait_for
from tests.fakes.slack import MAX_VIEW_BLOCKS, flatten

SECRET = "whsec-0123456789abcdefXYZ"


def last_channel_text(slack, channel="C1"):
    return flatten(slack.accepted("chat.update")[-1].params) if slack.accepted("chat.update") else ""


def thread_texts(slack, channel="C1"):
    return [flatten(c.params) for c in slack.thread_replies(channel)]


def test_four_delivered_and_one_failed_reach_the_channel_message_and_the_thread(bot_factory, slack, cellcast):
    bot = bot_factory(CELLCAST_SYNC_SECONDS="1")
    bot.send(form(contacts="\n".join(numbers(5))))
    wait_finished(slack)
    for i in range(4):
        cellcast.deliver(f"4{i:08d}", "delivered")
    cellcast.deliver("400000004", "failed")
    wait_for(lambda: any("Delivery: 4 delivered, 1 not delivered." in t for t in thread_texts(slack)), timeout=15)
    wait_for(lambda: "Delivery: 4 delivered, 1 not delivered. Details" in last_channel_text(slack), timeout=15)
    singles = [p for p, _ in cellcast.reads if p.startswith("/api/v2/report/message/")]
    assert singles and not any(p.startswith("/api/v2/report/message?") for p, _ in cellcast.reads)  # few: one by one


def test_many_messages_are_read_from_the_report_pages_not_one_call_each(bot_factory, slack, cellcast):
    bot = bot_factory(CELLCAST_SYNC_SECONDS="1")
    bot.send(form(contacts_file=slack.host_file("F", "l.csv", ("Mobile\n" + "\n".join(numbers(1500))).encode())))
    wait_finished(slack)
    for i in range(1500):
        cellcast.deliver(f"4{i:08d}", "delivered")
    wait_for(lambda: any("Delivery: 1,500 delivered, 0 not delivered." in t for t in thread_texts(slack)), timeout=20)
    assert not any(p.startswith("/api/v2/report/message/") for p, _ in cellcast.reads)
    pages = [p for p, _ in cellcast.reads if p.startswith("/api/v2/report/message?")]
    assert 15 <= len(pages) <= 60 and "campType=mms" in pages[0]


def test_an_unknown_batch_is_confirmed_from_the_report_and_the_thread_says_so(bot_factory, slack, cellcast, tmp_path):
    bot = bot_factory(CELLCAST_SYNC_SECONDS="1")
    cellcast.then("queue_then_drop")
    bot.send(form(contacts="0400000001, 0400000002"))
    first = wait_finished(slack)
    assert "2 numbers outcome unknown" in flatten(first.params)
    wait_for(
        lambda: any(
            "confirms that 2 of the numbers whose outcome was unknown were queued" in t for t in thread_texts(slack)
        ),
        timeout=15,
    )
    assert [(r["outcome"], r["reason"]) for r in bot.recipients(1)] == [
        (o.QUEUED, "queued (confirmed by Cellcast's report)")
    ] * 2
    assert len(cellcast.calls) == 1  # confirmed, never sent again


def _a_lost_send_and_its_send_again(bot_factory, slack, cellcast, tmp_path, *behaviours):
    bot = bot_factory(CELLCAST_SYNC_SECONDS="1")
    cellcast.then(*behaviours)
    bot.send(form(contacts="0400000001, 0400000002, 0400000003"))
    assert "3 numbers outcome unknown" in flatten(wait_finished(slack).params)
    assert bot.click_resend(1).status_code == 200
    wait_for(lambda: len(cellcast.calls) == 2, timeout=15)
    bot.wait_quiet()
    return bot


def _sync_rounds_after(cellcast, rounds: int = 3) -> None:
    after = time.monotonic()
    wait_for(
        lambda: len([at for path, at in cellcast.reads if path.startswith("/api/v2/report") and at > after]) >= rounds,
        timeout=20,
    )


def test_a_report_record_confirms_one_send_only_and_in_doubt_none(bot_factory, slack, cellcast, tmp_path):
    """The first send's request was lost before Cellcast queued anything; its Send again was queued but
    its answer lost too. The report's records (same text, same numbers, same hour) may be either's: both
    stay unknown, rather than 6 numbers recorded queued for 3 sent."""
    bot = _a_lost_send_and_its_send_again(bot_factory, slack, cellcast, tmp_path, "drop", "queue_then_drop")
    _sync_rounds_after(cellcast)
    assert o.QUEUED not in {*bot.outcomes(1).values(), *bot.outcomes(2).values()}


def test_an_unknown_send_is_not_confirmed_from_the_records_of_its_send_again(bot_factory, slack, cellcast, tmp_path):
    bot = _a_lost_send_and_its_send_again(bot_factory, slack, cellcast, tmp_path, "drop")
    _sync_rounds_after(cellcast)
    assert set(bot.outcomes(1).values()) == {o.UNKNOWN}
    assert list(bot.outcomes(2).values()) == [o.QUEUED] * 3


def test_absence_from_the_report_never_turns_unknown_into_not_sent(bot_factory, slack, cellcast, tmp_path):
    bot = bot_factory(CELLCAST_SYNC_SECONDS="1")
    cellcast.then("drop")  # the gateway never got it, but nobody can know that
    bot.send(form(contacts="0400000001"))
    wait_finished(slack)
    bot.wait_sync_rounds(2)  # the report pages were read twice, and found nothing to confirm it by
    assert bot.outcomes(1) == {"400000001": o.UNKNOWN}


def test_reports_that_never_come_read_delivery_not_reported(bot_factory, slack, cellcast):
    bot = bot_factory(CELLCAST_SYNC_SECONDS="1", MMS_DELIVERY_HOURS="0.0008")  # about 3 seconds
    bot.send(form(contacts="0400000001, 0400000002"))
    wait_finished(slack)
    wait_for(lambda: any("Delivery not reported" in t for t in thread_texts(slack)), timeout=15)
    wait_for(lambda: "Delivery: not reported." in last_channel_text(slack), timeout=15)


def test_the_delivery_webhook_updates_the_send(bot_factory, slack, cellcast, tmp_path):
    bot = bot_factory(CELLCAST_WEBHOOK_SECRET=SECRET)
    # The sync's first round (at start) is behind us: it would otherwise race the send, record its reports'
    # "queued" and pace the next delivery line by 10 s. The next round is 5 minutes away.
    wait_for(lambda: bot.metrics().get("mms_sync_rounds_total", 0) >= 1)
    bot.send(form(contacts="0400000001, 0400000002"))
    wait_finished(slack)
    message_id = next(r["message_id"] for r in bot.recipients(1) if r["number"] == "400000001")
    status = {
        "_id": message_id,
        "status": "delivered",
        "type": "send",
        "sender": "cellcast",
        "receiver": "+61400000001",
    }
    assert httpx.post(f"{bot.url}/cellcast/webhook/{SECRET}", json=status).status_code == 200
    wait_for(lambda: "Delivery: 1 delivered, 0 not delivered, 1 pending." in last_channel_text(slack), timeout=10)
    assert {r["number"]: r["delivery"] for r in bot.recipients(1)} == {"400000001": "delivered", "400000002": ""}


def test_history_and_status_for_the_sender_for_an_admin_and_no_one_else(bot, slack, cellcast):
    bot.command("allow UBOB")
    bot.send(form(contacts="0400000001, 12345"), user="UBOB", view_id="V1")
    wait_finished(slack)
    bot.send(form(contacts="0400000002"), view_id="V2")
    wait_for(lambda: len(slack.thread_replies()) == 2)
    mine = bot.command("history", user="UBOB").json()["text"]
    assert "Your last 10 sends" in mine and "<@UBOB> in <#C1>" in mine and "1 queued" in mine and "send `1`" in mine
    assert "send `2`" not in mine
    everyone = bot.command("history all").json()["text"]
    assert "send `1`" in everyone and "send `2`" in everyone
    assert "Only admins" in bot.command("history all", user="UBOB").json()["text"]
    status = bot.command("status 1", user="UBOB").json()
    assert "1 queued, 1 invalid" in flatten(status["blocks"]) and len(status["blocks"]) <= 50
    assert "Only the person who sent it, or an admin" in bot.command("status 1", user="UCAROL").json()["text"]
    assert "1 queued" in flatten(bot.command("status 1").json()["blocks"])  # an admin
    assert "no send `99`" in bot.command("status 99").json()["text"]
    upload = wait_for(
        lambda: [c for c in slack.accepted("files.completeUploadExternal") if c.params.get("channel_id") == "DUBOB"]
    )
    assert upload


def test_the_app_home_is_published_within_slacks_limits_with_50_past_sends(bot, slack, cellcast, database):
    store = Store(database.url)
    for i in range(50):
        store.create_send(
            {"view_id": f"K{i}", "user_id": ADMIN, "channel_id": "C1", "message": "hi", "dry_run": 0},
            None,
            [],
            [o.NumberOutcome(f"40000{i:04d}", o.INVALID, "test")],
        )
    store.suppress("400000009", "suppressed by an admin")
    view = bot.open_home()
    assert view["type"] == "home" and len(view["blocks"]) <= MAX_VIEW_BLOCKS
    text = flatten(view)
    assert (
        "Send MMS" in text and "10,000 credits" in text and "Suppressed numbers:* 1" in text and "/mms history" in text
    )
    button = next(e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"])
    bot.click([b for b in view["blocks"] if b["type"] == "actions"], button["action_id"])
    opened = wait_for(lambda: slack.accepted("views.open"))[-1]
    assert opened.params["view"]["callback_id"] == "mms_send"
