"""What the store returns beyond the shared models, and how values cross the SQL edge."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import types
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Union, cast, get_args, get_origin, get_type_hints

from digest.models import (
    Delivery,
    DeliveryStatus,
    FeaturedImage,
    FetchStatus,
    Issue,
    IssuePlan,
    IssueStatus,
    Post,
    RenderedIssue,
    StoredPost,
    Subscriber,
    SubscriberStatus,
)

DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = ("pending", "sent", "failed", "rejected",
                                                 "skipped")
SUBSCRIBER_STATUSES: tuple[SubscriberStatus, ...] = (
    "active", "unsubscribed", "bounced", "complained")


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
    alerted_at: datetime | None = None  # the editors were told it is failing; None: no alert
    average_comments: float | None = None  # over its posts with a known count


@dataclass(frozen=True)
class ImportReport:
    """What an import did, counted in distinct addresses. ``kept_out``: addresses that
    unsubscribed or bounced, left alone; ``not_active``: rows whose own status (a "status"
    column) says they are not active, left out."""

    added: int
    updated: int
    unchanged: int
    kept_out: int
    not_active: int = 0

    @property
    def rows(self) -> int:
        """Distinct valid addresses read, whatever became of them."""
        return self.added + self.updated + self.unchanged + self.kept_out + self.not_active


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
    content_hash: str | None = None
    cancelled: bool = False  # stopped for good by `digest issues cancel`


@dataclass(frozen=True)
class DraftContent:
    """What a draft holds: the plan it was rendered from and the rendering, with its hash."""

    plan: IssuePlan
    rendered: RenderedIssue
    content_hash: str
    intro_edited: bool = False
    subject_edited: bool = False


ROWID_MAX = 2**63 - 1  # SQLite integers are signed 64-bit: a larger number names no row


def is_rowid(value: int) -> bool:
    """Whether ``value`` can be a row id at all (a number from a URL may not: /issues/10**30)."""
    return 0 < value <= ROWID_MAX


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
        guid=row["guid"],
        image=image_from_db(row["image"]),
    )
    return StoredPost(post=post, first_seen=from_db(row["first_seen"]), issue_id=row["issue_id"],
                      placed_at=from_db_opt(row["placed_at"]), rank=row["feed_rank"])


def image_to_db(image: FeaturedImage | None) -> str | None:
    """A featured image as the JSON the posts.image column holds; None stays NULL."""
    return None if image is None else json.dumps(dataclasses.asdict(image), ensure_ascii=False)


def image_from_db(text: str | None) -> FeaturedImage | None:
    return None if text is None else cast(FeaturedImage, _decode(FeaturedImage, json.loads(text)))


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
        alerted_at=from_db_opt(row["alerted_at"]),
        average_comments=row["average_comments"],
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
        plan=None if row["plan"] is None else plan_from_json(row["plan"]),
        preheader=row["preheader"],
        shown_count=row["shown_count"],
        warnings=tuple(json.loads(row["warnings"])),
        intro_edited=bool(row["intro_edited"]),
        subject_edited=bool(row["subject_edited"]),
        content_hash=row["content_hash"],
        approved_hash=row["approved_hash"],
        approved_at=from_db_opt(row["approved_at"]),
        editors_notified_at=from_db_opt(row["editors_notified_at"]),
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
        content_hash=row["content_hash"],
    )


def zero_counts() -> dict[str, int]:
    return dict.fromkeys(DELIVERY_STATUSES, 0)


# An issue's plan is kept as JSON so that an edit re-renders exactly what was planned. Decoding
# follows the dataclasses' type hints, so fields added later (with defaults) need no code here.


def plan_to_json(plan: IssuePlan) -> str:
    return json.dumps(dataclasses.asdict(plan), default=_encode_value, ensure_ascii=False)


def plan_from_json(text: str) -> IssuePlan:
    return cast(IssuePlan, _decode(IssuePlan, json.loads(text)))


def _encode_value(value: object) -> str:
    if isinstance(value, datetime):
        return to_db(value)
    raise TypeError(f"cannot store {type(value).__name__} in an issue plan")


def _decode(kind: Any, value: Any) -> Any:
    origin = get_origin(kind)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = get_type_hints(kind)
        return kind(**{f.name: _decode(hints[f.name], value[f.name])
                       for f in dataclasses.fields(kind) if f.name in value})
    if origin in (tuple, list):
        args = get_args(kind)
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return tuple(_decode(arg, element) for arg, element in zip(args, value, strict=True))
        return origin(_decode(args[0], element) for element in value)
    if origin is dict:
        item = get_args(kind)[1]
        return {key: _decode(item, element) for key, element in value.items()}
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        return _decode(next(arg for arg in get_args(kind) if arg is not type(None)), value)
    if kind is datetime:
        return from_db(value)
    if origin is Literal or kind in (str, int, float, bool):
        return value
    raise TypeError(f"cannot read {kind!r} from an issue plan")
