"""The gateway client against a real loopback server answering with the documented bodies."""

import socket
import time

import pytest

from bot.cellcast import CellcastClient
from bot.sending import gateway as g
from bot.sending.gateway import MediaFile
from tests.fakes.cellcast import FakeCellcast

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def client_for(fake, **kwargs):
    kwargs.setdefault("sleep", lambda seconds: None)
    return CellcastClient("key-SECRET-123", fake.base_url, timeout=kwargs.pop("timeout", 2.0), **kwargs)


def send(client, contacts=("+61400000002",), **kwargs):
    return client.send_mms(message=kwargs.pop("message", "Hello\r\nthere"), contacts=list(contacts), **kwargs)


def test_request_is_documented_multipart_with_bearer_key(cellcast):
    send(
        client_for(cellcast),
        contacts=["+61400000002", "+61400000003"],
        sender="ACME",
        gif_url="https://x.test/a.gif",
        media=MediaFile("pic.png", PNG, "image/png"),
    )
    (call,) = cellcast.calls
    assert call.authorization == "Bearer key-SECRET-123"
    assert call.content_type.startswith("multipart/form-data")
    assert call.fields == {
        "message": "Hello\r\nthere",
        "contacts": '["+61400000002", "+61400000003"]',
        "countryCode": "61",
        "sender": "ACME",
        "gif": "https://x.test/a.gif",
    }
    assert call.media == ("pic.png", PNG, "image/png")


def test_without_media_it_is_still_multipart_and_omits_blank_fields(cellcast):
    send(client_for(cellcast))
    (call,) = cellcast.calls
    assert call.content_type.startswith("multipart/form-data")
    assert set(call.fields) == {"message", "contacts", "countryCode"}
    assert call.media is None


def test_success_reports_queued_invalid_and_unsubscribed(cellcast):
    cellcast.unsubscribed = {"400000001"}
    result = send(client_for(cellcast), contacts=["+61400000001", "+61400000002", "0400000003", "62400000001"])
    assert [q.number for q in result.queued] == ["400000002", "400000003"]
    assert all(q.message_id for q in result.queued)
    assert result.unsubscribed == ["400000001"]
    assert [(i.contact, i.error_type) for i in result.invalid] == [("62400000001", "number_not_valid")]


@pytest.mark.parametrize(
    "behaviour, error, outcome, words",
    [
        ("401", g.TokenExpired, "failed", "API key"),
        ("sender", g.SenderNotRegistered, "failed", "not registered"),
        ("contacts400", g.ContactsRejected, "failed", "Contacts must either start with 61"),
        ("422", g.BalanceTooLow, "failed", "balance is too low"),
        ("status_false", g.GatewayRejected, "failed", "Something went wrong"),
        ("500", g.ServerError, "unknown", "outcome unknown"),
        ("garbage", g.MalformedResponse, "unknown", "outcome unknown"),
        ("drop", g.OutcomeUnknown, "unknown", "outcome unknown"),
    ],
)
def test_each_documented_failure_is_typed_and_never_retried(cellcast, behaviour, error, outcome, words):
    cellcast.then(behaviour)
    with pytest.raises(error) as caught:
        send(client_for(cellcast))
    assert caught.value.outcome == outcome
    assert words.lower() in caught.value.user_message.lower()
    assert len(cellcast.calls) == 1


def test_read_timeout_is_unknown_outcome_with_exactly_one_request(cellcast):
    cellcast.then(("slow", 1.5))
    with pytest.raises(g.OutcomeUnknown) as caught:
        send(client_for(cellcast, timeout=0.5))
    assert caught.value.outcome == "unknown"
    assert len(cellcast.calls) == 1


def test_429_waits_retry_after_then_succeeds(cellcast):
    waits = []
    cellcast.then(("429", 2), ("429", 3))
    result = send(client_for(cellcast, sleep=waits.append))
    assert waits == [2.0, 3.0]
    assert len(cellcast.calls) == 3
    assert [q.number for q in result.queued] == ["400000002"]


def test_429_that_never_ends_is_a_failure_not_a_loop(cellcast):
    cellcast.then(*[("429", 0)] * 10)
    with pytest.raises(g.RateLimited) as caught:
        send(client_for(cellcast, rate_limit_attempts=3))
    assert caught.value.outcome == "failed"
    assert len(cellcast.calls) == 3


