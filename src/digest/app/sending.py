"""Delivering issues to subscribers: the ledger-driven send loop, set up from the config.

``send`` is `digest send`; ``deliver_issue`` is also how a run sends the issue it just approved.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime

from digest.app import preconditions
from digest.app.deps import Deps
from digest.app.messages import (
    as_sent_by,
    current_identity,
    message_template,
    preview_recipient,
)
from digest.delivery.loop import DeliveryOptions, deliver
from digest.delivery.report import DeliveryReport
from digest.issues import drafts
from digest.mail import addressing
from digest.mail.identity import IssueIdentity
from digest.mail.message_id import one_off_message_id
from digest.models import Issue, Subscriber
from digest.settings import API_BATCH_LIMITS, Settings
from digest.store import Store
from digest.store.identity import freeze_identity, remember_label
from digest.store.issues import Cancelled
from digest.store.lock import run_lock


@dataclass(frozen=True)
class SendReport:
    """What `digest send` did: one report per issue worked on; ``waiting``: the open draft that
    is not approved yet, when nothing was sent."""

    deliveries: tuple[DeliveryReport, ...] = ()
    waiting: Issue | None = None

    @property
    def failed(self) -> bool:
        return any(r.failed or r.rejected for r in self.deliveries)

    @property
    def refused(self) -> bool:
        """The server refused an issue itself: sending stopped, nobody marked (exit 4)."""
        return any(r.refused for r in self.deliveries)


def delivery_options(settings: Settings, *, include_failed: bool = False) -> DeliveryOptions:
    """The send loop's connections, rates and batching for the configured sender."""
    sender = settings.sender
    api = sender.api if sender.kind in ("postmark", "sendgrid", "mailgun") else None
    if api is not None:
        # Each request carries a whole batch: the feeding queue holds at least one, so batches
        # go out full (a request in flight at a crash may be sent again: the crash bound is
        # connections x batch).
        batch = min(api.batch_size, API_BATCH_LIMITS[api.kind])
        return DeliveryOptions(
            connections=api.connections, max_attempts=sender.max_attempts,
            bounce_after=sender.bounce_after, rate_per_second=api.rate_per_second,
            max_per_hour=api.max_per_hour, include_failed=include_failed,
            page_size=max(500, batch), mime=False)
    smtp = sender.smtp if sender.kind == "smtp" else None
    if smtp is None:
        return DeliveryOptions(connections=1, max_attempts=sender.max_attempts,
                               bounce_after=sender.bounce_after, include_failed=include_failed)
    return DeliveryOptions(
        connections=smtp.connections,
        max_attempts=sender.max_attempts,
        bounce_after=sender.bounce_after,
        rate_per_second=smtp.rate_per_second,
        max_per_hour=smtp.max_per_hour,
        include_failed=include_failed,
        signing_processes=min(smtp.connections, os.cpu_count() or 1),
    )


def deliver_issue(settings: Settings, store: Store, issue: Issue, deps: Deps, *,
                  include_failed: bool = False) -> DeliveryReport:
    """Work through the issue's pending (and, if asked, failed) ledger rows, sent as the issue's
    identity (fixed when it was made, or for an issue made before identities were kept, when
    it first started sending; the report's notes say what the config changed since).

    Raises ``StoreError`` when the stored content is not what was approved (nothing is sent), and
    ``SendError`` when the sender stops (unsent rows stay pending)."""
    drafts.check_unchanged(issue)
    now_identity = current_identity(settings)
    identity = IssueIdentity.from_json(freeze_identity(
        store, issue.id, now_identity.to_json(), now_identity.list_label, deps.clock()))
    remember_label(store, identity.list_label, deps.clock())  # the links are signed with it
    template = message_template(settings, issue.subject, issue.html, issue.text, deps.clock(),
                                identity=identity)
    digest = as_sent_by(settings, identity).digest
    sample = template.personalize(preview_recipient(settings),
                                  message_id=one_off_message_id("check", digest.from_addr))
    broken = preconditions.blocking(settings, sample)
    if broken is not None:
        return preconditions.not_sent(issue.id, broken)
    report = deliver(
        store,
        issue,
        template,
        deps.sender_factory,
        options=delivery_options(settings, include_failed=include_failed),
        recipient_for=lambda d: addressing.recipient_for(
            digest, Subscriber(id=d.subscriber_id, email=d.email, name=d.name), settings.secret,
            list_id_value=identity.list_id),
        envelope_from=addressing.envelope_from(digest.from_addr),
        clock=deps.clock,
        progress=deps.progress,
    )
    changes = identity.changes(now_identity)
    if not changes:
        return report
    return replace(report, notes=(f"issue {issue.id} is sent as it was made; the config "
                                  "changed since:", *changes))


def finish_earlier(settings: Settings, store: Store, deps: Deps, *,
                   retry_failed: bool) -> list[DeliveryReport]:
    """Carry on with issues a crash or a stop left unfinished (and failed rows, when asked)."""
    reports = [deliver_issue(settings, store, issue, deps) for issue in store.unfinished_issues()]
    if retry_failed:
        reports += [deliver_issue(settings, store, issue, deps, include_failed=True)
                    for issue in store.issues_with_failed()]
    return reports


def send(settings: Settings, deps: Deps, *, retry_failed: bool,
         approved: tuple[int, str] | None = None) -> SendReport:
    """`digest send` (and the editors' "Send now"): start the approved draft, finish unfinished
    issues (and retry failed rows with ``retry_failed``).

    ``approved`` (issue number, content hash or its prefix): send only if the open draft is
    still that issue, approved with that content; ``DraftError`` otherwise, before anything is
    sent (the editor's page was out of date). Raises ``LockError`` while a run holds the lock,
    ``ConfigError`` before anything when a real send would have no working unsubscribe."""
    preconditions.require_unsubscribe(settings)
    with run_lock(settings.store), Store.open(settings.store) as store:
        if approved is not None:
            _check_approved(store, *approved)
        drafts.start_approved(store)
        reports = finish_earlier(settings, store, deps, retry_failed=retry_failed)
        waiting = None if reports else store.open_draft()
    return SendReport(tuple(reports), waiting)


def cancel_issue(settings: Settings, issue_id: int, now: datetime) -> Cancelled:
    """`digest issues cancel N`: close the issue's unsent deliveries; free its posts for the next
    issue when nobody got it. ``StoreError`` when it is not an issue being sent."""
    with run_lock(settings.store), Store.open(settings.store) as store:
        return store.cancel_issue(issue_id, now)


def _check_approved(store: Store, issue_id: int, content_hash: str) -> None:
    draft = store.open_draft()
    approved = draft.approved_hash if draft is not None and draft.id == issue_id else None
    if draft is None or draft.status != "approved" or not approved or not content_hash \
            or not approved.startswith(content_hash):
        raise drafts.DraftError(f"issue {issue_id} is not the approved draft with content "
                                f"{content_hash[:12] or '(none)'} any more; reload the page")
