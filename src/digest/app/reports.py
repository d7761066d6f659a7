"""What the store says, for people: issues with their deliveries, one issue's status, and how
each feed has been doing. Read-only (but for creating an empty store)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from digest.issues.drafts import DraftError
from digest.models import Feed
from digest.settings import HealthSettings, Settings
from digest.store import FeedRow, IssueSummary, Store


@dataclass(frozen=True)
class FeedHealth:
    """Each feed the store remembers, and the configured ones failing often enough that the
    editors have been alerted (``health.feed_alert_after`` fetches in a row)."""

    configured: tuple[Feed, ...]
    rows: tuple[FeedRow, ...]
    failing: tuple[FeedRow, ...]


def feed_health(settings: Settings) -> FeedHealth:
    """`digest feeds`: how each feed has been doing."""
    with Store.open(settings.store) as store:
        rows = tuple(store.feed_rows())
    return FeedHealth(tuple(settings.feeds), rows,
                      tuple(failing(settings.feeds, rows, settings.health)))


def failing(configured: Sequence[Feed], rows: Sequence[FeedRow],
            health: HealthSettings) -> list[FeedRow]:
    """The configured feeds that have failed at least ``feed_alert_after`` fetches in a row."""
    urls = {feed.url for feed in configured}
    return [row for row in rows
            if row.url in urls and row.consecutive_failures >= health.feed_alert_after]


def issue_summaries(settings: Settings) -> list[IssueSummary]:
    """`digest issues`: every issue, with its deliveries counted by status."""
    with Store.open(settings.store) as store:
        return store.issue_summaries()


def issue_status(settings: Settings, issue_id: int) -> IssueSummary:
    """`digest status N`: one issue's summary; ``DraftError`` (bad input, like `digest approve`
    of an unknown issue) when there is no such issue, or no store yet."""
    if not settings.store.exists():
        raise DraftError(f"no issue {issue_id}: the store {settings.store} does not exist yet")
    summary = next((s for s in issue_summaries(settings) if s.id == issue_id), None)
    if summary is None:
        raise DraftError(f"no issue {issue_id}; `digest issues` lists them")
    return summary
