"""The published issues, light: what the archive page and the Atom feed list. No HTML or text
is read, so a long archive costs a few bytes per issue."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from digest.store.rows import from_db

# An issue is published once it starts going out; drafts and approved drafts are not.
_PUBLISHED = """
SELECT id, subject, preheader, coalesce(sent_at, approved_at, created_at) AS published_at,
       CASE WHEN shown_count > 0 THEN shown_count ELSE json_array_length(post_keys) END AS posts,
       content_hash
FROM issues WHERE status IN ('sending', 'sent')
ORDER BY published_at DESC, id DESC
"""


@dataclass(frozen=True)
class PublishedIssue:
    """One sent (or sending) issue as the archive lists it. ``published_at``: when it was sent
    (else approved, else made), UTC; ``post_count``: the posts shown in it."""

    id: int
    subject: str
    preheader: str
    published_at: datetime
    post_count: int
    content_hash: str | None


def published(conn: sqlite3.Connection, limit: int | None = None) -> list[PublishedIssue]:
    """The published issues, newest first (at most ``limit``)."""
    query = _PUBLISHED + (" LIMIT ?" if limit is not None else "")
    rows = conn.execute(query, (limit,) if limit is not None else ()).fetchall()
    return [PublishedIssue(id=row["id"], subject=row["subject"], preheader=row["preheader"],
                           published_at=from_db(row["published_at"]), post_count=row["posts"],
                           content_hash=row["content_hash"]) for row in rows]
