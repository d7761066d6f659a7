"""Posts of a held draft that look already sent: pure, data in, decisions out.

A feed that rewrites its ids in a way the identity rules cannot see through (guid, link and title
all changed, or a store from before the rules) makes old posts look new; the run holds the issue.
The editor is shown each post of the draft that has the same normalised link, or the same title,
as a post already in a sent issue, and can drop them or mark them as sent in one step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from digest.feeds.identity import link_key
from digest.models import Post

Action = Literal["drop", "sent"]


@dataclass(frozen=True)
class SentPost:
    """A post in an issue that started sending."""

    key: str
    title: str
    link: str | None
    issue_id: int


@dataclass(frozen=True)
class Twin:
    """A post of the draft and the sent post it looks like."""

    post: Post
    sent: SentPost
    why: Literal["same link", "same title"]


def looks_sent(posts: Sequence[Post], sent: Sequence[SentPost]) -> list[Twin]:
    """The posts (in their order) that share a normalised link, else a title, with a sent post."""
    by_link = {link_key(s.link): s for s in sent if s.link}
    by_title = {_title(s.title): s for s in sent if _title(s.title)}
    twins = []
    for post in posts:
        if post.link and link_key(post.link) in by_link:
            twins.append(Twin(post, by_link[link_key(post.link)], "same link"))
        elif _title(post.title) in by_title:
            twins.append(Twin(post, by_title[_title(post.title)], "same title"))
    return twins


def describe(twin: Twin) -> str:
    """One line for the editor: which post, and which sent post it looks like."""
    return (f"\"{twin.post.title}\" {twin.post.link or twin.post.key}: {twin.why} as a post of "
            f"issue {twin.sent.issue_id}")


def _title(title: str) -> str:
    return " ".join(title.casefold().split())
