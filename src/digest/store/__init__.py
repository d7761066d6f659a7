"""The SQLite store: the only part of digest that speaks SQL.

One file holds feeds, posts, subscribers, issues and the delivery ledger. WAL mode lets a reader
(`digest issues`) look while a run writes; every write is one short ``BEGIN IMMEDIATE``
transaction, so a crash leaves each change either wholly done or not at all. A Store may be
shared between threads: calls are serialised on one connection.

This is the boundary where SQLite's errors are sorted (``failures.store_error``): trouble with the
file itself (locked or busy, disk full, read-only, damaged, I/O) becomes a ``StoreError`` naming
the file and what to do, after the transaction was rolled back; anything else (a constraint our
own logic broke, a misused cursor, a bad statement) is a bug and surfaces as SQLite raised it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from digest.errors import StoreError
from digest.models import (
    CommentChange,
    Delivery,
    FetchOutcome,
    Issue,
    RenderedIssue,
    SendResult,
    StoredPost,
    Subscriber,
    SubscriberStatus,
    Validators,
)
from digest.store import archive, deliveries, exports, feeds, issues, schema, welcomes
from digest.store import subscribers as subs
from digest.store.failures import store_error
from digest.store.rows import (
    DraftContent,
    FeedRow,
    ImportReport,
    IssueSummary,
    is_rowid,
    subscriber_from_row,
    to_db,
)
from digest.subscribers import SubscriberRow

__all__ = ["DraftContent", "FeedRow", "ImportReport", "IssueSummary", "Store"]

Clock = Callable[[], datetime]
BUSY_TIMEOUT = 30.0  # seconds to wait for another process's write to finish
_PAGE = 1000


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    """Open with ``Store.open(path)``; use as a context manager or call ``close()``."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock,
                 busy_timeout: float = BUSY_TIMEOUT) -> None:
        self._conn = conn
        self.path = path
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path, *, clock: Clock = _utc_now,
             busy_timeout: float = BUSY_TIMEOUT) -> Store:
        """Open the store at ``path``, creating or migrating it as needed.

        ``clock`` stamps subscriber changes (the other writes take the time as an argument).
        """
        conn = _connect(Path(path), busy_timeout)
        try:
            _prepare(conn, Path(path), busy_timeout)
        except BaseException:
            conn.close()
            raise
        return cls(conn, Path(path), clock, busy_timeout)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def _tx(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """One transaction: committed if the block finishes, rolled back if it raises."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    self._conn.rollback()
                wrapped = _operational(exc, self.path, self._busy_timeout)
                if wrapped is not None:
                    raise wrapped from exc
                raise

    def snapshot(self, target: Path) -> None:
        """Copy the whole store, consistently, into a new file at ``target``."""
        with self._lock:
            try:
                copy = sqlite3.connect(target)
                try:
                    self._conn.backup(copy)
                finally:
                    copy.close()
            except sqlite3.Error as exc:
                wrapped = _operational(exc, target, self._busy_timeout)
                if wrapped is None:
                    raise
                raise StoreError(f"cannot copy {self.path} to {target}: {wrapped}") from exc

    # feeds and posts

    def validators(self, url: str) -> Validators:
        with self._tx(write=False) as conn:
            return feeds.validators(conn, url)

    def record_fetch(self, outcome: FetchOutcome, now: datetime) -> int:
        """Remember a fetch and its posts in one transaction; returns the number of new posts."""
        with self._tx() as conn:
            return feeds.record_fetch(conn, outcome, now)

    def feed_rows(self) -> list[FeedRow]:
        with self._tx(write=False) as conn:
            return feeds.feed_rows(conn)

    def hold_period(self, period_start: datetime, now: datetime, reason: str) -> None:
        """Remember that the period opened at ``period_start`` sends no issue (min_posts)."""
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO held_periods (period_start, held_at, reason)"
                         " VALUES (?, ?, ?)", (to_db(period_start), to_db(now), reason))

    def period_held(self, period_start: datetime) -> str | None:
        """Why the period opened at ``period_start`` was held back; None if it was not."""
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT reason FROM held_periods WHERE period_start = ?",
                               (to_db(period_start),)).fetchone()
        return None if row is None else str(row[0])

    def set_feed_alerted(self, url: str, at: datetime | None) -> None:
        """Remember that the editors were alerted about this feed (None: it recovered)."""
        with self._tx() as conn:
            feeds.set_alerted(conn, url, at)

    def posts_by_key(self, keys: Sequence[str]) -> dict[str, StoredPost]:
        with self._tx(write=False) as conn:
            return feeds.posts_by_key(conn, list(keys))

    def gone_posts(self) -> list[StoredPost]:
        """Posts not sent yet that left their feed: never to be sent (kept in the store)."""
        with self._tx(write=False) as conn:
            return feeds.gone_posts(conn)

    def listed_keys(self) -> set[str]:
        """Keys of the posts each feed's latest full fetch listed."""
        with self._tx(write=False) as conn:
            return feeds.listed_keys(conn)

    def comment_history(self, key: str) -> list[tuple[datetime, int]]:
        with self._tx(write=False) as conn:
            return feeds.comment_history(conn, key)

    def unissued_posts(self) -> list[StoredPost]:
        with self._tx(write=False) as conn:
            return feeds.unissued_posts(conn)

    def comment_changes(self, since: datetime, until: datetime) -> list[CommentChange]:
        """Posts from earlier issues whose comment count changed in (since, until]."""
        with self._tx(write=False) as conn:
            return feeds.comment_changes(conn, since, until)

    def issued_links(self) -> list[tuple[str, str]]:
        """(feed URL, link) of every post already in an issue."""
        with self._tx(write=False) as conn:
            return feeds.issued_links(conn)

    def sent_posts(self) -> list[tuple[str, str, str | None, int]]:
        """(key, title, link, issue id) of every post in an issue that started sending."""
        with self._tx(write=False) as conn:
            return feeds.sent_posts(conn)

    def settle_posts(self, *, as_sent: dict[str, int], dropped: Sequence[str],
                     now: datetime) -> None:
        """Posts an editor judged already sent: ``as_sent`` are recorded in the issues given
        (key -> issue id), ``dropped`` are never offered again. One transaction."""
        with self._tx() as conn:
            feeds.settle_as_sent(conn, as_sent)
            feeds.drop(conn, list(dropped), to_db(now))

    # subscribers

    def import_subscribers(self, rows: Iterable[SubscriberRow]) -> ImportReport:
        """Add new addresses and update names, in one transaction. Never resubscribes an
        address that unsubscribed or bounced (counted as ``kept_out``)."""
        prepared = subs.prepare_import(rows)
        with self._tx() as conn:
            return subs.import_rows(conn, prepared, to_db(self._clock()))

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
                page = subs.page(conn, status, after, _PAGE)
            yield from page
            if len(page) < _PAGE:
                return
            after = page[-1].id

    def export_rows(self, status: SubscriberStatus | None = None) -> Iterator[exports.ExportRow]:
        """Every subscriber (with ``status``) by id, with its dates and reason, a page at a
        time: (email, name, status, subscribed_at, changed_at, reason)."""
        after = 0
        while True:
            with self._tx(write=False) as conn:
                rows, after = exports.page(conn, status, after, _PAGE)
            yield from rows
            if len(rows) < _PAGE:
                return

    def subscriber_count(self, status: SubscriberStatus | None = "active") -> int:
        with self._tx(write=False) as conn:
            return subs.count(conn, status)

    # issues

    def create_issue(self, covered_keys: Sequence[str], rendered: RenderedIssue,
                     created_at: datetime) -> Issue:
        """Insert the issue, claim its posts and queue its deliveries: all or nothing."""
        with self._tx() as conn:
            return issues.create(conn, covered_keys, rendered, created_at)

    def get_issue(self, issue_id: int) -> Issue:
        with self._tx(write=False) as conn:
            return issues.get(conn, issue_id)

    def last_issue(self) -> Issue | None:
        with self._tx(write=False) as conn:
            return issues.last(conn)

    def unfinished_issues(self) -> list[Issue]:
        with self._tx(write=False) as conn:
            return issues.unfinished(conn)

    def issues_with_failed(self) -> list[Issue]:
        with self._tx(write=False) as conn:
            return issues.with_failed(conn)

    def issue_summaries(self) -> list[IssueSummary]:
        with self._tx(write=False) as conn:
            return issues.summaries(conn)

    def published_issues(self, limit: int | None = None) -> list[archive.PublishedIssue]:
        """Sent and sending issues, newest first: the archive (no HTML or text read)."""
        with self._tx(write=False) as conn:
            return archive.published(conn, limit)

    def finish_issue(self, issue_id: int, now: datetime) -> bool:
        with self._tx() as conn:
            return issues.finish(conn, issue_id, now)

    # drafts (at most one open: draft or approved)

    def find_issue(self, issue_id: int) -> Issue | None:
        with self._tx(write=False) as conn:
            return issues.find(conn, issue_id)

    def find_issue_by_hash(self, prefix: str) -> Issue | None:
        """The newest issue whose content hash starts with ``prefix`` (hex, 12 digits or more)."""
        if len(prefix) < 12 or any(c not in "0123456789abcdef" for c in prefix):
            return None
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT id FROM issues WHERE substr(content_hash, 1, ?) = ?"
                               " ORDER BY id DESC LIMIT 1", (len(prefix), prefix)).fetchone()
            return None if row is None else issues.find(conn, int(row[0]))

    def open_draft(self) -> Issue | None:
        with self._tx(write=False) as conn:
            return issues.open_draft(conn)

    def create_draft(self, content: DraftContent, created_at: datetime) -> Issue:
        """Insert a draft and reserve its posts, all or nothing."""
        with self._tx() as conn:
            return issues.create_draft(conn, content, created_at)

    def update_draft(self, issue_id: int, content: DraftContent, *,
                     expected_hash: str | None) -> Issue:
        """New content for the open draft whose hash is still ``expected_hash``."""
        with self._tx() as conn:
            return issues.update_draft(conn, issue_id, content, expected_hash)

    def discard_draft(self, issue_id: int, *, expected_hash: str | None) -> None:
        with self._tx() as conn:
            issues.discard_draft(conn, issue_id, expected_hash)

    def approve_issue(self, issue_id: int, decide: Callable[[Issue | None], str],
                      now: datetime) -> Issue:
        with self._tx() as conn:
            return issues.approve(conn, issue_id, decide, now)

    def start_sending(self, issue_id: int, check: Callable[[Issue], None]) -> Issue:
        with self._tx() as conn:
            return issues.start_sending(conn, issue_id, check)

    def cancel_issue(self, issue_id: int, now: datetime) -> issues.Cancelled:
        """Stop an issue being sent, for good: see ``issues.cancel``. StoreError if it is not
        an issue being sent."""
        with self._tx() as conn:
            return issues.cancel(conn, issue_id, now)

    def store_id(self) -> str:
        """A random id made once for this store (hex): Message-IDs carry it."""
        with self._tx(write=False) as conn:
            return str(conn.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0])

    def mark_editors_notified(self, issue_id: int, now: datetime) -> None:
        with self._tx() as conn:
            issues.mark_notified(conn, issue_id, now)

    # the delivery ledger

    def pending_deliveries(self, issue_id: int, *, after_id: int = 0, limit: int = 500,
                           include_failed: bool = False) -> list[Delivery]:
        with self._tx(write=False) as conn:
            return deliveries.pending(conn, issue_id, after_id, limit, include_failed)

    def skip_inactive(self, issue_id: int) -> int:
        with self._tx() as conn:
            return deliveries.skip_inactive(conn, issue_id)

    def record_results(self, results: Sequence[SendResult], *, now: datetime,
                       bounce_after: int) -> None:
        with self._tx() as conn:
            deliveries.record(conn, results, now, bounce_after)

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Cheap commits for the length of a send: the send loop commits every result.

        In WAL mode, ``synchronous=NORMAL`` commits without syncing the disk (about 60 µs a
        commit here, against 1.6 ms with ``FULL``) and stays safe from corruption; a commit
        survives the process being killed, and only a power cut or an OS crash can lose the
        last ones, those since the WAL was last synced (SQLite syncs it at each checkpoint,
        by default every 1,000 pages: https://www.sqlite.org/pragma.html#pragma_synchronous).
        On the way out the WAL is checkpointed (and so synced), then the setting restored.
        """
        with self._lock:
            before = int(self._conn.execute("PRAGMA synchronous").fetchone()[0])
            self._conn.execute("PRAGMA synchronous = NORMAL")
        try:
            yield
        finally:
            with self._lock:
                try:
                    self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                finally:
                    self._conn.execute(f"PRAGMA synchronous = {before}")

    def sent_since(self, since: datetime) -> int:
        """Messages recorded as sent at or after ``since``, over all issues."""
        with self._tx(write=False) as conn:
            return deliveries.sent_since(conn, since)

    def delivery_counts(self, issue_id: int) -> dict[str, int]:
        with self._tx(write=False) as conn:
            return deliveries.counts(conn, issue_id)


def _connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not a digest store file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None,
                               check_same_thread=False)
    except OSError as exc:
        raise StoreError(f"cannot open the store {path}: {exc}; check that its folder can be "
                         "created and written") from exc
    except sqlite3.Error as exc:
        wrapped = _operational(exc, path, busy_timeout)
        if wrapped is None:
            raise
        raise wrapped from exc
    conn.row_factory = sqlite3.Row
    return conn


def _prepare(conn: sqlite3.Connection, path: Path, busy_timeout: float) -> None:
    """Check, configure and migrate a fresh connection.

    The version is checked before anything that writes (WAL mode writes the file header), so a
    file digest must refuse is left exactly as it was.
    """
    try:
        version = schema.check_version(conn, path)
        conn.execute("PRAGMA foreign_keys = ON")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: cannot use write-ahead logging (journal mode {mode})")
        if version < schema.SCHEMA_VERSION:
            schema.migrate(conn, path)
    except sqlite3.Error as exc:
        wrapped = _operational(exc, path, busy_timeout)
        if wrapped is None:
            raise
        raise wrapped from exc


def _operational(exc: BaseException, path: Path, busy_timeout: float) -> StoreError | None:
    """``exc`` as a StoreError when it is SQLite's trouble with the file; None for anything else."""
    if not isinstance(exc, sqlite3.Error):
        return None
    return store_error(exc, path, busy_timeout)
