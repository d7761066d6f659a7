"""The store's schema and its migrations, keyed on ``PRAGMA user_version``.

``MIGRATIONS[i]`` brings a database from version ``i`` to ``i + 1``. Each step runs in the same
transaction as the version bump, so a crash or an error mid-migration leaves the previous version
intact. Append new steps; never edit one that has been released.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from digest.errors import StoreError
from digest.feeds import identity

Migration = Sequence[str]

# Timestamps are ISO-8601 UTC text of fixed width, so text order is time order.
_V1: Migration = (
    """
    CREATE TABLE feeds (
        url TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        etag TEXT,
        last_modified TEXT,
        last_status TEXT CHECK (last_status IN ('ok', 'not_modified', 'error')),
        last_error TEXT,
        last_fetched_at TEXT,
        last_success_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0
    )
    """,
    """
    CREATE TABLE issues (
        id INTEGER PRIMARY KEY,
        subject TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent')),
        sent_at TEXT,
        post_keys TEXT NOT NULL DEFAULT '[]'  -- JSON array, in the order the issue covers them
    )
    """,
    """
    CREATE TABLE posts (
        key TEXT PRIMARY KEY NOT NULL,
        feed_url TEXT NOT NULL REFERENCES feeds (url),
        title TEXT NOT NULL DEFAULT '',
        link TEXT,
        author TEXT NOT NULL DEFAULT '',
        published TEXT,
        summary_html TEXT NOT NULL DEFAULT '',
        comment_count INTEGER,
        comments_url TEXT,
        comments_feed TEXT,
        first_seen TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        issue_id INTEGER REFERENCES issues (id)
    )
    """,
    "CREATE INDEX posts_unissued ON posts (first_seen) WHERE issue_id IS NULL",
    "CREATE INDEX posts_feed ON posts (feed_url)",
    """
    CREATE TABLE comment_counts (
        id INTEGER PRIMARY KEY,
        post_key TEXT NOT NULL REFERENCES posts (key),
        seen_at TEXT NOT NULL,
        count INTEGER NOT NULL
    )
    """,
    "CREATE INDEX comment_counts_post ON comment_counts (post_key, seen_at)",
    """
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL,
        email_norm TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'unsubscribed', 'bounced')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        consecutive_rejections INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX subscribers_status ON subscribers (status)",
    """
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        issue_id INTEGER NOT NULL REFERENCES issues (id),
        subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'sent', 'failed', 'rejected', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        message_id TEXT,
        sent_at TEXT,
        UNIQUE (issue_id, subscriber_id)
    )
    """,
    # The send loop pages through the rows still to do by id; this index holds only those rows,
    # so it shrinks as the issue goes out and each page is a range scan.
    """
    CREATE INDEX deliveries_todo ON deliveries (issue_id, id)
        WHERE status IN ('pending', 'failed')
    """,
    "CREATE INDEX deliveries_status ON deliveries (issue_id, status)",
    # For an hourly sending cap that holds across runs.
    "CREATE INDEX deliveries_sent_at ON deliveries (sent_at) WHERE status = 'sent'",
    "CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id)",
)

# Drafts and approval. Widening the status CHECK means rebuilding the issues table (SQLite cannot
# change a constraint in place); ``migrate`` runs with foreign keys off and checks them before it
# commits, as SQLite's documented procedure for this asks.
_V2: Migration = (
    """
    CREATE TABLE issues_v2 (
        id INTEGER PRIMARY KEY,
        subject TEXT NOT NULL,
        html TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'sending'
            CHECK (status IN ('draft', 'approved', 'sending', 'sent')),
        sent_at TEXT,
        post_keys TEXT NOT NULL DEFAULT '[]',  -- JSON array, in the order the issue covers them
        plan TEXT,  -- JSON of the IssuePlan it was rendered from; NULL before drafts existed
        preheader TEXT NOT NULL DEFAULT '',
        shown_count INTEGER NOT NULL DEFAULT 0,
        warnings TEXT NOT NULL DEFAULT '[]',
        intro_edited INTEGER NOT NULL DEFAULT 0,
        subject_edited INTEGER NOT NULL DEFAULT 0,
        content_hash TEXT,
        approved_hash TEXT,
        approved_at TEXT,
        editors_notified_at TEXT
    )
    """,
    """
    INSERT INTO issues_v2 (id, subject, html, text, created_at, status, sent_at, post_keys)
        SELECT id, subject, html, text, created_at, status, sent_at, post_keys FROM issues
    """,
    "DROP TABLE issues",
    "ALTER TABLE issues_v2 RENAME TO issues",
    # At most one open draft: every draft or approved row has the same indexed value.
    """
    CREATE UNIQUE INDEX issues_one_open_draft ON issues ((status IN ('draft', 'approved')))
        WHERE status IN ('draft', 'approved')
    """,
    "ALTER TABLE deliveries ADD COLUMN content_hash TEXT",
)

