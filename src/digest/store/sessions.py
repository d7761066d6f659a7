"""What the web side remembers between requests, in SQL: editor sessions and the Mailgun webhook
tokens already used.

A session row holds only the sha256 of the random id in the editor's cookie (a copy of the store
opens no session) and a mark of the editor token it was opened with: a session whose mark is not
the current token's is refused, so changing ``DIGEST_EDITOR_TOKEN`` ends every session without
touching ``DIGEST_SECRET``.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from digest.store import Store
from digest.store.rows import to_db


def open_session(store: Store, id_hash: str, token_mark: str, now: datetime,
                 expires_at: datetime) -> None:
    """Remember a new session (and forget the expired ones)."""
    with store._tx() as conn:  # the store's own transaction helper: same lock, same errors
        conn.execute("DELETE FROM editor_sessions WHERE expires_at <= ?", (to_db(now),))
        conn.execute("INSERT INTO editor_sessions (id_hash, token_mark, created_at, expires_at)"
                     " VALUES (?, ?, ?, ?)",
                     (id_hash, token_mark, to_db(now), to_db(expires_at)))


def session_open(store: Store, id_hash: str, token_mark: str, now: datetime) -> bool:
    """Whether the session is remembered, unexpired and opened with the current token."""
    with store._tx(write=False) as conn:
        row = conn.execute("SELECT 1 FROM editor_sessions WHERE id_hash = ? AND token_mark = ?"
                           " AND expires_at > ?", (id_hash, token_mark, to_db(now))).fetchone()
    return row is not None


def end_session(store: Store, id_hash: str) -> None:
    """Forget one session (logout): its cookie opens nothing from now on."""
    with store._tx() as conn:
        conn.execute("DELETE FROM editor_sessions WHERE id_hash = ?", (id_hash,))


def end_other_sessions(store: Store, token_mark: str) -> int:
    """Forget the sessions opened with another editor token; the number forgotten."""
    with store._tx() as conn:
        return conn.execute("DELETE FROM editor_sessions WHERE token_mark != ?",
                            (token_mark,)).rowcount


def first_use_of_token(conn: sqlite3.Connection, provider: str, token: str, now: datetime,
                       forget_before: datetime) -> bool:
    """Remember a provider's one-time token inside the caller's transaction: True the first time
    it is seen, False when it was already used. Tokens older than ``forget_before`` (the age
    window, past which a post is refused anyway) are forgotten."""
    conn.execute("DELETE FROM webhook_tokens WHERE seen_at < ?", (to_db(forget_before),))
    inserted = conn.execute("INSERT OR IGNORE INTO webhook_tokens (provider, token, seen_at)"
                            " VALUES (?, ?, ?)", (provider, token, to_db(now))).rowcount
    return bool(inserted)
