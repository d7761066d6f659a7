"""The issue's message: built once, personalised in the bytes, valid MIME for every recipient."""

from __future__ import annotations

import email
import html
import random
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import default

import pytest

from digest.errors import ConfigError, PermanentSendError
from digest.feeds.sanitize import clean_header_text
from digest.mail.message import MessageTemplate, make_message_id
from digest.models import TOKEN_EMAIL, TOKEN_NAME, TOKEN_UNSUBSCRIBE, Recipient, RenderedIssue

DATE = datetime(2024, 3, 4, 5, 6, 7, tzinfo=UTC)
MAILTO = "mailto:leave@example.org?subject=unsubscribe"

HTML = (
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Digest</title>"
    "<style>p{color:#333}</style></head><body>\n"
    f"<p>Hello {TOKEN_NAME},</p>\n"
    # a minified line far longer than 998 bytes, with a token in the middle of it
    + "<p>" + "Caf\u00e9 cr\u00e8me &amp; \u201cquotes\u201d = 100% " * 80 + TOKEN_NAME
    + " <b>x</b>" * 40 + "</p>\n"
    f"<p>Sent to {TOKEN_EMAIL}. <a href=\"{TOKEN_UNSUBSCRIBE}\">Unsubscribe</a></p>"
    f"{TOKEN_NAME}{TOKEN_EMAIL}\n</body></html>"
)
TEXT = (
    f"Hello {TOKEN_NAME},\n\n"
    "A line ending with spaces   \n"
    "\ttab first, = signs == here, and a dot:\n.\n"
    + "word " * 60 + "\n"
    f"{TOKEN_UNSUBSCRIBE}\n"
    f"Unsubscribe: {TOKEN_UNSUBSCRIBE} ({TOKEN_EMAIL})"  # no newline at the very end
)


def rendered(subject: str = "Weekly digest: caf\u00e9 news", *, html_part: str = HTML,
             text: str = TEXT) -> RenderedIssue:
    return RenderedIssue(subject=subject, html=html_part, text=text, preheader="", post_count=2)


def build(issue: RenderedIssue | None = None, /, **kw: object) -> MessageTemplate:
    args: dict[str, object] = {
        "from_addr": "Example Blog <digest@example.org>", "list_id": "blog.example.org",
        "reply_to": "Editor <editor@example.org>", "date": DATE,
        "list_unsubscribe_mailto": MAILTO}
    args.update(kw)
    return MessageTemplate.build(issue or rendered(), **args)  # type: ignore[arg-type]


def personal(template: MessageTemplate, recipient: Recipient) -> tuple[bytes, EmailMessage]:
    message_id = make_message_id(7, 42, template.from_addr, "0123abcd")
    data = template.personalize(recipient, message_id=message_id)
    msg = email.message_from_bytes(data, policy=default)
    assert isinstance(msg, EmailMessage)
    return data, msg


def parts(msg: EmailMessage) -> tuple[str, str]:
    plain, rich = msg.iter_parts()
    assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
    return (plain.get_content().replace("\r\n", "\n"), rich.get_content().replace("\r\n", "\n"))


def expected(recipient: Recipient) -> tuple[str, str]:
    shown = recipient.name
    text = (TEXT.replace(TOKEN_NAME, shown).replace(TOKEN_EMAIL, recipient.email)
            .replace(TOKEN_UNSUBSCRIBE, recipient.unsubscribe_url))
    rich = (HTML.replace(TOKEN_NAME, html.escape(shown))
            .replace(TOKEN_EMAIL, html.escape(recipient.email))
            .replace(TOKEN_UNSUBSCRIBE, html.escape(recipient.unsubscribe_url)))
    return text, rich


