"""Decide what the next issue holds. Pure: no I/O, no clock, no templates.

Every unissued post is covered by the next issue exactly once. The newest ``max_posts`` are shown;
the rest are counted ("view N more on the blog") and marked as covered, so a busy week never
spills its overflow into the following issue and nothing is ever sent twice.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from digest.errors import ConfigError
from digest.models import Issue, IssuePlan, Post, StoredPost
from digest.settings import DigestSettings

SUBJECT_PLACEHOLDERS = ("title", "date", "count", "first_post")
UNTITLED = "(untitled)"


def plan_issue(unissued: Sequence[StoredPost], previous: Issue | None, digest: DigestSettings,
               now: datetime) -> IssuePlan | None:
    """Plan the next issue from the posts no issue has covered yet; None when there are none.

    Posts are ordered newest first by publication date, falling back to when digest first saw
    them (feeds without dates), ties broken by key so two runs on the same data agree.
    """
    candidates = _distinct(unissued)
    if not candidates:
        return None
    ordered = sorted(candidates, key=_newest_first)
    shown = tuple(stored.post for stored in ordered[: max(digest.max_posts, 0)])
    return IssuePlan(
        posts=shown,
        covered_keys=tuple(stored.post.key for stored in ordered),
        more_count=len(ordered) - len(shown),
        since=previous.created_at if previous is not None else None,
        subject=format_subject(digest.subject, digest.title, now, len(ordered), shown),
        intro_markdown=digest.intro,
        created_at=now,
    )


def nothing_new_message(previous: Issue | None) -> str:
    """What a run says when there is nothing to send."""
    if previous is None:
        return "no posts yet"
    return f"nothing new since {_utc(previous.created_at).date().isoformat()}"


def format_subject(template: str, title: str, now: datetime, count: int,
                   shown: Sequence[Post]) -> str:
    """Fill the subject placeholders; an unknown placeholder is a configuration error."""
    first_post = next((post.title for post in shown if post.title.strip()), UNTITLED)
    values = {
        "title": title,
        "date": _utc(now).date().isoformat(),
        "count": str(count),
        "first_post": first_post,
    }
    try:
        subject = _SubjectFormatter().vformat(template, (), values)
    except (KeyError, IndexError, ValueError) as exc:
        known = ", ".join("{" + name + "}" for name in SUBJECT_PLACEHOLDERS)
        raise ConfigError(f"bad placeholder in {template!r} ({exc}); known: {known}",
                          key="digest.subject") from exc
    # Titles come from feeds and may carry newlines; a subject is one line.
    return " ".join(subject.split())


class _SubjectFormatter(string.Formatter):
    """str.format restricted to plain names: no attribute or index lookups, no format specs."""

    def get_field(self, field_name: str, args: Sequence[object],
                  kwargs: Mapping[str, object]) -> tuple[object, str]:
        if field_name not in SUBJECT_PLACEHOLDERS:
            raise KeyError(f"unknown placeholder {{{field_name}}}")
        return kwargs[field_name], field_name

    def format_field(self, value: object, format_spec: str) -> str:
        if format_spec:
            raise ValueError(f"format specification {format_spec!r} not supported")
        return str(value)


def _distinct(unissued: Sequence[StoredPost]) -> list[StoredPost]:
    """Drop posts already in an issue and repeated keys, so every key is covered once."""
    seen: set[str] = set()
    result = []
    for stored in unissued:
        key = stored.post.key
        if stored.issue_id is not None or key in seen:
            continue
        seen.add(key)
        result.append(stored)
    return result


def _newest_first(stored: StoredPost) -> tuple[float, str]:
    moment = stored.post.published or stored.first_seen
    return (-_utc(moment).timestamp(), stored.post.key)


def _utc(moment: datetime) -> datetime:
    # Naive datetimes are taken as UTC, which is how the store and feeds record them.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
