"""Decide what the next issue holds. Pure: no I/O, no clock, no templates.

Every unissued post is covered by the next issue exactly once. The newest ``max_posts`` are shown;
the rest are counted ("view N more on the blog") and marked as covered, so a busy week never
spills its overflow into the following issue and nothing is ever sent twice.

A post syndicated by several feeds (the same ``feeds.identity.link_key``) is shown once, from the
first feed in config order, and the issue covers every copy: the post appears in it. A copy of a
post an earlier issue had is never offered again, and no issue covers it (it is in
``IssuePlan.sent_before``). Order follows the feeds: newest first by date (an undated post takes
its date from its neighbours in the feed), equal dates in feed order; a post dated in the future
waits, unissued, until its date.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from digest.errors import ConfigError
from digest.feeds.bounds import bound
from digest.feeds.identity import link_key
from digest.issues.discussed import heading, most_discussed
from digest.issues.i18n import ENGLISH, Messages, for_digest
from digest.models import CommentChange, Feed, Issue, IssuePlan, Post, Section, StoredPost
from digest.settings import DigestSettings

SUBJECT_PLACEHOLDERS = ("title", "date", "date_long", "count", "first_post")
UNTITLED = "(untitled)"


@dataclass(frozen=True)
class History:
    """What the store knows beyond the unissued posts."""

    sent_links: tuple[tuple[str, str], ...] = ()  # (feed URL, link) of posts already in issues
    # Comment counts of posts from earlier issues, at the previous issue and now.
    comment_changes: tuple[CommentChange, ...] = ()


def plan_issue(unissued: Sequence[StoredPost], previous: Issue | None, digest: DigestSettings,
               now: datetime, *, feeds: Sequence[Feed] = (), history: History = History(),
               every: str | None = None) -> IssuePlan | None:
    """Plan the next issue from the posts no issue has covered yet; None when there are none.

    Posts are ordered newest first by publication date, else the date an undated post took from
    its neighbours in its feed, else when digest first saw it; equal dates keep feed order (config
    order between feeds), then key, so two runs on the same data agree. Posts dated after ``now``
    wait for a later issue. ``feeds``
    (config order) names the sections and decides which copy of a syndicated post wins;
    ``every`` is the schedule's kind, for the "most discussed" heading.
    """
    order = {feed.url: index for index, feed in enumerate(feeds)}
    due = [stored for stored in unissued if not _scheduled(stored, now)]
    candidates, copies, sent_before = _distinct(due, order, history.sent_links)
    if not candidates:
        return None
    ordered = sorted(candidates, key=functools.partial(_newest_first, order=order))
    limit = max(digest.max_posts, 0)
    if digest.layout == "sections":
        sections = _by_feed(ordered, feeds, order, limit)
        shown = tuple(post for section in sections for post in section.posts)
    else:
        sections, shown = (), tuple(stored.post for stored in ordered[:limit])
    covered = (*(stored.post.key for stored in ordered), *copies)
    rank = {stored.post.key: index for index, stored in enumerate(ordered)}
    newest_shown = sorted(shown, key=lambda post: rank[post.key])
    plan = IssuePlan(
        posts=shown,
        covered_keys=covered,
        more_count=len(ordered) - len(shown),
        since=previous.created_at if previous is not None else None,
        subject=format_subject(digest.subject, digest.title, now, len(ordered), newest_shown,
                               messages=for_digest(digest.locale, digest.language)),
        intro_markdown=digest.intro,
        created_at=now,
        sections=sections,
        sent_before=tuple(sent_before),
    )
    settings = digest.most_discussed
    if not settings.enabled or previous is None:
        return plan
    discussed = most_discussed(history.comment_changes, exclude=set(covered),
                               size=settings.size, same_post=same_post_link)
    return replace(plan, discussed=discussed, discussed_heading=heading(every))


def new_post_count(plan: IssuePlan | None) -> int:
    """How many new posts an issue made from ``plan`` would account for."""
    return 0 if plan is None else len(plan.posts) + plan.more_count


def too_few_message(plan: IssuePlan | None, min_posts: int) -> str | None:
    """Why a plan with fewer than ``min_posts`` new posts is held back; None when it is not."""
    count = new_post_count(plan)
    if plan is None or count >= min_posts:
        return None
    return (f"{count} new post{'s' if count != 1 else ''}, fewer than min_posts ({min_posts}); "
            "they roll into the next issue")


def same_post_link(link: str) -> str:
    """What identifies the post behind a link: the program's one normalisation, ``link_key``."""
    return link_key(link)


def nothing_new_message(previous: Issue | None) -> str:
    """What a run says when there is nothing to send."""
    if previous is None:
        return "no posts yet"
    return f"nothing new since {_utc(previous.created_at).date().isoformat()}"


