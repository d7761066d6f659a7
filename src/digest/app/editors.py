"""Mail to the editors: the draft waiting for their approval, and short notes (a feed failing or
working again, posts that changed). Sent by ``send_each``, like test copies; a copy not handed
over is reported and tried again by a later run, never raised."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from digest.app.deps import Deps
from digest.app.messages import message_template, preview_recipient, send_each
from digest.issues import drafts
from digest.issues.notice import (
    Notice,
    alert_copy,
    approve_link,
    editor_copy,
    editor_messages,
    editor_note,
    label_messages,
)
from digest.models import Issue, Outgoing
from digest.settings import Settings
from digest.store import Store


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
    notice = hand_over(issue.id, messages, deps)
    if not notice.failed:
        store.mark_editors_notified(issue.id, now)
    return notice


def tell_editors(settings: Settings, deps: Deps, subject: str, lines: tuple[str, ...],
                 label: str) -> Notice:
    """A short email to every editor (feed alerts, posts changed), by the same path as drafts.
    ``label`` makes its Message-IDs unique."""
    if not settings.editors:
        return Notice(0)
    rendered = alert_copy(subject, lines)
    template = message_template(settings, subject, rendered.html, rendered.text, deps.clock())
    messages = label_messages(settings, label, template,
                              functools.partial(preview_recipient, settings))
    return hand_over(0, messages, deps)


def hand_over(issue_id: int, messages: Sequence[Outgoing], deps: Deps) -> Notice:
    """Send the editors' copies; the notice names who got one and why the others did not."""
    handed = send_each(deps.sender_factory, messages)
    return Notice(issue_id, tuple(h.recipient for h in handed if h.sent),
                  tuple(f"{h.recipient}: {h.reply}" for h in handed if not h.sent))
