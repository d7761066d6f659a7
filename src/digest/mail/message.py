"""The MIME message of an issue: built once, personalised per recipient in the bytes.

Building and serialising an ``EmailMessage`` costs about 1.5 ms per message, more than the SMTP
exchange. Only a few values differ per recipient, so the message is encoded once with the TOKENS of
``digest.models`` still in it and each token is replaced in the final bytes. What goes in (the
per-issue fill, each recipient's values and headers) comes from ``digest.mail.fill``; this module
only encodes it.

Both parts are quoted-printable, encoded here rather than by the ``email`` package so that every
token sits alone on a line between soft breaks: a soft break can never split a token, and the value
put in its place is itself quoted-printable encoded and soft-wrapped to lines of at most 75
characters plus the ``=`` that follows it. Every line of the result is at most 76 bytes.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, getaddresses, parseaddr

from digest.errors import ConfigError, PermanentSendError
from digest.feeds.sanitize import clean_header_text
from digest.mail import fill
from digest.mail.canonical import Signer, joined_body_hash, relaxed_lines
from digest.mail.fill import HEADER_URI_RE, list_unsubscribe_headers
from digest.mail.headers import address_header, fold, phrase_words, text_header
from digest.mail.message_id import make_message_id
from digest.models import TOKENS, Recipient, RenderedIssue

__all__ = ["MessageTemplate", "format_to", "list_unsubscribe_headers", "make_message_id",
           "qp_value"]

CRLF = b"\r\n"
_SOFT_BREAK = b"=\r\n"
_QP_WIDTH = 75  # characters before the "=" of a soft break (RFC 2045: lines of at most 76)
# Bytes quoted-printable may leave as they are (a space only mid-line, handled at line ends).
_SAFE = bytes(range(33, 127)).replace(b"=", b"") + b" "
_QP_UNIT = [bytes([b]) if b in _SAFE else b"=%02X" % b for b in range(256)]
_TOKEN_RE = re.compile("(" + "|".join(re.escape(t) for t in TOKENS) + ")")
_ADDR_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")
_ATOMS_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")
_LIST_LABEL_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)+")

# A place in the body where a token was: (token, inside the HTML part).
Slot = tuple[str, bool]


def qp_value(value: str) -> bytes:
    """Quoted-printable lines of at most 75 characters joined by soft breaks (no final break)."""
    raw = value.encode("utf-8")
    if len(raw) <= _QP_WIDTH and not raw.translate(None, _SAFE):
        return raw
    # istext=False encodes CR and LF too, so the only line breaks are binascii's soft breaks.
    lines = binascii.b2a_qp(raw, istext=False).replace(b"\r\n", b"\n").split(b"=\n")
    last = lines[-1]
    if len(last) > _QP_WIDTH:  # binascii allows 76; a soft break follows this value here
        cut = -3 if last[-3:-2] == b"=" else -1  # "=" only ever starts an escape
        lines[-1:] = [last[:cut], last[cut:]]
    return _SOFT_BREAK.join(lines)


def _wrap(units: list[bytes]) -> list[bytes]:
    """Group encoded units into lines of at most 75 characters, never splitting a unit."""
    lines: list[bytes] = []
    line: list[bytes] = []
    width = 0
    for unit in units:
        if width + len(unit) > _QP_WIDTH:
            lines.append(b"".join(line))
            line, width = [], 0
        line.append(unit)
        width += len(unit)
    lines.append(b"".join(line))
    return lines


def _encode_part(text: str, *, in_html: bool) -> list[bytes | Slot]:
    """Encode text as quoted-printable CRLF lines, each token left as a Slot alone on its line."""
    out: list[bytes | Slot] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        pieces = _TOKEN_RE.split(line)
        for i, piece in enumerate(pieces):
            if i % 2:  # a token: end the line before it with a soft break, and the token's own
                out.append((piece, in_html))
                out.append(_SOFT_BREAK)
                continue
            units = [_QP_UNIT[b] for b in piece.encode("utf-8")]
            if i == len(pieces) - 1 and units and units[-1] == b" ":
                units[-1] = b"=20"  # whitespace before a hard break would be stripped in transit
            lines = _wrap(units)
            out.append(b"".join(chunk + _SOFT_BREAK for chunk in lines[:-1]))
            last = lines[-1]
            if i < len(pieces) - 1:
                out.append(last + _SOFT_BREAK if last else b"")
            else:
                out.append(last + CRLF)
    return _merge(out)


def _merge(segments: list[bytes | Slot]) -> list[bytes | Slot]:
    merged: list[bytes | Slot] = []
    for seg in segments:
        if isinstance(seg, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += seg
        elif seg != b"":
            merged.append(seg)
    return merged


def _split_address(value: str, what: str) -> tuple[str, str]:
    value = clean_header_text(value, limit=998)  # a line break would confuse parseaddr
    name, addr = parseaddr(value)
    # parseaddr is lenient: it drops spaces and takes the first of several addresses.
    if not _ADDR_RE.fullmatch(addr) or addr not in value or len(getaddresses([value])) != 1:
        raise ConfigError(f"{value!r} is not a valid email address", key=what)
    return clean_header_text(name), addr


def format_to(name: str, email: str) -> bytes:
    """The To header line for one recipient (name already cleaned), RFC 2047 when not ASCII."""
    if not _ADDR_RE.fullmatch(email):
        raise PermanentSendError(f"address {email!r} cannot be written in a mail header")
    return address_header("To", name, email)


@dataclass(frozen=True)
class MessageTemplate:
    """An issue's message, encoded once; ``personalize`` fills in one recipient.

    ``content`` is the issue as every sender sends it: per-issue values filled (``fill.for_issue``
    with the ``issue`` values given to ``build``), per-recipient TOKENS still in it. The mail APIs
    send it instead of the MIME bytes.
    """

    from_addr: str  # the bare address of the From header (also the Message-ID domain)
    content: RenderedIssue
    head: bytes  # the headers every copy shares
    body: tuple[bytes, ...]  # the encoded body; b"" where a token goes
    slots: tuple[tuple[Slot, tuple[int, ...]], ...]  # each token and where it goes in body
    unsubscribe_mailto: str | None
    # Signs a finished message (DKIM): it gets the final bytes and returns them with a header
    # in front, so nothing after it may change a byte.
    sign: Signer | None = None
    # With ``sign``: each body piece's relaxed canonical form (digest.mail.canonical), made
    # once, so a copy's body hash takes only its own values' canonicalisation.
    canonical: tuple[bytes, ...] = ()

    @classmethod
    def build(cls, rendered: RenderedIssue, *, from_addr: str, list_id: str,
              reply_to: str | None, date: datetime,
              list_unsubscribe_mailto: str | None,
              sign: Signer | None = None,
              issue: fill.IssueValues | None = None) -> MessageTemplate:
        """Encode ``rendered`` once, with the per-issue ``issue`` values filled in.

        Raises ConfigError naming the key when an address, the List-Id or the mailto: cannot
        be written in a header.
        """
        rendered = fill.for_issue(rendered, issue or fill.IssueValues())
        from_name, from_bare = _split_address(from_addr, "from")
        if list_unsubscribe_mailto is not None and not (
                list_unsubscribe_mailto.startswith("mailto:")
                and HEADER_URI_RE.fullmatch(list_unsubscribe_mailto)):
            raise ConfigError(f"{list_unsubscribe_mailto!r} is not a usable mailto: address",
                              key="unsubscribe")
        reply = _split_address(reply_to, "reply_to") if reply_to else None
        head = _shared_head(rendered.subject, (from_name, from_bare), reply,
                            _list_id(list_id, from_name), date)
        body = _multipart(rendered)
        places: dict[Slot, list[int]] = {}
        for i, seg in enumerate(body):
            if not isinstance(seg, bytes):
                places.setdefault(seg, []).append(i)
        encoded = tuple(b"" if isinstance(s, tuple) else s for s in body)
        return cls(from_bare, rendered, head, encoded,
                   tuple((slot, tuple(at)) for slot, at in places.items()),
                   list_unsubscribe_mailto, sign)

    def __post_init__(self) -> None:
        if self.sign is not None and not self.canonical:  # built, or given a signer later
            object.__setattr__(self, "canonical",
                               tuple(relaxed_lines(p) for p in _body_pieces(self.body)))
        elif self.sign is None and self.canonical:
            object.__setattr__(self, "canonical", ())

    def personalize(self, recipient: Recipient, *, message_id: str,
                    signed: bool = True) -> bytes:
        """The complete message for one recipient, CRLF line endings; with ``signed=False``
        not yet signed (the send loop signs in its worker threads: ``unsigned``)."""
        data, body_hash = self.unsigned(recipient, message_id=message_id)
        return self.sign(data, body_hash=body_hash) if self.sign and signed else data

    def unsigned(self, recipient: Recipient, *, message_id: str) -> tuple[bytes, bytes | None]:
        """(one recipient's complete message, not yet signed; its DKIM body hash when the
        template signs, else None): what ``sign(data, body_hash=...)`` takes."""
        # The body shows the name as given; only the header copy needs cleaning.
        raw = fill.values(recipient)
        body = list(self.body)
        canonical = list(self.canonical)
        for (token, in_html), places in self.slots:
            encoded = qp_value(fill.value(raw[token], in_html=in_html))
            relaxed = relaxed_lines(encoded) if canonical else b""
            for i in places:
                body[i] = encoded
                if canonical:
                    canonical[i] = relaxed
        own = fill.headers(message_id, recipient.unsubscribe_url, self.unsubscribe_mailto)
        data = b"".join([self.head, format_to(clean_header_text(recipient.name), recipient.email),
                         *(_header_line(name, value) for name, value in own), *body])
        return data, joined_body_hash(_body_pieces(body), canonical) if canonical else None


def _body_pieces(body: Sequence[bytes]) -> list[bytes]:
    """The message body (what DKIM hashes) in pieces: the first piece starts with the
    Content-Type header, which ends at the first blank line."""
    return [body[0].partition(b"\r\n\r\n")[2], *body[1:]]


def _header_line(name: str, value: str) -> bytes:
    """One per-copy header field (ASCII by construction), folded between URIs, never inside."""
    line = f"{name}: {value}"
    if len(line) > 78:
        line = f"{name}: " + value.replace(", <", ",\r\n <")
    return line.encode("ascii") + CRLF


def _shared_head(subject: str, sender: tuple[str, str], reply_to: tuple[str, str] | None,
                 list_id: tuple[str, str], date: datetime) -> bytes:
    """The headers every copy shares, each text from feeds or people through mail.headers."""
    lines = [address_header("From", *sender), text_header("Subject", subject, limit=150),
             f"Date: {format_datetime(date)}\r\n".encode("ascii")]
    if reply_to is not None:
        lines.append(address_header("Reply-To", *reply_to))
    name, label = list_id
    lines.append((fold("List-Id", [*phrase_words(name, header="List-Id"), f"<{label}>"])
                  + "\r\n").encode("ascii"))
    lines.append(b"Auto-Submitted: auto-generated\r\nPrecedence: bulk\r\nMIME-Version: 1.0\r\n")
    return b"".join(lines)


def _list_id(list_id: str, default_name: str) -> tuple[str, str]:
    """(name, label) from "label" or "Name <label>"; the From name when none is given."""
    if "<" in list_id:
        name, _, label = list_id.rpartition("<")
        label = label.rstrip("> ")
    else:
        name, label = default_name, list_id
    label = label.strip()
    if not _LIST_LABEL_RE.fullmatch(label):
        raise ConfigError(f"{list_id!r} is not a list id such as 'blog.example.org'",
                          key="list_id")
    return clean_header_text(name.strip().strip('"')), label


def _multipart(rendered: RenderedIssue) -> list[bytes | Slot]:
    seed = (rendered.subject + rendered.text + rendered.html).encode("utf-8")
    # "=_" never occurs in quoted-printable text, so the boundary cannot collide with a part.
    boundary = b"=_digest_" + hashlib.sha256(seed).hexdigest()[:24].encode("ascii")
    body: list[bytes | Slot] = [
        b"Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + b"\"\r\n\r\n"
        b"This is a multi-part message in MIME format.\r\n"]
    # Each part's last CRLF belongs to the boundary delimiter that follows it.
    for subtype, text in (("plain", rendered.text), ("html", rendered.html)):
        body.append(b"--" + boundary + b"\r\nContent-Type: text/" + subtype.encode("ascii")
                    + b"; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
        body.extend(_encode_part(text, in_html=subtype == "html"))
    body.append(b"--" + boundary + b"--\r\n")
    return _merge(body)
