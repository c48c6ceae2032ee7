"""A store that refuses writes (a full disk), in the real bot process: people get a clear answer, nothing is
sent twice, a gateway answer that could not be recorded is recorded once the store takes writes again, and
/healthz says 503 meanwhile. The refusal is injected at the store's seam (tests/e2e/refusing_store/); the
same path under a real full filesystem is tests/store/test_full_disk.py."""

import json

from tests.e2e.harness import ROOT, form
from tests.e2e.test_send import wait_finished
from tests.fakes.server import wait_for
from tests.fakes.slack import flatten

REFUSING = ROOT / "tests" / "e2e" / "refusing_store"


def refusing_bot(bot_factory, tmp_path, **env):
    flag = tmp_path / "disk-full"
    bot = bot_factory(PYTHONPATH=f"{REFUSING}:{ROOT}", MMS_TEST_REFUSE_WRITES=str(flag), **env)
    return bot, flag


def health(bot) -> int:
    return bot.http.get(bot.url + "/healthz").status_code


def test_a_form_and_a_review_the_store_cannot_record_say_so_and_send_nothing(bot_factory, slack, cellcast, tmp_path):
    bot, flag = refusing_bot(bot_factory, tmp_path)
    flag.touch()
    answer = bot.submit(form(contacts="0400000001"), view_id="V1")
    assert answer.status_code == 200 and "cannot record this form" in answer.json()["errors"]["message"]
    assert health(bot) == 503
    flag.unlink()
    assert bot.submit(form(contacts="0400000001"), view_id="V2").json()["response_action"] == "push"
    review = bot.review("V2")
    flag.touch()
    confirmed = bot.confirm(review)
    assert confirmed.status_code == 200
    assert "cannot record this send" in flatten(confirmed.json()["view"]) and "nothing was sent" in flatten(
        confirmed.json()["view"]
    )
    flag.unlink()
    wait_for(lambda: health(bot) == 200)
    assert cellcast.calls == []


def test_a_gateway_answer_that_could_not_be_recorded_is_recorded_when_writes_come_back(
    bot_factory, slack, cellcast, tmp_path
):
    # Short leases: a report claimed when the refusal began (its delivery could not be recorded) is taken up again
    # within seconds once writes come back (with the default 10 s it was, but a loaded machine ran out the wait).
    bot, flag = refusing_bot(bot_factory, tmp_path, MMS_LEASE_SECONDS="2")
    cellcast.latency = 1.0
    bot.send(form(contacts="0400000001, 0400000002"))
    wait_for(lambda: cellcast.calls)
    flag.touch()  # the call is on the wire: its answer arrives while nothing can be written
    wait_for(lambda: "recording its outcome" in bot.log(), timeout=10)
    assert health(bot) == 503
    flag.unlink()
    summary = wait_finished(slack, timeout=45)
    assert "2 queued" in flatten(summary.params)
    assert len(cellcast.calls) == 1 and sorted(cellcast.all_contacts()) == ["+61400000001", "+61400000002"]
    wait_for(lambda: health(bot) == 200)
    assert json.dumps([c.params for c in slack.calls]).count("Result for") == 1
