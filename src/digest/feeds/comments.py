"""Comment counts from per-post comments feeds (``comments: fetch``), within bounds.

Each such URL is named by the feed's content, so it is fetched only when it is on the feed's own
site (the same registrable domain, per the Public Suffix List, as the configured feed URL or the
site the feed links to), through the network boundary (``digest.feeds.boundary``), and only
while the run's budget lasts: ``fetch.comment_budget`` seconds from the first comments feed of
the run and at most ``fetch.max_comment_feeds`` of them. What is left out is counted per feed
and reported as the feed's warnings (``CommentBudget.notes``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from digest.feeds.boundary import ip_literal
from digest.feeds.fetch import FetchFailed, OutsideBoundary
from digest.models import Post

# Why a comments feed was not counted, as the run output words it.
OFF_SITE = "not on the feed's own site"
OVER_BUDGET = "the run's time budget for comment feeds was spent"
OVER_CAP = "the run's cap on comment feeds was reached"
FAILED = "could not be fetched"
REFUSED = "on an internal address"
# fetch(url) -> its comment count (None: not a usable feed); raises FetchFailed.
Counter_ = Callable[[str], Awaitable[int | None]]


@functools.cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # the list bundled with the package: no network


def site_of(url: str | None) -> str | None:
    """The registrable domain of an http(s) URL (``blog.example.co.uk`` -> ``example.co.uk``);
    an IP address or a single-label name (``localhost``) is its own site; None for other URLs."""
    if not url:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if ip_literal(host) is not None:
        return host
    return str(_suffixes().privatesuffix(host) or host)


@dataclasses.dataclass
class CommentBudget:
    """The run's allowance for comments feeds, shared by every feed of the run."""

    seconds: float
    max_feeds: int
    started: int = 0
    deadline: float | None = None  # loop time; set by the first comments feed of the run

    async def count(self, posts: Sequence[Post], sites: set[str],
                    fetch: Counter_) -> tuple[tuple[Post, ...], tuple[str, ...]]:
        """Posts with counts from their comments feeds, and lines saying what was left out."""
        skipped: Counter[str] = Counter()
        counted = await asyncio.gather(*(self._one(post, sites, fetch, skipped)
                                         for post in posts))
        return tuple(counted), self.notes(sum(1 for p in posts if p.comments_feed), skipped)

    async def _one(self, post: Post, sites: set[str], fetch: Counter_,
                   skipped: Counter[str]) -> Post:
        url = post.comments_feed
        if not url:
            return post
        reason = self._refusal(url, sites)
        if reason is None:
            loop = asyncio.get_running_loop()
            if self.deadline is None:
                self.deadline = loop.time() + self.seconds
            self.started += 1
            try:
                async with asyncio.timeout_at(self.deadline):
                    count = await fetch(url)
                return post if count is None else dataclasses.replace(post, comment_count=count)
            except TimeoutError:
                reason = OVER_BUDGET
            except OutsideBoundary:
                reason = REFUSED
            except FetchFailed:
                reason = FAILED
        skipped[reason] += 1
        return post  # the count stays what the feed itself said, possibly unknown

    def _refusal(self, url: str, sites: set[str]) -> str | None:
        if site_of(url) not in sites:
            return OFF_SITE
        if self.started >= self.max_feeds:
            return OVER_CAP
        if self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline:
            return OVER_BUDGET
        return None

    def notes(self, named: int, skipped: Counter[str]) -> tuple[str, ...]:
        """"comment feeds: 4 of 120 fetched; 116 left out (...)", or nothing when none was."""
        left_out = sum(skipped.values())
        if not left_out:
            return ()
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(skipped.items()))
        line = (f"comment feeds: {named - left_out} of {named} fetched; {left_out} left out "
                f"({reasons})")
        if skipped[OVER_BUDGET]:
            line += f"; fetch.comment_budget is {self.seconds:g} s"
        if skipped[OVER_CAP]:
            line += f"; fetch.max_comment_feeds is {self.max_feeds}"
        return (line,)
