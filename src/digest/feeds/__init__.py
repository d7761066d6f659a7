"""Fetching and parsing feeds: the public surface.

``fetch_feeds`` gets every configured feed concurrently with one HTTP client and turns each
into a ``FetchOutcome``: posts when it worked, ``not_modified`` when the server said 304, or an
error in words a user understands. One broken feed never stops the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Mapping, Sequence

import httpx

from digest.feeds.bounds import bound_outcome, bound_runs
from digest.feeds.comments import CommentBudget, site_of
from digest.feeds.discover import advertised_feed
from digest.feeds.fetch import USER_AGENT, Fetched, FetchFailed, fetch_document, make_client
from digest.feeds.parse import count_entries, parse_feed
from digest.models import Feed, FetchOutcome, Validators
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
        budget = CommentBudget(settings.comment_budget, settings.max_comment_feeds)
        run = _Run(client, asyncio.Semaphore(max(1, settings.concurrency)), settings, budget)
        return list(await asyncio.gather(
            *(run.feed(feed, validators.get(feed.url) or Validators()) for feed in feeds)))


@dataclasses.dataclass(frozen=True)
class _Run:
    client: httpx.AsyncClient
    limit: asyncio.Semaphore  # shared by feeds and comments feeds alike
    settings: FetchSettings
    comments: CommentBudget

    async def feed(self, feed: Feed, old: Validators) -> FetchOutcome:
        """The feed's outcome, every text in it bounded (``digest.feeds.bounds``)."""
        return bound_outcome(await self._outcome(feed, old))

    async def _outcome(self, feed: Feed, old: Validators) -> FetchOutcome:
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
        outcome = parse_feed(feed, bound_runs(fetched.body), fetched.headers)
        if outcome.status == "error" and feed.url.startswith(("http://", "https://")):
            outcome = await self._discovered(feed, fetched, outcome)
        if outcome.status == "error":
            # Keep the old validators: the next run must fetch and parse the feed again.
            return dataclasses.replace(outcome, validators=old, http_status=fetched.status)
        posts, notes = outcome.posts, tuple[str, ...]()
        if feed.comments == "fetch":
            # The feed's own site: where it is configured and where it says it lives.
            sites = {site for site in (site_of(feed.url), site_of(outcome.feed_link)) if site}
            posts, notes = await self.comments.count(
                posts, sites, functools.partial(self._count_comments, feed))
        return dataclasses.replace(outcome, posts=posts, http_status=fetched.status,
                                   warnings=(*outcome.warnings, *notes))

    async def _discovered(self, feed: Feed, page: Fetched, outcome: FetchOutcome) -> FetchOutcome:
        """A web page given as the feed URL: follow the feed it advertises, once, and say which
        URL belongs in feeds.yaml. Without one, the page's own error stands."""
        url = advertised_feed(page.body, page.url)
        if url is None or url in (feed.url, page.url):
            return outcome
        async with self.limit:
            # Named by the page, not the config: it stays inside the page's boundary.
            fetched = await fetch_document(self.client, url, Validators(), self.settings,
                                           named_by=feed.url)
        found = parse_feed(feed, bound_runs(fetched.body), fetched.headers)
        if found.status == "error":
            return dataclasses.replace(outcome, error=f"{outcome.error}; the feed it advertises, "
                                       f"{url}, failed too: {found.error}")
        note = (f"{feed.url} is a web page; it advertises its feed at {url}: put that URL in "
                "feeds.yaml")
        # The page's validators are not the feed's: fetched in full until the config changes.
        return dataclasses.replace(found, validators=Validators(),
                                   warnings=(note, *found.warnings))

    async def _count_comments(self, feed: Feed, url: str) -> int | None:
        """How many entries the comments feed at ``url`` holds; raises FetchFailed."""
        async with self.limit:
            fetched = await fetch_document(self.client, url, Validators(), self.settings,
                                           named_by=feed.url)
        return count_entries(bound_runs(fetched.body), fetched.headers)
