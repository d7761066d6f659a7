"""DKIM: digest's signatures checked by dkimpy's verifier, over personalised messages."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from digest.mail.dkim import SIGNED_HEADERS, DkimSigner, KeyProblem, load_rsa_key
from digest.mail.message import MessageTemplate, make_message_id
from digest.mail.tokens import unsubscribe_token
from digest.models import TOKEN_EMAIL, TOKEN_NAME, TOKEN_UNSUBSCRIBE, Recipient, RenderedIssue
from support.dkimkeys import DOMAIN, SELECTOR, DkimKey, signature_tags

DATE = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
FROM = "Feeling Again <digest@example.org>"
LONG_DOMAIN = ".".join(["a-rather-long-label-for-testing-folding-" + str(i) for i in range(5)])
SECRET = b"0123456789abcdef-test-secret"
REQUIRED = {"from", "to", "subject", "date", "message-id", "list-unsubscribe",
            "list-unsubscribe-post"}

HTML = ("<!DOCTYPE html><html><body><p>Hello {name},</p>\n"
        "<p>Caf\u00e9  cr\u00e8me\t&amp; more   spaces " * 30
        + "</p>\n<p><a href=\"{url}\">Unsubscribe</a> ({email})</p></body></html>\n")
TEXT = "Hello {name},\n\ntrailing spaces   \n\n" + "word  " * 50 + "\n\nLeave: {url}\n\n\n"


@pytest.fixture(scope="module")
def signer(key: DkimKey) -> DkimSigner:
    return DkimSigner.from_pem(DOMAIN, SELECTOR, key.pem)


def template(signer: DkimSigner | None, *, mailto: str | None = "mailto:leave@example.org"
             "?subject=unsubscribe", reply_to: str | None = None) -> MessageTemplate:
    tokens = {"name": TOKEN_NAME, "url": TOKEN_UNSUBSCRIBE, "email": TOKEN_EMAIL}
    rendered = RenderedIssue(subject="Feeling Again weekly: caf\u00e9 notes " * 3,
                             html=HTML.format(**tokens), text=TEXT.format(**tokens),
                             preheader="", post_count=1)
    return MessageTemplate.build(rendered, from_addr=FROM, list_id="feeling.example.org",
                                 reply_to=reply_to, date=DATE, list_unsubscribe_mailto=mailto,
                                 sign=signer)


def recipients() -> list[Recipient]:
    people = [("ann@example.org", "Ann Lee"), ("bob@example.org", "Bob Ørsted"),
              ("zoe@example.org", ""), ("cy@example.org", "Nguyễn Thị Minh Khai " * 4),
              ("dee@example.org", 'Dee "the editor" O\'Neil')]
    out = []
    for number, (email, name) in enumerate(people, start=1):
        token = unsubscribe_token(SECRET, number * 1000003, email, "feeling.example.org")
        out.append(Recipient(email, name, f"https://{LONG_DOMAIN}/unsubscribe?token={token}"))
    return out


def signed_copies(signer: DkimSigner, **kw: object) -> list[bytes]:
    built = template(signer, **kw)  # type: ignore[arg-type]
    return [built.personalize(r, message_id=make_message_id(3, i, FROM, "teststore"))
            for i, r in enumerate(recipients())]


def test_personalised_messages_verify(key: DkimKey, signer: DkimSigner) -> None:
    copies = signed_copies(signer, reply_to="Editor <editor@example.org>")
    assert len(copies) == 5
    for raw in copies:
        assert raw.startswith(b"DKIM-Signature: ")
        assert dkim.verify(raw, dnsfunc=key.dns()) is True
        tags = signature_tags(raw)
        assert (tags["a"], tags["c"], tags["d"], tags["s"]) == (
            "rsa-sha256", "relaxed/relaxed", DOMAIN, SELECTOR)


def test_signing_changes_no_byte_of_the_message(signer: DkimSigner) -> None:
    plain = template(None)
    signed = template(signer)
    for i, recipient in enumerate(recipients()[:2]):
        original = plain.personalize(recipient, message_id=make_message_id(3, i, FROM, "teststore"))
        raw = signed.personalize(recipient, message_id=make_message_id(3, i, FROM, "teststore"))
        assert raw.endswith(b"\r\n" + original)
        signature = raw[: len(raw) - len(original)]
        assert all(len(line) <= 78 for line in signature.split(b"\r\n"))
        # The whole unsubscribe URL sits unbroken in the header, token and all.
        assert f"<{recipient.unsubscribe_url}>".encode() in original


def test_the_header_list_covers_what_receivers_require(signer: DkimSigner) -> None:
    raw = signed_copies(signer, reply_to="Editor <editor@example.org>")[0]
    names = signature_tags(raw)["h"].split(":")
    assert REQUIRED | {"mime-version", "content-type", "list-id", "reply-to"} <= set(names)
    # Oversigned: each name once more than the message has it, so none can be added later.
    for name in REQUIRED:
        assert names.count(name) == 2, name
    assert set(names) == set(SIGNED_HEADERS)


@pytest.mark.parametrize("old, new", [
    (b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
     b"List-Unsubscribe-Post: List-Unsubscribe=One-Clicks"),
    (b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",  # a second one added
     b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nList-Unsubscribe-Post: x\r\n"),
    (b"List-Unsubscribe: <https://", b"List-Unsubscribe: <http://"),
    (b"trailing spaces", b"trailing spices"),  # the text part
    (b"Unsubscribe</a>", b"Unsubscribe </a>"),  # the HTML part
    (b"\r\nFrom: ", b"\r\nFrom: Mallory <m@example.net>\r\nFrom: "),
    (b"\r\nSubject: ", b"\r\nReply-To: m@example.net\r\nSubject: "),
])
def test_tampering_breaks_the_signature(key: DkimKey, signer: DkimSigner, old: bytes,
                                        new: bytes) -> None:
    raw = signed_copies(signer)[0]
    assert dkim.verify(raw, dnsfunc=key.dns()) is True
    assert raw.count(old) == 1
    assert dkim.verify(raw.replace(old, new), dnsfunc=key.dns()) is False


def test_one_click_cannot_be_added_to_a_mailto_only_message(key: DkimKey,
                                                            signer: DkimSigner) -> None:
    built = template(signer)
    mail_only = Recipient("ann@example.org", "Ann", "mailto:leave@example.org?subject=x")
    raw = built.personalize(mail_only, message_id=make_message_id(3, 1, FROM, "teststore"))
    assert b"List-Unsubscribe-Post" not in raw
    assert dkim.verify(raw, dnsfunc=key.dns()) is True
    added = raw.replace(b"\r\nMIME-Version: ", b"\r\nList-Unsubscribe-Post: List-Unsubscribe="
                                              b"One-Click\r\nMIME-Version: ")
    assert dkim.verify(added, dnsfunc=key.dns()) is False


@pytest.mark.parametrize("body", [
    b"", b"\r\n", b"\r\n\r\n\r\n", b"x", b"x \t ", b"a  b\t\tc \r\n\r\n", b" \r\n \r\n",
    b"\tlead\r\n  \r\nmid  \r\nend\r\n\r\n", b"a" * 5000 + b"  \r\n" * 3,
])
def test_body_canonicalisation_matches_dkimpy(key: DkimKey, signer: DkimSigner,
                                              body: bytes) -> None:
    raw = (b"From: A <a@example.org>\r\nTo: b@example.org\r\nSubject:  two \t spaces \r\n"
           b"Date: Wed, 25 Nov 2026 07:00:00 +0000\r\nMessage-ID: <1@example.org>\r\n\r\n" + body)
    ours = signer.sign(raw)
    theirs = dkim.sign(raw, SELECTOR.encode(), DOMAIN.encode(), key.pem,
                       canonicalize=(b"relaxed", b"relaxed"),
                       include_headers=[b"from", b"to", b"subject"]) + raw
    assert signature_tags(ours)["bh"] == signature_tags(theirs)["bh"]
    assert dkim.verify(ours, dnsfunc=key.dns()) is True
    assert dkim.verify(theirs, dnsfunc=key.dns()) is True


def test_a_message_without_body_separator_is_signed(key: DkimKey, signer: DkimSigner) -> None:
    raw = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: s\r\n"
    assert dkim.verify(signer.sign(raw), dnsfunc=key.dns()) is True


def _pem(private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
         encryption: serialization.KeySerializationEncryption | None = None,
         fmt: serialization.PrivateFormat = serialization.PrivateFormat.PKCS8) -> bytes:
    return private.private_bytes(serialization.Encoding.PEM, fmt,
                                 encryption or serialization.NoEncryption())


def test_pkcs1_keys_load_too(key: DkimKey) -> None:
    loaded = load_rsa_key(key.pem)
    pkcs1 = _pem(loaded, fmt=serialization.PrivateFormat.TraditionalOpenSSL)
    assert pkcs1.startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert load_rsa_key(pkcs1).key_size == 2048


@pytest.mark.parametrize("make, message", [
    (lambda: b"not a key", "not a PEM private key"),
    (lambda: b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
     "not a PEM private key"),
    (lambda: _pem(ec.generate_private_key(ec.SECP256R1())), "not an RSA key"),
    (lambda: _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024),
                  serialization.BestAvailableEncryption(b"pass phrase")), "encrypted"),
])
def test_unusable_keys_are_named_without_their_material(make: object, message: str) -> None:
    pem = make()  # type: ignore[operator]
    with pytest.raises(KeyProblem, match=message) as caught:
        load_rsa_key(pem)
    body_lines = [line for line in pem.splitlines() if line and not line.startswith(b"-----")]
    assert not any(line.decode() in str(caught.value) for line in body_lines)


def test_selector_and_domain_are_checked(key: DkimKey) -> None:
    with pytest.raises(KeyProblem, match="selector"):
        DkimSigner.from_pem("example.org", "bad selector;", key.pem)
    with pytest.raises(KeyProblem, match="selector"):
        DkimSigner.from_pem("example.org; h=from", "s1", key.pem)


def test_unsubscribe_urls_stay_whole_in_long_headers(signer: DkimSigner) -> None:
    raw = signed_copies(signer)[3]  # the longest name and URL
    head = raw.partition(b"\r\n\r\n")[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    unfolded = re.sub(rb"\r\n[ \t]", b" ", head)
    [value] = re.findall(rb"^List-Unsubscribe: (.*?)\r$", unfolded, re.M)
    assert value == (f"<{recipients()[3].unsubscribe_url}>, "
                     "<mailto:leave@example.org?subject=unsubscribe>").encode()
