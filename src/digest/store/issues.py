"""Issues in SQL. Every function runs inside the caller's transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.errors import StoreError
from digest.models import Issue, RenderedIssue
from digest.store.rows import (
    DraftContent,
    IssueSummary,
    from_db,
    from_db_opt,
    is_rowid,
    issue_from_row,
    plan_to_json,
    to_db,
    zero_counts,
)

OPEN = "('draft', 'approved')"


def create(conn: sqlite3.Connection, covered_keys: Sequence[str], rendered: RenderedIssue,
           created_at: datetime, identity: str | None = None) -> Issue:
    """Insert the issue, claim its posts and queue one delivery per active subscriber.

    Runs in the caller's transaction: any StoreError here means nothing was written.
    """
    keys = list(dict.fromkeys(covered_keys))
    keys_json = json.dumps(keys)
    _check_unclaimed(conn, keys, keys_json)
    issue_id = conn.execute(
        "INSERT INTO issues (subject, html, text, created_at, status, post_keys, identity)"
        " VALUES (?, ?, ?, ?, 'sending', ?, ?)",
        (rendered.subject, rendered.html, rendered.text, to_db(created_at), keys_json, identity),
    ).lastrowid
    assert issue_id is not None
    _claim(conn, issue_id, keys, keys_json)
    _queue_deliveries(conn, issue_id, None)
    return get(conn, issue_id)


def _claim(conn: sqlite3.Connection, issue_id: int, keys: list[str], keys_json: str) -> None:
    claimed = conn.execute(
        "UPDATE posts SET issue_id = ? WHERE issue_id IS NULL"
        " AND key IN (SELECT value FROM json_each(?))", (issue_id, keys_json)).rowcount
    if claimed != len(keys):
        raise StoreError(f"issue not created: only {claimed} of its {len(keys)} posts could be "
                         "claimed")


def _queue_deliveries(conn: sqlite3.Connection, issue_id: int, content_hash: str | None) -> None:
    conn.execute(
        "INSERT INTO deliveries (issue_id, subscriber_id, status, content_hash)"
        " SELECT ?, id, 'pending', ? FROM subscribers WHERE status = 'active' ORDER BY id",
        (issue_id, content_hash))


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
    if not is_rowid(issue_id):
        raise StoreError(f"no issue {issue_id} in the store")
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
    rows = conn.execute("SELECT id, subject, created_at, status, sent_at, content_hash,"
                        " cancelled_at FROM issues ORDER BY id").fetchall()
    return [
        IssueSummary(id=row["id"], subject=row["subject"], created_at=from_db(row["created_at"]),
                     status=row["status"], sent_at=from_db_opt(row["sent_at"]),
                     counts=counts.get(row["id"], zero_counts()),
                     top_errors=errors.get(row["id"], []), content_hash=row["content_hash"],
                     cancelled=row["cancelled_at"] is not None)
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


# Drafts: an issue whose posts are reserved and whose content may still change. Deliveries are
# queued only when it starts sending, with the hash that was approved.


def open_draft(conn: sqlite3.Connection) -> Issue | None:
    row = conn.execute(f"SELECT * FROM issues WHERE status IN {OPEN}").fetchone()
    return None if row is None else issue_from_row(row)


def find(conn: sqlite3.Connection, issue_id: int) -> Issue | None:
    if not is_rowid(issue_id):
        return None
    row = conn.execute("SELECT * FROM issues WHERE id = ?", (issue_id,)).fetchone()
    return None if row is None else issue_from_row(row)


def create_draft(conn: sqlite3.Connection, content: DraftContent, created_at: datetime,
                 identity: str | None = None) -> Issue:
    """Insert a draft and reserve its posts; refused while another draft is open.
    ``identity``: what the issue is sent as (JSON; None: fixed when it starts sending)."""
    existing = open_draft(conn)
    if existing is not None:
        raise StoreError(f"draft not made: issue {existing.id} is already an open draft "
                         f"({existing.status}); there is at most one")
    keys = list(dict.fromkeys(content.plan.covered_keys))
    keys_json = json.dumps(keys)
    _check_unclaimed(conn, keys, keys_json)
    issue_id = conn.execute(
        "INSERT INTO issues (subject, html, text, created_at, status, post_keys, identity)"
        " VALUES ('', '', '', ?, 'draft', ?, ?)", (to_db(created_at), keys_json, identity)
    ).lastrowid
    assert issue_id is not None
    _claim(conn, issue_id, keys, keys_json)
    _write_content(conn, issue_id, content)
    return get(conn, issue_id)


def update_draft(conn: sqlite3.Connection, issue_id: int, content: DraftContent,
                 expected_hash: str | None) -> Issue:
    """Replace an open draft's content (same posts); it needs approving again."""
    _open_as_expected(conn, issue_id, expected_hash)
    _write_content(conn, issue_id, content)
    return get(conn, issue_id)


