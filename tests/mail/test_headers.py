"""One header encoder for text from feeds and people: parsed back by the standard library, every
space kept, every line folded under 78 characters, in many scripts."""

from __future__ import annotations

import email
import random
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import default

import pytest

from digest.mail.headers import address_header, encoded_words, text_header
from digest.mail.message import MessageTemplate, format_to
from digest.models import TOKEN_UNSUBSCRIBE, Recipient, RenderedIssue

NOW = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
TEXTS = [
    "새로운 기능을 사용할 수 있습니다: 이번 주에는 블로그 글 세 편과 댓글 기능을 사용할 수 있어요",
    # Python's own folder (email.policy.SMTP) puts the space after "이번" between two
    # encoded-words, where readers drop it: "이번über".
    "the 을 사용할 🎉 the über 수 이번 über مرحبا 을 café 새로운 café 기능을 읽어요 テキスト",
    "مرحبا بكم في النشرة الأسبوعية: مقالات جديدة عن البرمجة والتصميم والكتابة كل أسبوع",
    "Weekly 🎉 digest: emoji 🎉🎉 everywhere 🚀 and more 🚀 text, long enough to be folded twice",
    "A long plain ASCII subject that goes on and on, well past the seventy-eight columns of a line",
    "Mixed: café, naïve, Zoë Ørsted, Ελληνικά, Русский текст, हिन्दी, ไทย ไทย ไทย and 中文标题",
    "한국어한국어한국어한국어한국어한국어한국어한국어한국어한국어한국어한국어 (one long word)",
    "short",
    "Quotes \"and\" back\\slashes, <angles> and = ? marks",
]


def _lines_ok(raw: bytes) -> None:
    for line in raw.split(b"\r\n"):
        assert len(line) <= 78, line
        assert line.isascii(), line


def _legacy(value: str) -> str:
    """RFC 2047 decoding as every mail reader does it (whitespace between encoded-words ignored)."""
    return str(make_header(decode_header(value))).strip()


@pytest.mark.parametrize("text", TEXTS)
def test_a_subject_comes_back_exactly(text: str) -> None:
    raw = text_header("Subject", text)
    _lines_ok(raw)
    parsed = email.message_from_bytes(raw + b"\r\n", policy=default)
    assert parsed["Subject"] == text
    assert _legacy(raw.decode("ascii").partition(":")[2].replace("\r\n", "")) == text


def test_no_space_is_ever_dropped_between_encoded_words() -> None:
    rng = random.Random(7)
    words = ["새로운", "기능을", "사용할", "수", "을", "مرحبا", "🎉", "café", "über", "日本語",
             "テキスト", "ok", "the", "x" * 40, "ไทย"]
    for _ in range(500):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 30)))
        raw = text_header("Subject", text)
        _lines_ok(raw)
        assert email.message_from_bytes(raw + b"\r\n", policy=default)["Subject"] == text


@pytest.mark.parametrize("text", TEXTS)
def test_every_space_sits_inside_an_encoded_word(text: str) -> None:
    for word in encoded_words(text):
        assert len(word) <= 75  # RFC 2047 2
    joined = "".join(str(make_header(decode_header(w))) for w in encoded_words(text))
    assert joined == text


@pytest.mark.parametrize("name", TEXTS)
def test_display_names_come_back(name: str) -> None:
    raw = address_header("From", name, "digest@example.org")
    _lines_ok(raw)
    value = raw.decode("ascii").partition(":")[2].replace("\r\n", "")
    if not name.isascii():
        assert _legacy(value) == f"{name} <digest@example.org>"
    # Python's address parser keeps whitespace between adjacent encoded-words in a phrase
    # (CPython gh-128110), so compare it where the name fits in one word or is plain ASCII.
    parsed = email.message_from_bytes(raw + b"\r\n", policy=default)["From"]
    assert parsed.addresses[0].addr_spec == "digest@example.org"
    if name.isascii() or len(encoded_words(name)) == 1:
        assert parsed.addresses[0].display_name == name


def _message(subject: str, name: str) -> EmailMessage:
    rendered = RenderedIssue(subject, f'<a href="{TOKEN_UNSUBSCRIBE}">x</a>', "x\n", "", 1)
    template = MessageTemplate.build(
        rendered, from_addr=f"{name} <digest@example.org>", list_id=f"{name} <blog.example.org>",
        reply_to=f"{name} <editor@example.org>", date=NOW, list_unsubscribe_mailto=None)
    data = template.personalize(Recipient("ann@example.org", name, "https://example.org/u"),
                                message_id="<digest.1.1.abcdef12@example.org>")
    _lines_ok(data.split(b"\r\n\r\n", 1)[0])
    message = email.message_from_bytes(data, policy=default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize("text", TEXTS[:4])
def test_every_header_with_text_from_feeds_or_people_uses_the_encoder(text: str) -> None:
    # As a config would hold it: colons and commas would make it a group or a list unquoted.
    name = text[:60].replace(":", "").replace(",", "").strip()
    message = _message(text, name)
    assert message["Subject"] == text
    label = {"From": "<digest@example.org>", "Reply-To": "<editor@example.org>",
             "To": "<ann@example.org>", "List-Id": "<blog.example.org>"}
    for header, rest in label.items():
        assert _legacy(_raw_header(message, header)) == f"{name} {rest}", header


def _raw_header(message: EmailMessage, name: str) -> str:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value).replace("\r\n", "").replace("\n", "")
    raise AssertionError(f"no {name}")


def test_to_names_are_encoded_the_same_way() -> None:
    for name in TEXTS:
        raw = format_to(name, "ann@example.org")
        _lines_ok(raw)
        value = raw.decode("ascii").partition(":")[2].replace("\r\n", "")
        if name.isascii():
            parsed = email.message_from_bytes(raw + b"\r\n", policy=default)["To"]
            assert parsed.addresses[0].display_name == name
        else:
            assert _legacy(value) == f"{name} <ann@example.org>"
