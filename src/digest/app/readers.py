"""The readers' use cases: leave the list (a signed link, the editor's command, a provider's
report), be added or imported, be listed. Subscribing by double opt-in is in ``signup``.

Leaving is written once (``_leave``): the address is kept as unsubscribed, so no later import
subscribes it again, and doing it twice changes nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain, islice
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from digest.config.signing import SECRET_ENV
from digest.errors import ConfigError, SubscriberError, TokenError
from digest.mail import addressing
from digest.mail.tokens import read_unsubscribe_token
from digest.models import Subscriber, SubscriberStatus
from digest.settings import Settings
from digest.store import ImportReport, Store
from digest.store.identity import list_labels
from digest.subscribers import read_csv, sheets, validate_email
from digest.subscribers.records import lines_of
from digest.subscribers.webhook_apply import ApplyReport, apply_events
from digest.subscribers.webhooks import WebhookEvent, WebhookPost


@dataclass(frozen=True)
class Left:
    """A reader who asked to leave, and the status they had before (``unsubscribed``: they had
    already left, nothing changed)."""

    subscriber: Subscriber
    was: SubscriberStatus

    @property
    def changed(self) -> bool:
        return self.was != "unsubscribed"


@dataclass(frozen=True)
class SubscriberImport:
    """A CSV import: what the store did with the valid rows (None: nothing was read) and every
    bad row or unreadable file, as "file:line: why"."""

    report: ImportReport | None = None
    errors: tuple[str, ...] = ()
    unreadable: str | None = None  # the file could not be read at all: why
    not_active: int = 0  # rows a "status" column says are not active: left out


def _leave(store: Store, subscriber: Subscriber) -> Left:
    if subscriber.status != "unsubscribed":
        store.set_subscriber_status(subscriber.email, "unsubscribed")
    return Left(subscriber, subscriber.status)


def unsubscribe(settings: Settings, token: str, now: datetime) -> Left:
    """Unsubscribe the reader a signed unsubscribe token (or the whole link) names.

    Raises ``TokenError`` for a forged, altered, foreign or malformed token and ``ConfigError``
    when DIGEST_SECRET is not set; either way nothing changed."""
    secret = _secret(settings)  # checked before the store is opened (or created)
    with Store.open(settings.store) as store:
        return _leave(store, _reader(settings, secret, store, token_of(token), now))


def reader_of(settings: Settings, token: str, now: datetime) -> Subscriber:
    """The reader a signed unsubscribe token names, changing nothing (``TokenError`` if none)."""
    secret = _secret(settings)
    with Store.open(settings.store) as store:
        return _reader(settings, secret, store, token, now)


def _secret(settings: Settings) -> bytes:
    if settings.secret is None:
        raise ConfigError(f"set the environment variable {SECRET_ENV} to the secret the links "
                          "were signed with")
    return settings.secret


def _reader(settings: Settings, secret: bytes, store: Store, token: str,
            now: datetime) -> Subscriber:
    return read_unsubscribe_token(secret, token,
                                  list_id=addressing.list_id(settings.digest),
                                  lookup=store.subscriber, now=now,
                                  known_labels=list_labels(store))


def token_of(text: str) -> str:
    """The token itself, from a token or from the whole unsubscribe link."""
    text = text.strip()
    if "://" not in text:
        return text
    values = parse_qs(urlsplit(text).query).get("token")
    if not values:
        raise TokenError("the link has no token=... in it; pass the token, or the whole "
                         "unsubscribe link from a message")
    return values[0]


def remove_subscriber(settings: Settings, email: str) -> Left:
    """Unsubscribe ``email`` (the editors' way); ``SubscriberError`` when it is not listed."""
    with Store.open(settings.store) as store:
        current = store.subscriber_by_email(email.strip())
        if current is None:
            raise SubscriberError(f'no subscriber with the address "{email.strip()}"')
        return _leave(store, current)


def add_subscriber(settings: Settings, email: str, name: str = "") -> Subscriber:
    """Subscribe ``email`` (re-subscribes an address that had left); ``SubscriberError`` for an
    address that is not one."""
    address = validate_email(email)
    with Store.open(settings.store) as store:
        return store.add_subscriber(address, name)


def list_subscribers(settings: Settings, status: SubscriberStatus | None = None
                ) -> Iterator[Subscriber]:
    """Every subscriber (with ``status``, if given), by id, read from the store a page at a
    time."""
    with Store.open(settings.store) as store:
        yield from store.subscribers(status)


def import_subscribers(settings: Settings, path: Path) -> SubscriberImport:
    """Import a CSV file of email,name rows: valid rows go in, every bad row is reported by line.
    An address that left (unsubscribed, bounced, complained) is never subscribed again."""
    with Store.open(settings.store) as store:
        return import_csv(path, store)


READ_CHUNK = 1 << 16  # bytes read at a time while the file's encoding is checked
_SNIFF_LINES = 20  # lines the separator is guessed from (``sheets.separator``)


def import_csv(path: Path, store: Store) -> SubscriberImport:
    """``import_subscribers`` into an open store (a run imports the configured file).

    The file is streamed, never held whole: one pass over its bytes finds the encoding, a
    second reads it line by line into the store's import (one transaction)."""
    try:
        codec, encoding = sheets.encoding_of(_chunks(path), str(path))
        with path.open(encoding=codec, newline="") as file:
            lines = lines_of(file)
            head = list(islice(lines, _SNIFF_LINES))
            separator = sheets.separator("".join(head))
            errors: list[str] = []
            report = store.import_subscribers(read_csv(
                chain(head, lines), source=str(path), errors=errors, delimiter=separator))
    except FileNotFoundError:
        return SubscriberImport(errors=(f"{path}: no such file",), unreadable="no such file")
    except (OSError, UnicodeDecodeError) as exc:  # a decode error: it changed while read
        return SubscriberImport(errors=(f"{path}: cannot read: {exc}; nothing was imported",),
                                unreadable=str(exc))
    except SubscriberError as exc:  # neither UTF-8 nor Windows-1252
        return SubscriberImport(errors=(str(exc),), unreadable=str(exc))
    if errors and not report.rows:
        # Every row failed (and so nothing was written): say once how the file was read, not
        # once per row.
        return SubscriberImport(errors=(
            f"{path}: no row has a valid address, reading it with "
            f"{sheets.describe(separator, encoding)} (first problem: {errors[0]}); save it "
            "as CSV with one address per row; nothing was imported",))
    return SubscriberImport(report, tuple(errors), not_active=report.not_active)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(READ_CHUNK):
            yield chunk


def apply_provider_events(settings: Settings, events: Iterable[WebhookEvent] | WebhookPost,
                          now: datetime) -> ApplyReport:
    """Record what a mail provider reported (bounces, complaints, unsubscribes made there), all
    in one transaction; see ``digest.subscribers.webhook_apply``. A ``WebhookPost`` whose
    one-time token was used before raises ``WebhookError`` (a replay) and records nothing."""
    once = None
    if isinstance(events, WebhookPost):
        once = (events.provider, events.once) if events.once is not None else None
        events = events.events
    window = timedelta(seconds=settings.webhooks.max_age)
    with Store.open(settings.store) as store:
        return apply_events(store, events, now, once=once, window=window)
