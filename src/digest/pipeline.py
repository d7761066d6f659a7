"""The jobs the CLI runs: fetch -> store -> compose -> render -> deliver.

Every concrete dependency (clock, HTTP transport, sender factory, progress output) comes in through
``Deps``, so the same code runs from cron, from tests and from the benchmarks.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import httpx

from digest import addressing
from digest.compose import nothing_new_message, plan_issue
from digest.delivery import DeliveryOptions, DeliveryReport, deliver
from digest.feeds import fetch_feeds
from digest.lock import run_lock
from digest.message import MessageTemplate, make_message_id
from digest.models import FetchOutcome, Issue, Outgoing, Recipient, RenderedIssue, Subscriber
from digest.progress import Progress
from digest.render import Renderer, personalize
from digest.senders import SenderFactory
from digest.settings import Settings
from digest.store import ImportReport, Store
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

    @property
    def feed_errors(self) -> tuple[FetchOutcome, ...]:
        return tuple(o for o in self.fetched if o.status == "error")

    @property
    def failed_deliveries(self) -> int:
        return sum(r.failed + r.rejected for r in self.deliveries)


def fetch_into(settings: Settings, store: Store, deps: Deps) -> tuple[list[FetchOutcome], int]:
    """Fetch every feed (conditional GET) and remember what came back. Returns (outcomes, new)."""
    validators = {feed.url: store.validators(feed.url) for feed in settings.feeds}
    outcomes = fetch_feeds(settings.feeds, validators, settings.fetch, transport=deps.transport)
    now = deps.clock()
    new = sum(store.record_fetch(outcome, now) for outcome in outcomes)
    return outcomes, new


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
                     date: datetime) -> MessageTemplate:
    digest = settings.digest
    rendered = RenderedIssue(subject=issue_subject, html=html, text=text, preheader="",
                             post_count=0)
    return MessageTemplate.build(
        rendered,
        from_addr=digest.from_addr,
        list_id=addressing.list_id(digest),
        reply_to=digest.reply_to,
        date=date,
        list_unsubscribe_mailto=addressing.unsubscribe_mailto(digest),
    )


def deliver_issue(settings: Settings, store: Store, issue: Issue, deps: Deps, *,
                  include_failed: bool = False) -> DeliveryReport:
    """Work through the issue's pending (and, if asked, failed) ledger rows."""
    template = message_template(settings, issue.subject, issue.html, issue.text, deps.clock())
    digest = settings.digest
    return deliver(
        store,
        issue,
        template,
        deps.sender_factory,
        options=delivery_options(settings, include_failed=include_failed),
        recipient_for=lambda d: addressing.recipient_for(
            digest, Subscriber(id=d.subscriber_id, email=d.email, name=d.name)),
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


def run(settings: Settings, deps: Deps) -> RunReport:
    """The cron job: finish what is pending, fetch, make the next issue if there is news,
    send it."""
    with run_lock(settings.store), Store.open(settings.store) as store:
        subscribers = import_subscribers(settings, store)
        earlier = finish_earlier(settings, store, deps, retry_failed=True)
        outcomes, new = fetch_into(settings, store, deps)
        report = RunReport(tuple(outcomes), new, subscribers, deliveries=tuple(earlier))
        issue, rendered = _make_issue(settings, store, deps.clock())
        if issue is None:
            return replace(report, nothing_new=nothing_new_message(store.last_issue()))
        delivered = deliver_issue(settings, store, issue, deps)
        return replace(report, issue=issue, deliveries=(*earlier, delivered),
                       warnings=rendered.warnings if rendered else ())


def send(settings: Settings, deps: Deps, *, retry_failed: bool) -> list[DeliveryReport]:
    """`digest send`: finish unfinished issues (and retry failed rows with retry_failed)."""
    with run_lock(settings.store), Store.open(settings.store) as store:
        return finish_earlier(settings, store, deps, retry_failed=retry_failed)


def _make_issue(settings: Settings, store: Store,
                now: datetime) -> tuple[Issue | None, RenderedIssue | None]:
    plan = plan_issue(store.unissued_posts(), store.last_issue(), settings.digest, now)
    if plan is None:
        return None, None
    rendered = Renderer(settings.templates).render(plan, settings.digest)
    return store.create_issue(plan.covered_keys, rendered, now), rendered


# --- previews and test sends: the same path, on a throw-away copy of the store -------------------


@dataclass(frozen=True)
class Draft:
    """The next issue as it would be made now, with the message as one recipient gets it."""

    rendered: RenderedIssue
    fetched: tuple[FetchOutcome, ...]
    recipient: Recipient

    def personalised(self) -> tuple[str, str]:
        return personalize(self.rendered, self.recipient)


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
        plan = plan_issue(store.unissued_posts(), store.last_issue(), settings.digest, now)
        if plan is None:
            return None, nothing_new_message(store.last_issue())
        rendered = Renderer(settings.templates).render(plan, settings.digest)
        return Draft(rendered, tuple(outcomes), recipient), ""


def preview_recipient(settings: Settings, email: str | None = None) -> Recipient:
    address = email or addressing.envelope_from(settings.digest.from_addr)
    return addressing.recipient_for(settings.digest, Subscriber(id=0, email=address, name=""))


def write_preview(settings: Settings, draft: Draft, out: Path, now: datetime) -> list[Path]:
    """Write digest.html, digest.txt and digest.eml of a draft into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    html, text = draft.personalised()
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
                                rendered.text, now)
    message_id = make_message_id(0, int(now.timestamp()), settings.digest.from_addr)
    data = template.personalize(draft.recipient, message_id=message_id)
    return Outgoing(delivery_id=0, envelope_from=addressing.envelope_from(
        settings.digest.from_addr), recipient=draft.recipient.email, data=data,
        message_id=message_id)

