"""Feed health and content changes: pure decisions, no I/O.

- A feed that fails ``feed_alert_after`` fetches in a row gets ONE alert to the editors, and
  one note when it recovers. ``feeds.alerted_at`` remembers the alert across runs, so each is
  sent once (a crash between sending and recording sends at most one more).
- A fetch in which most of a feed's entries look new at once (ids or links rewritten) is a flood:
  the next issue waits for an editor's approval instead of mailing old posts as new.
- A post that changed after its draft was rendered is an edit; a post that left its feed before
  its issue was sent is a removal (the store decides which posts left; see ``store_feeds``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from digest.models import Post
from digest.settings import HealthSettings

AlertKind = Literal["alert", "recovered"]


@dataclass(frozen=True)
class FeedState:
    """What the store says about one feed after this run's fetch."""

    url: str
    name: str
    consecutive_failures: int
    last_error: str | None
    alerted_at: datetime | None


@dataclass(frozen=True)
class FeedAlert:
    kind: AlertKind
    feed: FeedState


@dataclass(frozen=True)
class FetchCount:
    """One successful fetch of one feed: its distinct entries, how many of them the store did
    not know, and how many posts the store had from this feed before the fetch."""

    name: str
    url: str
    entries: int
    new: int
    known_before: int


def alert_for(state: FeedState, rules: HealthSettings) -> FeedAlert | None:
    """The email this feed's state calls for now, if any."""
    failing = state.consecutive_failures >= rules.feed_alert_after
    if failing and state.alerted_at is None:
        return FeedAlert("alert", state)
    if state.consecutive_failures == 0 and state.alerted_at is not None:
        return FeedAlert("recovered", state)
    return None


def is_flood(count: FetchCount, rules: HealthSettings) -> bool:
    """Most of a feed that already had posts came back under keys never seen before.

    A first fetch is all new by nature, and a small feed swings by one post, so neither counts.
    """
    if count.known_before == 0 or count.entries < rules.flood_min_entries:
        return False
    return count.new * 100 >= count.entries * rules.flood_percent


def flood_reason(counts: list[FetchCount], rules: HealthSettings) -> str | None:
    """Why the next issue must wait for an editor, or None."""
    floods = [c for c in counts if is_flood(c, rules)]
    if not floods:
        return None
    named = "; ".join(f"{c.name} ({c.url}): {c.new} of its {c.entries} entries are new"
                      for c in floods)
    return ("held for approval: most of a feed looks new at once, as when a blog rewrites its "
            f"post ids or links, and subscribers would get old posts again: {named}")


def edited(planned: Post, stored: Post) -> bool:
    """The post's text changed since it was planned. Comment counts move all the time and are
    not an edit: they would re-render a draft on every run."""
    return (planned.title, planned.summary_html, planned.link, planned.author) != (
        stored.title, stored.summary_html, stored.link, stored.author)


def alert_text(alert: FeedAlert, rules: HealthSettings) -> tuple[str, tuple[str, ...]]:
    """(subject, lines) of the editors' email about a feed."""
    feed = alert.feed
    if alert.kind == "alert":
        return (f"Feed failing: {feed.name}", (
            f"The feed {feed.name} ({feed.url}) has failed {feed.consecutive_failures} fetches "
            "in a row.",
            f"Last error: {feed.last_error or 'unknown'}",
            "Issues go out without its posts until it works again; you get one more email "
            "when it recovers.",
        ))
    return (f"Feed working again: {feed.name}", (
        f"The feed {feed.name} ({feed.url}) was fetched successfully again.",
        "Its new posts go into the next issue as usual.",
    ))
