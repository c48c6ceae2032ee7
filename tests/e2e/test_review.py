"""The review gate, end to end: nothing is sent before the person confirms what the review shows."""

import codecs
import io
import json
import time
from urllib.parse import urlencode

from openpyxl import Workbook

from bench.rig import noise_png
from tests.e2e.harness import ADMIN, db_rows, form, view_submission
from tests.e2e.test_send import numbers, problem, wait_finished
from tests.fakes.server import wait_for
from tests.fakes.slack import flatten


def text_of(view: dict) -> str:
    return flatten(view["blocks"])


def sent_numbers(cellcast) -> list[str]:
    return sorted(c.removeprefix("+61") for c in cellcast.all_contacts())


def test_submitting_the_form_pushes_checking_without_a_submit_button_and_sends_nothing(bot, slack, cellcast):
    started = time.monotonic()
    response = bot.submit(form(contacts="0400000001, 0400000002"))
    answer = response.json()
    assert time.monotonic() - started < 1.0
    assert answer["response_action"] == "push"
    assert answer["view"]["callback_id"] == "mms_review" and "submit" not in answer["view"]
    assert "Checking" in text_of(answer["view"]) and answer["view"]["close"]["text"] == "Back"
    review = bot.review()
    assert review["submit"]["text"] == "Send to 2 numbers"
    bot.wait_quiet()  # a review left open sends nothing
    assert cellcast.calls == [] and slack.channel_posts() == []
    read = {path.split("?")[0] for path, _ in cellcast.reads}
    assert read and read <= {
        "/api/v1/apiClient/account",
        "/api/v1/apiClient/getOptout",
        "/api/v1/apiClient/getResponses",
    }


def test_the_review_shows_what_will_be_sent_and_the_crm_export_goes_to_the_mobile_column(bot, slack, cellcast):
    cellcast.mms_balance = 12345
    rows = ["CustomerID,Name,Mobile"] + [f"{400012345 + i},Person {i},04{i:08d}" for i in range(1200)]
    rows += ["400099999,Nobody,", "400099998,Typo,0400 12", "400099997,Again,0400000005"]
    crm = slack.host_file("FCRM", "crm-export.csv", ("\r\n".join(rows) + "\r\n").encode())
    image = slack.host_file("FIMG", "photo.png", noise_png(2_000_000))
    slack.fetchable_images.add("https://media.example/a.gif")
    bot.submit(
        form(
            message="Sale on now",
            sender="ACME",
            gif="https://media.example/a.gif",
            contacts="0400000001\n0499 999 999",
            contacts_file=crm,
            media=image,
        )
    )
    review = bot.review()
    text = text_of(review)
    assert review["submit"]["text"] == "Send to 1,201 numbers"
    assert "This MMS goes to 1,201 numbers" in text
    assert (
        "2 numbers typed in the form" in text
        and "1,199 numbers from crm-export.csv (CSV): column C “Mobile”, 1,203 rows" in text
    )
    assert "3 entries left out" in text and "1 invalid entry" in text and "“0400 12” (row 1203): too short" in text
    assert "2 duplicates" in text
    assert "> Sale on now" in text and "*ACME*" in text
    assert "re-encoded to fit" in text and "JPEG" in text and "px" in text
    assert "GIF link: https://media.example/a.gif" in text
    assert "about 1,201 (1 per MMS)" in text and "12,345 MMS credits" in text
    assert cellcast.calls == []
    bot.confirm(review)
    wait_finished(slack)
    expected = sorted({f"4{i:08d}" for i in range(1200)} | {"499999999"})
    assert sent_numbers(cellcast) == expected  # never the CustomerIDs
    assert not any(c.startswith("+614000123") for c in cellcast.all_contacts())


def test_a_balance_lower_than_the_send_is_a_clear_warning(bot, cellcast):
    cellcast.mms_balance = 1.5
    bot.submit(form(contacts="0400000001, 0400000002"))
    text = text_of(bot.review())
    assert "lower than this send needs" in text and "Recharge" in text


def test_a_balance_that_cannot_be_read_is_shown_with_why(bot, cellcast):
    cellcast.fail_reads("/api/v1/apiClient/account", "500")
    bot.submit(form(contacts="0400000001"))
    review = bot.review()
    assert review.get("submit") and "balance unknown" in text_of(review) and "could not be read" in text_of(review)


def test_a_refused_api_key_blocks_the_send_on_the_problems_view(bot, cellcast):
    cellcast.fail_reads("/api/v1/apiClient/account", "401")
    bot.submit(form(contacts="0400000001"))
    assert "API key was refused" in problem(bot.review(), "gateway")
    assert cellcast.calls == []


