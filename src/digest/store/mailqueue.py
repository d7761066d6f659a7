"""Mail queued by the web app and sent outside the request, in SQL.

A row is claimed (``queued`` -> ``sending``) in one write transaction before its message is
made, so two senders (the worker in `digest serve` and a `digest run`) never both take it; it
ends ``sent``, ``skipped`` (nothing to send) or ``failed``. A row left ``sending`` by a crash is
never sent again: it is marked failed once it is older than the stale age, so nobody gets a
message twice (the reader can ask again). A message the server refused with a temporary error
was certainly not taken: its row goes back to ``queued`` with a time before which it is not
claimed (``retry_later``), and the sender decides how many tries it gets. Finished rows are
deleted once older than the sender's keeping age (``prune``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from digest.store import Store
from digest.store.rows import to_db

Done = Literal["sent", "skipped", "failed"]


@dataclass(frozen=True)
class QueuedMail:
    """One queued confirmation request, as the web form gave it."""

    id: int
    email: str
    name: str
    link_base: str  # where the link in the message points (digest.public_url or the server)
    attempts: int = 0  # temporary refusals before this claim


def queue_confirmation(store: Store, email: str, name: str, link_base: str,
                       now: datetime) -> None:
    """Queue a confirmation request: one INSERT, whoever the address belongs to."""
    with store._tx() as conn:  # the store's own transaction helper: same lock, same errors
        conn.execute("INSERT INTO mail_queue (kind, email, name, link_base, queued_at)"
                     " VALUES ('confirm', ?, ?, ?, ?)", (email, name, link_base, to_db(now)))


def claim_next(store: Store, now: datetime) -> QueuedMail | None:
    """Take the oldest queued request for sending (no one else will get it); None when empty."""
    with store._tx() as conn:
        row = conn.execute("SELECT id, email, name, link_base, attempts FROM mail_queue"
                           " WHERE status = 'queued' AND (not_before IS NULL OR not_before <= ?)"
                           " ORDER BY id LIMIT 1", (to_db(now),)).fetchone()
        if row is None:
            return None
        conn.execute("UPDATE mail_queue SET status = 'sending', claimed_at = ? WHERE id = ?",
                     (to_db(now), row["id"]))
    return QueuedMail(int(row["id"]), str(row["email"]), str(row["name"]),
                      str(row["link_base"]), int(row["attempts"]))


def finish(store: Store, mail_id: int, status: Done, result: str, now: datetime) -> None:
    """Record what became of a claimed request."""
    with store._tx() as conn:
        conn.execute("UPDATE mail_queue SET status = ?, result = ?, done_at = ? WHERE id = ?",
                     (status, result[:500], to_db(now), mail_id))


def release(store: Store, mail_id: int) -> None:
    """Put a claimed request back: its message was certainly not handed over."""
    with store._tx() as conn:
        conn.execute("UPDATE mail_queue SET status = 'queued', claimed_at = NULL WHERE id = ?",
                     (mail_id,))


def retry_later(store: Store, mail_id: int, reason: str, not_before: datetime) -> None:
    """Put a claimed request back after a temporary refusal (its message was not taken): one
    more attempt counted, not claimed again before ``not_before``."""
    with store._tx() as conn:
        conn.execute("UPDATE mail_queue SET status = 'queued', claimed_at = NULL, result = ?,"
                     " attempts = attempts + 1, not_before = ? WHERE id = ?",
                     (reason[:500], to_db(not_before), mail_id))


def prune(store: Store, done_before: datetime) -> int:
    """Delete the requests finished (sent, skipped, failed) before ``done_before``: the
    addresses they name are not kept longer than needed. Returns how many."""
    with store._tx() as conn:
        return conn.execute("DELETE FROM mail_queue WHERE status IN ('sent', 'skipped', 'failed')"
                            " AND done_at < ?", (to_db(done_before),)).rowcount


def fail_stale(store: Store, claimed_before: datetime, now: datetime) -> int:
    """Mark failed the requests claimed before ``claimed_before`` and never finished (a crash
    mid-send): whether their message went out is unknown, so it is not sent again."""
    with store._tx() as conn:
        return conn.execute(
            "UPDATE mail_queue SET status = 'failed', done_at = ?, result = 'interrupted while "
            "sending; not sent again' WHERE status = 'sending' AND claimed_at < ?",
            (to_db(now), to_db(claimed_before))).rowcount


def queue_counts(store: Store) -> dict[str, int]:
    """Requests by status."""
    with store._tx(write=False) as conn:
        rows = conn.execute("SELECT status, count(*) FROM mail_queue GROUP BY status").fetchall()
    return {str(status): int(n) for status, n in rows}
