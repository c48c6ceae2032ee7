"""The suppression list and the copy in memory that follows it, on both engines."""

import threading
import time

import pytest

from bot.sending.gateway import InboundReply
from bot.sending.optouts import SOURCE_REPLY
from bot.sending.sync import CellcastSync
from tests.store.conftest import Crash


def test_the_copy_follows_every_change_made_by_any_process(stores):
    reader, writer = stores(), stores()
    assert reader.suppressed_among(["400000001"]) == {}
    writer.suppress_many(["400000001", "400000002"], "cellcast")
    writer.unsuppress("400000002", "UADMIN", "typo")
    assert reader.suppressed_among(["400000001", "400000002"]) == {"400000001": "cellcast"}
    assert [a["action"] for a in writer.suppression_audit()] == ["suppress", "suppress", "unsuppress"]


def test_a_change_committed_after_a_later_one_is_never_skipped(stores):
    """Two writers: the first to start commits last. Audit ids are taken in start order, so a copy
    that followed ids would see the second, move past the first's id, and miss it for ever."""
    reader, first, second = stores(), stores(), stores()
    reader.suppressed_among([])  # loaded: from now on it follows the changes
    done = threading.Event()
    with first.transaction() as tx:
        first.suppress("400000001", "reply", tx=tx)

        def later():
            second.suppress("400000002", "reply")
            done.set()

        thread = threading.Thread(target=later)
        thread.start()
        time.sleep(0.3)  # the second writer waits for the first (that wait is the rule under test)
        assert reader.suppressed_among(["400000001", "400000002"]) == {}
    thread.join(10)
    assert done.is_set()
    assert reader.suppressed_among(["400000001", "400000002"]) == {"400000001": "reply", "400000002": "reply"}


def test_a_number_listed_twice_keeps_its_first_source_without_an_error(store):
    with store.transaction() as tx:
        assert store.suppress("400000001", "cellcast", tx=tx)
        assert not store.suppress("400000001", "reply", tx=tx)
    assert store.suppression_entry("400000001")["source"] == "cellcast"


class _NoGateway:
    pass


def test_a_stop_reply_and_its_suppression_are_one_transaction(store, crash_on):
    sync = CellcastSync(store, _NoGateway(), owner="p1", every=300)
    reply = InboundReply(id="r1", number="61400000001", body="STOP", received_at="2026-11-30T01:00:00+00:00")
    crash_on("INSERT INTO suppression ")
    with pytest.raises(Crash):
        sync.take_reply(reply, "poll")
    assert store.suppressed_among(["400000001"]) == {}
    reply_id = sync.take_reply(reply, "poll")  # the next poll sees it again: it was not recorded half
    assert reply_id is not None and store.suppressed_among(["400000001"]) == {"400000001": SOURCE_REPLY}
    assert sync.take_reply(reply, "poll") is None  # and then once only
