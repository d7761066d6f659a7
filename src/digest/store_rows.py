"""What the store returns beyond the shared models, and how values cross the SQL edge."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from digest.models import (
    Delivery,
    DeliveryStatus,
    FetchStatus,
    Issue,
    IssueStatus,
    Post,
    StoredPost,
    Subscriber,
    SubscriberStatus,
)

DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = ("pending", "sent", "failed", "rejected",
                                                 "skipped")
SUBSCRIBER_STATUSES: tuple[SubscriberStatus, ...] = ("active", "unsubscribed", "bounced")


@dataclass(frozen=True)
class FeedRow:
    """One feed as the store remembers it, for `digest status`-style reports."""

    url: str
    name: str
    last_status: FetchStatus | None
    last_error: str | None
    last_success_at: datetime | None
    last_fetched_at: datetime | None
    consecutive_failures: int
    post_count: int


@dataclass(frozen=True)
class ImportReport:
    """What an import did. ``kept_out``: addresses that unsubscribed or bounced, left alone."""

    added: int
    updated: int
    unchanged: int
    kept_out: int


@dataclass(frozen=True)
class IssueSummary:
    """An issue with its deliveries counted by status (every status present, zeros included)."""

    id: int
    subject: str
    created_at: datetime
    status: IssueStatus
    sent_at: datetime | None
    counts: dict[str, int]
    top_errors: list[tuple[str, int]]  # most common replies among failed and rejected rows


def to_db(moment: datetime) -> str:
    """Fixed-width ISO-8601 UTC text, so that comparing the text compares the times."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"the store only keeps timezone-aware datetimes, got {moment!r}")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def to_db_opt(moment: datetime | None) -> str | None:
    return None if moment is None else to_db(moment)


def from_db(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def from_db_opt(text: str | None) -> datetime | None:
    return None if text is None else from_db(text)


def post_from_row(row: sqlite3.Row) -> StoredPost:
    post = Post(
        key=row["key"],
        feed_url=row["feed_url"],
        title=row["title"],
        link=row["link"],
        author=row["author"],
        published=from_db_opt(row["published"]),
        summary_html=row["summary_html"],
        comment_count=row["comment_count"],
        comments_url=row["comments_url"],
        comments_feed=row["comments_feed"],
    )
    return StoredPost(post=post, first_seen=from_db(row["first_seen"]), issue_id=row["issue_id"])


def feed_from_row(row: sqlite3.Row) -> FeedRow:
    return FeedRow(
        url=row["url"],
        name=row["name"],
        last_status=cast("FetchStatus | None", row["last_status"]),
        last_error=row["last_error"],
        last_success_at=from_db_opt(row["last_success_at"]),
        last_fetched_at=from_db_opt(row["last_fetched_at"]),
        consecutive_failures=row["consecutive_failures"],
        post_count=row["post_count"],
    )


def subscriber_from_row(row: sqlite3.Row) -> Subscriber:
    return Subscriber(id=row["id"], email=row["email"], name=row["name"],
                      status=cast(SubscriberStatus, row["status"]))


def issue_from_row(row: sqlite3.Row) -> Issue:
    return Issue(
        id=row["id"],
        subject=row["subject"],
        html=row["html"],
        text=row["text"],
        created_at=from_db(row["created_at"]),
        status=cast(IssueStatus, row["status"]),
        post_keys=tuple(json.loads(row["post_keys"])),
        sent_at=from_db_opt(row["sent_at"]),
    )


def delivery_from_row(row: sqlite3.Row) -> Delivery:
    return Delivery(
        id=row["id"],
        issue_id=row["issue_id"],
        subscriber_id=row["subscriber_id"],
        email=row["email"],
        name=row["name"],
        status=cast(DeliveryStatus, row["status"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        message_id=row["message_id"],
        sent_at=from_db_opt(row["sent_at"]),
    )


def zero_counts() -> dict[str, int]:
    return dict.fromkeys(DELIVERY_STATUSES, 0)
