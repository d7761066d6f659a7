"""Messages outside the send loop, and what every message shares.

- ``message_template``: an issue's MIME, built once; the send loop, test copies, previews and the
  editors' copies all take it from here.
- ``dkim_signer``: the signer the config asks for; every message digest sends is signed.
- ``send_each``: the one loop that hands single messages over (test copies, the editors' copies
  and alerts, confirmation requests), each reported, never half-recorded in the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from digest.delivery.senders import SenderFactory
from digest.errors import ConfigError, SendError
from digest.mail import addressing, fill
from digest.mail.dkim import DkimSigner, KeyProblem
from digest.mail.identity import IssueIdentity, identity_of
from digest.mail.message import MessageTemplate
from digest.models import Outgoing, Recipient, RenderedIssue, Subscriber
from digest.settings import Settings


def current_identity(settings: Settings) -> IssueIdentity:
    """The identity the config gives an issue now."""
    return identity_of(settings.digest)


def as_sent_by(settings: Settings, identity: IssueIdentity) -> Settings:
    """``settings`` with the From and Reply-To an issue was fixed with."""
    return replace(settings, digest=replace(settings.digest, from_addr=identity.from_addr,
                                            reply_to=identity.reply_to))


def message_template(settings: Settings, issue_subject: str, html: str, text: str,
                     date: datetime, *, web_of: RenderedIssue | None = None,
                     identity: IssueIdentity | None = None) -> MessageTemplate:
    """The issue's MIME, built once. ``web_of``: the issue content whose web version the message
    links to, when the message's own content differs from it (test copies, editors' copies).
    ``identity``: what the issue was fixed to be sent as (else the config's, now)."""
    if identity is not None:
        settings = as_sent_by(settings, identity)
    digest = settings.digest
    source = web_of or RenderedIssue(issue_subject, html, text, "", 0)
    url = addressing.web_version_url(digest.public_url, source.subject, source.html, source.text)
    return MessageTemplate.build(
        RenderedIssue(subject=issue_subject, html=html, text=text, preheader="", post_count=0),
        from_addr=digest.from_addr,
        list_id=identity.list_id if identity is not None else addressing.list_id(digest),
        reply_to=digest.reply_to,
        date=date,
        list_unsubscribe_mailto=addressing.list_unsubscribe_mailto(digest),
        sign=dkim_signer(settings),
        issue=fill.IssueValues(web_version_url=url),
    )


def dkim_signer(settings: Settings) -> DkimSigner | None:
    """The DKIM signer the config asks for: every message, test copy and preview is signed.

    Raises ``ConfigError`` when the key cannot be used."""
    dkim = settings.dkim
    if dkim is None:
        return None
    try:
        return DkimSigner.from_pem(dkim.domain, dkim.selector, dkim.private_key)
    except KeyProblem as exc:
        raise ConfigError(f"the DKIM key cannot be used: {exc}", key="dkim") from exc


def preview_recipient(settings: Settings, email: str | None = None) -> Recipient:
    """Who previews, test copies and editors' copies are addressed to (the From address unless
    ``email`` is given). Subscriber 0 does not exist: its unsubscribe link unsubscribes nobody."""
    address = email or addressing.envelope_from(settings.digest.from_addr)
    return addressing.recipient_for(settings.digest, Subscriber(id=0, email=address, name=""),
                                    settings.secret)


@dataclass(frozen=True)
class Handed:
    """What became of one message given to ``send_each``."""

    recipient: str
    sent: bool
    reply: str = ""  # the server's answer, or why the message was not handed over
    error: SendError | None = None  # the sender stopped (unreachable, credentials refused)


def send_each(factory: SenderFactory, messages: Sequence[Outgoing]) -> list[Handed]:
    """Hand each message over on one connection, in order, and say what became of each. A refusal
    or a stopped sender is reported, not raised, so one bad address does not stop the others."""
    handed: list[Handed] = []
    sender = factory()
    try:
        for message in messages:
            try:
                [result] = sender.send_batch([message])
            except SendError as exc:
                handed.append(Handed(message.recipient, False, str(exc), exc))
                continue
            handed.append(Handed(message.recipient, result.outcome == "sent",
                                 result.reply or ("" if result.outcome == "sent"
                                                  else result.outcome)))
    finally:
        sender.close()
    return handed


def send_one(factory: SenderFactory, message: Outgoing) -> Handed:
    """Hand one message over now. Raises ``SendError`` when the sender stopped; a refusal of the
    message itself is the ``Handed`` answer."""
    [handed] = send_each(factory, [message])
    if handed.error is not None:
        raise handed.error
    return handed
