"""The jobs the CLI runs: fetch -> store -> compose -> render -> deliver.

Every concrete dependency (clock, HTTP transport, sender factory, progress output) comes in through
``Deps``, so the same code runs from cron, from tests and from the benchmarks.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import httpx

from digest.app import watch
from digest.delivery.loop import DeliveryOptions, DeliveryReport, deliver
from digest.delivery.progress import Progress
from digest.delivery.senders import SenderFactory
from digest.errors import ConfigError
from digest.feeds import fetch_feeds
from digest.issues import drafts
from digest.issues import schedule as schedules
from digest.issues.compose import History, nothing_new_message, plan_issue, too_few_message
from digest.issues.notice import (
    Notice,
    alert_copy,
    approve_link,
    editor_copy,
    editor_messages,
    editor_note,
    hand_over,
    label_messages,
)
from digest.issues.render import Renderer
from digest.mail import addressing, fill
from digest.mail.dkim import DkimSigner, KeyProblem
from digest.mail.message import MessageTemplate, make_message_id
from digest.models import (
    CommentChange,
    FetchOutcome,
    Issue,
    IssuePlan,
    Outgoing,
    Recipient,
    RenderedIssue,
    Subscriber,
)
from digest.settings import API_BATCH_LIMITS, Settings
from digest.store import ImportReport, Store
from digest.store.lock import run_lock
from digest.subscribers import parse_csv

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Deps:
    clock: Clock
    sender_factory: SenderFactory
    transport: httpx.AsyncBaseTransport | None = None
    progress: Progress | None = None


@dataclass(frozen=True)
class SubscriberImport:
    report: ImportReport | None = None
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunReport:
    fetched: tuple[FetchOutcome, ...] = ()
    new_posts: int = 0
    subscribers: SubscriberImport = field(default_factory=SubscriberImport)
    issue: Issue | None = None
    nothing_new: str | None = None
    deliveries: tuple[DeliveryReport, ...] = ()
    warnings: tuple[str, ...] = ()
    awaiting: Issue | None = None  # a draft waiting for the editors' approval
    notice: Notice | None = None  # the editors were emailed a preview of it in this run
    watch: watch.Watch = field(default_factory=watch.Watch)  # feed alerts, edits, removals

    @property
    def feed_errors(self) -> tuple[FetchOutcome, ...]:
        return tuple(o for o in self.fetched if o.status == "error")

    @property
    def failed_deliveries(self) -> int:
        return sum(r.failed + r.rejected for r in self.deliveries)


def fetch_into(settings: Settings, store: Store, deps: Deps) -> tuple[list[FetchOutcome], int]:
    """Fetch every feed (conditional GET) and remember what came back. Returns (outcomes, new)."""
    outcomes, news = fetch_counted(settings, store, deps)
    return outcomes, sum(news)


def fetch_counted(settings: Settings, store: Store,
                  deps: Deps) -> tuple[list[FetchOutcome], list[int]]:
    """Fetch and record every feed; returns the outcomes and each one's count of new posts."""
    validators = {feed.url: store.validators(feed.url) for feed in settings.feeds}
    outcomes = fetch_feeds(settings.feeds, validators, settings.fetch, transport=deps.transport)
    now = deps.clock()
    return outcomes, [store.record_fetch(outcome, now) for outcome in outcomes]


def import_subscribers(settings: Settings, store: Store) -> SubscriberImport:
    """Import the configured CSV: valid rows go in, every bad row is reported by line."""
    if settings.subscribers is None:
        return SubscriberImport()
    return import_csv(settings.subscribers, store)


def import_csv(path: Path, store: Store) -> SubscriberImport:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return SubscriberImport(errors=(f"{path}: no such file",))
    except (OSError, UnicodeDecodeError) as exc:
        return SubscriberImport(errors=(f"{path}: cannot read: {exc}",))
    rows, errors = parse_csv(text, source=str(path))
    return SubscriberImport(store.import_subscribers(rows), tuple(errors))


def delivery_options(settings: Settings, *, include_failed: bool = False) -> DeliveryOptions:
    sender = settings.sender
    api = sender.api if sender.kind in ("postmark", "sendgrid", "mailgun") else None
    if api is not None:
        # Each request carries a whole batch: the window of unrecorded messages must hold one
        # batch per connection and the next, so batches go out full (the crash bound grows to
        # match: a request in flight at a crash may be sent again).
        batch = min(api.batch_size, API_BATCH_LIMITS[api.kind])
        return DeliveryOptions(
            connections=api.connections, max_attempts=sender.max_attempts,
            bounce_after=sender.bounce_after, rate_per_second=api.rate_per_second,
            max_per_hour=api.max_per_hour, include_failed=include_failed,
            page_size=max(500, batch), max_unrecorded=(api.connections + 1) * batch,
            record_every=batch, mime=False)
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
    )


