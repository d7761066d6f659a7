"""What a mail server's or mail API's refusal is about. Pure: a reply in, its class out.

Only a refusal about the reader's own address or mailbox may count towards marking that reader
``bounced``. A refusal of the message (too big, malformed), of the sender (policy, reputation,
authentication: DMARC, SPF, blocklists) or by the relay itself would be the same for every reader:
the send loop stops after a few of those in a row and marks nobody.

How a reply is read, most reliable first:

1. the RFC 3463 enhanced status code (``class.subject.detail``) at the start of the text:
   subject 1 is an address, 2 a mailbox, 3 the mail system, 4 network and routing, 5 the
   protocol, 6 the message content, 7 security and policy;
2. the RFC 5321 reply code, read with the stage it answered (MAIL FROM, RCPT TO or the end of
   DATA: a 552 to RCPT is a full mailbox, to MAIL FROM or DATA a message too big);
3. known provider wording ("user unknown", "over quota", "spam", "DMARC" ...), for servers that
   send no enhanced code or only ``5.0.0``.

==============  ==================================  =======================================
class           examples                            what happens
==============  ==================================  =======================================
reader          5.1.1, 5.1.2, 5.1.3, 5.1.6, 5.1.10, the row is rejected; counts towards
                5.2.1, 5.4.4, 550 "user unknown"    ``bounced`` after ``bounce_after`` issues
mailbox_full    5.2.2, 4.2.2, 552 to RCPT           the row fails (retried by the next run);
                                                    never counts towards ``bounced``
temporary       any 4xx (4.x.x), timeouts, drops    retried in this run, then by the next run
message         5.3.4, 5.2.3, 5.6.x, 552 to MAIL    not the reader's fault: a few in a row stop
                FROM or DATA without a code         the send, nobody is marked, exit 4
sender          5.7.x (5.7.1, 5.7.26 DMARC), 5.1.7, as ``message``
                5.1.8, 550 with spam/policy words
relay           5.3.x, 5.4.x, 5.5.x, 554 and other  as ``message``
                5xx that name nothing else
==============  ==================================  =======================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from digest.models import ReplyClass, SendOutcome

Stage = Literal["mail", "rcpt", "data"]
# Classes that say nothing about the reader: the send stops after a few of them in a row.
NOT_ABOUT_READER: frozenset[ReplyClass] = frozenset({"message", "sender", "relay"})

_ENHANCED_RE = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")

_FULL_RE = re.compile(r"mailbox (is )?full|over ?quota|quota (exceeded|full)|insufficient "
                      r"(system )?storage|exceeded storage|mailbox size limit", re.IGNORECASE)

# Provider wording, for replies with no enhanced code (or only X.0.0). Checked in this order:
# a "blocked as spam" reply often also says "recipient", so the sender's side comes before the
# reader's.
_WORDING: tuple[tuple[ReplyClass, re.Pattern[str]], ...] = (
    ("mailbox_full", _FULL_RE),  # first: "mailbox size limit exceeded" is not the message's size
    ("message", re.compile(
        r"message (size|too (big|large))|too (big|large)|size (limit|exceed)|exceeds? "
        r"(the )?(fixed )?(maximum|max)|line too long|malformed|header .*too long",
        re.IGNORECASE)),
    ("sender", re.compile(
        r"spam|junk|block(ed|list)|black ?list|listed|reputation|policy|dmarc|\bspf\b|\bdkim\b"
        r"|relay(ing)? (access )?(denied|not permitted)|not authori[sz]ed|authenticat"
        r"|sender (address )?(rejected|refused|denied|verify)|sender identity|from address"
        r"|rate limit|too many messages",
        re.IGNORECASE)),
    ("reader", re.compile(
        r"user unknown|unknown user|no such (user|mailbox|recipient|address)|does not exist"
        r"|doesn't exist|not exist|invalid (recipient|mailbox|address)|recipient (address )?"
        r"(rejected|unknown|not found|invalid)|unknown recipient|mailbox (unavailable|not found"
        r"|disabled|inactive)|account (is )?(disabled|inactive|suspended)|address rejected"
        r"|user not found|undeliverable address|inactive (recipient|address)", re.IGNORECASE)),
)


@dataclass(frozen=True)
class Verdict:
    """What one reply is about. ``enhanced`` is its RFC 3463 code ("5.3.4"), if it had one."""

    kind: ReplyClass
    enhanced: str | None = None

    @property
    def about_reader(self) -> bool:
        return self.kind not in NOT_ABOUT_READER

    @property
    def outcome(self) -> SendOutcome:
        """How the ledger treats it: only ``reader`` is ``permanent`` (towards bounced)."""
        if self.kind == "accepted":
            return "sent"
        if self.kind == "reader":
            return "permanent"
        return "temporary" if self.about_reader else "refused"


def enhanced_code(text: str) -> str | None:
    """The RFC 3463 enhanced status code at the start of a reply's text (first line), if any."""
    match = _ENHANCED_RE.match(text)
    return None if match is None else ".".join(match.groups())


