"""A process that stops while a review is being checked strands nobody: a live process checks the form again
and shows the review in the same modal, or tells the person by direct message when the modal is gone."""

import signal
import time

from tests.e2e.harness import form
from tests.e2e.test_send import wait_finished
from tests.fakes.server import wait_for

SLOW_FILE = ("Mobile\r\n" + "".join(f"04000{i:05d}\r\n" for i in range(3000))).encode()  # 36 KB


def checking(bot_factory, slack, **env):
    """A bot whose check is under way (its contacts file downloading slowly) when this returns."""
    bot = bot_factory(**{"MMS_LEASE_SECONDS": "2", **env})
    slack.download_rate = 2000  # bytes a second: the check would take 18 s
    crm = slack.host_file("FSLOW", "list.csv", SLOW_FILE)
    assert bot.submit(form(contacts_file=crm), view_id="V1").json()["response_action"] == "push"
    wait_for(lambda: any("FSLOW" in path for _, path, _ in slack.downloads))
    return bot


def test_a_check_left_by_a_killed_process_is_done_by_the_next_and_shown_in_the_same_modal(bot_factory, slack, cellcast):
    first = checking(bot_factory, slack)
    first.stop(signal.SIGKILL)
    slack.download_rate = None
    second = bot_factory(MMS_LEASE_SECONDS="2")
    second.pushed = first.pushed  # the same modal, open in the person's Slack
    review = second.review("V1", timeout=30)
    assert review["submit"]["text"] == "Send to 3,000 numbers"
    second.confirm(review)
    wait_finished(slack)
    assert len(cellcast.all_contacts()) == 3000


def test_sigterm_abandons_a_check_at_once_and_the_next_process_takes_it_without_waiting(bot_factory, slack, cellcast):
    first = checking(bot_factory, slack, MMS_LEASE_SECONDS="60")  # a lease that would strand it for a minute
    started = time.monotonic()
    first.stop(signal.SIGTERM)
    stopped_in = time.monotonic() - started
    assert stopped_in < 8 + 2, stopped_in  # MMS_SHUTDOWN_GRACE (8 s) and the start-up of Python's exit
    assert "handed over to the next process" in first.log()
    slack.download_rate = None
    second = bot_factory(MMS_LEASE_SECONDS="60")
    second.pushed = first.pushed
    assert second.review("V1", timeout=20)["submit"]["text"] == "Send to 3,000 numbers"


def test_when_the_modal_is_gone_the_person_is_told_by_direct_message(bot_factory, slack, cellcast):
    first = checking(bot_factory, slack)
    first.stop(signal.SIGKILL)
    slack.download_rate = None
    pushed = first.pushed["V1"]
    slack.views.pop(pushed)  # the person closed the modal meanwhile
    slack.external_ids = {k: v for k, v in slack.external_ids.items() if v != pushed}
    bot_factory(MMS_LEASE_SECONDS="2")
    told = wait_for(lambda: [t for t in slack.posted_texts() if "restarted while it was checking" in t], timeout=30)
    assert "Nothing was sent" in told[0] and "/mms" in told[0]
    assert cellcast.calls == []
