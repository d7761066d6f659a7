"""What every use case is handed: the clock, the sender, the HTTP transport, progress output.

Tests, benchmarks and the two adapters (CLI, web) build a ``Deps``; ``make_deps`` builds the one
the configuration asks for. Nothing in ``digest.app`` reads the real clock or opens a socket on
its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from digest.delivery.senders import SenderFactory, make_sender
from digest.settings import Settings

if TYPE_CHECKING:
    import httpx

    from digest.delivery.progress import Progress

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock: timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Deps:
    """The concrete dependencies of a use case. ``transport``: httpx's, for fetching feeds
    (None: the network); ``progress``: where a send reports how far it got (None: silent)."""

    clock: Clock
    sender_factory: SenderFactory
    transport: httpx.AsyncBaseTransport | None = None
    progress: Progress | None = None


def make_deps(settings: Settings, *, clock: Clock = utc_now,
              progress: Progress | None = None) -> Deps:
    """The dependencies the configuration names: its sender (outbox, SMTP or a mail API).

    Raises ``ConfigError`` when the sender's section is missing."""
    sender = settings.sender
    factory = make_sender(sender.kind, outbox_dir=sender.outbox, smtp=sender.smtp,
                          api=sender.api, max_attempts=sender.max_attempts)
    return Deps(clock=clock, sender_factory=factory, progress=progress)