def message_template(settings: Settings, issue_subject: str, html: str, text: str,
                     date: datetime, *, web_of: RenderedIssue | None = None) -> MessageTemplate:
    """The issue's MIME, built once. ``web_of``: the issue content whose web version the message
    links to, when the message's own content differs from it (test copies, editors' copies)."""
    digest = settings.digest
    source = web_of or RenderedIssue(issue_subject, html, text, "", 0)
    url = addressing.web_version_url(digest.public_url, source.subject, source.html, source.text)
    return MessageTemplate.build(
        RenderedIssue(subject=issue_subject, html=html, text=text, preheader="", post_count=0),
        from_addr=digest.from_addr,
        list_id=addressing.list_id(digest),
        reply_to=digest.reply_to,
        date=date,
        list_unsubscribe_mailto=addressing.list_unsubscribe_mailto(digest),
        sign=dkim_signer(settings),
        issue=fill.IssueValues(web_version_url=url),
    )


def dkim_signer(settings: Settings) -> DkimSigner | None:
    """The DKIM signer the config asks for: every message, test copy and preview is signed."""
    dkim = settings.dkim
    if dkim is None:
        return None
    try:
        return DkimSigner.from_pem(dkim.domain, dkim.selector, dkim.private_key)
    except KeyProblem as exc:
        raise ConfigError(f"the DKIM key cannot be used: {exc}", key="dkim") from exc


def deliver_issue(settings: Settings, store: Store, issue: Issue, deps: Deps, *,
                  include_failed: bool = False) -> DeliveryReport:
    """Work through the issue's pending (and, if asked, failed) ledger rows."""
    drafts.check_unchanged(issue)
    template = message_template(settings, issue.subject, issue.html, issue.text, deps.clock())
    digest = settings.digest
    return deliver(
        store,
        issue,
        template,
        deps.sender_factory,
        options=delivery_options(settings, include_failed=include_failed),
        recipient_for=lambda d: addressing.recipient_for(
            digest, Subscriber(id=d.subscriber_id, email=d.email, name=d.name), settings.secret),
        envelope_from=addressing.envelope_from(digest.from_addr),
        clock=deps.clock,
        progress=deps.progress,
    )


def finish_earlier(settings: Settings, store: Store, deps: Deps, *,
                   retry_failed: bool) -> list[DeliveryReport]:
    """Carry on with issues a crash or a stop left unfinished (and failed rows, when asked)."""
    reports = [deliver_issue(settings, store, issue, deps) for issue in store.unfinished_issues()]
    if retry_failed:
        reports += [deliver_issue(settings, store, issue, deps, include_failed=True)
                    for issue in store.issues_with_failed()]
    return reports


def run(settings: Settings, deps: Deps, *, force: bool = False) -> RunReport:
    """The cron job: finish what is pending, fetch, make the next issue if there is news and it
    is due (schedule, min_posts; ``force`` ignores both), send it."""
    with run_lock(settings.store), Store.open(settings.store) as store:
        subscribers = import_subscribers(settings, store)
        earlier = finish_earlier(settings, store, deps, retry_failed=True)
        before = watch.before_fetch(store)
        outcomes, news = fetch_counted(settings, store, deps)
        checked = watch.after_fetch(
            settings, store, before, (outcomes, news),
            functools.partial(tell_editors, settings, deps),
            functools.partial(rebuild_draft, settings, store, deps), deps.clock())
        report = RunReport(tuple(outcomes), sum(news), subscribers, deliveries=tuple(earlier),
                           watch=checked)
        # An open draft was due when it was made: it goes on to approval and sending. A flood
        # is drafted and held at once: the next run would no longer see it as one.
        waiting = force or store.open_draft() or checked.held
        held = None if waiting else held_back(settings, store, deps.clock())
        if held is not None:
            return replace(report, nothing_new=held)
        return next_issue(settings, store, deps, report, held=checked.held)


def send(settings: Settings, deps: Deps, *, retry_failed: bool) -> list[DeliveryReport]:
    """`digest send`: start the approved draft, finish unfinished issues (and retry failed rows
    with retry_failed)."""
    with run_lock(settings.store), Store.open(settings.store) as store:
        drafts.start_approved(store)
        return finish_earlier(settings, store, deps, retry_failed=retry_failed)


def plan_next(settings: Settings, store: Store, now: datetime) -> IssuePlan | None:
    """Compose the next issue from what the store holds now."""
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


def next_issue(settings: Settings, store: Store, deps: Deps, report: RunReport, *,
               held: str | None = None) -> RunReport:
    """Draft the next issue (or take the open draft); send it once approved, else make sure the
    editors have been emailed a preview of it, once. ``held``: why it must wait for an editor
    even with approval: auto."""
    planner = functools.partial(plan_next, settings)
    step = drafts.advance(settings, store, planner, Renderer(settings.templates), deps.clock(),
                          held=held)
    issue = step.issue
    warnings = issue.warnings if issue is not None and step.made else ()
    report = replace(report, issue=issue, nothing_new=step.nothing_new, warnings=warnings)
    if issue is None:
        return report
    if step.send:
        delivered = deliver_issue(settings, store, issue, deps)
        return replace(report, deliveries=(*report.deliveries, delivered))
    notice = notify_editors(settings, store, issue, deps) if drafts.needs_notice(
        settings, issue) else None
    return replace(report, awaiting=issue, notice=notice)


