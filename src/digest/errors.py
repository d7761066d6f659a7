"""The one error tree of digest.

    DigestError                   anything digest reports to the user
     ├── ConfigError              feeds.yaml or the environment is wrong (names file, line, key)
     │    ├── DraftError          an editor's request on a draft cannot be done as asked
     │    ├── KeyProblem          the DKIM key cannot be used (never shows the key)
     │    ├── LocaleProblem       a locale Babel does not know, or one without a catalogue
     │    └── ScheduleSyntaxError the schedule text is not one digest understands
     ├── FeedError                one feed could not be fetched or parsed (names the feed URL)
     │    └── FetchFailed         ... fetched: the HTTP status when the server answered
     ├── StoreError               the SQLite store cannot be used: newer schema, locked or busy,
     │    │                       disk full, read-only, damaged (names the file and what to do)
     │    └── LockError           another run holds the run lock
     ├── RenderError              a template is missing or uses an unknown variable
     ├── SubscriberError          bad subscriber input (CSV line, address)
     ├── TokenError               a signed token is forged, altered, expired or malformed
     ├── WebhookError             a mail provider's event post is unsigned, forged or malformed
     └── SendError                the send cannot go on (server unreachable, login refused, ...)
          ├── SendAborted         ... carrying the results of the messages handed over before
          ├── PermanentSendError  this one message can never be sent (an unusable address)
          └── RefusedError        the server refused the issue itself (the message, the sender,
                                  the relay), not the readers: the send stopped, nobody marked

A refusal of one message that is worth retrying (4xx, timeout, dropped connection) is no
exception: senders return it as a ``temporary`` ``SendResult`` and the send loop retries it.

Modules raise these, wrapping the underlying exception (``raise FeedError(url, "...") from exc``);
only the CLI turns them into messages and exit codes, only the web app into HTTP answers.
SQLite's own errors become ``StoreError`` only when the database itself is the trouble
(``sqlite3.OperationalError`` and a damaged file); ``IntegrityError``, ``ProgrammingError`` and the
like are bugs in digest and are left to surface as they are.

Private control flow stays inside its package and never reaches a caller: ``config.walk``'s
``_Invalid`` and ``_Reported`` (a value or a section is wrong; collected into one ConfigError) and
``feeds.fetch``'s ``_BodyTooLarge`` (becomes a FetchFailed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digest.models import SendResult


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


class DraftError(ConfigError):
    """An editor's request that cannot be done as asked: an unknown issue, an issue that is not a
    draft, a bad subject or intro. Bad input, like a bad config: nothing was changed."""


class KeyProblem(ConfigError):
    """The key material cannot be used for DKIM; the message never contains the key."""


class LocaleProblem(ConfigError):
    """A locale that cannot be used, with the message to show."""


class ScheduleSyntaxError(ConfigError):
    """The schedule text is not one digest understands; the message says what was expected."""


class FeedError(DigestError):
    """One feed failed. ``url`` names it; the message says why."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class FetchFailed(FeedError):
    """A feed could not be fetched; ``http_status`` is set when the server answered."""

    def __init__(self, url: str, reason: str, http_status: int | None = None) -> None:
        super().__init__(url, reason)
        self.http_status = http_status


class StoreError(DigestError):
    """The store cannot be used, or refused a change (the message says which and why)."""


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


class SendAborted(SendError):
    """The send cannot go on; ``results`` are those of the messages handed over before that."""

    def __init__(self, reason: str, results: Sequence[SendResult] = (), *,
                 code: int | None = None) -> None:
        super().__init__(reason, code=code)
        self.results = tuple(results)


class PermanentSendError(SendError):
    """This message can never be sent as it is (e.g. an address no header can carry): its
    delivery is recorded as rejected and the send goes on."""


class RefusedError(SendError):
    """The server refused an issue for a reason that is not about the readers (the message, the
    sender, the relay: ``kind``), several times in a row. The send stopped; no reader was
    marked; the issue stays pending. ``reply`` is the server's own words."""

    def __init__(self, reason: str, *, issue_id: int, kind: str, reply: str) -> None:
        super().__init__(reason)
        self.issue_id = issue_id
        self.kind = kind
        self.reply = reply