def test_retry_after_too_long_is_not_waited(cellcast):
    waits = []
    cellcast.then(("429", 3600))
    with pytest.raises(g.RateLimited):
        send(client_for(cellcast, sleep=waits.append))
    assert waits == [] and len(cellcast.calls) == 1


def test_connect_failure_is_retried_then_reported_as_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        waits = []
        client = CellcastClient("k", f"http://127.0.0.1:{port}", timeout=1.0, connect_attempts=3, sleep=waits.append)
        with pytest.raises(g.Unreachable) as caught:
            send(client)
    assert caught.value.outcome == "failed"
    assert len(waits) == 2


def test_connect_failure_then_success_sends_once():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here yet: connections are refused
    started = []

    def gateway_comes_back(seconds):
        started.append(FakeCellcast().start(port))

    client = CellcastClient("k", f"http://127.0.0.1:{port}", timeout=2, sleep=gateway_comes_back)
    try:
        result = send(client)
        assert len(started) == 1 and len(started[0].calls) == 1 and result.queued
    finally:
        client.close()
        for fake in started:
            fake.stop()


def test_the_api_key_never_appears_in_errors(cellcast):
    for behaviour in ("401", "500", "garbage", "drop"):
        cellcast.then(behaviour)
        with pytest.raises(g.GatewayError) as caught:
            send(client_for(cellcast))
        assert "SECRET" not in str(caught.value) and "SECRET" not in caught.value.user_message


def test_more_than_1000_contacts_is_refused_before_sending(cellcast):
    with pytest.raises(ValueError):
        send(client_for(cellcast), contacts=[f"+614{i:08d}" for i in range(1001)])
    assert cellcast.calls == []


def test_the_stand_in_refuses_a_sixteenth_call_in_a_second_as_cellcast_does(cellcast):
    """Cellcast: 15 calls a second per account, then 429 with OVER_LIMIT and Retry-After, nothing processed.
    Without a rate limiter in front, the client meets it, waits as told, and gets through."""
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        time.sleep(seconds)

    client = client_for(cellcast, sleep=sleep)
    started = time.monotonic()
    for index in range(15):
        send(client, contacts=[f"+614000000{index:02d}"])
    assert not cellcast.over_limit and not waits
    within_a_second = time.monotonic() - started < 0.9  # (a machine that slow would spread them out: nothing to refuse)
    send(client, contacts=["+61400000099"])  # the 16th: refused, then sent after the wait
    if within_a_second:
        assert len(cellcast.over_limit) == 1 and waits == [1.0]
    assert cellcast.all_contacts().count("+61400000099") == 1  # the refused attempt was not processed


def test_an_sms_is_the_documented_json_to_the_sms_endpoint_and_read_as_a_send(cellcast):
    result = client_for(cellcast).send_sms(message="Yes, 9\r\nis fine", contacts=["+61400000002"], sender="0400000009")
    (call,) = cellcast.calls
    assert call.sms and call.content_type.startswith("application/json")
    assert call.authorization == "Bearer key-SECRET-123"
    assert call.fields == {
        "message": "Yes, 9\r\nis fine",
        "contacts": '["+61400000002"]',
        "countryCode": "61",
        "sender": "0400000009",
    }
    assert [q.number for q in result.queued] == ["400000002"] and result.queued[0].message_id


@pytest.mark.parametrize(
    "behaviour, error", [("401", g.TokenExpired), ("422", g.BalanceTooLow), ("500", g.ServerError)]
)
def test_an_sms_refused_is_typed_as_an_mms_refusal_is(cellcast, behaviour, error):
    cellcast.then(behaviour)
    with pytest.raises(error):
        client_for(cellcast).send_sms(message="hi", contacts=["+61400000002"])
    assert len(cellcast.calls) == 1


def test_a_sender_the_sms_endpoint_refuses_is_a_sender_refusal(cellcast):
    with pytest.raises(g.SenderNotRegistered):
        client_for(cellcast).send_sms(message="hi", contacts=["+61400000002"], sender="A NAME TOO LONG")
