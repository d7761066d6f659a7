"""What every sender shares: the ``Sender`` protocol, its factory and the batch-content protocol
of the mail APIs (``SendAborted`` itself lives in the error tree). The senders import this
module, never the registry in ``digest.delivery.senders``, which imports them (lazily, by kind).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from digest.errors import SendAborted as SendAborted  # raised by every sender
from digest.models import Issue, Outgoing, SendResult

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
class GatedSender(Protocol):
    """A sender that can hold each message's point of no return until the send loop says so.

    SMTP: a server delivers a message only once it has the end of its data (RFC 5321 4.1.1.4;
    a connection closed before that cancels the transaction, 3.8). The sender calls ``gate()``
    right before it hands over that end, so the send loop need not write the previous message's
    result before this message's MAIL, RCPT and DATA (it writes it then, with the other
    connections' results in one commit) and still has it there before this message can be
    delivered.
    """

    gate: Callable[[], None] | None


class Held(Exception):  # noqa: N818 (not an error: the send loop is stopping)
    """Raised by a ``GatedSender``'s gate: the send is stopping, the message must not go out.

    The sender drops the connection (so the server cancels the transaction) and lets it
    propagate out of ``send_batch``; the message's row stays pending.
    """


@runtime_checkable
class ContentSender(Protocol):
    """A sender that sends the issue's content itself, once per request, and has the provider
    fill in each recipient's values (the mail APIs). The send loop calls ``prepare`` once before
    the first batch, then hands over full batches of ``Outgoing`` with ``recipient_values``.
    """

    def prepare(self, issue: Issue, template: MessageTemplate) -> None: ...
