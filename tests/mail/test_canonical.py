"""Relaxed body canonicalisation from pieces: the same hash as the whole body, every split."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import dkim
import pytest

from digest.mail.canonical import body_hash, joined_body_hash, relaxed_body, relaxed_lines
from digest.mail.dkim import DkimSigner, split_message
from digest.mail.message import MessageTemplate, make_message_id
from digest.models import TOKEN_EMAIL, TOKEN_NAME, TOKEN_UNSUBSCRIBE, Recipient, RenderedIssue
from support.dkimkeys import DOMAIN, SELECTOR, DkimKey


def dkimpy_relaxed(body: bytes) -> bytes:
    """dkimpy's own relaxed body canonicalisation, the reference."""
    return bytes(dkim.RelaxedCanonicalization.canonicalize_body(body))


def test_relaxed_body_is_dkimpys_on_every_short_body() -> None:
    for length in range(7):
        for chars in itertools.product(b" \t\r\na", repeat=length):
            body = bytes(chars)
            if b"\r" in body.replace(b"\r\n", b"") or b"\n" in body.replace(b"\r\n", b""):
                continue  # bare CR or LF: a message here has CRLF line endings only
            assert relaxed_body(body) == dkimpy_relaxed(body), body


def test_joined_hash_is_the_whole_bodys_for_every_split() -> None:
    # Every body of up to 6 bytes over space, tab, CR, LF and a letter, cut into three pieces
    # at every pair of places: boundaries inside whitespace runs and CRLFs included.
    for length in range(7):
        for chars in itertools.product(b" \t\r\na", repeat=length):
            body = bytes(chars)
            for i, j in itertools.combinations_with_replacement(range(length + 1), 2):
                pieces = [body[:i], body[i:j], body[j:]]
                canonical = [relaxed_lines(p) for p in pieces]
                assert joined_body_hash(pieces, canonical) == body_hash(body), (body, i, j)


@pytest.mark.parametrize("name", ["Ann Lee", "  Ann  ", "\tTabs\tin\tthe name\t", "",
                                  "Nguyễn Thị Minh Khai " * 6, "ends with space "])
def test_a_copys_body_hash_is_that_of_its_bytes(key: DkimKey, name: str) -> None:
    signer = DkimSigner.from_pem(DOMAIN, SELECTOR, key.pem)
    html = (f"<p>Hello {TOKEN_NAME} </p>\n<p>  indented   text\t</p>\n" * 20
            + f"<a href=\"{TOKEN_UNSUBSCRIBE}\">leave</a> {TOKEN_EMAIL}   \n")
    text = f"Hello {TOKEN_NAME}   \n\n{TOKEN_UNSUBSCRIBE}\n{TOKEN_EMAIL}\n\n\n"
    rendered = RenderedIssue("Subject", html, text, "", 1)
    built = MessageTemplate.build(rendered, from_addr="Digest <digest@example.org>",
                                  list_id="digest.example.org", reply_to=None,
                                  date=datetime(2026, 12, 1, tzinfo=UTC),
                                  list_unsubscribe_mailto=None, sign=signer)
    recipient = Recipient("ann@example.org", name, "https://example.org/leave?token=a b")
    data, found = built.unsigned(recipient, message_id=make_message_id(1, 2, "d@example.org",
                                                                       "teststore"))
    assert found is not None
    assert found == body_hash(split_message(data)[1])
    signed = built.personalize(recipient, message_id="<m@example.org>")
    assert dkim.verify(signed, dnsfunc=key.dns()) is True
