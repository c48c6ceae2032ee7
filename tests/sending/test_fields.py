import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sending.fields import FieldError, normalise_message, validate_sender


@given(st.text(max_size=30))
def test_sender_is_accepted_only_when_it_follows_the_gateway_rules(raw):
    try:
        sender = validate_sender(raw)
    except FieldError as exc:
        assert str(exc)
        return
    if sender is None:
        assert raw.strip() == ""
        return
    assert all(c.isascii() and (c.isalnum() or c in " -") for c in sender)
    assert len(sender) <= (16 if sender.isdigit() else 11)


@pytest.mark.parametrize("ok", ["ACME", "Acme-Co 1", "0400000001", "1234567890123456", "ABCDEFGHIJK"])
def test_valid_senders(ok):
    assert validate_sender(ok) == ok


@pytest.mark.parametrize("bad", ["12345678901234567", "ABCDEFGHIJKL", "+61400000001", "Acme!", "Café"])
def test_invalid_senders(bad):
    with pytest.raises(FieldError):
        validate_sender(bad)


def test_blank_sender_means_gateway_default():
    assert validate_sender("  ") is None and validate_sender(None) is None


def test_message_newlines_become_crlf_and_empty_is_refused():
    assert normalise_message("one\ntwo\r\nthree\rfour") == "one\r\ntwo\r\nthree\r\nfour"
    with pytest.raises(FieldError):
        normalise_message("  \n ")