def classify(code: int, text: str, stage: Stage = "rcpt") -> Verdict:
    """The class of an SMTP reply: ``code`` the RFC 5321 reply code, ``text`` what followed it
    (multi-line replies joined), ``stage`` the command it answered."""
    enhanced = enhanced_code(text)
    if code < 400:
        return Verdict("accepted", enhanced)
    if code < 500:  # a 4xx is never final, whatever its text says
        full = enhanced in ("4.2.2", "5.2.2") or _FULL_RE.search(text) is not None
        return Verdict("mailbox_full" if full else "temporary", enhanced)
    kind = _by_enhanced(enhanced, code, stage) if enhanced else None
    if kind is None:
        kind = _by_wording(text, stage) or _by_code(code, stage)
    return Verdict(kind, enhanced)


_MAILBOX: dict[int, ReplyClass] = {1: "reader", 2: "mailbox_full", 3: "message"}
_SUBJECTS: dict[int, ReplyClass] = {6: "message", 7: "sender"}


def _by_enhanced(enhanced: str, code: int, stage: Stage) -> ReplyClass | None:
    klass, subject, detail = (int(part) for part in enhanced.split("."))
    if klass == 4:
        return "mailbox_full" if (subject, detail) == (2, 2) else "temporary"
    if (subject, detail) in ((0, 0), (2, 0), (1, 0)):
        return None  # says nothing precise: the reply code and the wording decide
    if subject == 1:
        # X.1.7 / X.1.8: the sender's address; to MAIL FROM every X.1.x is about the sender.
        return "sender" if detail in (7, 8) or stage == "mail" else "reader"
    if subject == 2:
        if stage == "mail":
            return "sender"
        return _MAILBOX.get(detail, "relay")
    if subject == 3:
        return "message" if detail == 4 else "relay"
    if subject == 4:
        return "reader" if detail == 4 and stage == "rcpt" else "relay"
    return _SUBJECTS.get(subject, "relay")


def _by_wording(text: str, stage: Stage) -> ReplyClass | None:
    for kind, pattern in _WORDING:
        if pattern.search(text):
            if kind in ("reader", "mailbox_full") and stage == "mail":
                return "sender"  # the address refused at MAIL FROM is the sender's own
            return kind
    return None


def _by_code(code: int, stage: Stage) -> ReplyClass:
    if code < 500:
        return "temporary"
    if code == 552:
        # RFC 5321 4.5.3.1.10: a 552 to RCPT is treated as "too many recipients / storage",
        # i.e. not final for the reader; to MAIL FROM (SIZE) or DATA it is the message's size.
        return "mailbox_full" if stage == "rcpt" else "message"
    if stage == "mail":
        return "sender"
    if code in (550, 551, 553) and stage == "rcpt":
        return "reader"  # "mailbox unavailable", "user not local", "mailbox name not allowed"
    return "relay"


def explain(verdict: Verdict) -> str:
    """A plain sentence saying what a refusal of this class means for the person running digest."""
    return _EXPLAIN[verdict.kind]


_EXPLAIN: dict[ReplyClass, str] = {
    "accepted": "the server took the message",
    "reader": "the server refused the reader's address or mailbox",
    "mailbox_full": "the reader's mailbox is full; a later run tries again",
    "temporary": "the server asked to try again later",
    "message": ("the server refused the message itself (its size or its form), not the reader: "
                "every reader would be refused alike"),
    "sender": ("the server refused mail from this sender (its policy, the sending domain's "
               "DMARC/SPF/DKIM, or its reputation), not the reader: every reader would be "
               "refused alike; check the From address, the domain's DNS records and the "
               "relay's account"),
    "relay": ("the mail server itself refused (a fault or a rule on its side), not the reader: "
              "every reader would be refused alike"),
}


# Postmark's documented error codes (postmarkapp.com/developer/api/overview#error-codes).
_POSTMARK: dict[int, ReplyClass] = {
    0: "accepted", 406: "reader",  # 406: inactive recipient (hard bounce or spam complaint)
    100: "temporary", 429: "temporary",  # maintenance, rate limit
    10: "sender", 400: "sender", 401: "sender", 405: "sender", 412: "sender", 413: "sender",
}
_POSTMARK_TO_RE = re.compile(r"^(Invalid|Error\s+parsing)\s+'To'", re.IGNORECASE)


def classify_postmark(code: int | None, message: str) -> Verdict:
    """The class of one entry of Postmark's batch answer (``ErrorCode``, ``Message``).

    300 "Invalid email request" is about the reader only when it names the 'To' address; any
    other 300 is about the message. Unknown codes are temporary (a later run tries again).
    """
    if code == 300:
        return Verdict("reader" if _POSTMARK_TO_RE.match(message) else "message")
    if code is None:
        return Verdict("temporary")
    return Verdict(_POSTMARK.get(code, "temporary"))


def classify_request_refusal(text: str) -> Verdict:
    """The class of a whole request refused as invalid (SendGrid or Mailgun 400, Postmark 422).

    Such an answer names no single recipient, so it never counts against one reader. When it
    blames a recipient address (one bad address refuses the whole batch) it is temporary: the
    send loop retries the messages in other batches, so the others still go out. Otherwise it is
    about the sender when its wording says so (an unverified From, a policy), else the message.
    """
    if _RECIPIENT_FIELD_RE.search(text):
        return Verdict("temporary")
    kind = _by_wording(text, "data")
    return Verdict("sender" if kind == "sender" else "message")


_RECIPIENT_FIELD_RE = re.compile(r"valid address|'to'|personalizations\.\d+\.to|recipient",
                                 re.IGNORECASE)
