"""Subscribers, welcomes and exports: the store's methods over ``store.subscribers``.

A mixin of ``Store``: every method runs in one transaction of ``StoreBase._tx``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from digest.models import (
    Subscriber,
    SubscriberStatus,
)
from digest.store import exports, welcomes
from digest.store import subscribers as subs
from digest.store._base import PAGE, StoreBase
from digest.store.rows import (
    ImportReport,
    is_rowid,
    subscriber_from_row,
    to_db,
)
from digest.subscribers import SubscriberRow


class SubscriberMethods(StoreBase):

    def import_subscribers(self, rows: Iterable[SubscriberRow]) -> ImportReport:
        """Add new addresses and update names, in one transaction. Never resubscribes an
        address that unsubscribed or bounced (counted as ``kept_out``).

        ``rows`` may be any iterable, read once and never held whole (a CSV file streamed by
        ``digest.subscribers.read_csv``); an invalid row, or anything ``rows`` raises, rolls
        the whole import back. See ``digest.store.subscribers.import_rows``."""
        with self._tx() as conn:
            return subs.import_rows(conn, rows, to_db(self._clock()))

    def add_subscriber(self, email: str, name: str = "") -> Subscriber:
        with self._tx() as conn:
            return subs.add(conn, email, name, to_db(self._clock()))

    def confirm_subscriber(self, email: str, name: str, now: datetime, *,
                           welcome: bool) -> Subscriber:
        """Subscribe a confirmed address and, with ``welcome``, queue its one welcome message,
        in one transaction (an address welcomed before is not welcomed again)."""
        with self._tx() as conn:
            subscriber = subs.add(conn, email, name, to_db(self._clock()))
            if welcome:
                welcomes.queue(conn, subscriber.id, to_db(now))
            return subscriber

    def pending_welcomes(self) -> list[welcomes.PendingWelcome]:
        with self._tx(write=False) as conn:
            return welcomes.pending(conn)

    def claim_welcome(self, subscriber_id: int, now: datetime) -> bool:
        """Take a pending welcome for sending; False when another process has it."""
        with self._tx() as conn:
            return welcomes.claim(conn, subscriber_id, to_db(now))

    def record_welcome(self, subscriber_id: int, status: welcomes.WelcomeStatus, reply: str,
                       now: datetime) -> welcomes.WelcomeStatus:
        """What became of a claimed welcome; returns the status recorded."""
        with self._tx() as conn:
            return welcomes.record(conn, subscriber_id, status, reply, to_db(now))

    def welcome_counts(self) -> dict[str, int]:
        with self._tx(write=False) as conn:
            return welcomes.counts(conn)

    def set_subscriber_status(self, email: str, status: SubscriberStatus) -> Subscriber:
        with self._tx() as conn:
            return subs.set_status(conn, email, status, to_db(self._clock()))

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        """The subscriber with this id, whatever its status; None if there is none."""
        if not is_rowid(subscriber_id):
            return None
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT * FROM subscribers WHERE id = ?",
                               (subscriber_id,)).fetchone()
        return None if row is None else subscriber_from_row(row)

    def subscriber_by_email(self, email: str) -> Subscriber | None:
        """The subscriber with this address (compared as stored: case-folded), or None."""
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT * FROM subscribers WHERE email_norm = ?",
                               (subs.lookup_key(email),)).fetchone()
        return None if row is None else subscriber_from_row(row)

    def subscribers(self, status: SubscriberStatus | None = None) -> Iterator[Subscriber]:
        """Every subscriber (with ``status``, if given) by id, read a page at a time."""
        after = 0
        while True:
            with self._tx(write=False) as conn:
                page = subs.page(conn, status, after, PAGE)
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1].id

    def export_rows(self, status: SubscriberStatus | None = None) -> Iterator[exports.ExportRow]:
        """Every subscriber (with ``status``) by id, with its dates and reason, a page at a
        time: (email, name, status, subscribed_at, changed_at, reason)."""
        after = 0
        while True:
            with self._tx(write=False) as conn:
                rows, after = exports.page(conn, status, after, PAGE)
            yield from rows
            if len(rows) < PAGE:
                return

    def subscriber_count(self, status: SubscriberStatus | None = "active") -> int:
        with self._tx(write=False) as conn:
            return subs.count(conn, status)
