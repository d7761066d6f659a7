"""Subscribers in SQL. Every function runs inside the caller's transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from itertools import islice

from digest.errors import SubscriberError
from digest.models import Subscriber, SubscriberStatus
from digest.store.rows import SUBSCRIBER_STATUSES, ImportReport, subscriber_from_row
from digest.subscribers import (
    SubscriberRow,
    check_row,
    clean_name,
    email_key,
    validate_email,
)

IMPORT_CHUNK = 1000  # rows sent to SQLite at a time: the most an import holds in Python

# One row per address: the first spelling, line and status stay, the last non-empty name wins
# (``digest.subscribers.merge_duplicates``, the same rule over a list).
_STAGE = """
INSERT INTO temp.import_rows (email_norm, email, name, status) VALUES (?, ?, ?, ?)
ON CONFLICT (email_norm) DO UPDATE SET name = excluded.name WHERE excluded.name != ''
"""

_COUNT_IMPORT = """
SELECT count(*) FILTER (WHERE i.status = 'active' AND s.id IS NULL),
       count(*) FILTER (WHERE i.status = 'active' AND s.status = 'active'
                        AND i.name != '' AND i.name != s.name),
       count(*) FILTER (WHERE i.status = 'active' AND s.status = 'active'
                        AND (i.name = '' OR i.name = s.name)),
       count(*) FILTER (WHERE i.status = 'active' AND s.status != 'active'),
       count(*) FILTER (WHERE i.status != 'active')
FROM temp.import_rows AS i LEFT JOIN subscribers AS s ON s.email_norm = i.email_norm
"""

_RENAME_IMPORTED = """
UPDATE subscribers
SET name = (SELECT i.name FROM temp.import_rows AS i WHERE i.email_norm = subscribers.email_norm),
    updated_at = ?
WHERE status = 'active' AND email_norm IN (
    SELECT i.email_norm FROM temp.import_rows AS i
    JOIN subscribers AS s ON s.email_norm = i.email_norm
    WHERE i.status = 'active' AND i.name != '' AND i.name != s.name)
"""

_INSERT_IMPORTED = """
INSERT INTO subscribers (email, email_norm, name, status, created_at, updated_at)
SELECT i.email, i.email_norm, i.name, 'active', :now, :now FROM temp.import_rows AS i
WHERE i.status = 'active'
  AND NOT EXISTS (SELECT 1 FROM subscribers AS s WHERE s.email_norm = i.email_norm)
ORDER BY i.rowid
"""


def import_rows(conn: sqlite3.Connection, rows: Iterable[SubscriberRow],
                stamp: str) -> ImportReport:
    """Add new addresses, rename active ones; unsubscribed and bounced ones stay as they are,
    and rows whose ``status`` is not active are left out (counted as ``not_active``).

    ``rows`` are read once, ``IMPORT_CHUNK`` at a time, into a temporary table where duplicates
    merge; each is checked (``check_row``) unless it was already. SubscriberError naming the
    row's line for an invalid one, raised inside the caller's transaction: nothing is written.
    """
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS import_rows (email_norm TEXT PRIMARY KEY,"
                 " email TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL)")
    conn.execute("DELETE FROM temp.import_rows")
    staged = _staged(rows)
    while chunk := list(islice(staged, IMPORT_CHUNK)):
        conn.executemany(_STAGE, chunk)
    added, updated, unchanged, kept_out, not_active = conn.execute(_COUNT_IMPORT).fetchone()
    conn.execute(_RENAME_IMPORTED, (stamp,))
    conn.execute(_INSERT_IMPORTED, {"now": stamp})
    conn.execute("DELETE FROM temp.import_rows")
    return ImportReport(added=added, updated=updated, unchanged=unchanged, kept_out=kept_out,
                        not_active=not_active)


def _staged(rows: Iterable[SubscriberRow]) -> Iterator[tuple[str, str, str, str]]:
    for row in rows:
        try:
            checked = check_row(row)
        except SubscriberError as exc:
            where = f"line {row.line}: " if row.line else ""
            raise SubscriberError(f"{where}{exc}; nothing was imported") from exc
        yield email_key(checked.email), checked.email, checked.name, checked.status


def add(conn: sqlite3.Connection, email: str, name: str, stamp: str) -> Subscriber:
    """Subscribe an address; one that had left is welcome back (an explicit human action)."""
    address = validate_email(email)
    name = clean_name(name)
    key = email_key(address)
    found = conn.execute("SELECT id FROM subscribers WHERE email_norm = ?", (key,)).fetchone()
    if found is None:
        conn.execute(
            "INSERT INTO subscribers (email, email_norm, name, status, created_at, updated_at)"
            " VALUES (?, ?, ?, 'active', ?, ?)", (address, key, name, stamp, stamp))
    else:
        conn.execute(
            "UPDATE subscribers SET status = 'active', consecutive_rejections = 0,"
            " name = CASE WHEN ? = '' THEN name ELSE ? END, updated_at = ? WHERE id = ?",
            (name, name, stamp, found["id"]))
    return _by_key(conn, key, email)


def set_status(conn: sqlite3.Connection, email: str, status: SubscriberStatus,
               stamp: str) -> Subscriber:
    if status not in SUBSCRIBER_STATUSES:
        raise SubscriberError(f"unknown subscriber status {status!r}; use one of "
                              + ", ".join(SUBSCRIBER_STATUSES))
    key = lookup_key(email)
    current = _by_key(conn, key, email)
    if current.status != status:
        # Back to active is a fresh start: earlier rejections no longer count towards a bounce.
        conn.execute(
            "UPDATE subscribers SET status = ?, updated_at = ?, consecutive_rejections ="
            " CASE WHEN ? = 'active' THEN 0 ELSE consecutive_rejections END WHERE id = ?",
            (status, stamp, status, current.id))
    return _by_key(conn, key, email)


def lookup_key(email: str) -> str:
    """The key for finding an address as typed, even one that would no longer pass validation."""
    try:
        return email_key(validate_email(email))
    except SubscriberError:
        return email_key(email.strip())


def page(conn: sqlite3.Connection, status: SubscriberStatus | None, after_id: int,
         limit: int) -> list[Subscriber]:
    if status is None:
        rows = conn.execute("SELECT * FROM subscribers WHERE id > ? ORDER BY id LIMIT ?",
                            (after_id, limit)).fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM subscribers WHERE status = ? AND id > ? ORDER BY id LIMIT ?",
            (status, after_id, limit)).fetchall()
    return [subscriber_from_row(row) for row in rows]


def count(conn: sqlite3.Connection, status: SubscriberStatus | None) -> int:
    if status is None:
        row = conn.execute("SELECT count(*) FROM subscribers").fetchone()
    else:
        row = conn.execute("SELECT count(*) FROM subscribers WHERE status = ?",
                           (status,)).fetchone()
    return int(row[0])


def _by_key(conn: sqlite3.Connection, key: str, shown: str) -> Subscriber:
    row = conn.execute("SELECT * FROM subscribers WHERE email_norm = ?", (key,)).fetchone()
    if row is None:
        raise SubscriberError(f'no subscriber with the address "{shown.strip()}"')
    return subscriber_from_row(row)
