"""The "most discussed" section: posts from earlier issues that gained the most comments since
the previous issue. Pure: the comment counts come from the store's history, passed in.

A post is listed only when both counts are known and the later one is higher: a feed that stopped
giving counts, or comments that were deleted, never show up as discussion. Posts new in this
issue are left out: their own entry already shows how many comments they have.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import UTC

from digest.models import CommentChange, DiscussedPost

HEADINGS = {
    "daily": "Most discussed since yesterday",
    "weekly": "Most discussed this week",
    "monthly": "Most discussed this month",
    None: "Most discussed since the last issue",
}


def most_discussed(changes: Iterable[CommentChange], *, exclude: Collection[str], size: int,
                   same_post: Callable[[str], str] = str) -> tuple[DiscussedPost, ...]:
    """The ``size`` posts with the most new comments, most first.

    ``exclude``: keys of the posts in the issue being made. ``same_post`` maps a link to what
    identifies the post behind it, so copies of one post syndicated by two feeds count once.
    Ties go to the post with more comments in all, then the newer one, then by key, so two runs on
    the same data agree.
    """
    ranked = sorted((change for change in changes if _gained(change) > 0
                     and change.post.post.key not in exclude
                     and change.post.issue_id is not None), key=_rank)
    chosen: list[DiscussedPost] = []
    seen: set[str] = set()
    for change in ranked:
        post = change.post.post
        identity = same_post(post.link) if post.link else "key:" + post.key
        if identity in seen:
            continue
        seen.add(identity)
        chosen.append(DiscussedPost(post=post, gained=_gained(change)))
        if len(chosen) >= size:
            break
    return tuple(chosen)


def heading(every: str | None) -> str:
    """The section's heading for a schedule kind (None: no schedule)."""
    return HEADINGS.get(every, HEADINGS[None])


def gained_label(gained: int) -> str:
    return f"+{gained} comment" + ("" if gained == 1 else "s")


@dataclass(frozen=True)
class DiscussedView:
    """A listed post as the templates see it."""

    title: str
    link: str | None
    comments_url: str | None  # the post's comments, else the post itself
    gained_label: str  # "+12 comments"


def view(item: DiscussedPost) -> DiscussedView:
    post = item.post
    return DiscussedView(title=" ".join(post.title.split()) or "(untitled)", link=post.link,
                         comments_url=post.comments_url or post.link,
                         gained_label=gained_label(item.gained))


def _gained(change: CommentChange) -> int:
    if change.before is None or change.after is None:
        return 0
    return change.after - change.before


def _rank(change: CommentChange) -> tuple[int, int, float, str]:
    post = change.post.post
    moment = post.published or change.post.first_seen
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (-_gained(change), -(change.after or 0), -moment.timestamp(), post.key)
