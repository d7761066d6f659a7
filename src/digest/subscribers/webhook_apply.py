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
from datetime import datetime, timedelta

from digest.errors import WebhookError
from digest.models import SubscriberStatus
from digest.store import Store
from digest.store.rows import to_db
from digest.store.sessions import first_use_of_token
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


def apply_events(store: Store, events: Iterable[WebhookEvent], now: datetime, *,
                 once: tuple[str, str] | None = None,
                 window: timedelta = timedelta(minutes=15)) -> ApplyReport:
    """Record the events in one transaction: all of them, or (on a store error) none.

    ``once``: (provider, one-time token) of the post; a token already used within ``window``
    (the age past which a post is refused anyway) raises ``WebhookError`` (406: the provider
    must not retry) and nothing is recorded."""
    changed: list[tuple[str, SubscriberStatus]] = []
    unknown: list[str] = []
    unchanged = soft = ignored = 0
    stamp = to_db(now)
    with transaction(store) as conn:
        if once is not None and not first_use_of_token(conn, *once, now, now - 2 * window):
            raise WebhookError(once[0], "this signed token was already used: refused as a "
                                        "replay", status=406)
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