# Web side and feed health: complaints as a subscriber status (with why and when a status
# changed), when a failing feed's alert went out, and when each post was last seen in its feed (a
# post that leaves the feed before its issue is sent is dropped from the draft).
_V3: Migration = (
    """
    CREATE TABLE subscribers_v3 (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL,
        email_norm TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active'
            CHECK (status IN ('active', 'unsubscribed', 'bounced', 'complained')),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        consecutive_rejections INTEGER NOT NULL DEFAULT 0,
        status_reason TEXT,  -- e.g. "one-click unsubscribe", "postmark bounce: HardBounce"
        status_changed_at TEXT
    )
    """,
    """
    INSERT INTO subscribers_v3 (id, email, email_norm, name, status, created_at, updated_at,
                                consecutive_rejections)
        SELECT id, email, email_norm, name, status, created_at, updated_at,
               consecutive_rejections FROM subscribers
    """,
    "DROP TABLE subscribers",
    "ALTER TABLE subscribers_v3 RENAME TO subscribers",
    "CREATE INDEX subscribers_status ON subscribers (status)",
    "ALTER TABLE feeds ADD COLUMN alerted_at TEXT",  # failure alert sent; NULL once recovered
    "ALTER TABLE posts ADD COLUMN last_seen_at TEXT",
    "UPDATE posts SET last_seen_at = updated_at",
)

# Scheduled periods whose issue was held back by min_posts: the posts roll into the next period
# instead of going out with a later run of the same one.
_V4: Migration = (
    """
    CREATE TABLE held_periods (
        period_start TEXT PRIMARY KEY NOT NULL,  -- the scheduled moment that opened the period
        held_at TEXT NOT NULL,
        reason TEXT NOT NULL
    )
    """,
)

# Identity and order: the guid a post is recognised by (a feed that rewrites guids, or shares one
# guid between entries, keeps its posts apart and in place), the date an undated post takes from
# its neighbours in the feed, its place in the feed (0 = newest) for equal dates, and when an
# editor dropped it from an issue as already sent (never offered again, kept in the store).
_V5: Migration = (
    "ALTER TABLE posts ADD COLUMN guid TEXT",
    "UPDATE posts SET guid = substr(key, 4) WHERE key LIKE 'id:%'",
    "ALTER TABLE posts ADD COLUMN placed_at TEXT",
    "ALTER TABLE posts ADD COLUMN feed_rank INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE posts ADD COLUMN dropped_at TEXT",
)

# The normalised link and guid of each post (``feeds.identity.link_key`` and ``guid_key``), kept
# per row: matching a fetch against a big feed's stored posts, or a new post against every other
# feed's, would otherwise normalise every stored link again on each fetch. Computed by the program's
# own functions (``migrate`` lends them to SQLite); when the rules change, a new step recomputes.
_V6: Migration = (
    "ALTER TABLE posts ADD COLUMN link_key TEXT",
    "ALTER TABLE posts ADD COLUMN guid_key TEXT",
    "UPDATE posts SET link_key = digest_link_key(link), guid_key = digest_guid_key(guid)",
    "CREATE INDEX posts_link_key ON posts (link_key)",
)

# Closed doors: editor sessions kept server-side (only a hash of each session id, and a mark of
# the editor token it was opened with, so changing the token ends every session); confirmation
# mail queued by the web app and sent outside the request; Mailgun webhook tokens already seen
# (refused when posted again); the identity an issue was made with (From, Reply-To, List-Id,
# Message-ID domain, unsubscribe list label: JSON), so a resumed send keeps it; and the list
# labels unsubscribe links were signed with, so renaming the digest keeps them valid.
_V7: Migration = (
    """
    CREATE TABLE editor_sessions (
        id_hash TEXT PRIMARY KEY NOT NULL,  -- sha256 of the random session id in the cookie
        token_mark TEXT NOT NULL,  -- HMAC of the editor token the session was opened with
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE mail_queue (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('confirm')),
        email TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        link_base TEXT NOT NULL,  -- where the link in the message points
        queued_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'queued'
            CHECK (status IN ('queued', 'sending', 'sent', 'skipped', 'failed')),
        claimed_at TEXT,
        done_at TEXT,
        result TEXT
    )
    """,
    "CREATE INDEX mail_queue_todo ON mail_queue (id) WHERE status IN ('queued', 'sending')",
    """
    CREATE TABLE webhook_tokens (
        provider TEXT NOT NULL,
        token TEXT NOT NULL,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (provider, token)
    )
    """,
    "CREATE INDEX webhook_tokens_seen ON webhook_tokens (seen_at)",
    "ALTER TABLE issues ADD COLUMN identity TEXT",
    """
    CREATE TABLE list_labels (
        label TEXT PRIMARY KEY NOT NULL,
        first_used_at TEXT NOT NULL
    )
    """,
)

