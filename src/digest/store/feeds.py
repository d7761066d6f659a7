"""Feeds, posts and comment history in SQL. Every function runs inside the caller's transaction."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from digest.feeds import identity
from digest.models import CommentChange, FetchOutcome, Post, StoredPost, Validators
from digest.store.rows import (
    FeedRow,
    feed_from_row,
    from_db,
    from_db_opt,
    image_to_db,
    post_from_row,
    to_db,
    to_db_opt,
)

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
# feed_url, issue_id and the date an undated post took from its neighbours never change; the guid
# follows the feed (a rewritten guid is recorded on the post it was recognised as). updated_at
# moves only when something did.
_UPSERT_POST = """
INSERT INTO posts (key, feed_url, title, link, author, published, summary_html, comment_count,
                   comments_url, comments_feed, first_seen, updated_at, guid, link_key, guid_key,
                   placed_at, image)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET
    title = excluded.title,
    link = coalesce(excluded.link, posts.link),
    link_key = coalesce(excluded.link_key, posts.link_key),
    guid_key = coalesce(excluded.guid_key, posts.guid_key),
    author = excluded.author,
    published = coalesce(excluded.published, posts.published),
    summary_html = excluded.summary_html,
    comment_count = coalesce(excluded.comment_count, posts.comment_count),
    comments_url = coalesce(excluded.comments_url, posts.comments_url),
    comments_feed = coalesce(excluded.comments_feed, posts.comments_feed),
    guid = coalesce(excluded.guid, posts.guid),
    image = excluded.image,
    updated_at = excluded.updated_at
WHERE (posts.title, posts.link, posts.author, posts.published, posts.summary_html,
       posts.comment_count, posts.comments_url, posts.comments_feed, posts.guid, posts.image)
   IS NOT (excluded.title, coalesce(excluded.link, posts.link), excluded.author,
           coalesce(excluded.published, posts.published), excluded.summary_html,
           coalesce(excluded.comment_count, posts.comment_count),
           coalesce(excluded.comments_url, posts.comments_url),
           coalesce(excluded.comments_feed, posts.comments_feed),
           coalesce(excluded.guid, posts.guid), excluded.image)
"""


def validators(conn: sqlite3.Connection, url: str) -> Validators:
    row = conn.execute("SELECT etag, last_modified FROM feeds WHERE url = ?", (url,)).fetchone()
    if row is None:
        return Validators()
    return Validators(etag=row["etag"], last_modified=row["last_modified"])


def known_posts(conn: sqlite3.Connection, feed_url: str) -> list[identity.Known]:
    """What the identity rules need of every post the store has from this feed."""
    rows = conn.execute("SELECT key, guid, link, title, published, link_key, guid_key FROM posts"
                        " WHERE feed_url = ?", (feed_url,)).fetchall()
    return [identity.Known(row["key"], row["guid"], row["link"], row["title"],
                           from_db_opt(row["published"]), row["link_key"], row["guid_key"])
            for row in rows]


def record_fetch(conn: sqlite3.Connection, outcome: FetchOutcome, now: datetime) -> int:
    """Remember one fetch and its posts, each under the key the identity rules give it.

    Returns how many distinct posts were seen for the first time: a post another feed already
    brought (the same link) is not counted again.
    """
    stamp = to_db(now)
    _record_feed(conn, outcome, stamp)
    posts, placed, ranks = identity.settle(outcome.posts, known_posts(conn, outcome.feed.url))
    if not posts:
        return 0
    known = dict(conn.execute(
        "SELECT key, comment_count FROM posts WHERE key IN (SELECT value FROM json_each(?))",
        (json.dumps([post.key for post in posts]),),
    ).fetchall())
    # The posts belong to the feed that was fetched, whatever URL the parser copied into them.
    conn.executemany(_UPSERT_POST, [
        (*_post_params(post, outcome.feed.url, stamp), to_db_opt(at), image_to_db(post.image))
        for post, at in zip(posts, placed, strict=True)])
    # A count is history worth keeping when it is first known or differs from the last one.
    changed = [(post.key, stamp, post.comment_count) for post in posts
               if post.comment_count is not None and known.get(post.key) != post.comment_count]
    conn.executemany("INSERT INTO comment_counts (post_key, seen_at, count) VALUES (?, ?, ?)",
                     changed)
    if outcome.status == "ok":  # what this fetch listed; a 304 or an error says nothing
        conn.executemany("UPDATE posts SET last_seen_at = ?, feed_rank = ? WHERE feed_url = ?"
                         " AND key = ?", [(stamp, rank, outcome.feed.url, post.key)
                                          for post, rank in zip(posts, ranks, strict=True)])
    new = [post for post in posts if post.key not in known]
    return len(new) - _copies(conn, outcome.feed.url, new)


def _copies(conn: sqlite3.Connection, feed_url: str, new: list[Post]) -> int:
    """How many of these new posts another feed already brought (the same link)."""
    links = [identity.link_key(post.link) for post in new if post.link]
    if not links:
        return 0
    others = {row[0] for row in conn.execute(
        "SELECT DISTINCT link_key FROM posts WHERE link_key IN (SELECT value FROM json_each(?))"
        " AND feed_url != ?", (json.dumps(links), feed_url))}
    return sum(1 for link in links if link in others)


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
            post.comments_feed, stamp, stamp, post.guid,
            identity.link_key(post.link) if post.link else None,
            identity.guid_key(post.guid) if post.guid else None)


def feed_rows(conn: sqlite3.Connection) -> list[FeedRow]:
    rows = conn.execute(
        "SELECT feeds.*, (SELECT count(*) FROM posts WHERE posts.feed_url = feeds.url)"
        " AS post_count, (SELECT avg(comment_count) FROM posts WHERE posts.feed_url = feeds.url"
        " AND comment_count IS NOT NULL) AS average_comments FROM feeds ORDER BY name, url"
    ).fetchall()
    return [feed_from_row(row) for row in rows]


def set_alerted(conn: sqlite3.Connection, url: str, at: datetime | None) -> None:
    conn.execute("UPDATE feeds SET alerted_at = ? WHERE url = ?", (to_db_opt(at), url))


def posts_by_key(conn: sqlite3.Connection, keys: list[str]) -> dict[str, StoredPost]:
    rows = conn.execute("SELECT * FROM posts WHERE key IN (SELECT value FROM json_each(?))",
                        (json.dumps(keys),)).fetchall()
    return {row["key"]: post_from_row(row) for row in rows}


# Which unsent posts left their feed. Every successful fetch that lists entries stamps them with
# its time, so a feed's newest stamp is its latest full fetch and a post stamped earlier was not
# in it. Two guards keep this from guessing:
# - a feed that lists only its latest N entries drops old posts off the end by design: a post
#   counts as gone only if the latest fetch still lists an older post (published, else first
#   seen), so it vanished from the middle;
# - the latest stamp must come from a fetch that also listed a post it already knew unchanged
#   (last_seen_at > updated_at). Rows from before last_seen_at was kept, or a fetch where every
#   entry is new (a feed rewriting its ids), are not judged.
_GONE = """
WITH latest AS (
    SELECT feed_url, max(last_seen_at) AS at FROM posts GROUP BY feed_url
), judged AS (
    SELECT latest.* FROM latest WHERE EXISTS (
        SELECT 1 FROM posts AS r WHERE r.feed_url = latest.feed_url
        AND r.last_seen_at = latest.at AND r.last_seen_at > r.updated_at)
)
SELECT p.* FROM posts AS p JOIN judged ON p.feed_url = judged.feed_url
WHERE p.last_seen_at < judged.at
  AND (p.issue_id IS NULL OR p.issue_id IN (
       SELECT id FROM issues WHERE status IN ('draft', 'approved')))
  AND EXISTS (
      SELECT 1 FROM posts AS q WHERE q.feed_url = p.feed_url AND q.last_seen_at = judged.at
      AND coalesce(q.published, q.first_seen) < coalesce(p.published, p.first_seen))