def notify_editors(settings: Settings, store: Store, issue: Issue, deps: Deps) -> Notice:
    """Email each editor the draft as subscribers will get it, marked [DRAFT] with how to approve
    it. Remembered once every copy is handed over, so later runs do not email again."""
    now = deps.clock()
    reason = drafts.hold_reason(issue)
    note = editor_note(settings, issue, approve_link(settings, issue))
    rendered = editor_copy(drafts.as_rendered(issue), (reason, *note) if reason else note)
    template = message_template(settings, rendered.subject, rendered.html, rendered.text, now,
                                web_of=drafts.as_rendered(issue))
    messages = editor_messages(settings, issue, template,
                               functools.partial(preview_recipient, settings))
    notice = hand_over(issue.id, messages, deps.sender_factory)
    if not notice.failed:
        store.mark_editors_notified(issue.id, now)
    return notice


def tell_editors(settings: Settings, deps: Deps, subject: str, lines: tuple[str, ...],
                 label: str) -> Notice:
    """A short email to every editor (feed alerts, posts changed), by the same path as drafts."""
    if not settings.editors:
        return Notice(0)
    rendered = alert_copy(subject, lines)
    template = message_template(settings, subject, rendered.html, rendered.text, deps.clock())
    messages = label_messages(settings, label, template,
                              functools.partial(preview_recipient, settings))
    return hand_over(0, messages, deps.sender_factory)


def rebuild_draft(settings: Settings, store: Store, deps: Deps) -> Issue | None:
    """Compose the open draft again from the current posts (editors' intro and subject kept)."""
    result = drafts.make_draft(store, functools.partial(plan_next, settings),
                               Renderer(settings.templates), settings.digest, deps.clock(),
                               rebuild=True)
    return None if result is None else result.issue


# --- previews and test sends: the same path, on a throw-away copy of the store -------------------


@dataclass(frozen=True)
class Draft:
    """The next issue as it would be made now, with the message as one recipient gets it."""

    rendered: RenderedIssue
    fetched: tuple[FetchOutcome, ...]
    recipient: Recipient

    def personalised(self, public_url: str | None = None) -> tuple[str, str]:
        rendered = self.rendered
        url = addressing.web_version_url(public_url, rendered.subject, rendered.html,
                                         rendered.text)
        return fill.filled(rendered, fill.IssueValues(web_version_url=url), self.recipient)


@contextmanager
def scratch_store(settings: Settings) -> Iterator[Store]:
    """A copy of the store to try things on: previews change nothing in the real one."""
    with tempfile.TemporaryDirectory(prefix="digest-preview-") as tmp:
        copy = Path(tmp) / "preview.sqlite3"
        if settings.store.exists():
            with Store.open(settings.store) as real:
                real.snapshot(copy)
        with Store.open(copy) as store:
            yield store


def draft_next(settings: Settings, deps: Deps, recipient: Recipient) -> tuple[Draft | None, str]:
    """Render the next issue without changing anything. Returns (draft, why-not message)."""
    with scratch_store(settings) as store:
        outcomes, _ = fetch_into(settings, store, deps)
        now = deps.clock()
        plan = plan_next(settings, store, now)
        if plan is None:
            return None, nothing_new_message(store.last_issue())
        rendered = Renderer(settings.templates).render(plan, settings.digest)
        return Draft(rendered, tuple(outcomes), recipient), ""


def preview_recipient(settings: Settings, email: str | None = None) -> Recipient:
    address = email or addressing.envelope_from(settings.digest.from_addr)
    # Subscriber 0 does not exist: a preview's unsubscribe link unsubscribes nobody.
    return addressing.recipient_for(settings.digest, Subscriber(id=0, email=address, name=""),
                                    settings.secret)


def write_preview(settings: Settings, draft: Draft, out: Path, now: datetime) -> list[Path]:
    """Write digest.html, digest.txt and digest.eml of a draft into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    html, text = draft.personalised(settings.digest.public_url)
    eml = test_message(settings, draft, now, subject_prefix="")
    paths = [out / "digest.html", out / "digest.txt", out / "digest.eml"]
    for path, data in zip(paths, (html.encode(), text.encode(), eml.data), strict=True):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return paths


def test_message(settings: Settings, draft: Draft, now: datetime, *,
                 subject_prefix: str = "[TEST] ") -> Outgoing:
    rendered = draft.rendered
    template = message_template(settings, subject_prefix + rendered.subject, rendered.html,
                                rendered.text, now, web_of=rendered)
    message_id = make_message_id(0, int(now.timestamp()), settings.digest.from_addr)
    data = template.personalize(draft.recipient, message_id=message_id)
    return Outgoing(delivery_id=0, envelope_from=addressing.envelope_from(
        settings.digest.from_addr), recipient=draft.recipient.email, data=data,
        message_id=message_id)

