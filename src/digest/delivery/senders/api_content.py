"""The issue's content as mail API senders send it, and each recipient's part of a request.

The MIME message is built for SMTP; an API takes the parts instead: the shared content once (the
template's ``content``: per-issue values filled, the per-recipient TOKENS still in it) and per
recipient the values and the headers only that copy carries (Message-ID, List-Unsubscribe). Both
come from ``digest.mail.fill``, the rules every sender shares.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.policy import default
from functools import cached_property
from typing import Any, cast

from digest.feeds.sanitize import clean_header_text
from digest.mail import fill
from digest.mail.message import MessageTemplate
from digest.models import TOKEN_EMAIL, TOKEN_NAME, TOKEN_UNSUBSCRIBE, TOKENS, Issue, Outgoing

TOKEN_RE = re.compile("|".join(re.escape(token) for token in TOKENS))
# Short names of the tokens, for providers whose variables need plain names.
TOKEN_KEYS = {TOKEN_NAME: "name", TOKEN_EMAIL: "email", TOKEN_UNSUBSCRIBE: "unsubscribe"}
# Headers each copy carries for itself; the rest of the issue's header block is shared.
_PER_COPY = ("Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post")
# Set by the provider from its own fields (or its own signature), never passed as headers.
_OWN = {"from", "to", "subject", "date", "reply-to", "mime-version", "content-type",
        "content-transfer-encoding", "dkim-signature", *(h.lower() for h in _PER_COPY)}
_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")

Mailbox = tuple[str, str]  # (display name, address)


@dataclass(frozen=True)
class IssueContent:
    """The issue as every copy shares it; html and text still hold the TOKENS."""

    sender: Mailbox
    reply_to: Mailbox | None
    subject: str
    html: str
    text: str
    headers: tuple[tuple[str, str], ...]  # List-Id, Auto-Submitted, Precedence, ...

    @classmethod
    def of(cls, issue: Issue, template: MessageTemplate) -> IssueContent:
        """The content of ``template``, the message built for ``issue``: the very text the
        MIME copies carry (per-issue values filled once, by the template), never the issue's
        stored text, which still holds the per-issue placeholders."""
        # The template's header block is what SMTP recipients get: reuse it, decoded.
        head = BytesHeaderParser(policy=default).parsebytes(template.head)
        content = template.content
        return cls(_mailbox(head, "From") or ("", template.from_addr), _mailbox(head, "Reply-To"),
                   str(head.get("Subject", "")), content.html, content.text, _shared(head))

    def tokens(self) -> list[str]:
        """The tokens this content uses, in a fixed order."""
        return [t for t in TOKENS if t in self.html or t in self.text]

    # Split once per issue: filling a copy is then a join (a regex pass per copy costs ~0.2 ms).
    @cached_property
    def html_pieces(self) -> tuple[str, ...]:
        """The HTML cut at the tokens: text at even places, a token at each odd one."""
        return fill.pieces(self.html)

    @cached_property
    def text_pieces(self) -> tuple[str, ...]:
        return fill.pieces(self.text)


@dataclass(frozen=True)
class Copy:
    """One recipient's part of a request."""

    message: Outgoing
    email: str
    name: str  # for the To header: control characters removed
    values: Mapping[str, str]  # token -> the recipient's value as plain text
    headers: tuple[tuple[str, str], ...]  # Message-ID, List-Unsubscribe(-Post)

    def value(self, token: str, *, in_html: bool) -> str:
        """The recipient's value for ``token`` as it goes into the HTML or the text part."""
        return fill.value(self.values.get(token, token), in_html=in_html)

    def fill(self, pieces: Sequence[str], *, in_html: bool,
             escape: Callable[[str], str] | None = None) -> str:
        """Pieces from ``IssueContent`` joined with this recipient's values in place of the
        tokens; ``escape`` (if given) applies to the values only, the pieces being escaped."""
        values = [self.value(p, in_html=in_html) for p in pieces[1::2]]
        if escape is not None:
            values = [escape(v) for v in values]
        out = list(pieces)
        out[1::2] = values
        return "".join(out)


def copy_of(message: Outgoing, unsubscribe_mailto: str | None) -> Copy:
    recipient = message.recipient_values
    if recipient is None:
        raise ValueError("a message without its recipient values")
    headers = fill.headers(message.message_id, recipient.unsubscribe_url, unsubscribe_mailto)
    return Copy(message, recipient.email, clean_header_text(recipient.name),
                fill.values(recipient), headers)


def from_mime(message: Outgoing) -> tuple[IssueContent, Copy]:
    """A finished message (a test copy, say) as content of its own, values already in place."""
    msg = message_from_bytes(message.data, policy=default)
    parts = [msg.get_body(("plain",)), msg.get_body(("html",))]
    # Line breaks as the text has them: the provider writes the message's own CRLFs.
    text, page = ("" if p is None else
                  str(cast(EmailMessage, p).get_content()).replace("\r\n", "\n")
                  for p in parts)
    content = IssueContent(_mailbox(msg, "From") or ("", message.envelope_from),
                           _mailbox(msg, "Reply-To"), str(msg.get("Subject", "")), page, text,
                           _shared(msg))
    to = _mailbox(msg, "To") or ("", message.recipient)
    headers = tuple((h, str(msg[h])) for h in _PER_COPY if msg[h] is not None)
    return content, Copy(message, message.recipient, to[0], {}, headers)


def _mailbox(msg: Message, name: str) -> Mailbox | None:
    header: Any = msg.get(name)
    if header is None or not getattr(header, "addresses", ()):
        return None
    address = header.addresses[0]
    return _display_name(msg, name, str(address.display_name)), str(address.addr_spec)


def _display_name(msg: Message, name: str, parsed: str) -> str:
    """The display name decoded as RFC 2047 6.2 says: Python's address parser keeps the space
    between two adjacent encoded-words of a phrase (CPython gh-128110), the legacy decoder not."""
    raw = next((str(v) for k, v in msg.raw_items() if k.lower() == name.lower()), "")
    phrase = raw.rpartition("<")[0]
    if "=?" not in phrase:
        return parsed
    return " ".join(str(make_header(decode_header(phrase))).split())


def _shared(msg: Message) -> tuple[tuple[str, str], ...]:
    return tuple((k, str(v)) for k, v in msg.items() if k.lower() not in _OWN)


def mailbox(name: str, address: str) -> str:
    """``Name <address>`` for a From or To field, the name quoted where RFC 5322 needs it."""
    if not name:
        return address
    if not _PHRASE.fullmatch(name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


