"""End to end: signed requests into the real bot process; loopback Slack and Cellcast; real SQLite."""

import io
import json
import time

import pytest
from PIL import Image

from tests.e2e.harness import ADMIN, db_rows, form, sign
from tests.fakes.server import wait_for


def png(size=(40, 30)):
    buffer = io.BytesIO()
    Image.new("RGB", size, "blue").save(buffer, "PNG")
    return buffer.getvalue()


def numbers(count, start=0):
    return [f"04{i:08d}" for i in range(start, start + count)]


def wait_finished(slack, channel="C1", timeout=20):
    return wait_for(lambda: slack.thread_replies(channel), timeout=timeout)[-1]


def problem(view: dict, field: str) -> str:
    """The text of the problems view's block for one field; fails if the view shows no such problem."""
    assert view["callback_id"] == "mms_problems" and "submit" not in view, view
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert f"problem_{field}" in blocks, list(blocks)
    return blocks[f"problem_{field}"]["text"]["text"]


def test_unsigned_and_stale_requests_get_401_and_do_nothing(bot, slack, cellcast):
    body = b"command=%2Fmms&text=&user_id=UADMIN&channel_id=C1&trigger_id=1"
    assert bot.post(body, headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 401
    assert bot.post(body, headers=sign(body, timestamp=int(time.time()) - 600)).status_code == 401
    assert bot.post(body, headers=sign(body, secret="wrong-secret")).status_code == 401
    submission = form(contacts="0400000001")
    assert bot.post(json.dumps(submission).encode(), headers=sign(b"something else")).status_code == 401
    # Refused before any listener ran (Bolt checks the signature first): nothing can follow.
    assert slack.calls_to("views.open") == [] and cellcast.calls == []


def test_health_check(bot):
    assert bot.http.get(bot.url + "/healthz").status_code == 200


def test_user_off_the_list_is_refused_and_gets_no_modal(bot, slack):
    response = bot.command(user="USTRANGER")
    assert response.status_code == 200
    assert "not on the list" in response.json()["text"]  # the listener's last step: nothing follows it
    assert slack.calls_to("views.open") == []


def test_mms_opens_the_modal_with_the_contract_block_ids(bot, slack):
    assert bot.command(channel="C42").status_code == 200
    (call,) = wait_for(lambda: slack.calls_to("views.open"))
    view = call.params["view"]
    assert call.params["trigger_id"] == "1337.42.abcd"
    assert [b["block_id"] for b in view["blocks"]] == [
        "sender",
        "message",
        "media",
        "gif",
        "contacts",
        "contacts_file",
        "send_at",
    ]
    optional = {b["block_id"]: b["optional"] for b in view["blocks"]}
    assert optional == {
        "sender": True,
        "message": False,
        "media": True,
        "gif": True,
        "contacts": True,
        "contacts_file": True,
        "send_at": True,
    }
    elements = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert elements["send_at"] == {"type": "datetimepicker", "action_id": "send_at"}
    assert elements["media"]["type"] == "file_input" and set(elements["media"]["filetypes"]) == {"jpg", "jpeg", "png"}
    assert elements["contacts_file"]["type"] == "file_input" and set(elements["contacts_file"]["filetypes"]) == {
        "csv",
        "txt",
        "xlsx",
        "xls",
    }
    assert elements["message"]["multiline"] is True
    assert json.loads(view["private_metadata"]) == {"channel_id": "C42"}


def test_full_send_with_image_gif_and_2500_contacts_across_both_inputs(bot, slack, cellcast):
    cellcast.unsubscribed = {"400000007"}
    text_numbers = numbers(500)
    file_numbers = numbers(2100, start=400)  # 100 overlap with the text box
    csv = ("Name,Mobile\n" + "\n".join(f"P{i},{n}" for i, n in enumerate(file_numbers)) + "\nBad,12345\n").encode()
    image = slack.host_file("FIMG", "cat.png", png())
    contacts_file = slack.host_file("FCSV", "list.csv", csv)
    slack.fetchable_images.add("https://media.example/cat.gif")
    bot.send(
        form(
            message="Line one\nLine two",
            sender="ACME",
            gif="https://media.example/cat.gif",
            contacts="\n".join(text_numbers),
            media=image,
            contacts_file=contacts_file,
        )
    )
    reply = wait_finished(slack)
    sizes = sorted(len(c.contacts) for c in cellcast.calls)
    assert sizes == [500, 1000, 1000]
    call = cellcast.calls[0]
    assert call.fields["message"] == "Line one\r\nLine two\r\nReply STOP to opt out" and call.fields["sender"] == "ACME"
    assert call.fields["gif"] == "https://media.example/cat.gif" and call.fields["countryCode"] == "61"
    assert call.media[0] == "cat.png" and call.media[1] == png()
    assert call.authorization.endswith("cellcast-KEY-secret-987")
    channel_post = slack.calls_to("chat.postMessage")[0]
    assert channel_post.params["channel"] == "C1" and "thread_ts" not in channel_post.params
    text = " ".join(slack.posted_texts("C1"))
    assert f"<@{ADMIN}>" in text and "2,500 numbers" in text and "Line one" in text
    assert any(
        b["type"] == "image" and b.get("image_url") == "https://media.example/cat.gif"
        for b in channel_post.params["blocks"]
    )
    summary = json.dumps(reply.params)
    assert reply.params["thread_ts"] == channel_post.answer["ts"]
    assert "2,499 queued" in summary and "1 unsubscribed" in summary and "1 invalid" in summary
    assert "0400 000 007" in summary and "12345" in summary and "too short" in summary
    assert "100 duplicate numbers" in summary
    updates = slack.accepted("chat.update")
    assert "Done" in json.dumps(updates[-1].params) and "2,499 queued" in json.dumps(updates[-1].params)


@pytest.mark.parametrize(
    "values, block, words",
    [
        (form(sender="Way too long sender", contacts="0400000001"), "sender", "at most 11"),
        (form(message="  ", contacts="0400000001"), "message", "Write a message"),
        (form(gif="https://example.com/cat.png", contacts="0400000001"), "gif", ".gif"),
        (form(contacts=None), "contacts", "at least one"),
    ],
)
def test_instant_field_errors_come_back_on_the_form(bot, cellcast, values, block, words):
    response = bot.submit(values)
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] == "errors"
    assert words in answer["errors"][block]
    assert cellcast.calls == []


