"""Senders hand finished messages to an outbox folder or a mail server.

A sender gets plain values, never the configuration object. The send loop makes one sender per
concurrent connection through a ``SenderFactory`` and calls ``send_batch`` from one thread only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from digest.errors import ConfigError
from digest.models import Issue, Outgoing, SendResult
from digest.settings import ApiSettings, SmtpSettings

if TYPE_CHECKING:
    from digest.mail.message import MessageTemplate


class Sender(Protocol):
    max_batch: int  # at most this many messages per send_batch call

    def send_batch(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        """One result per message, in order; each message is attempted once.

        Trouble with one message is its result: ``temporary`` (4xx, timeout, dropped connection)
        or ``permanent`` (5xx), with the server's reply. Trouble that makes the whole send
        pointless (credentials or certificate refused, server unreachable) raises ``SendError``;
        ``SendAborted`` carries the results of the messages handled before it happened.
        """
        ...

    def close(self) -> None: ...


SenderFactory = Callable[[], Sender]


@runtime_checkable
class ContentSender(Protocol):
    """A sender that sends the issue's content itself, once per request, and has the provider
    fill in each recipient's values (the mail APIs). The send loop calls ``prepare`` once before
    the first batch, then hands over full batches of ``Outgoing`` with ``recipient_values``.
    """

    def prepare(self, issue: Issue, template: MessageTemplate) -> None: ...


def make_sender(kind: str, *, outbox_dir: Path | None = None,
                smtp: SmtpSettings | None = None, api: ApiSettings | None = None,
                max_attempts: int = 3) -> SenderFactory:
    """A factory of senders of the given kind ("outbox", "smtp" or a mail API)."""
    if kind in ("postmark", "sendgrid", "mailgun"):
        from digest.delivery.senders.api import api_sender_factory

        return api_sender_factory(kind, api, max_attempts=max_attempts)
    if kind == "outbox":
        if outbox_dir is None:
            raise ConfigError("the outbox sender needs a folder", key="sender.outbox")
        from digest.delivery.senders.outbox import OutboxSender

        folder = outbox_dir
        return lambda: OutboxSender(folder)
    if kind == "smtp":
        if smtp is None:
            raise ConfigError("the smtp sender needs an smtp section", key="sender.smtp")
        from digest.delivery.senders.smtp import SmtpSender

        settings = smtp
        return lambda: SmtpSender(settings)
    raise ConfigError(f"unknown sender {kind!r} (expected outbox, smtp, postmark, sendgrid or "
                      "mailgun)", key="sender.kind")