def discard_draft(conn: sqlite3.Connection, issue_id: int, expected_hash: str | None) -> None:
    """Release an open draft's posts and delete it: nothing was ever sent from it."""
    _open_as_expected(conn, issue_id, expected_hash)
    conn.execute("UPDATE posts SET issue_id = NULL WHERE issue_id = ?", (issue_id,))
    conn.execute("DELETE FROM issues WHERE id = ?", (issue_id,))


def _open_as_expected(conn: sqlite3.Connection, issue_id: int,
                      expected_hash: str | None) -> None:
    # Two editors at once: the second change is refused rather than silently overwriting.
    issue = find(conn, issue_id)
    if issue is None or issue.status not in ("draft", "approved"):
        state = "does not exist" if issue is None else f"is {issue.status}"
        raise StoreError(f"issue {issue_id} {state}; only an open draft can change")
    if issue.content_hash != expected_hash:
        raise StoreError(f"issue {issue_id} was changed by someone else meanwhile; "
                         "look at it again and repeat the change")


def _write_content(conn: sqlite3.Connection, issue_id: int, content: DraftContent) -> None:
    rendered = content.rendered
    conn.execute(
        "UPDATE issues SET subject = ?, html = ?, text = ?, plan = ?, preheader = ?,"
        " shown_count = ?, warnings = ?, intro_edited = ?, subject_edited = ?,"
        " content_hash = ?, status = 'draft', approved_hash = NULL, approved_at = NULL"
        " WHERE id = ?",
        (rendered.subject, rendered.html, rendered.text, plan_to_json(content.plan),
         rendered.preheader, rendered.post_count, json.dumps(list(rendered.warnings)),
         int(content.intro_edited), int(content.subject_edited), content.content_hash,
         issue_id))


def approve(conn: sqlite3.Connection, issue_id: int,
            decide: Callable[[Issue | None], str], now: datetime) -> Issue:
    """Approve the issue as stored now; ``decide`` refuses, or returns the hash to approve."""
    content_hash = decide(find(conn, issue_id))
    conn.execute(
        "UPDATE issues SET status = 'approved', content_hash = ?, approved_hash = ?,"
        f" approved_at = ? WHERE id = ? AND status IN {OPEN}",
        (content_hash, content_hash, to_db(now), issue_id))
    return get(conn, issue_id)


def start_sending(conn: sqlite3.Connection, issue_id: int,
                  check: Callable[[Issue], None]) -> Issue:
    """Approved -> sending: ``check`` the content, then queue a delivery per active subscriber."""
    issue = get(conn, issue_id)
    if issue.status != "approved":
        raise StoreError(f"issue {issue_id} is {issue.status}, not approved; it cannot start "
                         "sending")
    check(issue)
    conn.execute("UPDATE issues SET status = 'sending' WHERE id = ?", (issue_id,))
    _queue_deliveries(conn, issue_id, issue.approved_hash)
    return get(conn, issue_id)


def mark_notified(conn: sqlite3.Connection, issue_id: int, now: datetime) -> None:
    conn.execute("UPDATE issues SET editors_notified_at = ? WHERE id = ?",
                 (to_db(now), issue_id))


@dataclass(frozen=True)
class Cancelled:
    """What cancelling an issue did: rows closed, posts freed for the next issue."""

    issue_id: int
    closed: int  # pending or failed rows, now skipped
    sent: int  # rows already sent: their readers have the issue
    released: int  # posts that go to the next issue (0 when anyone got the issue)


def cancel(conn: sqlite3.Connection, issue_id: int, now: datetime) -> Cancelled:
    """Stop an issue for good: its pending and failed rows are skipped, and when nobody got it
    its posts are freed for the next issue. An issue that reached some readers keeps its posts
    (they were sent), so nobody gets a post twice. Nothing else changes."""
    issue = find(conn, issue_id)
    if issue is None:
        raise StoreError(f"no issue {issue_id}; `digest issues` lists them")
    if issue.status != "sending":
        what = {"sent": "already delivered", "draft": "a draft (not sent)",
                "approved": "approved but not started"}[issue.status]
        raise StoreError(f"issue {issue_id} is {what}: only an issue being sent can be cancelled")
    closed = conn.execute(
        "UPDATE deliveries SET status = 'skipped', last_error = 'issue cancelled'"
        " WHERE issue_id = ? AND status IN ('pending', 'failed')", (issue_id,)).rowcount
    sent = int(conn.execute("SELECT count(*) FROM deliveries WHERE issue_id = ?"
                            " AND status = 'sent'", (issue_id,)).fetchone()[0])
    released = 0 if sent else conn.execute(
        "UPDATE posts SET issue_id = NULL WHERE issue_id = ?", (issue_id,)).rowcount
    conn.execute("UPDATE issues SET status = 'sent', sent_at = ?, cancelled_at = ? WHERE id = ?",
                 (to_db(now), to_db(now), issue_id))
    return Cancelled(issue_id, closed, sent, released)
