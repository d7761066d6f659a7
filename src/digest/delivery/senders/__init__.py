"""Senders hand finished messages to an outbox folder or a mail server.

A sender gets plain values, never the configuration object. The send loop makes one sender per
concurrent connection through a ``SenderFactory`` and calls ``send_batch`` from one thread only.
The shared parts live in ``base``; ``make_sender`` imports a sender's module only when that kind
is asked for (the mail APIs need httpx, which `digest --version` should not pay for).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from digest.delivery.senders.base import ContentSender, SendAborted, Sender, SenderFactory
from digest.errors import ConfigError
from digest.settings import ApiSettings, SmtpSettings

if TYPE_CHECKING:
    from digest.delivery.senders.api import ApiSender

__all__ = ["ContentSender", "SendAborted", "Sender", "SenderFactory", "make_sender"]

API_KINDS = ("postmark", "sendgrid", "mailgun")


def make_sender(kind: str, *, outbox_dir: Path | None = None,
                smtp: SmtpSettings | None = None, api: ApiSettings | None = None,
                max_attempts: int = 3) -> SenderFactory:
    """A factory of senders of the given kind ("outbox", "smtp" or a mail API)."""
    if kind in API_KINDS:
        if api is None or api.kind != kind:
            raise ConfigError(f"the {kind} sender needs a {kind} section", key=f"sender.{kind}")
        cls, settings_api = _api_class(kind), api
        return lambda: cls(settings_api, attempts=max_attempts)
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


def _api_class(kind: str) -> type[ApiSender]:
    """The provider's sender class, its module imported now that it is needed."""
    if kind == "postmark":
        from digest.delivery.senders.postmark import PostmarkSender

        return PostmarkSender
    if kind == "sendgrid":
        from digest.delivery.senders.sendgrid import SendGridSender

        return SendGridSender
    from digest.delivery.senders.mailgun import MailgunSender

    return MailgunSender
