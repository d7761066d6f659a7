"""What the next issue holds and whether it is due: the compose and schedule decisions, fed from
the store. Every use case that composes (run, draft, preview, rebuild) takes its planner here."""

from __future__ import annotations

import functools
from datetime import datetime

from digest.issues import schedule as schedules
from digest.issues.compose import History, plan_issue, too_few_message
from digest.issues.drafts import Planner
from digest.models import CommentChange, IssuePlan
from digest.settings import Settings
from digest.store import Store


def plan_next(settings: Settings, store: Store, now: datetime) -> IssuePlan | None:
    """Compose the next issue from what the store holds now; None: no news."""
    previous = store.last_issue()
    changes: tuple[CommentChange, ...] = ()
    if settings.digest.most_discussed.enabled and previous is not None:
        changes = tuple(store.comment_changes(previous.created_at, now))
    history = History(sent_links=tuple(store.issued_links()), comment_changes=changes)
    every = settings.schedule.every if settings.schedule else None
    gone = {stored.post.key for stored in store.gone_posts()}  # left their feed: never sent
    unissued = [stored for stored in store.unissued_posts() if stored.post.key not in gone]
    return plan_issue(unissued, previous, settings.digest, now,
                      feeds=settings.feeds, history=history, every=every)


def planner(settings: Settings) -> Planner:
    """``plan_next`` for these settings, in the shape ``digest.issues.drafts`` takes."""
    return functools.partial(plan_next, settings)


def held_back(settings: Settings, store: Store, now: datetime) -> str | None:
    """Why no issue goes out now although there may be news: the schedule says it is not due
    yet, or there are fewer new posts than min_posts. None: go ahead."""
    too_few = functools.partial(too_few_message, min_posts=settings.digest.min_posts)
    if settings.schedule is None:
        return too_few(plan_next(settings, store, now))
    previous = store.last_issue()
    decision = schedules.decide(settings.schedule, now, previous.created_at if previous else None)
    when = schedules.describe(decision.next_at, settings.schedule.zone)
    if not decision.due:
        return f"next issue due at {when}"
    # The first run of a period decides for the whole period: posts held back by min_posts roll
    # into the next period rather than going out with a later run of this one.
    if store.period_held(decision.period_start):
        return f"this period's issue was held back (fewer than min_posts); next issue due at {when}"
    reason = too_few(plan_next(settings, store, now))
    if reason is not None:
        store.hold_period(decision.period_start, now, reason)
    return reason