def head_and_body(data: bytes) -> tuple[bytes, bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def assert_wire_format(data: bytes) -> None:
    assert b"\n" not in data.replace(b"\r\n", b""), "bare LF or CR"
    assert b"\r" not in data.replace(b"\r\n", b"")
    head, body = head_and_body(data)
    assert head.isascii() and body.isascii()
    for line in head.split(b"\r\n"):  # folded to 78 columns unless one word is longer
        assert len(line) <= 78 or b" " not in line.strip().partition(b": ")[2], line
    assert max(len(line) for line in body.split(b"\r\n")) <= 76  # quoted-printable lines
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


def assert_to_name(data: bytes, msg: EmailMessage, name: str) -> None:
    """The To name as a reader sees it.

    Python's parser keeps the folding space between two encoded-words, which RFC 2047 §6.2 says
    to drop, so a long non-ASCII name is checked with the RFC's rule (``decode_header``) and,
    through Python's parser, up to spacing.
    """
    shown = msg["To"].addresses[0].display_name
    if name.isascii():
        assert shown == name
        return
    assert "".join(shown.split()) == "".join(name.split())
    head, _ = head_and_body(data)
    to = re.search(rb"\r\nTo: (.*?)\r\n(?! )", head + b"\r\n", re.S)
    assert to is not None
    phrase = to.group(1).replace(b"\r\n ", b" ").decode("ascii").rpartition(" <")[0]
    assert str(make_header(decode_header(phrase))) == name


BOB = Recipient("bob@example.com", "Bob Smith", "https://example.org/u/abc123")


def test_structure_and_headers() -> None:
    data, msg = personal(build(), BOB)
    assert msg.get_content_type() == "multipart/alternative"
    plain, rich = msg.iter_parts()
    assert [plain.get_content_type(), rich.get_content_type()] == ["text/plain", "text/html"]
    for part in (plain, rich):
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.get_content_charset() == "utf-8"
    assert msg["From"].addresses[0].addr_spec == "digest@example.org"
    assert msg["To"].addresses[0].display_name == "Bob Smith"
    assert msg["To"].addresses[0].addr_spec == "bob@example.com"
    assert msg["Subject"] == "Weekly digest: caf\u00e9 news"
    assert msg["Date"].datetime == DATE
    assert msg["Message-ID"] == "<digest.7.42.0123abcd@example.org>"
    assert msg["MIME-Version"] == "1.0"
    assert msg["List-Id"] == "Example Blog <blog.example.org>"
    assert re.fullmatch(r"<https://example\.org/u/abc123>,\s*<mailto:leave@example\.org"
                        r"\?subject=unsubscribe>", str(msg["List-Unsubscribe"]))
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Precedence"] == "bulk"
    assert msg["Reply-To"].addresses[0].addr_spec == "editor@example.org"
    assert parts(msg) == expected(BOB)
    assert_wire_format(data)


def test_no_reply_to_and_no_mailto() -> None:
    _, msg = personal(build(reply_to=None, list_unsubscribe_mailto=None), BOB)
    assert msg["Reply-To"] is None
    assert str(msg["List-Unsubscribe"]) == "<https://example.org/u/abc123>"


def test_list_unsubscribe_needs_https_for_one_click() -> None:
    plain_http = Recipient("bob@example.com", "Bob", "http://example.org/u/abc")
    _, msg = personal(build(), plain_http)
    assert str(msg["List-Unsubscribe"]) == f"<{MAILTO}>"
    assert msg["List-Unsubscribe-Post"] is None
    assert parts(msg) == expected(plain_http)  # the body still carries the link it was given
    _, msg = personal(build(list_unsubscribe_mailto=None), plain_http)
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None


HOSTILE = [
    "Digest\r\nBcc: victim@example.net",
    "Digest: Caf\u00e9 =?UTF-8?Q?=0A?=Bcc: victim@example.net",
    "Digest\u2028Bcc: victim@example.net\u0085X-Evil: 1",
    "=?UTF-8?B?DQpCY2M6IHZpY3RpbUBleGFtcGxlLm5ldA==?=",
]
HEADERS = ["From", "Subject", "Date", "Reply-To", "List-Id", "Auto-Submitted", "Precedence",
           "MIME-Version", "To", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post",
           "Content-Type"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_subject_and_names_add_no_header(hostile: str) -> None:
    template = build(rendered(subject=hostile), from_addr=f'"{hostile}" <digest@example.org>',
                     list_id=f"{hostile} <blog.example.org>")
    recipient = Recipient("bob@example.com", hostile, "https://example.org/u/1")
    data, msg = personal(template, recipient)
    assert list(msg.keys()) == HEADERS
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    for value in (msg["Subject"], msg["From"], msg["To"], msg["List-Id"]):
        assert "\n" not in str(value) and "\r" not in str(value)
    assert msg["Subject"] == clean_header_text(hostile)  # kept as harmless text
    assert_wire_format(data)


@pytest.mark.parametrize("name", [
    "Zo\u00eb \u00dcn\u00efcode", "\u5c71\u7530 \u592a\u90ce", "Ren\u00e9e O'Brien-M\u00fcller",
    'Dr. "Quoted" Name, Jr. (x) <y>', "\U0001f600 Emoji Fan",
    "\u00c9l\u00e9onore " * 12,  # long enough to need several encoded-words
    "Averylongasciinamewithoutanyspaces" * 3, "a b c d e f g h i j k l m n o p q r s t u v",
])
def test_names_round_trip(name: str) -> None:
    recipient = Recipient("someone@example.com", name, "https://example.org/u/x")
    data, msg = personal(build(), recipient)
    shown = " ".join(name.split())
    assert_to_name(data, msg, shown)
    assert msg["To"].addresses[0].addr_spec == "someone@example.com"
    assert parts(msg) == expected(recipient)  # the body shows the name exactly as given
    assert_wire_format(data)


def test_empty_name_gives_bare_address() -> None:
    recipient = Recipient("someone@example.com", "", "https://example.org/u/x")
    data, msg = personal(build(), recipient)
    assert b"\r\nTo: someone@example.com\r\n" in data
    assert parts(msg) == expected(recipient)


ALPHABET = "abcXYZ019 =.-_&<>\"'%?#/\u00e9\u00fc\u00df\u4e2d\U0001f600\u00a0"


def random_text(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))


def test_substitution_is_exact_for_many_values() -> None:
    rng = random.Random(20240304)
    template = build()
    for _ in range(300):
        name = " ".join(random_text(rng, 60).split())
        url = "https://example.org/u/" + random_text(rng, 400).replace(" ", "%20")
        local = "".join(rng.choice("abcxyz0189.+-_=") for _ in range(rng.randint(1, 40)))
        recipient = Recipient(f"x{local}@example.com", name, url)
        data, msg = personal(template, recipient)
        assert parts(msg) == expected(recipient)
        assert_to_name(data, msg, clean_header_text(name))
        assert_wire_format(data)


def test_tokens_anywhere_in_a_line() -> None:
    text = (f"{TOKEN_NAME}{TOKEN_NAME} {TOKEN_EMAIL}\n   {TOKEN_NAME}   \n\n{TOKEN_UNSUBSCRIBE}\r\n"
            f"x{TOKEN_EMAIL}y\r{'z' * 200}{TOKEN_NAME}")
    rich = f"<a href='{TOKEN_UNSUBSCRIBE}'>{TOKEN_NAME}</a>"
    template = build(rendered(html_part=rich, text=text))
    recipient = Recipient("a@example.com", "N\u00e4me   with  spaces ", "https://e.org/?a=1&b=2")
    data, msg = personal(template, recipient)
    name = recipient.name
    plain, got_html = parts(msg)
    assert plain == (text.replace("\r\n", "\n").replace("\r", "\n").replace(TOKEN_NAME, name)
                     .replace(TOKEN_EMAIL, recipient.email)
                     .replace(TOKEN_UNSUBSCRIBE, recipient.unsubscribe_url))
    assert got_html == "<a href='https://e.org/?a=1&amp;b=2'>" + name + "</a>"
    assert_wire_format(data)


def test_built_once_personalised_many_times() -> None:
    template = build()
    first, _ = personal(template, BOB)
    other = Recipient("eve@example.com", "Eve", "https://example.org/u/zzz")
    second, msg = personal(template, other)
    assert first != second
    assert parts(msg) == expected(other)
    assert personal(template, BOB)[0] == first  # the same recipient gets the same bytes


def test_message_id_is_stable_per_issue_subscriber_and_store() -> None:
    a = make_message_id(3, 9, "Blog <digest@Example.ORG>", "store0001")
    assert a == make_message_id(3, 9, "digest@example.org", "store0001")
    assert re.fullmatch(r"<[^@<>\s]+@example\.org>", a)
    assert len({a, make_message_id(3, 10, "digest@example.org", "store0001"),
                make_message_id(4, 9, "digest@example.org", "store0001"),
                make_message_id(3, 9, "digest@example.org", "store0002")}) == 4
    with pytest.raises(ValueError, match="store id"):
        make_message_id(3, 9, "digest@example.org", "x>\r\nBcc: y")


@pytest.mark.parametrize("bad", ["x@example.com\r\nBcc: v@example.net", "not an address",
                                 "a b@example.com", "<x@example.com>", "x@example.com,y@e.org",
                                 "us\u00e9r@example.com"])
def test_unusable_recipient_address_is_refused(bad: str) -> None:
    with pytest.raises(PermanentSendError, match="cannot be written in a mail header"):
        build().personalize(Recipient(bad, "Bob", "https://e.org/u"), message_id="<a@b.c>")


@pytest.mark.parametrize(("kw", "key"), [
    ({"from_addr": "no address here"}, "from"),
    ({"from_addr": "Blog <digest@exa mple.org>"}, "from"),
    ({"reply_to": "nobody"}, "reply_to"),
    ({"list_id": "no spaces allowed"}, "list_id"),
    ({"list_unsubscribe_mailto": "https://example.org/u"}, "unsubscribe"),
    ({"list_unsubscribe_mailto": "mailto:x@example.org>\r\nBcc: v@e.org"}, "unsubscribe"),
])
def test_bad_settings_are_named(kw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(**kw)
    assert info.value.key == key
