"""Subscribers as the export lists them: with when they subscribed, when and why their status
last changed. Runs inside the caller's transaction."""

from __future__ import annotations

import sqlite3

from digest.models import SubscriberStatus

# (email, name, status, subscribed_at, changed_at, reason): text cells, times as stored (UTC).
ExportRow = tuple[str, str, str, str, str, str]

_QUERY = """
SELECT id, email, name, status, created_at, coalesce(status_changed_at, updated_at),
       coalesce(status_reason, '')
FROM subscribers WHERE id > ? AND (? IS NULL OR status = ?) ORDER BY id LIMIT ?
"""


def page(conn: sqlite3.Connection, status: SubscriberStatus | None, after_id: int,
         limit: int) -> tuple[list[ExportRow], int]:
    """Up to ``limit`` rows after subscriber ``after_id``, and the last id read (0: none)."""
    rows = conn.execute(_QUERY, (after_id, status, status, limit)).fetchall()
    last = rows[-1][0] if rows else 0
    return [(r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows], last
