"""The one place where an issue's placeholders become values: per issue once, then per recipient.

A rendered issue (``digest.models.RenderedIssue``) holds two kinds of placeholders:

- **per issue**: ``TOKEN_WEB_VERSION``, the address of the issue's web version ("view this issue
  in your browser"). ``for_issue`` fills them once, before any sender sees the content: the
  MIME template is built from its result (``MessageTemplate.content``), and the mail APIs send
  that same content.
- **per recipient**: ``TOKENS`` (name, address, unsubscribe link). They stay in the content;
  every sender puts ``values(recipient)`` in their place, HTML-escaped in the HTML part
  (``value``) and as given in the text part:

  ======================  ==============================================================
  outbox, SMTP            in the encoded MIME bytes (``mail.message``, quoted-printable)
  Postmark                joined in per copy from ``Pieces`` (split once per issue)
  SendGrid, Mailgun       substituted by the provider, from the values given here
  previews, web page      ``personalize`` / ``filled``
  ======================  ==============================================================

  The headers only one copy carries (its Message-ID and List-Unsubscribe) are ``headers``.

The order is the rule: per-issue values first, then per-recipient values into pieces split at
the tokens, so a value is never scanned again and a reader's name that happens to look like a
placeholder stays text. ``PLACEHOLDER_RE`` matches any placeholder of this shape, filled or not,
so checks (``leftovers``) catch one that a new template introduces and no path fills.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass, replace

from digest.models import (
    TOKEN_EMAIL,
    TOKEN_NAME,
    TOKEN_UNSUBSCRIBE,
    TOKEN_WEB_VERSION,
    TOKENS,
    Recipient,
    RenderedIssue,
)

# Every placeholder digest writes has this shape (digest.models); so do providers' own tags.
PLACEHOLDER_RE = re.compile(r"%%[A-Z][A-Z0-9_]*%%")
_SPLIT_RE = re.compile("(" + "|".join(re.escape(token) for token in TOKENS) + ")")
_ISSUE_RE = re.compile(re.escape(TOKEN_WEB_VERSION))
HEADER_URI_RE = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]{1,900}")  # printable ASCII except < >
_ONE_CLICK = ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")

Pieces = tuple[str, ...]  # text at even places, a per-recipient token at each odd one


@dataclass(frozen=True)
class IssueValues:
    """The per-issue values. ``web_version_url``: None without ``digest.public_url``, and the
    link (rendered only when public_url is set) is then left empty."""

    web_version_url: str | None = None

    def by_token(self) -> dict[str, str]:
        return {TOKEN_WEB_VERSION: self.web_version_url or ""}


def for_issue(rendered: RenderedIssue, issue: IssueValues) -> RenderedIssue:
    """The issue with its per-issue placeholders filled; the per-recipient TOKENS stay."""
    values = issue.by_token()

    def fill(content: str) -> str:
        return _ISSUE_RE.sub(lambda m: values[m.group(0)], content)

    return replace(rendered, html=fill(rendered.html), text=fill(rendered.text))


def values(recipient: Recipient) -> dict[str, str]:
    """Each per-recipient token's value as plain text."""
    return {TOKEN_NAME: recipient.name, TOKEN_EMAIL: recipient.email,
            TOKEN_UNSUBSCRIBE: recipient.unsubscribe_url}


def value(raw: str, *, in_html: bool) -> str:
    """A value as it goes into a part: HTML-escaped (quotes too: values sit in attributes) in
    the HTML part, as given in the text part."""
    return html.escape(raw, quote=True) if in_html else raw


@functools.lru_cache(maxsize=16)
def pieces(content: str) -> Pieces:
    """``content`` cut at the per-recipient tokens; cached, so an issue is split once."""
    return tuple(_SPLIT_RE.split(content))


def join(parts: Pieces, recipient_values: dict[str, str], *, in_html: bool) -> str:
    """``parts`` with each token replaced by its value (unknown tokens stay as they are)."""
    out = list(parts)
    out[1::2] = [value(recipient_values.get(token, token), in_html=in_html)
                 for token in parts[1::2]]
    return "".join(out)


def personalize(rendered: RenderedIssue, recipient: Recipient) -> tuple[str, str]:
    """One recipient's (html, text) of content whose per-issue values are already filled."""
    found = values(recipient)
    return (join(pieces(rendered.html), found, in_html=True),
            join(pieces(rendered.text), found, in_html=False))


def filled(rendered: RenderedIssue, issue: IssueValues, recipient: Recipient) -> tuple[str, str]:
    """(html, text) with every placeholder filled: per issue, then per recipient."""
    return personalize(for_issue(rendered, issue), recipient)


def headers(message_id: str, unsubscribe_url: str,
            unsubscribe_mailto: str | None) -> tuple[tuple[str, str], ...]:
    """The header fields one copy carries for itself, as (name, value): Message-ID, then
    List-Unsubscribe (and List-Unsubscribe-Post) as ``list_unsubscribe_headers`` gives them."""
    return (("Message-ID", message_id),
            *list_unsubscribe_headers(unsubscribe_url, unsubscribe_mailto))


def list_unsubscribe_headers(url: str, mailto: str | None) -> tuple[tuple[str, str], ...]:
    """RFC 2369 / RFC 8058 headers as (name, value): one-click only for an https URL (it
    unsubscribes on POST); nothing when there is neither a usable URL nor a mailto."""
    https = url.startswith("https://") and HEADER_URI_RE.fullmatch(url) is not None
    uris = ([f"<{url}>"] if https else []) + ([f"<{mailto}>"] if mailto else [])
    if not uris:
        return ()
    found = (("List-Unsubscribe", ", ".join(uris)),)
    return (*found, _ONE_CLICK) if https else found


def leftovers(content: str | bytes) -> list[str]:
    """The placeholders still in ``content``, in order of first appearance."""
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    return list(dict.fromkeys(PLACEHOLDER_RE.findall(text)))
