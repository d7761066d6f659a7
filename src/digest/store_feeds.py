"""Feeds, posts and comment history in SQL. Every function runs inside the caller's transaction."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from digest.models import CommentChange, FetchOutcome, Post, StoredPost, Validators
from digest.store_rows import FeedRow, feed_from_row, from_db, post_from_row, to_db, to_db_opt

# A 304 may or may not repeat the validators: keep the ones we had when it does not. A 200
# without them means the old ones no longer apply.
_FEED_SUCCESS = """
INSERT INTO feeds (url, name, etag, last_modified, last_status, last_error, last_fetched_at,
                   last_success_at, consecutive_failures)
VALUES (:url, :name, :etag, :last_modified, :status, NULL, :now, :now, 0)
ON CONFLICT (url) DO UPDATE SET
    name = excluded.name,
    etag = CASE WHEN :keep THEN coalesce(excluded.etag, feeds.etag) ELSE excluded.etag END,
    last_modified = CASE WHEN :keep THEN coalesce(excluded.last_modified, feeds.last_modified)
                         ELSE excluded.last_modified END,
    last_status = excluded.last_status,
    last_error = NULL,
    last_fetched_at = excluded.last_fetched_at,
    last_success_at = excluded.last_success_at,
    consecutive_failures = 0
"""

_FEED_ERROR = """
INSERT INTO feeds (url, name, last_status, last_error, last_fetched_at, consecutive_failures)
VALUES (:url, :name, 'error', :error, :now, 1)
ON CONFLICT (url) DO UPDATE SET
    name = excluded.name,
    last_status = 'error',
    last_error = excluded.last_error,
    last_fetched_at = excluded.last_fetched_at,
    consecutive_failures = feeds.consecutive_failures + 1
