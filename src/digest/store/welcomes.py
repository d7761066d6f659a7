"""Welcome messages in SQL: queued when a subscription is confirmed, claimed before sending,
recorded after. Every function runs inside the caller's transaction."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Literal

from digest.models import Subscriber

WelcomeStatus = Literal["pending", "sending", "sent", "failed", "skipped"]
# Temporary failures (the server said "later", the connection failed) before a welcome is given
# up: each run tries once more.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class PendingWelcome:
    """A welcome still to send, with its subscriber as they are now."""

    subscriber: Subscriber
    attempts: int


def queue(conn: sqlite3.Connection, subscriber_id: int, stamp: str) -> bool:
    """Queue the subscriber's welcome; False when they already had one (sent or not)."""
    return conn.execute(
        "INSERT OR IGNORE INTO welcomes (subscriber_id, queued_at, changed_at) VALUES (?, ?, ?)",
        (subscriber_id, stamp, stamp)).rowcount == 1


def pending(conn: sqlite3.Connection) -> list[PendingWelcome]:
    rows = conn.execute(
        "SELECT s.id, s.email, s.name, s.status, w.attempts FROM welcomes AS w"
        " JOIN subscribers AS s ON s.id = w.subscriber_id"
        " WHERE w.status = 'pending' ORDER BY w.subscriber_id").fetchall()
    return [PendingWelcome(Subscriber(row[0], row[1], row[2], row[3]), row[4]) for row in rows]


def claim(conn: sqlite3.Connection, subscriber_id: int, stamp: str) -> bool:
    """Take a pending welcome for sending; False when another process took it first."""
    return conn.execute(
        "UPDATE welcomes SET status = 'sending', attempts = attempts + 1, changed_at = ?"
        " WHERE subscriber_id = ? AND status = 'pending'", (stamp, subscriber_id)).rowcount == 1


def record(conn: sqlite3.Connection, subscriber_id: int, status: WelcomeStatus, reply: str,
           stamp: str) -> WelcomeStatus:
    """What became of a claimed welcome. A temporary failure ('pending') past MAX_ATTEMPTS
    becomes 'failed'. Returns the status recorded."""
    if status == "pending":
        attempts = conn.execute("SELECT attempts FROM welcomes WHERE subscriber_id = ?",
                                (subscriber_id,)).fetchone()
        if attempts is not None and attempts[0] >= MAX_ATTEMPTS:
            status = "failed"
            reply = f"{reply} (gave up after {MAX_ATTEMPTS} attempts)"
    conn.execute("UPDATE welcomes SET status = ?, last_error = ?, changed_at = ?"
                 " WHERE subscriber_id = ? AND status = 'sending'",
                 (status, reply or None, stamp, subscriber_id))
    return status


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    found = dict(conn.execute("SELECT status, count(*) FROM welcomes GROUP BY status").fetchall())
    return {status: int(found.get(status, 0))
            for status in ("pending", "sending", "sent", "failed", "skipped")}