def test_every_field_at_fault_gets_its_own_problem_block(bot, slack, cellcast):
    not_an_image = slack.host_file("FTXT", "photo.jpg", b"just some text, not a photo")
    xls = slack.host_file("FXLS", "old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    bot.submit(form(contacts="0400000001", media=not_an_image, contacts_file=xls))
    view = bot.review()
    assert "JPG or PNG" in problem(view, "media")
    assert "old Excel .xls" in problem(view, "contacts_file")
    assert view["close"]["text"] == "Back"


def test_contacts_file_problems(bot_factory, slack, cellcast):
    bot = bot_factory(MMS_CONTACTS_MAX_BYTES="2000", MMS_CONTACTS_MAX_ROWS="50")
    cases = {
        "two mobile columns": (b"0400000001,0400000002\n0400000003,0400000004\n", "Several columns hold numbers"),
        "binary": (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4, "not a text file"),
        "too big": (b"Mobile\n" + b"0400000001\n" * 300, "too large"),
        "too many rows": (b"Mobile\n" + b"0400000001\n" * 60, "more than 50 rows"),
        "no numbers": (b"Name,Email\nAnn,ann@example.com\n", "No column of Australian mobile numbers"),
    }
    for index, (name, (data, words)) in enumerate(cases.items()):
        file = slack.host_file(f"F{index}", f"{name}.csv", data)
        bot.submit(form(contacts_file=file), view_id=f"V{index}")
        assert words in problem(bot.review(f"V{index}"), "contacts_file"), name
    assert cellcast.calls == []


def test_xlsx_utf16_and_unicode_digits_all_arrive_as_numbers(bot, slack, cellcast):
    workbook = Workbook()
    workbook.active.append(["Name", "Mobile"])
    workbook.active.append(["Ann", 412345678])  # Excel dropped the leading 0
    workbook.active.append(["Ben", "0400 000 002"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    xlsx = slack.host_file("FXLSX", "list.xlsx", buffer.getvalue())
    bot.send(form(contacts_file=xlsx), view_id="V1")
    utf16 = slack.host_file(
        "FU16", "list.csv", codecs.BOM_UTF16_LE + "Nom\tMobile\r\nZoë\t0400 000 003\r\n".encode("utf-16-le")
    )
    bot.send(form(contacts_file=utf16), view_id="V2")
    bot.send(
        form(
            contacts="\uff10\uff14\uff10\uff10\u00a0\uff10\uff10\uff10\u2013\uff10\uff10\uff14, \u200b0061 400 000 005"
        ),
        view_id="V3",
    )
    wait_for(lambda: len(slack.thread_replies()) == 3)
    assert sent_numbers(cellcast) == ["400000002", "400000003", "400000004", "400000005", "412345678"]


def test_a_review_confirmed_after_its_draft_expired_sends_nothing_and_says_so(bot, cellcast, tmp_path):
    bot.submit(form(contacts="0400000001"))
    review = bot.review()
    db_rows(tmp_path, "UPDATE drafts SET created_at = '2000-01-01T00:00:00.000+00:00'")
    answer = bot.confirm(review).json()
    assert answer["response_action"] == "update" and "no longer open" in flatten(answer["view"])
    bot.wait_quiet()
    assert cellcast.calls == []


def test_permission_is_checked_again_when_the_review_is_confirmed(bot, cellcast):
    bot.command("allow UBOB")
    bot.submit(form(contacts="0400000001"), user="UBOB")
    review = bot.review()
    bot.command("revoke UBOB")
    answer = bot.confirm(review, user="UBOB").json()
    assert answer["response_action"] == "update" and "no longer send" in flatten(answer["view"])
    bot.wait_quiet()
    assert cellcast.calls == []


def test_the_review_appears_even_when_slack_takes_the_pushed_view_late(bot, slack, cellcast):
    payload = view_submission(form(contacts="0400000001"), ADMIN, "C1", "VLATE")
    response = bot.post(urlencode({"payload": json.dumps(payload)}).encode())
    wait_for(lambda: slack.refusals)  # the bot's views.update came before Slack had the view
    assert slack.refusals[0] == ("views.update", {"ok": False, "error": "not_found"})
    bot.pushed["VLATE"] = slack.took_response(response.content, "VLATE")
    assert bot.review("VLATE")["submit"]["text"] == "Send to 1 number"


def test_a_slow_file_host_never_delays_the_answer_to_the_form(bot, slack, cellcast):
    slack.download_rate = 2_000_000  # bytes a second
    big = slack.host_file("FBIG", "big.png", noise_png(3_000_000))
    started = time.monotonic()
    answer = bot.submit(form(contacts="0400000001", media=big)).json()
    acked = time.monotonic() - started
    assert answer["response_action"] == "push" and acked < 0.5
    bot.review(timeout=30)
    assert time.monotonic() - started > 1.0  # the download really was slow; the ack did not wait for it


def test_dry_run_goes_all_the_way_without_calling_cellcast(bot_factory, slack, cellcast, tmp_path):
    bot = bot_factory(MMS_DRY_RUN="true", CELLCAST_API_KEY="")
    review = bot.send(form(contacts="0400000001, 0400000002"))
    assert "Dry run: nothing will be sent" in text_of(review)
    reply = wait_finished(slack)
    assert "Dry run: nothing was sent" in json.dumps(reply.params)
    assert any("Dry run: nothing was sent" in text for text in slack.posted_texts("C1"))
    assert cellcast.calls == [] and cellcast.reads == []
    queued = db_rows(tmp_path, "SELECT number, message_id FROM recipients WHERE outcome = 'queued'")
    assert len(queued) == 2 and all(message_id.startswith("dry-run-") for _, message_id in queued)


def test_nothing_reaches_the_gateway_before_the_review_is_confirmed_even_for_large_lists(bot, slack, cellcast):
    file = slack.host_file("FCSV", "list.csv", ("Mobile\n" + "\n".join(numbers(5000))).encode())
    bot.submit(form(contacts_file=file))
    review = bot.review()
    assert review["submit"]["text"] == "Send to 5,000 numbers"
    bot.wait_quiet()
    assert cellcast.calls == []
    bot.confirm(review)
    wait_finished(slack)
    assert len(cellcast.all_contacts()) == 5000
