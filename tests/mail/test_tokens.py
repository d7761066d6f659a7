"""Signed tokens: what they carry, what they refuse, and unsubscribe tokens bound to an address."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from digest.errors import TokenError
from digest.mail.tokens import (
    read_unsubscribe_token,
    sign,
    unsubscribe_token,
    unverified_payload,
    verify,
)
from digest.models import Subscriber

SECRET = b"0123456789abcdef-test-secret"
OTHER_SECRET = b"fedcba9876543210-test-secret"
NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
LIST_ID = "Feeling Again weekly <feeling-again-weekly.example.org>"
URL_SAFE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

PEOPLE = {
    1: Subscriber(1, "ann@example.org", "Ann Lee"),
    2: Subscriber(2, "bob@example.org", "Bob Ørsted", status="unsubscribed"),
    3: Subscriber(3, "Cy.Nguyen@Example.org", ""),
}


def _flip(text: str, index: int) -> str:
    """The text with one base64url character changed."""
    char = text[index]
    return text[:index] + ("A" if char != "A" else "B") + text[index + 1:]


def _forge_body(token: str, payload: dict[str, object]) -> str:
    """A token whose body says something else, keeping the original signature."""
    body = json.dumps({"d": payload}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(body).rstrip(b"=").decode() + "." + token.split(".")[1]


def test_round_trip_keeps_text_and_numbers() -> None:
    payload: dict[str, str | int] = {"s": 42, "email": "zoë+news@example.org", "n": -7, "empty": ""}
    token = sign(SECRET, "confirm", payload)
    assert URL_SAFE.fullmatch(token)
    assert verify(SECRET, "confirm", token, now=NOW) == payload


def test_tokens_are_compact_and_deterministic() -> None:
    token = unsubscribe_token(SECRET, 123456, "ann@example.org", LIST_ID)
    assert token == unsubscribe_token(SECRET, 123456, "ann@example.org", LIST_ID)
    # The address is bound by the signature but not carried: the link does not reveal it.
    assert "ann" not in base64.urlsafe_b64decode(token.split(".")[0] + "==").decode()
    assert len(token) < 100


@pytest.mark.parametrize("secret, purpose, context", [
    (OTHER_SECRET, "unsubscribe", "ann@example.org"),  # another DIGEST_SECRET
    (SECRET, "confirm", "ann@example.org"),  # another purpose
    (SECRET, "unsubscribe", "bob@example.org"),  # another address
])
def test_a_token_is_only_good_for_its_secret_purpose_and_context(
        secret: bytes, purpose: str, context: str) -> None:
    token = sign(SECRET, "unsubscribe", {"s": 1}, context="ann@example.org")
    assert verify(SECRET, "unsubscribe", token, now=NOW, context="ann@example.org") == {"s": 1}
    with pytest.raises(TokenError, match="signature does not match"):
        verify(secret, purpose, token, now=NOW, context=context)


def test_an_unsubscribe_token_is_no_confirmation_token() -> None:
    token = unsubscribe_token(SECRET, 1, "ann@example.org", LIST_ID)
    for context in ("", "ann@example.org"):
        with pytest.raises(TokenError, match="something other than confirm"):
            verify(SECRET, "confirm", token, now=NOW, context=context)


def test_every_altered_character_is_noticed() -> None:
    token = sign(SECRET, "confirm", {"s": 5, "list": "blog.example.org"})
    for index in range(len(token)):
        if token[index] == ".":
            continue
        with pytest.raises(TokenError):
            verify(SECRET, "confirm", _flip(token, index), now=NOW)


def test_a_rewritten_body_with_the_old_signature_is_refused() -> None:
    token = sign(SECRET, "confirm", {"s": 5})
    forged = _forge_body(token, {"s": 6})
    assert unverified_payload(forged) == {"s": 6}  # it reads fine ...
    with pytest.raises(TokenError, match="signature"):  # ... but is not genuine
        verify(SECRET, "confirm", forged, now=NOW)


def test_expiry() -> None:
    token = sign(SECRET, "confirm", {"s": 1}, expires_at=NOW + timedelta(days=2))
    assert verify(SECRET, "confirm", token, now=NOW + timedelta(days=1)) == {"s": 1}
    with pytest.raises(TokenError, match="expired"):
        verify(SECRET, "confirm", token, now=NOW + timedelta(days=2))
    # A forged expiry is a forgery first.
    with pytest.raises(TokenError, match="signature"):
        verify(SECRET, "confirm", _forge_body(token, {"s": 1}), now=NOW)


@pytest.mark.parametrize("bad", [
    "", "   ", "nodot", "a.b.c", "abc.", ".abc", "ab+c.def", "abc.de/f", "abc.d=",
    "é.abc", "a" * 3000 + ".abc",
    "e30.AAAA",  # a signature of the wrong length
    "abcde.AAAAAAAAAAAAAAAAAAAAA",  # a signature that is not base64url (21 characters)
])
def test_malformed_tokens_are_refused(bad: str) -> None:
    with pytest.raises(TokenError, match="malformed"):
        verify(SECRET, "confirm", bad, now=NOW)


@pytest.mark.parametrize("body", [b"[]", b'{"d":[1]}', b'{"d":{"a":true}}', b'{"d":{"a":{}}}',
                                  b'{"d":{},"x":"soon"}', b"not json", b"\xff\xfe"])
def test_bodies_that_are_no_token_are_malformed_even_unverified(body: bytes) -> None:
    token = base64.urlsafe_b64encode(body).rstrip(b"=").decode() + "." + "A" * 22
    with pytest.raises(TokenError, match="malformed"):
        unverified_payload(token)


def test_signing_refuses_unsuitable_input() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        sign(b"short", "confirm", {"s": 1})
    with pytest.raises(ValueError, match="purpose"):
        sign(SECRET, "", {"s": 1})
    with pytest.raises(TypeError):
        sign(SECRET, "confirm", {"s": True})
    with pytest.raises(TypeError):
        sign(SECRET, "confirm", {"s": 1.5})  # type: ignore[dict-item]


def test_unsubscribe_token_names_the_subscriber_and_list() -> None:
    token = unsubscribe_token(SECRET, 3, "cy.nguyen@example.org", LIST_ID)
    # The address is compared case-insensitively, as the store does.
    assert read_unsubscribe_token(SECRET, token, list_id=LIST_ID, lookup=PEOPLE.get,
                                  now=NOW) == PEOPLE[3]
    assert unverified_payload(token) == {"s": 3, "l": "feeling-again-weekly.example.org"}
    # The list may be given as its bare label as well.
    assert read_unsubscribe_token(SECRET, token, list_id="feeling-again-weekly.example.org",
                                  lookup=PEOPLE.get, now=NOW).id == 3


def test_a_token_cannot_be_turned_into_another_subscribers() -> None:
    token = unsubscribe_token(SECRET, 1, "ann@example.org", LIST_ID)
    forged = _forge_body(token, {"s": 2, "l": "feeling-again-weekly.example.org"})
    with pytest.raises(TokenError, match="signature"):
        read_unsubscribe_token(SECRET, forged, list_id=LIST_ID, lookup=PEOPLE.get, now=NOW)
    # A subscriber id now held by another address (a store rebuilt from scratch) is refused too.
    moved = {1: Subscriber(1, "someone-else@example.org", "")}
    with pytest.raises(TokenError, match="signature"):
        read_unsubscribe_token(SECRET, token, list_id=LIST_ID, lookup=moved.get, now=NOW)


def test_a_token_for_another_list_or_nobody_is_refused() -> None:
    token = unsubscribe_token(SECRET, 1, "ann@example.org", "Other <other.example.org>")
    with pytest.raises(TokenError, match="for the list other.example.org"):
        read_unsubscribe_token(SECRET, token, list_id=LIST_ID, lookup=PEOPLE.get, now=NOW)
    preview = unsubscribe_token(SECRET, 0, "digest@example.org", LIST_ID)
    with pytest.raises(TokenError, match="subscriber 0, who is not in this store"):
        read_unsubscribe_token(SECRET, preview, list_id=LIST_ID, lookup=PEOPLE.get, now=NOW)
    confirm = sign(SECRET, "confirm", {"email": "ann@example.org"})
    with pytest.raises(TokenError, match="not an unsubscribe token"):
        read_unsubscribe_token(SECRET, confirm, list_id=LIST_ID, lookup=PEOPLE.get, now=NOW)
