"""`digest run`, the cron job: finish what is pending, fetch, watch the feeds and the open draft,
make the next issue if there is news and it is due, and send it (or wait for the editors)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

from digest.app import preconditions, watch
from digest.app.confirmations import ConfirmationReport, send_queued_confirmations
from digest.app.deps import Deps
from digest.app.drafts import next_issue, rebuild_draft
from digest.app.editors import tell_editors
from digest.app.fetching import fetch_counted
from digest.app.planning import held_back
from digest.app.readers import SubscriberImport, import_csv
from digest.app.sending import finish_earlier
from digest.app.welcome import WelcomeReport, welcome_pending
from digest.delivery.report import DeliveryReport
from digest.issues.notice import Notice
from digest.models import FetchOutcome, Issue
from digest.settings import Settings
from digest.store import Store
from digest.store.lock import run_lock


@dataclass(frozen=True)
class RunReport:
    """Everything one run did, for the CLI to print and turn into an exit status."""

    fetched: tuple[FetchOutcome, ...] = ()
    new_posts: int = 0
    subscribers: SubscriberImport = field(default_factory=SubscriberImport)
    issue: Issue | None = None
    nothing_new: str | None = None
    deliveries: tuple[DeliveryReport, ...] = ()
    warnings: tuple[str, ...] = ()
    no_readers: bool = False  # no issue made: nobody could get it (nothing_new says why)
    awaiting: Issue | None = None  # a draft waiting for the editors' approval
    notice: Notice | None = None  # the editors were emailed a preview of it in this run
    watch: watch.Watch = field(default_factory=watch.Watch)  # feed alerts, edits, removals
    # Confirmation messages the web form queued (sent here too, when `digest serve` is not up).
    confirmations: ConfirmationReport = field(default_factory=ConfirmationReport)
    welcomes: WelcomeReport = field(default_factory=WelcomeReport)  # to new readers

    @property
    def feed_errors(self) -> tuple[FetchOutcome, ...]:
        return tuple(o for o in self.fetched if o.status == "error")

    @property
    def failed_deliveries(self) -> int:
        return sum(r.failed + r.rejected for r in self.deliveries)

    @property
    def trouble(self) -> bool:
        """Something needs attention: a feed, a delivery, a CSV row, an editor's email, a
        confirmation request or a welcome that could not go."""
        return bool(self.feed_errors or self.failed_deliveries or self.subscribers.errors
                    or (self.notice is not None and self.notice.failed) or self.watch.failed
                    or self.confirmations.failed or self.confirmations.stopped
                    or self.no_readers or self.welcomes.failed or self.welcomes.stopped)


def configured_import(settings: Settings, store: Store) -> SubscriberImport:
    """Import the configured CSV: valid rows go in, every bad row is reported by line."""
    if settings.subscribers is None:
        return SubscriberImport()
    return import_csv(settings.subscribers, store)


def run(settings: Settings, deps: Deps, *, force: bool = False) -> RunReport:
    """The cron job: finish what is pending, fetch, make the next issue if there is news and it
    is due (schedule, min_posts; ``force`` ignores both), send it.

    Raises ``LockError`` while another run holds the lock, ``SendError`` when the sender stops
    (unsent rows stay pending for the next run), ``ConfigError`` before anything when a real send
    would have no working unsubscribe."""
    preconditions.require_unsubscribe(settings)
    confirmations = send_queued_confirmations(settings, deps)
    with run_lock(settings.store), Store.open(settings.store) as store:
        subscribers = configured_import(settings, store)
        earlier = finish_earlier(settings, store, deps, retry_failed=True)
        welcomed = welcome_pending(settings, store, deps)
        before = watch.before_fetch(store)
        outcomes, news = fetch_counted(settings, store, deps)
        checked = watch.after_fetch(
            settings, store, before, (outcomes, news),
            functools.partial(tell_editors, settings, deps),
            functools.partial(rebuild_draft, settings, store, deps), deps.clock())
        report = RunReport(tuple(outcomes), sum(news), subscribers, deliveries=tuple(earlier),
                           watch=checked, confirmations=confirmations,
                           welcomes=welcomed)
        nobody = preconditions.no_readers(settings, store.subscriber_count(),
                                          subscribers.unreadable)
        if nobody is not None:  # the posts wait: an issue now would be marked sent to nobody
            return replace(report, nothing_new=nobody, no_readers=True)
        # An open draft was due when it was made: it goes on to approval and sending. A flood
        # is drafted and held at once: the next run would no longer see it as one.
        waiting = force or store.open_draft() or checked.held
        held = None if waiting else held_back(settings, store, deps.clock())
        if held is not None:
            return replace(report, nothing_new=held)
        step = next_issue(settings, store, deps, held=checked.held)
    issue = step.issue
    return replace(report, issue=issue, nothing_new=step.nothing_new,
                   warnings=issue.warnings if issue is not None and step.made else (),
                   deliveries=(*report.deliveries, *step.delivered), awaiting=step.awaiting,
                   notice=step.notice)
