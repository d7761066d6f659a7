"""Issues and drafts (at most one open: draft or approved): the store's methods over
``store.issues``.

A mixin of ``Store``: every method runs in one transaction of ``StoreBase._tx``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from digest.models import (
    Issue,
    RenderedIssue,
)
from digest.store import archive, issues
from digest.store._base import StoreBase
from digest.store.rows import (
    DraftContent,
    IssueSummary,
)


class IssueMethods(StoreBase):

    def create_issue(self, covered_keys: Sequence[str], rendered: RenderedIssue,
                     created_at: datetime, *, identity: str | None = None) -> Issue:
        """Insert the issue, claim its posts and queue its deliveries: all or nothing.
        ``identity``: what it is sent as (JSON), kept from now on."""
        with self._tx() as conn:
            return issues.create(conn, covered_keys, rendered, created_at, identity)

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

    def create_draft(self, content: DraftContent, created_at: datetime, *,
                     identity: str | None = None) -> Issue:
        """Insert a draft and reserve its posts, all or nothing. ``identity``: what the issue
        will be sent as (JSON), kept through edits, approval and sending."""
        with self._tx() as conn:
            return issues.create_draft(conn, content, created_at, identity)

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
