"""The one error tree of digest.

    DigestError                 anything digest reports to the user
     ├── ConfigError            feeds.yaml or the environment is wrong (names file, line, key)
     ├── FeedError              one feed could not be fetched or parsed (names the feed URL)
     ├── StoreError             the SQLite store is unusable (newer schema, locked, corrupt)
     ├── LockError              another run holds the lock (a StoreError)
     ├── RenderError            a template is missing or uses an unknown variable
     ├── SubscriberError        bad subscriber input (CSV line, address)
     ├── TokenError             a signed token is forged, altered, expired or malformed
     ├── WebhookError           a mail provider's event post is unsigned, forged or malformed
     └── SendError              a message could not be handed over
          ├── TemporarySendError  worth retrying (4xx, timeout, dropped connection)
          └── PermanentSendError  not worth retrying for this address (5xx)

Modules raise these, wrapping the underlying exception (``raise FeedError(url, "...") from exc``);
only the CLI turns them into messages and exit codes.
"""

from __future__ import annotations


class DigestError(Exception):
    """Base class: the message is meant for the person running digest."""


class ConfigError(DigestError):
    """The configuration is wrong. The message names file, line and key."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.path = path
        self.line = line
        self.key = key
        where = ""
        if path:
            where = f"{path}:{line}: " if line else f"{path}: "
        if key:
            where += f"{key}: "
        super().__init__(where + message)


class FeedError(DigestError):
    """One feed failed. ``url`` names it; the message says why."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class StoreError(DigestError):
    """The store cannot be used."""


class LockError(StoreError):
    """Another digest run holds the lock."""


class RenderError(DigestError):
    """A template could not be rendered."""


class SubscriberError(DigestError):
    """Bad subscriber input."""


class TokenError(DigestError):
    """A signed token (an unsubscribe or confirmation link) cannot be trusted."""


class WebhookError(DigestError):
    """A mail provider's event post cannot be trusted or read; nothing was applied.

    ``status`` is the HTTP answer it deserves: 401 for missing or wrong credentials or signature,
    400 for a body that is not what the provider documents.
    """

    def __init__(self, provider: str, reason: str, *, status: int = 400) -> None:
        self.provider = provider
        self.reason = reason
        self.status = status
        super().__init__(f"{provider} webhook: {reason}")


class SendError(DigestError):
    """A message could not be handed to the mail server or API."""

    def __init__(self, reason: str, *, code: int | None = None) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


class TemporarySendError(SendError):
    """Worth retrying later: 4xx replies, timeouts, dropped connections."""


class PermanentSendError(SendError):
    """The server refused this message for good (5xx)."""
