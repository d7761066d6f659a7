"""The editors' use cases: make the draft of the next issue, change it, approve it; and the run's
one path from news to an issue (``next_issue``). The rules themselves (what a draft is, what
approval freezes) are in ``digest.issues.drafts``; this module opens the store, takes the lock,
fetches, and hands in the planner and renderer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from digest.app.deps import Deps
from digest.app.editors import notify_editors
from digest.app.fetching import fetch_into
from digest.app.planning import planner
from digest.app.sending import deliver_issue
from digest.delivery.report import DeliveryReport
from digest.issues import drafts, resent
from digest.issues.compose import nothing_new_message
from digest.issues.drafts import DraftError, DraftResult
from digest.issues.notice import Notice
from digest.issues.render import Renderer
from digest.models import FetchOutcome, Issue
from digest.settings import Settings
from digest.store import Store
from digest.store.lock import run_lock


@dataclass(frozen=True)
class Drafted:
    """What ``draft`` did: the draft and its state (None: no news, ``nothing_new`` says why)."""

    result: DraftResult | None
    fetched: tuple[FetchOutcome, ...] = ()
    nothing_new: str = ""
    settled: tuple[resent.Twin, ...] = ()  # dropped or marked as sent (``already_sent``)
    twins: tuple[resent.Twin, ...] = ()  # posts of the draft that look already sent


@dataclass(frozen=True)
class NextStep:
    """What a run did about the next issue: made or took the draft, and sent it or waits."""

    issue: Issue | None = None
    made: bool = False  # this run made the draft
    nothing_new: str | None = None
    delivered: tuple[DeliveryReport, ...] = ()  # the DeliveryReport of the issue, when it went out
    awaiting: Issue | None = None  # a draft waiting for the editors' approval
    notice: Notice | None = None  # the editors were emailed a preview of it now


def open_draft(settings: Settings) -> Issue | None:
    """The open draft, if the store exists and has one (a missing store is not created)."""
    if not settings.store.exists():
        return None
    with Store.open(settings.store) as store:
        return store.open_draft()


def stored_issue(settings: Settings, issue_id: int) -> Issue:
    """Issue ``issue_id`` as stored; ``DraftError`` when there is none."""
    with _existing_store(settings, issue_id) as store:
        issue = store.find_issue(issue_id)
    if issue is None:
        raise DraftError(f"no issue {issue_id}; `digest issues` lists them")
    return issue


def _existing_store(settings: Settings, issue_id: int) -> Store:
    if not settings.store.exists():
        raise DraftError(f"no issue {issue_id}: the store {settings.store} does not exist yet")
    return Store.open(settings.store)


def draft(settings: Settings, deps: Deps, *, fetch: bool = True, rebuild: bool = False,
          intro: str | None = None, subject: str | None = None,
          already_sent: resent.Action | None = None) -> Drafted:
    """The open draft, else a new one (after fetching, with ``fetch``); with ``rebuild`` the
    open draft composed again from the current posts; with ``already_sent`` its posts that look
    already sent dropped or marked as sent, and the draft composed again; then the new ``intro``
    (Markdown) and ``subject``, if given, and rendered again.

    Raises ``DraftError`` for a bad intro or subject (checked before anything is fetched or
    changed) and ``LockError`` when composing while a run holds the lock."""
    if intro is not None:
        intro = drafts.clean_intro(intro)
    if subject is not None:
        subject = drafts.clean_subject(subject)
    renderer = Renderer(settings.templates)
    fetched: tuple[FetchOutcome, ...] = ()
    with Store.open(settings.store) as store:
        current = store.open_draft()
        result = None if current is None else DraftResult(current, "existing")
        if result is None or rebuild:
            # Fetching and composing, like a run: a run at the same time waits or stops.
            with run_lock(settings.store):
                if fetch:
                    fetched = tuple(fetch_into(settings, store, deps)[0])
                result = drafts.make_draft(store, planner(settings), renderer, settings.digest,
                                           deps.clock(), rebuild=rebuild)
        settled: list[resent.Twin] = []
        if already_sent is not None and result is not None:
            settled, result = _settle(settings, store, deps, renderer, already_sent)
        if result is None:
            return Drafted(None, fetched, nothing_new_message(store.last_issue()),
                           settled=tuple(settled))
        twins = drafts.already_sent(store, result.issue)
        if intro is not None or subject is not None:
            edited = drafts.edit_draft(store, result.issue.id, renderer, settings.digest,
                                       intro=intro, subject=subject)
            result = edited if result.state != "made" else DraftResult(edited.issue, "made")
    return Drafted(result, fetched, settled=tuple(settled), twins=tuple(twins))


def looks_already_sent(settings: Settings, issue: Issue) -> tuple[resent.Twin, ...]:
    """The posts of draft ``issue`` that look already sent (same link or title as a post of a
    sent issue), in the draft's order."""
    with Store.open(settings.store) as store:
        return tuple(drafts.already_sent(store, issue))


