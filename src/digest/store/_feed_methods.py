"""Feeds, posts and comment counts: the store's methods over ``store.feeds``.

A mixin of ``Store``: every method runs in one transaction of ``StoreBase._tx``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from digest.models import (
    CommentChange,
    FetchOutcome,
    StoredPost,
    Validators,
)
from digest.store import feeds
from digest.store._base import StoreBase
from digest.store.rows import (
    FeedRow,
    to_db,
)


class FeedMethods(StoreBase):

    def validators(self, url: str) -> Validators:
        with self._tx(write=False) as conn:
            return feeds.validators(conn, url)

    def record_fetch(self, outcome: FetchOutcome, now: datetime) -> int:
        """Remember a fetch and its posts in one transaction; returns the number of new posts."""
        with self._tx() as conn:
            return feeds.record_fetch(conn, outcome, now)

    def feed_rows(self) -> list[FeedRow]:
        with self._tx(write=False) as conn:
            return feeds.feed_rows(conn)

    def hold_period(self, period_start: datetime, now: datetime, reason: str) -> None:
        """Remember that the period opened at ``period_start`` sends no issue (min_posts)."""
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO held_periods (period_start, held_at, reason)"
                         " VALUES (?, ?, ?)", (to_db(period_start), to_db(now), reason))

    def period_held(self, period_start: datetime) -> str | None:
        """Why the period opened at ``period_start`` was held back; None if it was not."""
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT reason FROM held_periods WHERE period_start = ?",
                               (to_db(period_start),)).fetchone()
        return None if row is None else str(row[0])

    def set_feed_alerted(self, url: str, at: datetime | None) -> None:
        """Remember that the editors were alerted about this feed (None: it recovered)."""
        with self._tx() as conn:
            feeds.set_alerted(conn, url, at)

    def posts_by_key(self, keys: Sequence[str]) -> dict[str, StoredPost]:
        with self._tx(write=False) as conn:
            return feeds.posts_by_key(conn, list(keys))

    def gone_posts(self) -> list[StoredPost]:
        """Posts not sent yet that left their feed: never to be sent (kept in the store)."""
        with self._tx(write=False) as conn:
            return feeds.gone_posts(conn)

    def listed_keys(self) -> set[str]:
        """Keys of the posts each feed's latest full fetch listed."""
        with self._tx(write=False) as conn:
            return feeds.listed_keys(conn)

    def comment_history(self, key: str) -> list[tuple[datetime, int]]:
        with self._tx(write=False) as conn:
            return feeds.comment_history(conn, key)

    def unissued_posts(self) -> list[StoredPost]:
        with self._tx(write=False) as conn:
            return feeds.unissued_posts(conn)

    def comment_changes(self, since: datetime, until: datetime) -> list[CommentChange]:
        """Posts from earlier issues whose comment count changed in (since, until]."""
        with self._tx(write=False) as conn:
            return feeds.comment_changes(conn, since, until)

    def issued_links(self) -> list[tuple[str, str]]:
        """(feed URL, link) of every post already in an issue."""
        with self._tx(write=False) as conn:
            return feeds.issued_links(conn)

    def sent_posts(self) -> list[tuple[str, str, str | None, int]]:
        """(key, title, link, issue id) of every post in an issue that started sending."""
        with self._tx(write=False) as conn:
            return feeds.sent_posts(conn)

    def settle_posts(self, *, as_sent: dict[str, int], dropped: Sequence[str],
                     now: datetime) -> None:
        """Posts an editor judged already sent: ``as_sent`` are recorded in the issues given
        (key -> issue id), ``dropped`` are never offered again. One transaction."""
        with self._tx() as conn:
            feeds.settle_as_sent(conn, as_sent)
            feeds.drop(conn, list(dropped), to_db(now))
