"""The next issue seen before it goes out: previews (files, the editors' pages), test copies and
the web version of a sent issue. The same render and message path as sending; a preview of an
issue not drafted yet is made on a throw-away copy of the store, so it changes nothing."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from digest.app.deps import Deps
from digest.app.drafts import open_draft, stored_issue
from digest.app.fetching import fetch_into
from digest.app.messages import message_template, preview_recipient, send_one
from digest.app.planning import plan_next
from digest.issues.compose import nothing_new_message
from digest.issues.drafts import as_rendered
from digest.issues.render import Renderer, without_browser_link
from digest.mail import addressing, fill
from digest.mail.message_id import one_off_message_id
from digest.models import FetchOutcome, Issue, Outgoing, Recipient, RenderedIssue
from digest.settings import Settings
from digest.store import Store
from digest.subscribers import validate_email


@dataclass(frozen=True)
class Draft:
    """The next issue as it would be made now, with the message as one recipient gets it."""

    rendered: RenderedIssue
    fetched: tuple[FetchOutcome, ...]
    recipient: Recipient

    def personalised(self, public_url: str | None = None) -> tuple[str, str]:
        """HTML and text as the recipient reads them, linking to the web version if any."""
        rendered = self.rendered
        url = addressing.web_version_url(public_url, rendered.subject, rendered.html,
                                         rendered.text)
        return fill.filled(rendered, fill.IssueValues(web_version_url=url), self.recipient)


@dataclass(frozen=True)
class Next:
    """The issue a preview, check or test copy is about: ``stored`` when it is a stored issue
    (the open draft, or one asked for by number); ``draft`` None when there is none, ``why``."""

    draft: Draft | None
    stored: Issue | None = None
    why: str = ""


@dataclass(frozen=True)
class TestCopy:
    """A test copy handed to the sender: accepted (``sent``) or refused with ``reply``."""

    draft: Draft
    address: str
    sent: bool
    reply: str = ""


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
        plan = plan_next(settings, store, deps.clock())
        if plan is None:
            return None, nothing_new_message(store.last_issue())
        rendered = Renderer(settings.templates).render(plan, settings.digest)
        return Draft(rendered, tuple(outcomes), recipient), ""


def as_draft(issue: Issue, recipient: Recipient,
             fetched: tuple[FetchOutcome, ...] = ()) -> Draft:
    """A stored issue as previews and test copies take it: its stored bytes, unchanged."""
    return Draft(as_rendered(issue), fetched, recipient)


def upcoming(settings: Settings, deps: Deps, recipient: Recipient | None = None, *,
               issue_id: int | None = None) -> Next:
    """Stored issue ``issue_id`` if given, else the open draft, else the issue the feeds would
    make now (fetched into a throw-away copy of the store). ``DraftError``: no issue issue_id."""
    recipient = recipient or preview_recipient(settings)
    stored = open_draft(settings) if issue_id is None else stored_issue(settings, issue_id)
    if stored is not None:
        return Next(as_draft(stored, recipient), stored)
    draft, why = draft_next(settings, deps, recipient)
    return Next(draft, None, why)


def stored_preview(settings: Settings, issue: Issue) -> tuple[str, str]:
    """A stored issue's HTML and text as the preview recipient reads them."""
    return as_draft(issue, preview_recipient(settings)).personalised(settings.digest.public_url)


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
    """The draft's message to its recipient, as a test copy (or, without the prefix, exactly as
    a subscriber would get it)."""
    rendered = draft.rendered
    template = message_template(settings, subject_prefix + rendered.subject, rendered.html,
                                rendered.text, now, web_of=rendered)
    message_id = one_off_message_id("test", settings.digest.from_addr)
    data = template.personalize(draft.recipient, message_id=message_id)
    return Outgoing(delivery_id=0, envelope_from=addressing.envelope_from(
        settings.digest.from_addr), recipient=draft.recipient.email, data=data,
        message_id=message_id)


def send_test(settings: Settings, deps: Deps, address: str, *,
              issue_id: int | None = None) -> TestCopy | Next:
    """Send a test copy of the next issue (or of stored issue ``issue_id``) to ``address``;
    nothing is marked as sent. Returns the ``Next`` saying why when there is no issue.

    Raises ``SubscriberError`` for an address that is not one (nothing is fetched),
    ``DraftError`` when there is no issue ``issue_id``, ``SendError`` when the sender stops."""
    address = validate_email(address)
    found = upcoming(settings, deps, preview_recipient(settings, address), issue_id=issue_id)
    if found.draft is None:
        return found
    handed = send_one(deps.sender_factory, test_message(settings, found.draft, deps.clock()))
    return TestCopy(found.draft, address, handed.sent, handed.reply)


def web_version(settings: Settings, issue: Issue, unsubscribe_url: str,
                url: str) -> str:
    """The HTML of a sent issue as its web version (at ``url``) shows it: no reader's values,
    and a link to the unsubscribe page instead of a reader's own."""
    neutral = Recipient(email=NEUTRAL_EMAIL, name="", unsubscribe_url=unsubscribe_url)
    html, _ = fill.filled(as_rendered(issue), fill.IssueValues(web_version_url=url), neutral)
    return without_browser_link(html)  # the reader is already in the browser


# What the web version of an issue shows where a reader's own values would be.
NEUTRAL_EMAIL = "your address"


def published_issue(settings: Settings, *, issue_id: int | None = None,
                    content: str | None = None) -> Issue | None:
    """The sent (or sending) issue with this number or content-hash prefix; None otherwise."""
    with Store.open(settings.store) as store:
        issue = (store.find_issue(issue_id) if issue_id is not None
                 else store.find_issue_by_hash(content or ""))
    return issue if issue is not None and issue.status in ("sending", "sent") else None
