"""Recording what the mail providers report: who bounced, complained or unsubscribed.

A hard (permanent) bounce marks the subscriber bounced, a spam complaint complained, an
unsubscribe made at the provider unsubscribed, each with the provider's reason and the time it
happened; every later issue leaves them out. A soft bounce changes nothing (the provider retries,
and repeated permanent failures are already counted by the send loop); it is only counted here.
Providers deliver events at least once and out of order, so applying a post twice, or an older
event after a newer one, changes nothing more: a status only moves towards "never mail again".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from digest.models import SubscriberStatus
from digest.store import Store
from digest.store.rows import to_db
from digest.store.webhooks import record_status, transaction
from digest.subscribers.webhooks import WebhookEvent

_STATUS: dict[str, SubscriberStatus] = {
    "bounce": "bounced",
    "complaint": "complained",
    "unsubscribe": "unsubscribed",
}


@dataclass(frozen=True)
class ApplyReport:
    """What a batch of events did. ``changed`` lists (email, new status) in event order."""

    changed: tuple[tuple[str, SubscriberStatus], ...] = ()
    unchanged: int = 0  # already left as firmly (a repeated or older event)
    unknown: int = 0  # no subscriber with that address
    soft_bounces: int = 0  # temporary failures: nothing to record
    ignored: int = 0  # deliveries, opens, clicks and the like
    unknown_emails: tuple[str, ...] = field(default=(), repr=False)


def status_for(event: WebhookEvent) -> SubscriberStatus | None:
    """The status an event calls for; None when it changes nothing."""
    if event.kind == "bounce" and not event.permanent:
        return None
    return _STATUS.get(event.kind)


def apply_events(store: Store, events: Iterable[WebhookEvent], now: datetime) -> ApplyReport:
    """Record the events in one transaction: all of them, or (on a store error) none."""
    changed: list[tuple[str, SubscriberStatus]] = []
    unknown: list[str] = []
    unchanged = soft = ignored = 0
    stamp = to_db(now)
    with transaction(store) as conn:
        for event in events:
            status = status_for(event)
            if status is None:
                soft += event.kind == "bounce"
                ignored += event.kind != "bounce"
                continue
            outcome = record_status(conn, event.email, status, event.reason,
                                    to_db(event.occurred_at), stamp)
            if outcome == "changed":
                changed.append((event.email, status))
            elif outcome == "unknown":
                unknown.append(event.email)
            else:
                unchanged += 1
    return ApplyReport(tuple(changed), unchanged, len(unknown), soft, ignored, tuple(unknown))
