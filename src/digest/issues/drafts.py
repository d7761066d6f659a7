"""Drafts and approval: the next issue frozen, edited, approved, then sent exactly as approved.

A draft is an issue with status ``draft``. Its posts are reserved for it (no other issue takes
them) and its plan, subject, intro, HTML and text are stored. Editors change the intro or the
subject and the stored plan is rendered again by the same Renderer that made it, so a preview is
what subscribers get. Approving records the content hash (sha256 of subject, HTML and text);
starting to send refuses content whose hash is not the approved one, and every delivery row keeps
that hash. At most one draft is open (draft or approved) at a time.

    made -> draft --approve--> approved --start_sending--> sending --> sent
              ^                    |
              +------- edit -------+

Everything here works on a Store passed in; the clock, the planner and the renderer come from
the caller, so the web pages, the CLI and cron share these functions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from digest.errors import DraftError as DraftError  # raised here
from digest.errors import StoreError
from digest.issues import resent
from digest.issues.compose import nothing_new_message
from digest.issues.render import Renderer
from digest.mail import addressing
from digest.mail.identity import identity_of
from digest.models import Issue, IssuePlan, RenderedIssue
from digest.settings import DigestSettings, Settings
from digest.store import DraftContent, Store

HASH_SHOWN = 12  # hex digits of the content hash shown to editors
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_HEX = re.compile(r"^[0-9a-f]{6,64}$")

# Plans the next issue from the store's unissued posts (the run's planner), or None: no news.
Planner = Callable[[Store, datetime], IssuePlan | None]
DraftState = Literal["made", "existing", "rebuilt", "edited", "unchanged"]


@dataclass(frozen=True)
class DraftResult:
    issue: Issue
    state: DraftState


@dataclass(frozen=True)
class Step:
    """What a run did about the next issue."""

    issue: Issue | None = None  # the open draft, or the issue that started sending
    made: bool = False  # this run made the draft
    send: bool = False  # approved and started: deliver it now
    nothing_new: str | None = None


content_hash = addressing.content_hash


def hash_of(issue: Issue) -> str:
    return content_hash(issue.subject, issue.html, issue.text)


def short_hash(value: str | None) -> str:
    return value[:HASH_SHOWN] if value else "-"


def as_rendered(issue: Issue) -> RenderedIssue:
    """The stored issue as the renderer made it, for previews and test copies."""
    return RenderedIssue(subject=issue.subject, html=issue.html, text=issue.text,
                         preheader=issue.preheader, post_count=issue.shown_count,
                         warnings=issue.warnings)


def make_draft(store: Store, planner: Planner, renderer: Renderer, digest: DigestSettings,
               now: datetime, *, rebuild: bool = False) -> DraftResult | None:
    """The open draft, else a new one from the posts no issue has yet; None: no news. A new
    draft keeps the identity ``digest`` gives it now (From, Reply-To, List-Id, Message-ID domain,
    list label) until it is sent, whatever the config says by then.

    ``rebuild`` composes the open draft again from the current posts: posts it no longer includes
    are released, and an intro or subject an editor wrote is kept. It must be approved again.
    """
    current = store.open_draft()
    if current is not None and not rebuild:
        return DraftResult(current, "existing")
    if current is not None:
        # The planner reads the unissued posts and the previous issue: the draft must be out of
        # the way first. Its id is the highest, so the new draft gets the same number.
        store.discard_draft(current.id, expected_hash=current.content_hash)
    plan = planner(store, now)
    if plan is None:
        return None
    if current is not None:
        plan = _keep_edits(plan, current)
    rendered = renderer.render(plan, digest)
    content = _content(plan, rendered, current)
    issue = store.create_draft(content, now, identity=identity_of(digest).to_json())
    return DraftResult(issue, "made" if current is None else "rebuilt")


def _keep_edits(plan: IssuePlan, previous: Issue) -> IssuePlan:
    if previous.intro_edited and previous.plan is not None:
        plan = replace(plan, intro_markdown=previous.plan.intro_markdown)
    if previous.subject_edited:
        plan = replace(plan, subject=previous.subject)
    return plan


def _content(plan: IssuePlan, rendered: RenderedIssue, previous: Issue | None, *,
             intro_edited: bool = False, subject_edited: bool = False) -> DraftContent:
    if previous is not None:  # a held draft stays held through rebuilds and edits
        kept = tuple(w for w in previous.warnings if w.startswith(HOLD_PREFIX))
        rendered = replace(rendered, warnings=(*rendered.warnings, *kept))
    return DraftContent(
        plan=plan, rendered=rendered,
        content_hash=content_hash(rendered.subject, rendered.html, rendered.text),
        intro_edited=intro_edited or (previous is not None and previous.intro_edited),
        subject_edited=subject_edited or (previous is not None and previous.subject_edited))


def edit_draft(store: Store, issue_id: int, renderer: Renderer, digest: DigestSettings, *,
               intro: str | None = None, subject: str | None = None) -> DraftResult:
    """Give the open draft a new intro (Markdown) and/or subject and render it again.

    A change returns an approved draft to draft: it needs approving again.
    """
    issue = _open(store, issue_id, "edited")
    if issue.plan is None:
        raise DraftError(f"issue {issue_id} has no stored plan to render again; rebuild it "
                         "with `digest draft --rebuild`")
    new_intro = issue.plan.intro_markdown if intro is None else clean_intro(intro)
    new_subject = issue.subject if subject is None else clean_subject(subject)
    if new_intro == issue.plan.intro_markdown and new_subject == issue.subject:
        return DraftResult(issue, "unchanged")
    plan = replace(issue.plan, intro_markdown=new_intro, subject=new_subject)
    rendered = renderer.render(plan, digest)
    content = _content(plan, rendered, issue,
                       intro_edited=new_intro != issue.plan.intro_markdown,
                       subject_edited=new_subject != issue.subject)
    updated = store.update_draft(issue.id, content, expected_hash=issue.content_hash)
    return DraftResult(updated, "edited")


def clean_subject(subject: str) -> str:
    value = subject.strip()
    if not value:
        raise DraftError("the subject is empty; give the words of the subject line",
                         key="subject")
    if _CONTROL.search(value) or "\n" in value or "\t" in value:
        raise DraftError("the subject must be one line of text, without line breaks or control "
                         "characters", key="subject")
    return value


def clean_intro(intro: str) -> str:
    value = intro.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(value):
        raise DraftError("the intro contains control characters; save it as plain UTF-8 text",
                         key="intro")
    return value.strip("\n").rstrip()


def approve(store: Store, issue_id: int, now: datetime, *,
            expected: str | None = None) -> Issue:
    """Approve the open draft exactly as stored now; returns it with its approved hash.

    ``expected``: the hash (or its first 6+ hex digits) the editor reviewed; a draft that has
    changed since is refused.
    """
    wanted = _hash_prefix(expected) if expected is not None else None

    def decide(issue: Issue | None) -> str:
        issue = _check_open(issue, issue_id, "approved")
        current = hash_of(issue)
        if wanted is not None and not current.startswith(wanted):
            raise DraftError(f"issue {issue_id} has content hash {short_hash(current)}, not "
                             f"{wanted}: it changed since it was reviewed; preview it again")
        return current

    return store.approve_issue(issue_id, decide, now)


def _hash_prefix(value: str) -> str:
    prefix = value.strip().lower()
    if not _HEX.match(prefix):
        raise DraftError(f"{value!r} is not a content hash: give at least the first 6 hex "
                         "digits shown with the draft", key="hash")
    return prefix


def _open(store: Store, issue_id: int, verb: str) -> Issue:
    return _check_open(store.find_issue(issue_id), issue_id, verb)


def _check_open(issue: Issue | None, issue_id: int, verb: str) -> Issue:
    if issue is None:
        raise DraftError(f"no issue {issue_id}; `digest issues` lists them")
    if issue.status not in ("draft", "approved"):
        raise DraftError(f"issue {issue_id} is {issue.status}, not a draft; only a draft can be "
                         f"{verb}")
    return issue


def check_unchanged(issue: Issue) -> None:
    """Refuse to send content whose hash is not the approved one (issues from before approval
    existed have no hash and pass)."""
    if issue.approved_hash is None:
        return
    current = hash_of(issue)
    if current != issue.approved_hash:
        advice = (f"check it with `digest preview --issue {issue.id}` and approve it again"
                  if issue.status == "approved" else "it cannot be sent as it is now")
        raise StoreError(
            f"issue {issue.id} not sent: its stored content changed after it was approved "
            f"(approved {short_hash(issue.approved_hash)}, stored now {short_hash(current)}); "
            f"{advice}")


def start_sending(store: Store, issue_id: int) -> Issue:
    """Approved -> sending: check the hash, then make a delivery row per active subscriber."""
    return store.start_sending(issue_id, check_unchanged)


def start_approved(store: Store) -> Issue | None:
    """Start sending the open draft if it is approved; returns it, or None."""
    issue = store.open_draft()
    if issue is None or issue.status != "approved":
        return None
    return start_sending(store, issue.id)


# A draft held for an editor's approval whatever ``approval`` says (a feed that rewrote its
# ids, say) carries its reason among its warnings, so the hold outlives the run that made it.
HOLD_PREFIX = "held for approval: "


def hold_reason(issue: Issue | None) -> str | None:
    """Why this draft waits for an editor even with approval: auto; None: it does not."""
    if issue is None or issue.status not in ("draft", "approved"):
        return None
    return next((w for w in issue.warnings if w.startswith(HOLD_PREFIX)), None)


def hold(store: Store, issue: Issue, reason: str) -> Issue:
    """Mark the open draft as held (its content, and so its hash, is unchanged)."""
    if hold_reason(issue) is not None or issue.plan is None:
        return issue
    reason = reason if reason.startswith(HOLD_PREFIX) else HOLD_PREFIX + reason
    rendered = replace(as_rendered(issue), warnings=(*issue.warnings, reason))
    content = DraftContent(plan=issue.plan, rendered=rendered, content_hash=hash_of(issue),
                           intro_edited=issue.intro_edited, subject_edited=issue.subject_edited)
    return store.update_draft(issue.id, content, expected_hash=issue.content_hash)


def advance(settings: Settings, store: Store, planner: Planner, renderer: Renderer,
            now: datetime, *, held: str | None = None) -> Step:
    """The run's one path to an issue: draft it (if there is news and no open draft), approve
    it when approval is auto (unless it is ``held``), and start sending it once approved."""
    result = make_draft(store, planner, renderer, settings.digest, now)
    if result is None:
        return Step(nothing_new=nothing_new_message(store.last_issue()))
    issue, made = result.issue, result.state == "made"
    if held is not None and issue.status == "draft":
        issue = hold(store, issue, held)
    if settings.approval == "auto" and issue.status == "draft" and hold_reason(issue) is None:
        issue = approve(store, issue.id, now)
    if issue.status == "approved":
        return Step(start_sending(store, issue.id), made, send=True)
    return Step(issue, made)


def needs_notice(settings: Settings, issue: Issue | None) -> bool:
    """A draft waiting for approval whose editors have not been emailed yet."""
    waits = settings.approval == "required" or hold_reason(issue) is not None
    return (waits and bool(settings.editors) and issue is not None
            and issue.status == "draft" and issue.editors_notified_at is None)



def already_sent(store: Store, issue: Issue) -> list[resent.Twin]:
    """The posts of this draft that look already sent (see ``resent``)."""
    stored = store.posts_by_key(list(issue.post_keys))
    posts = [stored[key].post for key in issue.post_keys if key in stored]
    sent = [resent.SentPost(*row) for row in store.sent_posts()]
    return resent.looks_sent(posts, sent)


def settle_already_sent(store: Store, planner: Planner, renderer: Renderer,
                        digest: DigestSettings, now: datetime,
                        action: resent.Action) -> tuple[list[resent.Twin], DraftResult | None]:
    """Drop the open draft's look-alikes of sent posts, or mark them as sent (recorded in the
    issue their twin went out in), then compose the draft again without them (an editor's
    intro, subject and a hold are kept). Returns (the posts settled, the new draft or None)."""
    current = store.open_draft()
    if current is None:
        raise DraftError("there is no open draft; `digest draft` makes one")
    twins = already_sent(store, current)
    if twins:
        as_sent = {t.post.key: t.sent.issue_id for t in twins} if action == "sent" else {}
        dropped = [t.post.key for t in twins] if action == "drop" else []
        store.settle_posts(as_sent=as_sent, dropped=dropped, now=now)
    return twins, make_draft(store, planner, renderer, digest, now, rebuild=bool(twins))