"""

# A value the feed stopped giving (count, date, link) is kept rather than forgotten. first_seen,
# feed_url and issue_id never change. updated_at moves only when something did.
_UPSERT_POST = """
INSERT INTO posts (key, feed_url, title, link, author, published, summary_html, comment_count,
                   comments_url, comments_feed, first_seen, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    title = excluded.title,
    link = coalesce(excluded.link, posts.link),
    author = excluded.author,
    published = coalesce(excluded.published, posts.published),
    summary_html = excluded.summary_html,
    comment_count = coalesce(excluded.comment_count, posts.comment_count),
    comments_url = coalesce(excluded.comments_url, posts.comments_url),
    comments_feed = coalesce(excluded.comments_feed, posts.comments_feed),
    updated_at = excluded.updated_at
WHERE (posts.title, posts.link, posts.author, posts.published, posts.summary_html,
       posts.comment_count, posts.comments_url, posts.comments_feed)
   IS NOT (excluded.title, coalesce(excluded.link, posts.link), excluded.author,
           coalesce(excluded.published, posts.published), excluded.summary_html,
           coalesce(excluded.comment_count, posts.comment_count),
           coalesce(excluded.comments_url, posts.comments_url),
           coalesce(excluded.comments_feed, posts.comments_feed))
"""


def validators(conn: sqlite3.Connection, url: str) -> Validators:
    row = conn.execute("SELECT etag, last_modified FROM feeds WHERE url = ?", (url,)).fetchone()
    if row is None:
        return Validators()
    return Validators(etag=row["etag"], last_modified=row["last_modified"])


def record_fetch(conn: sqlite3.Connection, outcome: FetchOutcome, now: datetime) -> int:
    """Remember one fetch and its posts. Returns how many posts were seen for the first time."""
    stamp = to_db(now)
    _record_feed(conn, outcome, stamp)
    first: dict[str, Post] = {}
    for post in outcome.posts:  # a feed listing a post twice: its first entry counts
        first.setdefault(post.key, post)
    posts = list(first.values())
    if not posts:
        return 0
    known = dict(conn.execute(
        "SELECT key, comment_count FROM posts WHERE key IN (SELECT value FROM json_each(?))",
        (json.dumps([post.key for post in posts]),),
    ).fetchall())
    # The posts belong to the feed that was fetched, whatever URL the parser copied into them.
    conn.executemany(_UPSERT_POST, [_post_params(post, outcome.feed.url, stamp)
                                    for post in posts])
    # A count is history worth keeping when it is first known or differs from the last one.
    changed = [(post.key, stamp, post.comment_count) for post in posts
               if post.comment_count is not None and known.get(post.key) != post.comment_count]
    conn.executemany("INSERT INTO comment_counts (post_key, seen_at, count) VALUES (?, ?, ?)",
                     changed)
    return sum(1 for post in posts if post.key not in known)


def _record_feed(conn: sqlite3.Connection, outcome: FetchOutcome, stamp: str) -> None:
    feed = outcome.feed
    if outcome.status == "error":
        conn.execute(_FEED_ERROR, {"url": feed.url, "name": feed.name, "now": stamp,
                                   "error": outcome.error or "the fetch failed"})
        return
    conn.execute(_FEED_SUCCESS, {
        "url": feed.url,
        "name": feed.name,
        "etag": outcome.validators.etag,
        "last_modified": outcome.validators.last_modified,
        "status": outcome.status,
        "keep": outcome.status == "not_modified",
        "now": stamp,
    })


def _post_params(post: Post, feed_url: str, stamp: str) -> tuple[object, ...]:
    return (post.key, feed_url, post.title, post.link, post.author,
            to_db_opt(post.published), post.summary_html, post.comment_count, post.comments_url,
            post.comments_feed, stamp, stamp)


def feed_rows(conn: sqlite3.Connection) -> list[FeedRow]:
    rows = conn.execute(
        "SELECT feeds.*, (SELECT count(*) FROM posts WHERE posts.feed_url = feeds.url)"
        " AS post_count FROM feeds ORDER BY name, url"
    ).fetchall()
    return [feed_from_row(row) for row in rows]


def comment_history(conn: sqlite3.Connection, key: str) -> list[tuple[datetime, int]]:
    rows = conn.execute(
        "SELECT seen_at, count FROM comment_counts WHERE post_key = ? ORDER BY seen_at, id",
        (key,),
    ).fetchall()
    return [(from_db(row["seen_at"]), row["count"]) for row in rows]


def unissued_posts(conn: sqlite3.Connection) -> list[StoredPost]:
    """Posts in no issue yet, oldest first seen first."""
    rows = conn.execute(
        "SELECT * FROM posts WHERE issue_id IS NULL ORDER BY first_seen, published, key"
    ).fetchall()
    return [post_from_row(row) for row in rows]


# A count row is written only when the count changes, so a post whose count moved between the
# two instants has a row between them; the counts at each instant are the last rows up to it.
_COMMENT_CHANGES = """
SELECT posts.*,
    (SELECT count FROM comment_counts AS c WHERE c.post_key = posts.key AND c.seen_at <= :since
     ORDER BY c.seen_at DESC, c.id DESC LIMIT 1) AS count_before,
    (SELECT count FROM comment_counts AS c WHERE c.post_key = posts.key AND c.seen_at <= :until
     ORDER BY c.seen_at DESC, c.id DESC LIMIT 1) AS count_after
FROM posts
WHERE posts.issue_id IS NOT NULL AND posts.key IN (
    SELECT post_key FROM comment_counts WHERE seen_at > :since AND seen_at <= :until)
ORDER BY posts.key
"""


def comment_changes(conn: sqlite3.Connection, since: datetime,
                    until: datetime) -> list[CommentChange]:
    """Posts already in an issue whose comment count changed after ``since`` up to ``until``,
    with their counts at both instants."""
    rows = conn.execute(_COMMENT_CHANGES, {"since": to_db(since), "until": to_db(until)})
    return [CommentChange(post_from_row(row), row["count_before"], row["count_after"])
            for row in rows.fetchall()]


def issued_links(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(feed URL, link) of every post already in an issue."""
    rows = conn.execute("SELECT DISTINCT feed_url, link FROM posts"
                        " WHERE issue_id IS NOT NULL AND link IS NOT NULL ORDER BY feed_url, link")
    return [(row["feed_url"], row["link"]) for row in rows.fetchall()]
