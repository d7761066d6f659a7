"""Fetching the feeds into the store (conditional GET), for `digest fetch`, runs, drafts and
previews."""

from __future__ import annotations

from dataclasses import dataclass

from digest.app.deps import Deps
from digest.feeds import fetch_feeds
from digest.models import FetchOutcome
from digest.settings import Settings
from digest.store import Store
from digest.store.lock import run_lock


@dataclass(frozen=True)
class FetchReport:
    """Each feed's outcome, in config order, and how many posts were new."""

    outcomes: tuple[FetchOutcome, ...]
    new_posts: int

    @property
    def errors(self) -> tuple[FetchOutcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "error")


def fetch_counted(settings: Settings, store: Store,
                  deps: Deps) -> tuple[list[FetchOutcome], list[int]]:
    """Fetch and record every feed; returns the outcomes and each one's count of new posts."""
    validators = {feed.url: store.validators(feed.url) for feed in settings.feeds}
    outcomes = fetch_feeds(settings.feeds, validators, settings.fetch, transport=deps.transport)
    now = deps.clock()
    return outcomes, [store.record_fetch(outcome, now) for outcome in outcomes]


def fetch_into(settings: Settings, store: Store, deps: Deps) -> tuple[list[FetchOutcome], int]:
    """Fetch every feed (conditional GET) and remember what came back. Returns (outcomes, new)."""
    outcomes, news = fetch_counted(settings, store, deps)
    return outcomes, sum(news)


def fetch(settings: Settings, deps: Deps) -> FetchReport:
    """`digest fetch`: fetch the feeds and remember new posts; no issue is made or sent.
    Raises ``LockError`` while a run holds the lock."""
    with run_lock(settings.store), Store.open(settings.store) as store:
        outcomes, new = fetch_into(settings, store, deps)
    return FetchReport(tuple(outcomes), new)