def format_subject(template: str, title: str, now: datetime, count: int,
                   shown: Sequence[Post], *, messages: Messages = ENGLISH) -> str:
    """Fill the subject placeholders; an unknown placeholder is a configuration error.

    ``{date}`` is ISO (sorts, reads the same everywhere); ``{date_long}`` is in the locale.
    """
    first_post = next((post.title for post in shown if post.title.strip()), UNTITLED)
    values = {
        "title": title,
        "date": _utc(now).date().isoformat(),
        "date_long": messages.date(_utc(now)),
        "count": str(count),
        "first_post": first_post,
    }
    try:
        subject = _SubjectFormatter().vformat(template, (), values)
    except (KeyError, IndexError, ValueError) as exc:
        known = ", ".join("{" + name + "}" for name in SUBJECT_PLACEHOLDERS)
        raise ConfigError(f"bad placeholder in {template!r} ({exc}); known: {known}",
                          key="digest.subject") from exc
    # Titles come from feeds and may carry newlines; a subject is one line, of bounded length
    # (it is also the HTML <title> and the message's aria-label).
    return bound(" ".join(subject.split()), "subject")


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


def _distinct(unissued: Sequence[StoredPost], order: Mapping[str, int],
              sent_links: Sequence[tuple[str, str]]
              ) -> tuple[list[StoredPost], list[str], list[str]]:
    """(posts for the issue, keys of copies it covers without showing, keys sent before).

    Posts already in an issue and repeated keys are dropped, so every key is covered once. A copy
    is a post whose link another feed gave first, in config order: the issue shows it once and
    covers both. A post whose link another feed's post in an earlier issue had was sent before:
    not offered, not covered. A feed repeating its own link (some point every entry at the front
    page) is not copying; within a feed, the identity rules decide at fetch time.
    """
    seen: set[str] = set()
    fresh = []
    for stored in unissued:
        key = stored.post.key
        if stored.issue_id is None and key not in seen:
            seen.add(key)
            fresh.append(stored)
    sent: dict[str, set[str]] = {}
    for feed_url, sent_link in sent_links:
        sent.setdefault(link_key(sent_link), set()).add(feed_url)
    owners: dict[str, set[str]] = {}
    kept, copies, sent_before = [], [], []
    for stored in sorted(fresh, key=lambda s: (_feed_rank(s, order), s.first_seen, s.post.key)):
        post = stored.post
        link = link_key(post.link) if post.link else ""
        if link and sent.get(link, set()) - {post.feed_url}:
            sent_before.append(post.key)
            continue
        feeds = owners.setdefault(link, set()) if link else set()
        if feeds - {post.feed_url}:
            copies.append(post.key)
            continue
        feeds.add(post.feed_url)
        kept.append(stored)
    return kept, copies, sent_before


def _scheduled(stored: StoredPost, now: datetime) -> bool:
    """Dated after now: a post scheduled ahead waits for its date (it is kept, not lost)."""
    published = stored.post.published
    return published is not None and _utc(published) > _utc(now)


def _by_feed(ordered: Sequence[StoredPost], feeds: Sequence[Feed], order: Mapping[str, int],
             limit: int) -> tuple[Section, ...]:
    """Sections in config order; ``limit`` posts shared out one per feed in turn, so a busy feed
    cannot crowd a quiet one out (feeds later in config order miss out when there are more feeds
    with news than ``limit``)."""
    groups: dict[str, list[Post]] = {}
    for stored in ordered:
        groups.setdefault(stored.post.feed_url, []).append(stored.post)
    urls = sorted(groups, key=lambda url: (order.get(url, len(order)), url))
    taken = dict.fromkeys(urls, 0)
    left = limit
    while left > 0 and any(taken[url] < len(groups[url]) for url in urls):
        for url in urls:
            if left > 0 and taken[url] < len(groups[url]):
                taken[url] += 1
                left -= 1
    names = {feed.url: feed.name for feed in feeds}
    return tuple(Section(name=names.get(url) or _name_from_url(url), feed_url=url,
                         posts=tuple(groups[url][:taken[url]])) for url in urls if taken[url])


def _feed_rank(stored: StoredPost, order: Mapping[str, int]) -> int:
    return order.get(stored.post.feed_url, len(order))


def _name_from_url(url: str) -> str:
    # A feed no longer in the config may still have posts waiting.
    parts = urlsplit(url)
    return parts.hostname or PurePosixPath(parts.path).name or url



def _newest_first(stored: StoredPost, order: Mapping[str, int]) -> tuple[float, int, int, str]:
    moment = stored.post.published or stored.placed_at or stored.first_seen
    return (-_utc(moment).timestamp(), _feed_rank(stored, order), stored.rank, stored.post.key)


def _utc(moment: datetime) -> datetime:
    # Naive datetimes are taken as UTC, which is how the store and feeds record them.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