# One random id per store, made once when the store is made (or migrated) and kept: Message-IDs
# carry it, so two stores (two installs, or one rebuilt) never give two messages one Message-ID.
# And issues cancelled by the editor (the server refused them): pending rows closed, posts freed.
_V8: Migration = (
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    )
    """,
    "INSERT INTO meta (key, value) VALUES ('store_id', lower(hex(randomblob(12))))",
    "ALTER TABLE issues ADD COLUMN cancelled_at TEXT",
)

# Welcome messages: one per subscriber who confirmed a subscription, ever (the primary key). A
# row is claimed ('sending') before its message is handed over, so two processes never both
# send it, and a crash mid-send leaves it claimed rather than sent twice.
_WELCOMES: Migration = (
    """
    CREATE TABLE welcomes (
        subscriber_id INTEGER PRIMARY KEY REFERENCES subscribers (id),
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'skipped')),
        queued_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        changed_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX welcomes_pending ON welcomes (subscriber_id) WHERE status = 'pending'",
)



def featured_images() -> Migration:
    """Each post's featured picture (models.FeaturedImage) as JSON; NULL: the feed names none."""
    return ("ALTER TABLE posts ADD COLUMN image TEXT",)


def mail_queue_retries() -> Migration:
    """Queued mail refused with a temporary error waits (``not_before``) and is tried again, a
    bounded number of times (``attempts``: temporary refusals so far)."""
    return ("ALTER TABLE mail_queue ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE mail_queue ADD COLUMN not_before TEXT")


MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _WELCOMES,
                                     featured_images(), mail_queue_retries())
SCHEMA_VERSION = len(MIGRATIONS)


def read_version(conn: sqlite3.Connection) -> int:
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return version


def check_version(conn: sqlite3.Connection, path: Path, known: int = SCHEMA_VERSION) -> int:
    """The database's schema version; StoreError if it is not a database digest can use."""
    version = read_version(conn)
    if version > known:
        raise StoreError(
            f"{path} was written by a newer version of digest (schema {version}, this version "
            f"knows {known}); upgrade digest to use it"
        )
    if version == 0 and _has_tables(conn):
        raise StoreError(f"{path} is an SQLite database, but not one digest made (it has tables "
                         "and no digest schema version); refusing to change it")
    return version


def migrate(conn: sqlite3.Connection, path: Path,
            migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the schema up to date in one write transaction. Returns the version reached.

    The version is read again inside the transaction: another process may have migrated the
    file between our first look and taking the write lock.
    """
    # A step may rebuild a table others refer to; the pragma is a no-op inside a transaction.
    foreign_keys = conn.execute("PRAGMA foreign_keys").fetchone()[0]
    conn.execute("PRAGMA foreign_keys = OFF")
    _lend_functions(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = check_version(conn, path, len(migrations))
        for step in migrations[version:]:
            for statement in step:
                conn.execute(statement)
        broken = conn.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise StoreError(f"{path}: migrating left {len(broken)} rows pointing at rows that "
                             f"do not exist (first in table {broken[0][0]}); nothing was changed")
        if version < len(migrations):
            conn.execute(f"PRAGMA user_version = {len(migrations):d}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
    return len(migrations)


def _lend_functions(conn: sqlite3.Connection) -> None:
    """The identity rules, callable from a migration's SQL (NULL in, NULL out)."""
    def link(value: str | None) -> str | None:
        return identity.link_key(value) if value else None

    def guid(value: str | None) -> str | None:
        return identity.guid_key(value) if value else None

    conn.create_function("digest_link_key", 1, link, deterministic=True)
    conn.create_function("digest_guid_key", 1, guid, deterministic=True)


def _has_tables(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    return bool(row[0])
