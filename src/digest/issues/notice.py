"""The copy of a draft that goes to the editors for approval: the real rendered issue, with
"[DRAFT]" in the subject and a note at the top saying how to approve it. Pure: the application
layer (``digest.app.editors``) sends the messages made here."""

from __future__ import annotations

import html as html_lib
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from email.utils import parseaddr

from digest.issues.drafts import short_hash
from digest.mail import addressing
from digest.mail.message import MessageTemplate
from digest.mail.message_id import one_off_message_id
from digest.models import Issue, Outgoing, Recipient, RenderedIssue
from digest.settings import Settings

DRAFT_PREFIX = "[DRAFT] "
_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class Notice:
    """The preview mailed to the editors for approval."""

    issue_id: int
    emailed: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()  # "address: why", for each copy not handed over


def approve_link(settings: Settings, issue: Issue) -> str | None:
    """The web page that approves this draft, when digest's web app is reachable from outside.

    The editors' draft page of `digest serve` under digest.public_url; None without one.
    """
    public = settings.digest.public_url
    return f"{public.rstrip('/')}/editor/draft" if public else None


def editor_note(settings: Settings, issue: Issue, link: str | None) -> tuple[str, ...]:
    config = shlex.quote(str(settings.path))
    lines = [
        f"DRAFT of issue {issue.id} for the editors: subscribers have not received it.",
        f"Content hash: {short_hash(issue.content_hash)}",
        f"To approve it for sending, run: digest --config {config} approve {issue.id}",
    ]
    if link:
        lines.append(f"Or approve it here: {link}")
    lines.append(f"To change it first: digest --config {config} draft --intro-file FILE "
                 "--subject TEXT")
    return tuple(lines)


def editor_copy(rendered: RenderedIssue, note: Sequence[str]) -> RenderedIssue:
    """The issue with "[DRAFT]" in the subject and the note at the top of the text and HTML."""
    text = "\n".join(note) + "\n\n" + "-" * 60 + "\n\n" + rendered.text
    box = ('<div style="border:2px solid #b45309;background:#fffbeb;color:#111111;'
           'padding:12px 16px;margin:12px;font:14px/1.5 Arial,sans-serif">'
           + "<br>".join(_linked(line) for line in note) + "</div>")
    match = _BODY.search(rendered.html)
    at = match.end() if match else 0
    html = rendered.html[:at] + box + rendered.html[at:]
    return replace(rendered, subject=DRAFT_PREFIX + rendered.subject, html=html, text=text)


def _linked(line: str) -> str:
    head, found, url = line.partition(": http")
    if not found:
        return html_lib.escape(line)
    url = "http" + url
    return (f'{html_lib.escape(head)}: <a href="{html_lib.escape(url)}">'
            f"{html_lib.escape(url)}</a>")


def editor_messages(settings: Settings, issue: Issue, template: MessageTemplate,
                    recipient_for: Callable[[str], Recipient]) -> list[Outgoing]:
    """One message per editor from the editor copy's ``template``."""
    label = f"{issue.id}.draft-{short_hash(issue.content_hash)}"
    return label_messages(settings, label, template, recipient_for)


def alert_copy(subject: str, lines: Sequence[str]) -> RenderedIssue:
    """A short email to the editors (a feed failing, posts changed): the lines as text and HTML."""
    text = "\n".join(lines) + "\n"
    body = "".join(f"<p>{_linked(line)}</p>" for line in lines)
    html = ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>'
            f"{html_lib.escape(subject)}</title></head>"
            f'<body style="font:14px/1.5 Arial,sans-serif;color:#111111">{body}</body></html>')
    return RenderedIssue(subject=subject, html=html, text=text, preheader="", post_count=0)


def label_messages(settings: Settings, label: str, template: MessageTemplate,
                   recipient_for: Callable[[str], Recipient]) -> list[Outgoing]:
    """One message per editor; ``label`` makes the Message-IDs (and outbox file names) unique."""
    envelope = addressing.envelope_from(settings.digest.from_addr)
    messages = []
    for n, editor in enumerate(settings.editors):
        name, address = parseaddr(editor)
        recipient = replace(recipient_for(address), name=name)
        message_id = one_off_message_id(f"{label}-{n}", settings.digest.from_addr)
        data = template.personalize(recipient, message_id=message_id)
        messages.append(Outgoing(0, envelope, address, data, message_id, recipient))
    return messages
