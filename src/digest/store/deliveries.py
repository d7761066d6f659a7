"""The delivery ledger in SQL: one row per (issue, subscriber). Runs in the caller's transaction.

The send loop records each result as it comes (grouping those that arrive together), so
``record`` is a handful of statements whatever the number of results (executemany), and the
paging query is a range scan of the partial index of rows to do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from digest.errors import StoreError
from digest.models import Delivery, SendResult
from digest.store.rows import delivery_from_row, to_db, zero_counts

# The first status test repeats the partial index's condition word for word: that is how SQLite
# knows the index covers the query.
_PAGE = """
SELECT d.*, s.email, s.name FROM deliveries AS d JOIN subscribers AS s ON s.id = d.subscriber_id
WHERE d.issue_id = ? AND d.status IN ('pending', 'failed') AND d.status IN ({statuses})
  AND d.id > ? AND s.status = 'active'
ORDER BY d.id LIMIT ?
"""

_SENT = """
UPDATE deliveries SET status = 'sent', sent_at = ?, message_id = ?, last_error = NULL,
    attempts = attempts + ?
WHERE id = ? AND status != 'sent'
"""

# Only a row still to do can fail; a row recorded twice must not count twice towards a bounce.
_FAILED = """
UPDATE deliveries SET status = ?, last_error = ?, attempts = attempts + ?
WHERE id = ? AND status IN ('pending', 'failed')
"""

# Only where there is something to reset: an untouched row costs no page write in the commit.
_RESET = """
UPDATE subscribers SET consecutive_rejections = 0
WHERE id = (SELECT subscriber_id FROM deliveries WHERE id = ?) AND consecutive_rejections != 0
"""

_REJECTED = """
UPDATE subscribers SET consecutive_rejections = consecutive_rejections + 1
WHERE id = (SELECT subscriber_id FROM deliveries WHERE id = ? AND status IN ('pending', 'failed'))
"""

_BOUNCE = """
UPDATE subscribers SET status = 'bounced', updated_at = ?
WHERE id = (SELECT subscriber_id FROM deliveries WHERE id = ?)
  AND status = 'active' AND consecutive_rejections >= ?
"""


def pending(conn: sqlite3.Connection, issue_id: int, after_id: int, limit: int,
            include_failed: bool) -> list[Delivery]:
    """Rows still to send whose subscriber is still active, by id, after ``after_id``."""
    statuses = "'pending', 'failed'" if include_failed else "'pending'"
    rows = conn.execute(_PAGE.format(statuses=statuses),
                        (issue_id, after_id, limit)).fetchall()
    return [delivery_from_row(row) for row in rows]


def skip_inactive(conn: sqlite3.Connection, issue_id: int) -> int:
    return conn.execute(
        "UPDATE deliveries SET status = 'skipped'"
        " WHERE issue_id = ? AND status IN ('pending', 'failed')"
        " AND subscriber_id IN"
        " (SELECT id FROM subscribers WHERE status != 'active')",
        (issue_id,)).rowcount


def record(conn: sqlite3.Connection, results: Sequence[SendResult], now: datetime,
           bounce_after: int) -> None:
    """Write a batch of outcomes. A sent row stays sent; a subscriber rejected by
    ``bounce_after`` issues in a row (with no success between) becomes bounced."""
    if bounce_after < 1:
        raise ValueError(f"bounce_after must be at least 1, got {bounce_after}")
    unknown = {r.outcome for r in results} - {"sent", "temporary", "permanent"}
    if unknown:
        raise ValueError(f"unknown send outcome(s): {sorted(unknown)}")
    stamp = to_db(now)
    sent = [r for r in results if r.outcome == "sent"]
    if sent:
        conn.executemany(_SENT, [(stamp, r.message_id or None, r.attempts, r.delivery_id)
                                 for r in sent])
        conn.executemany(_RESET, [(r.delivery_id,) for r in sent])
    if len(sent) == len(results):
        return  # the usual case: a statement with nothing to do still costs its round trips
    rejected = [r for r in results if r.outcome == "permanent"]
    # Counted before the row changes status, so that the guard in _REJECTED sees it still to do.
    conn.executemany(_REJECTED, [(r.delivery_id,) for r in rejected])
    conn.executemany(_BOUNCE, [(stamp, r.delivery_id, bounce_after) for r in rejected])
    conn.executemany(_FAILED, [
        ("rejected" if r.outcome == "permanent" else "failed", r.reply or "no reply recorded",
         r.attempts, r.delivery_id)
        for r in results if r.outcome != "sent"
    ])


def counts(conn: sqlite3.Connection, issue_id: int) -> dict[str, int]:
    if conn.execute("SELECT 1 FROM issues WHERE id = ?", (issue_id,)).fetchone() is None:
        raise StoreError(f"no issue {issue_id} in the store")
    found = zero_counts()
    for status, n in conn.execute(
            "SELECT status, count(*) FROM deliveries WHERE issue_id = ? GROUP BY status",
            (issue_id,)):
        found[status] = n
    return found


def sent_since(conn: sqlite3.Connection, since: datetime) -> int:
    row = conn.execute("SELECT count(*) FROM deliveries WHERE status = 'sent' AND sent_at >= ?",
                       (to_db(since),)).fetchone()
    return int(row[0])
