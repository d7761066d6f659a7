"""Editor sessions, kept in the store: opened by a login, ended by logout, and refused once
``DIGEST_EDITOR_TOKEN`` changes (each session remembers a mark of the token it was opened with).

The cookie carries a random session id; the store keeps only its sha256, so reading the store
(a backup, a copy) opens no session. ``DIGEST_SECRET`` is not involved in revoking: it also signs
every unsubscribe link already sent, and changing it would break them all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from digest.settings import Settings
from digest.store import Store
from digest.store import sessions as stored

SESSION_ID_BYTES = 32


def token_mark(secret: bytes, editor_token: str) -> str:
    """A mark of the editor token (an HMAC keyed by DIGEST_SECRET): sessions opened with one
    token are refused under another, and the store never holds the token itself."""
    return hmac.new(secret, b"editor-token\0" + editor_token.encode("utf-8", "surrogateescape"),
                    hashlib.sha256).hexdigest()


def _hashed(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


def open_editor_session(settings: Settings, mark: str, now: datetime,
                        lifetime: timedelta) -> str:
    """A new session for the editor who presented the token marked ``mark``; its random id."""
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    with Store.open(settings.store) as store:
        stored.open_session(store, _hashed(session_id), mark, now, now + lifetime)
    return session_id


def editor_session_open(settings: Settings, session_id: str, mark: str, now: datetime) -> bool:
    """Whether ``session_id`` is a live session opened with the current editor token."""
    with Store.open(settings.store) as store:
        return stored.session_open(store, _hashed(session_id), mark, now)


def end_editor_session(settings: Settings, session_id: str) -> None:
    """Logout: the session's cookie opens nothing from now on (wherever it was copied to)."""
    with Store.open(settings.store) as store:
        stored.end_session(store, _hashed(session_id))


def end_sessions_of_other_tokens(settings: Settings, mark: str) -> int:
    """Forget every session opened with an editor token other than the current one."""
    with Store.open(settings.store) as store:
        return stored.end_other_sessions(store, mark)
