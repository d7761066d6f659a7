"""Fetching and parsing feeds: the public surface.

``fetch_feeds`` gets every configured feed concurrently with one HTTP client and turns each
into a ``FetchOutcome``: posts when it worked, ``not_modified`` when the server said 304, or an
error in words a user understands. One broken feed never stops the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence

import httpx

from digest.feeds.discover import advertised_feed
from digest.feeds.fetch import USER_AGENT, Fetched, FetchFailed, fetch_document, make_client
from digest.feeds.parse import count_entries, parse_feed
from digest.models import Feed, FetchOutcome, Post, Validators
from digest.settings import FetchSettings

__all__ = ["USER_AGENT", "fetch_feeds", "parse_feed"]


def fetch_feeds(feeds: Sequence[Feed], validators: Mapping[str, Validators],
                settings: FetchSettings, *,
                transport: httpx.AsyncBaseTransport | None = None) -> list[FetchOutcome]:
    """Fetch and parse every feed; the outcomes come back in the order of ``feeds``."""
    return asyncio.run(_fetch_all(feeds, validators, settings, transport))


async def _fetch_all(feeds: Sequence[Feed], validators: Mapping[str, Validators],
                     settings: FetchSettings,
                     transport: httpx.AsyncBaseTransport | None) -> list[FetchOutcome]:
    async with make_client(settings, transport) as client:
        run = _Run(client, asyncio.Semaphore(max(1, settings.concurrency)), settings)
        return list(await asyncio.gather(
            *(run.feed(feed, validators.get(feed.url) or Validators()) for feed in feeds)))


@dataclasses.dataclass(frozen=True)
class _Run:
    client: httpx.AsyncClient
    limit: asyncio.Semaphore  # shared by feeds and comments feeds alike
    settings: FetchSettings

    async def feed(self, feed: Feed, old: Validators) -> FetchOutcome:
        try:
            return await self._feed(feed, old)
        except FetchFailed as exc:
            return FetchOutcome(feed=feed, status="error", validators=old, error=exc.reason,
                                http_status=exc.http_status)
        except Exception as exc:  # a feed that trips over a bug must not sink the others
            return FetchOutcome(feed=feed, status="error", validators=old,
                                error=f"unexpected error: {type(exc).__name__}: {exc}")

    async def _feed(self, feed: Feed, old: Validators) -> FetchOutcome:
        # Comments arrive without the feed changing: with comments fetched per post, a 304 would
        # freeze every count, so such feeds are always fetched in full.
        ask = Validators() if feed.comments == "fetch" else old
        async with self.limit:
            fetched = await fetch_document(self.client, feed.url, ask, self.settings)
        if fetched.status == 304:
            # A 304 may repeat the validators or leave them out; keep the old ones if it does.
            fresh = Validators(etag=fetched.headers.get("etag") or old.etag,
                               last_modified=fetched.headers.get("last-modified")
                               or old.last_modified)
            return FetchOutcome(feed=feed, status="not_modified", validators=fresh,
                                http_status=304)
        outcome = parse_feed(feed, fetched.body, fetched.headers)
        if outcome.status == "error" and feed.url.startswith(("http://", "https://")):
            outcome = await self._discovered(feed, fetched, outcome)
        if outcome.status == "error":
            # Keep the old validators: the next run must fetch and parse the feed again.
            return dataclasses.replace(outcome, validators=old, http_status=fetched.status)
        posts = outcome.posts
        if feed.comments == "fetch":
            posts = tuple(await asyncio.gather(*(self._count_comments(p) for p in posts)))
        return dataclasses.replace(outcome, posts=posts, http_status=fetched.status)

    async def _discovered(self, feed: Feed, page: Fetched, outcome: FetchOutcome) -> FetchOutcome:
        """A web page given as the feed URL: follow the feed it advertises, once, and say which
        URL belongs in feeds.yaml. Without one, the page's own error stands."""
        url = advertised_feed(page.body, page.url)
        if url is None or url in (feed.url, page.url):
            return outcome
        async with self.limit:
            fetched = await fetch_document(self.client, url, Validators(), self.settings)
        found = parse_feed(feed, fetched.body, fetched.headers)
        if found.status == "error":
            return dataclasses.replace(outcome, error=f"{outcome.error}; the feed it advertises, "
                                       f"{url}, failed too: {found.error}")
        note = (f"{feed.url} is a web page; it advertises its feed at {url}: put that URL in "
                "feeds.yaml")
        # The page's validators are not the feed's: fetched in full until the config changes.
        return dataclasses.replace(found, validators=Validators(),
                                   warnings=(note, *found.warnings))

    async def _count_comments(self, post: Post) -> Post:
        """The post with its comment count taken from its comments feed, when that works."""
        if not post.comments_feed:
            return post
        try:
            async with self.limit:
                fetched = await fetch_document(self.client, post.comments_feed, Validators(),
                                               self.settings)
        except FetchFailed:
            return post  # the count stays whatever the feed itself said, possibly unknown
        count = count_entries(fetched.body, fetched.headers)
        return post if count is None else dataclasses.replace(post, comment_count=count)
