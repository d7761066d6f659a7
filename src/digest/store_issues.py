"""Issues in SQL. Every function runs inside the caller's transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from digest.errors import StoreError
from digest.models import Issue, RenderedIssue
from digest.store_rows import (
    IssueSummary,
    from_db,
    from_db_opt,
    issue_from_row,
    to_db,
    zero_counts,
)


def create(conn: sqlite3.Connection, covered_keys: Sequence[str], rendered: RenderedIssue,
           created_at: datetime) -> Issue:
    """Insert the issue, claim its posts and queue one delivery per active subscriber.

    Runs in the caller's transaction: any StoreError here means nothing was written.
    """
    keys = list(dict.fromkeys(covered_keys))
    keys_json = json.dumps(keys)
    _check_unclaimed(conn, keys, keys_json)
    issue_id = conn.execute(
        "INSERT INTO issues (subject, html, text, created_at, status, post_keys)"
        " VALUES (?, ?, ?, ?, 'sending', ?)",
        (rendered.subject, rendered.html, rendered.text, to_db(created_at), keys_json),
    ).lastrowid
    assert issue_id is not None
    claimed = conn.execute(
        "UPDATE posts SET issue_id = ? WHERE issue_id IS NULL"
        " AND key IN (SELECT value FROM json_each(?))", (issue_id, keys_json)).rowcount
    if claimed != len(keys):
        raise StoreError(f"issue not created: only {claimed} of its {len(keys)} posts could be "
                         "claimed")
    conn.execute(
        "INSERT INTO deliveries (issue_id, subscriber_id, status)"
        " SELECT ?, id, 'pending' FROM subscribers WHERE status = 'active' ORDER BY id",
        (issue_id,))
    return get(conn, issue_id)


def _check_unclaimed(conn: sqlite3.Connection, keys: list[str], keys_json: str) -> None:
    found = dict(conn.execute(
        "SELECT key, issue_id FROM posts WHERE key IN (SELECT value FROM json_each(?))",
        (keys_json,)).fetchall())
    unknown = [key for key in keys if key not in found]
    if unknown:
        raise StoreError(f"issue not created: {len(unknown)} of its posts are not in the store: "
                         + _some(unknown))
    taken = [f"{key} (issue {found[key]})" for key in keys if found[key] is not None]
    if taken:
        raise StoreError(f"issue not created: {len(taken)} of its posts are already in an "
                         "issue, and a post goes into exactly one: " + _some(taken))


def _some(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def get(conn: sqlite3.Connection, issue_id: int) -> Issue:
    row = conn.execute("SELECT * FROM issues WHERE id = ?", (issue_id,)).fetchone()
    if row is None:
        raise StoreError(f"no issue {issue_id} in the store")
    return issue_from_row(row)


def last(conn: sqlite3.Connection) -> Issue | None:
    row = conn.execute("SELECT * FROM issues ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else issue_from_row(row)


def unfinished(conn: sqlite3.Connection) -> list[Issue]:
    rows = conn.execute("SELECT * FROM issues WHERE status = 'sending' ORDER BY id").fetchall()
    return [issue_from_row(row) for row in rows]


def with_failed(conn: sqlite3.Connection) -> list[Issue]:
    rows = conn.execute(
        "SELECT * FROM issues WHERE EXISTS (SELECT 1 FROM deliveries"
        " WHERE deliveries.issue_id = issues.id AND deliveries.status = 'failed') ORDER BY id"
    ).fetchall()
    return [issue_from_row(row) for row in rows]


def summaries(conn: sqlite3.Connection) -> list[IssueSummary]:
    counts: dict[int, dict[str, int]] = {}
    for issue_id, status, n in conn.execute(
            "SELECT issue_id, status, count(*) FROM deliveries GROUP BY issue_id, status"):
        counts.setdefault(issue_id, zero_counts())[status] = n
    errors: dict[int, list[tuple[str, int]]] = {}
    for issue_id, error, n in conn.execute(
            "SELECT issue_id, last_error, count(*) AS n FROM deliveries"
            " WHERE status IN ('failed', 'rejected') AND last_error IS NOT NULL"
            " GROUP BY issue_id, last_error ORDER BY issue_id, n DESC, last_error"):
        top = errors.setdefault(issue_id, [])
        if len(top) < 5:
            top.append((error, n))
    rows = conn.execute(
        "SELECT id, subject, created_at, status, sent_at FROM issues ORDER BY id").fetchall()
    return [
        IssueSummary(id=row["id"], subject=row["subject"], created_at=from_db(row["created_at"]),
                     status=row["status"], sent_at=from_db_opt(row["sent_at"]),
                     counts=counts.get(row["id"], zero_counts()),
                     top_errors=errors.get(row["id"], []))
        for row in rows
    ]


def finish(conn: sqlite3.Connection, issue_id: int, now: datetime) -> bool:
    """Mark the issue sent once no pending rows remain (failed rows are retried later)."""
    issue = get(conn, issue_id)
    if issue.status == "sent":
        return True
    pending = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM deliveries WHERE issue_id = ? AND status = 'pending')",
        (issue_id,)).fetchone()[0]
    if pending:
        return False
    conn.execute("UPDATE issues SET status = 'sent', sent_at = ? WHERE id = ?",
                 (to_db(now), issue_id))
    return True
