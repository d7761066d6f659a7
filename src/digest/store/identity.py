"""What an issue is sent as, and the list labels unsubscribe links were signed with, in SQL.

The identity (From, Reply-To, List-Id, Message-ID domain, unsubscribe list label) is kept as
JSON on the issue's row; it is written once, when the issue is made (``create_draft``,
``create_issue``), or for an issue made before identities were kept, when it starts sending
(``freeze_identity``); the send reads it back, whatever the config says by then. Every list
label an issue was sent with is remembered, so a link signed under an old name or domain still
unsubscribes.
"""

from __future__ import annotations

from datetime import datetime

from digest.errors import StoreError
from digest.store import Store
from digest.store.rows import to_db


def freeze_identity(store: Store, issue_id: int, identity_json: str, label: str,
                    now: datetime) -> str:
    """The issue's identity: ``identity_json`` if it had none yet (now stored), else the one
    stored earlier. ``label`` is remembered as a list label in use. One transaction."""
    with store._tx() as conn:  # the store's own transaction helper: same lock, same errors
        conn.execute("UPDATE issues SET identity = ? WHERE id = ? AND identity IS NULL",
                     (identity_json, issue_id))
        row = conn.execute("SELECT identity FROM issues WHERE id = ?", (issue_id,)).fetchone()
        if row is None:
            raise StoreError(f"no issue {issue_id} in the store")
        conn.execute("INSERT OR IGNORE INTO list_labels (label, first_used_at) VALUES (?, ?)",
                     (label, to_db(now)))
    return str(row[0])


def remember_label(store: Store, label: str, now: datetime) -> None:
    """Remember a list label links are signed with."""
    with store._tx() as conn:
        conn.execute("INSERT OR IGNORE INTO list_labels (label, first_used_at) VALUES (?, ?)",
                     (label, to_db(now)))


def list_labels(store: Store) -> set[str]:
    """Every list label an issue of this store was sent with."""
    with store._tx(write=False) as conn:
        return {str(row[0]) for row in conn.execute("SELECT label FROM list_labels")}