def test_numbers_that_are_all_invalid_are_a_problem_on_the_problems_view(bot, cellcast):
    bot.submit(form(contacts="12345, hello"))
    assert "No valid Australian mobile" in problem(bot.review(), "contacts")
    assert cellcast.calls == []


def test_wrong_media_type_is_a_problem(bot, slack, cellcast):
    fake_png = slack.host_file("FGIF", "animation.png", b"GIF89a" + b"\x00" * 64)
    bot.submit(form(contacts="0400000001", media=fake_png))
    assert "JPG or PNG" in problem(bot.review(), "media")
    assert cellcast.calls == []


def test_permission_is_checked_again_at_submission(bot, slack, cellcast):
    assert "can now send" in bot.command("allow <@UBOB|bob>").json()["text"]
    assert "no longer" in bot.command("revoke <@UBOB>").json()["text"]
    answer = bot.submit(form(contacts="0400000001"), user="UBOB").json()
    assert answer["response_action"] == "errors" and "no longer send" in answer["errors"]["message"]
    assert cellcast.calls == []


@pytest.mark.parametrize(
    "behaviour, words",
    [
        ("422", "balance is too low"),
        ("401", "API key was refused"),
        ("sender", "not registered"),
        ("500", "outcome unknown"),
        ("garbage", "outcome unknown"),
        ("drop", "outcome unknown"),
        (("slow", 3), "outcome unknown"),
        ("contacts400", "rejected the contact list"),
    ],
)
def test_each_gateway_failure_ends_as_a_clear_thread_message(bot, slack, cellcast, behaviour, words, tmp_path):
    cellcast.then(behaviour)
    bot.send(form(contacts="0400000001, 0400000002"))
    reply = wait_finished(slack)
    text = json.dumps(reply.params)
    assert words in text
    assert "0400 000 001" in text and "0400 000 002" in text
    assert len(cellcast.calls) == 1  # never resent on its own
    state = db_rows(tmp_path, "SELECT state FROM batches")[0][0]
    assert state == ("unknown" if "unknown" in words else "failed")
    assert any(b.get("block_id") == "resend" for b in reply.params["blocks"])


def test_not_in_channel_sends_the_result_by_dm_with_how_to_invite(bot, slack, cellcast):
    slack.not_in_channel = {"CPRIVATE"}
    bot.send(form(contacts="0400000001"), channel="CPRIVATE")
    reply = wait_finished(slack, channel="DUADMIN")
    assert "1 queued" in json.dumps(reply.params)
    dm_text = " ".join(slack.posted_texts("DUADMIN"))
    assert "/invite" in dm_text and "CPRIVATE" in dm_text
    assert len(cellcast.calls) == 1


def test_allowlist_changes_survive_a_restart_and_are_audited(bot_factory, slack, tmp_path):
    bot = bot_factory()
    assert "can now send" in bot.command("allow UCAROL").json()["text"]
    assert "Only admins" in bot.command("allow UDAVE", user="UCAROL").json()["text"]
    bot.stop()
    bot = bot_factory()
    listing = bot.command("list").json()["text"]
    assert "<@UCAROL>" in listing and "<@UDAVE>" not in listing
    assert bot.command(user="UCAROL").status_code == 200
    wait_for(lambda: slack.calls_to("views.open"))
    audit = db_rows(tmp_path, "SELECT action, user_id, actor FROM allowlist_audit")
    assert audit == [("allow", "UCAROL", ADMIN)]


def test_help_is_for_everyone(bot):
    assert "/mms allow @user" in bot.command("help", user="USTRANGER").json()["text"]


def test_long_lists_go_to_the_thread_as_a_spreadsheet_safe_csv(bot, slack, cellcast):
    bad = (
        [f"=HYPERLINK(x{i})" for i in range(20)]
        + ["+44 7700 900123", "@SUM(1)", "-12345"]
        + [f"12{i}" for i in range(10)]
    )
    bot.send(form(contacts="0400000001\n" + "\n".join(bad)))
    reply = wait_finished(slack)
    assert "CSV file" in json.dumps(reply.params)
    complete = wait_for(lambda: slack.calls_to("files.completeUploadExternal"))[0]
    assert complete.params["channel_id"] == "C1" and complete.params["thread_ts"] == reply.params["thread_ts"]
    (content,) = slack.uploads.values()
    lines = content.decode("utf-8-sig").splitlines()
    assert lines[0] == "number,outcome,reason,message_id,delivery,message,conversation"
    assert any(line.startswith("0400000001,queued,,") for line in lines[1:])
    cells = [line.split(",")[0] for line in lines[1:]]
    assert "'=HYPERLINK(x0)" in cells and "'+44 7700 900123" in cells and "'@SUM(1)" in cells and "'-12345" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert len(lines) == 1 + 1 + len(bad)
