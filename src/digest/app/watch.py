"""What a run does after fetching, besides composing: keep the editors told about failing feeds,
keep the open draft true to the feeds, and hold an issue when a feed floods.

- Feed alerts: one email when a feed has failed ``health.feed_alert_after`` fetches in a row,
  one when it works again (``feeds.alerted_at`` remembers which was sent last).
- Edits: a draft not yet approved whose posts changed is rendered again with their latest
  title and summary. An approved draft is frozen by design (approval is of what the editor
  saw): it goes out as approved, and the editors are told which posts changed since.
- Removals: a post not yet sent that left its feed (the store's rule, ``store_feeds._GONE``) is
  dropped from the open draft, approved or not, and never sent; it stays in the store. The
  editors are told once, when it is first noticed.
- Floods: see ``health.is_flood``; the run holds the next issue for an editor's approval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from digest.feeds import health
from digest.feeds.health import FeedAlert, FeedState, FetchCount
from digest.issues.notice import Notice
from digest.models import FetchOutcome, Issue, Post
from digest.settings import Settings
from digest.store import Store

# Emails the editors (subject, lines, label for the Message-ID) and says who got it.
Tell = Callable[[str, tuple[str, ...], str], Notice]
# Composes the open draft again from the current posts; None when nothing is left to send.
Rebuild = Callable[[], Issue | None]


@dataclass(frozen=True)
class Before:
    """What the store knew before this run's fetch."""

    listed: frozenset[str]  # keys each feed's latest full fetch listed
    post_counts: dict[str, int] = field(default_factory=dict)  # posts stored per feed URL


@dataclass(frozen=True)
class Watch:
    """What the checks after the fetch found and did."""

    alerts: tuple[FeedAlert, ...] = ()  # feed alerts emailed to the editors in this run
    failed: tuple[str, ...] = ()  # editors' emails not handed over: "address: why"
    gone: tuple[Post, ...] = ()  # posts first noticed to have left their feed: never sent
    edited: tuple[Post, ...] = ()  # posts edited after their draft was approved: sent unedited
    rebuilt: Issue | None = None  # the open draft, composed again for edits or removals
    held: str | None = None  # why the next issue waits for an editor (a flood), else None


def before_fetch(store: Store) -> Before:
    counts = {row.url: row.post_count for row in store.feed_rows()}
    return Before(frozenset(store.listed_keys()), counts)


def flood_counts(outcomes: Sequence[FetchOutcome], news: Sequence[int],
                 before: Before) -> list[FetchCount]:
    return [FetchCount(o.feed.name, o.feed.url, len({p.key for p in o.posts}), new,
                       before.post_counts.get(o.feed.url, 0))
            for o, new in zip(outcomes, news, strict=True) if o.status == "ok"]


def after_fetch(settings: Settings, store: Store, before: Before,
                fetched: tuple[Sequence[FetchOutcome], Sequence[int]], tell: Tell,
                rebuild: Rebuild, now: datetime) -> Watch:
    """Alerts, edits, removals and floods, in that order; returns what was done."""
    label = str(int(now.timestamp() * 1_000_000))
    alerts, failed = feed_alerts(settings, store, tell, now, label)
    held = health.flood_reason(flood_counts(*fetched, before), settings.health)
    draft = store.open_draft()
    in_draft = set(draft.post_keys) if draft is not None else set()
    gone = [stored.post for stored in store.gone_posts()]
    # Told once: when the post was listed by the fetch before this one, or is in the draft.
    noticed = tuple(post for post in gone if post.key in before.listed or post.key in in_draft)
    edited = _edited(store, draft)
    rebuilt = None
    if draft is not None:
        dropped = any(post.key in in_draft for post in gone)
        unapproved = draft.status == "draft"
        if dropped or (unapproved and (edited or held)):
            rebuilt = rebuild()  # the latest titles and summaries, without the posts gone
        if rebuilt is not None or unapproved or dropped:
            edited = ()  # only an approved draft sent as it was leaves edits out
    if noticed or edited:
        notice = tell(*_changes_text(draft, rebuilt, noticed, edited), f"changes.{label}")
        failed += notice.failed
    return Watch(alerts, failed, noticed, edited, rebuilt, held)


def _changes_text(draft: Issue | None, rebuilt: Issue | None, gone: Sequence[Post],
                  edited: Sequence[Post]) -> tuple[str, tuple[str, ...]]:
    lines: list[str] = []
    for post in gone:
        lines.append(f"Left its feed before it was sent, so it will not be sent: "
                     f"\"{post.title}\" {post.link or ''}".rstrip())
    if draft is not None and gone and any(post.key in draft.post_keys for post in gone):
        lines.append(f"Issue {draft.id} was composed again without it"
                     + (f" (now issue {rebuilt.id}, a draft)." if rebuilt is not None
                        else "; nothing is left to send in it."))
    for post in edited:
        lines.append(f"Edited after issue {draft.id if draft else '?'} was approved; it goes "
                     f"out as approved, with the earlier text: \"{post.title}\" "
                     f"{post.link or ''}".rstrip())
    subject = "Posts left their feed" if gone else "Posts edited after approval"
    return subject, tuple(lines)


def _edited(store: Store, draft: Issue | None) -> tuple[Post, ...]:
    if draft is None or draft.plan is None:
        return ()
    stored = store.posts_by_key([p.key for p in draft.plan.posts])
    return tuple(stored[p.key].post for p in draft.plan.posts
                 if p.key in stored and health.edited(p, stored[p.key].post))


def feed_alerts(settings: Settings, store: Store, tell: Tell, now: datetime,
                label: str) -> tuple[tuple[FeedAlert, ...], tuple[str, ...]]:
    """Email each alert the feeds' state calls for, and remember it once every editor has it;
    a copy not handed over is tried again by the next run."""
    if not settings.editors:
        return (), ()
    configured = {feed.url for feed in settings.feeds}
    sent: list[FeedAlert] = []
    failed: list[str] = []
    for row in store.feed_rows():
        state = FeedState(row.url, row.name, row.consecutive_failures, row.last_error,
                          row.alerted_at)
        alert = health.alert_for(state, settings.health) if row.url in configured else None
        if alert is None:
            continue
        subject, lines = health.alert_text(alert, settings.health)
        notice = tell(subject, lines, f"feed-{alert.kind}.{label}.{len(sent)}")
        failed += notice.failed
        if notice.failed:
            continue
        # Recorded after sending: a crash in between sends it at most once more.
        store.set_feed_alerted(row.url, now if alert.kind == "alert" else None)
        sent.append(alert)
    return tuple(sent), tuple(failed)