def settle_already_sent(settings: Settings, deps: Deps, issue_id: int,
                        action: resent.Action) -> Drafted:
    """Drop the posts of the open draft ``issue_id`` that look already sent (never offered
    again), or mark them as sent in the issue their twin went out in (``action``), and compose
    the draft again without them; ``digest draft --already-sent`` does the same.

    Raises ``DraftError`` when ``issue_id`` is not the open draft (it changed since the editor
    looked: nothing is changed) and ``LockError`` while a run holds the lock."""
    with _existing_store(settings, issue_id) as store:
        current = store.open_draft()
        if current is None or current.id != issue_id:
            raise DraftError(f"issue {issue_id} is not the open draft any more; look again")
        settled, result = _settle(settings, store, deps, Renderer(settings.templates), action)
        if result is None:
            return Drafted(None, nothing_new=nothing_new_message(store.last_issue()),
                           settled=tuple(settled))
        twins = drafts.already_sent(store, result.issue)
    return Drafted(result, settled=tuple(settled), twins=tuple(twins))


def _settle(settings: Settings, store: Store, deps: Deps, renderer: Renderer,
            action: resent.Action) -> tuple[list[resent.Twin], DraftResult | None]:
    with run_lock(settings.store):  # composing, like a run: a run at the same time waits
        return drafts.settle_already_sent(store, planner(settings), renderer, settings.digest,
                                          deps.clock(), action)


def edit(settings: Settings, issue_id: int, *, intro: str | None = None,
         subject: str | None = None) -> DraftResult:
    """Give the open draft ``issue_id`` a new intro and/or subject; ``DraftError`` when it
    cannot be done as asked (nothing changed)."""
    with _existing_store(settings, issue_id) as store:
        return drafts.edit_draft(store, issue_id, Renderer(settings.templates), settings.digest,
                                 intro=intro, subject=subject)


def approve(settings: Settings, issue_id: int, now: datetime, *,
            expected: str | None = None) -> Issue:
    """Approve the draft ``issue_id`` exactly as stored now (only if its content hash starts
    with ``expected``, when given); ``DraftError`` when it cannot be (nothing changed)."""
    with _existing_store(settings, issue_id) as store:
        return drafts.approve(store, issue_id, now, expected=expected)


def rebuild_draft(settings: Settings, store: Store, deps: Deps) -> Issue | None:
    """Compose the open draft again from the current posts (editors' intro and subject kept)."""
    result = drafts.make_draft(store, planner(settings), Renderer(settings.templates),
                               settings.digest, deps.clock(), rebuild=True)
    return None if result is None else result.issue


def next_issue(settings: Settings, store: Store, deps: Deps, *,
               held: str | None = None) -> NextStep:
    """Draft the next issue (or take the open draft); send it once approved, else make sure the
    editors have been emailed a preview of it, once. ``held``: why it must wait for an editor
    even with approval: auto."""
    step = drafts.advance(settings, store, planner(settings), Renderer(settings.templates),
                          deps.clock(), held=held)
    issue = step.issue
    if issue is None:
        return NextStep(nothing_new=step.nothing_new)
    if step.send:
        delivered = deliver_issue(settings, store, issue, deps)
        return NextStep(issue, step.made, delivered=(delivered,))
    notice = notify_editors(settings, store, issue, deps) if drafts.needs_notice(
        settings, issue) else None
    return NextStep(issue, step.made, awaiting=issue, notice=notice)
