"""Subscriber status changes reported by the mail providers, in SQL.

Runs inside one transaction of the store, so a post's events are all recorded or none are.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from digest.models import SubscriberStatus
from digest.store import Store
from digest.store.subscribers import lookup_key

Outcome = Literal["changed", "unchanged", "unknown"]

# A status only moves towards "never mail again": a complaint outranks a bounce or an
# unsubscribe, and nothing a provider reports makes an address active again.
_RANK: dict[str, int] = {"active": 0, "unsubscribed": 1, "bounced": 1, "complained": 2}


@contextmanager
def transaction(store: Store) -> Iterator[sqlite3.Connection]:
    """One write transaction on the store's connection (committed, or rolled back on error)."""
    with store._tx() as conn:  # the store's own transaction helper: same lock, same errors
        yield conn


def record_status(conn: sqlite3.Connection, email: str, status: SubscriberStatus, reason: str,
                  changed_at: str, stamp: str) -> Outcome:
    """Set ``status`` with its reason and time unless the subscriber already left as firmly."""
    row = conn.execute("SELECT id, status FROM subscribers WHERE email_norm = ?",
                       (lookup_key(email),)).fetchone()
    if row is None:
        return "unknown"
    if _RANK.get(row["status"], 0) >= _RANK[status]:
        return "unchanged"
    conn.execute(
        "UPDATE subscribers SET status = ?, status_reason = ?, status_changed_at = ?,"
        " updated_at = ? WHERE id = ?", (status, reason, changed_at, stamp, row["id"]))
    return "changed"