ORDER BY p.feed_url, p.first_seen, p.key
"""


def gone_posts(conn: sqlite3.Connection) -> list[StoredPost]:
    """Posts not yet sent that left their feed (see _GONE for the rule)."""
    return [post_from_row(row) for row in conn.execute(_GONE).fetchall()]


def listed_keys(conn: sqlite3.Connection) -> set[str]:
    """Keys of the posts each feed's latest full fetch listed."""
    rows = conn.execute(
        "SELECT key FROM posts AS p WHERE p.last_seen_at = (SELECT max(last_seen_at) FROM posts"
        " AS q WHERE q.feed_url = p.feed_url)").fetchall()
    return {row["key"] for row in rows}


def comment_history(conn: sqlite3.Connection, key: str) -> list[tuple[datetime, int]]:
    rows = conn.execute(
        "SELECT seen_at, count FROM comment_counts WHERE post_key = ? ORDER BY seen_at, id",
        (key,),
    ).fetchall()
    return [(from_db(row["seen_at"]), row["count"]) for row in rows]


def unissued_posts(conn: sqlite3.Connection) -> list[StoredPost]:
    """Posts in no issue yet, oldest first seen first."""
    rows = conn.execute(
        "SELECT * FROM posts WHERE issue_id IS NULL AND dropped_at IS NULL"
        " ORDER BY first_seen, published, key"
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


def sent_posts(conn: sqlite3.Connection) -> list[tuple[str, str, str | None, int]]:
    """(key, title, link, issue id) of every post in an issue that started sending."""
    rows = conn.execute(
        "SELECT posts.key, posts.title, posts.link, posts.issue_id FROM posts"
        " JOIN issues ON issues.id = posts.issue_id WHERE issues.status IN ('sending', 'sent')"
        " ORDER BY posts.issue_id, posts.key").fetchall()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def settle_as_sent(conn: sqlite3.Connection, issues_by_key: dict[str, int]) -> None:
    """Record posts as covered by the sent issues that had their twins."""
    conn.executemany("UPDATE posts SET issue_id = ? WHERE key = ?",
                     [(issue_id, key) for key, issue_id in issues_by_key.items()])


def drop(conn: sqlite3.Connection, keys: list[str], stamp: str) -> None:
    """Never offer these posts again (they stay in the store)."""
    conn.executemany("UPDATE posts SET dropped_at = ? WHERE key = ?",
                     [(stamp, key) for key in keys])
