"""Checks on a finished message, before anyone receives it. Pure: bytes in, findings out.

What is checked, and why:
- size: Gmail clips HTML above about 102 KB and hides the rest, footer and unsubscribe link
  included; we aim for 90 KB to leave room for a long week;
- links: every ``href``/``src`` (also inside Outlook-only conditional comments) is ``https:`` or
  ``mailto:``, with a host name that is not an IP address or localhost, and no spaces: plain http,
  IP addresses and relative links are what spam filters and mail clients distrust or break;
- headers: the header block is ASCII, lines fold at 78 and never pass 998 (RFC 5322), and the
  headers receivers look for are there and well formed (Date, Message-ID, List-Id,
  List-Unsubscribe, and List-Unsubscribe-Post for one-click unsubscribe when there is an https
  unsubscribe URI, RFC 8058), covered by the DKIM signature when there is one;
- layout: no word longer than a phone's line without a place to break, and no fixed width above
  the column (``check_layout``): either makes the email wider than a phone's screen;
- structure: multipart/alternative with the text part first and the HTML part last (the last is
  the one clients prefer), no body line over 998 octets, no per-recipient token left unfilled.
"""

from __future__ import annotations

import email
import re
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from typing import Literal, cast

from digest.mail.check_headers import (
    check_headers,
    header_block,
    header_warnings,
    list_unsubscribe_uris,
)
from digest.mail.check_layout import layout_problems
from digest.mail.check_links import html_links, link_problem
from digest.mail.fill import leftovers

GMAIL_CLIP_BYTES = 102 * 1024
TARGET_BYTES = 90 * 1024
STYLE_LIMIT_BYTES = 16 * 1024  # Gmail drops the whole <style> block above this
MAX_LINE = 998

Area = Literal["size", "links", "layout", "headers", "structure"]
Severity = Literal["problem", "warning"]
AREAS: tuple[Area, ...] = ("size", "links", "layout", "headers", "structure")

_STYLE_RE = re.compile(r"<style\b[^>]*>(.*?)</style>", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Finding:
    area: Area
    message: str
    severity: Severity = "problem"


@dataclass(frozen=True)
class CheckReport:
    html_bytes: int | None  # the decoded HTML part, None when there is none
    links_checked: int
    findings: tuple[Finding, ...]

    @property
    def problems(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "problem")

    def in_area(self, area: Area) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.area == area)


def check_message(raw: bytes) -> CheckReport:
    """Every check on one complete message (as sent: CRLF, RFC 5322)."""
    message = email.message_from_bytes(raw, policy=default)
    text, html = _parts(message)
    block = header_block(raw)
    findings = [Finding("headers", m) for m in check_headers(block)]
    findings += [Finding("headers", m, "warning") for m in header_warnings(block)]
    findings += [Finding("structure", m) for m in check_structure(message, raw)]
    links: list[str] = []
    if html is not None:
        findings += check_size(html)
        links = html_links(html)
        findings += [Finding("links", m) for m in check_links(links)]
        uris = list_unsubscribe_uris(message.get("List-Unsubscribe", ""))
        findings += [Finding("links", m) for m in _visible_unsubscribe(links, html, uris)]
        findings += [Finding("layout", m) for m in layout_problems(html)]
    elif text is None:
        findings.append(Finding("structure", "no text/plain or text/html part to read"))
    html_bytes = None if html is None else len(html.encode("utf-8"))
    return CheckReport(html_bytes, len(links), tuple(findings))


def check_size(html: str) -> list[Finding]:
    size = len(html.encode("utf-8"))
    found: list[Finding] = []
    if size > GMAIL_CLIP_BYTES:
        found.append(Finding("size", f"the HTML is {size / 1024:.1f} KB: Gmail clips it above "
                                     f"{GMAIL_CLIP_BYTES // 1024} KB and hides the footer and "
                                     "the unsubscribe link; show fewer posts or shorter summaries"))
    elif size > TARGET_BYTES:
        found.append(Finding("size", f"the HTML is {size / 1024:.1f} KB, over the "
                                     f"{TARGET_BYTES // 1024} KB target (Gmail clips above "
                                     f"{GMAIL_CLIP_BYTES // 1024} KB)", "warning"))
    style = sum(len(m.encode("utf-8")) for m in _STYLE_RE.findall(html))
    if style > STYLE_LIMIT_BYTES:
        found.append(Finding("size", f"the <style> blocks hold {style / 1024:.1f} KB: Gmail "
                                     f"drops them all above {STYLE_LIMIT_BYTES // 1024} KB "
                                     "(dark mode and mobile rules are lost)", "warning"))
    return found


def check_links(links: list[str]) -> list[str]:
    """One line per distinct bad link, with how many times it occurs."""
    counts = Counter(links)
    found = []
    for link, count in counts.items():
        why = link_problem(link)
        if why is not None:
            times = f" ({count} times)" if count > 1 else ""
            found.append(f"{link!r}{times}: {why}")
    return found


def check_structure(message: EmailMessage, raw: bytes) -> list[str]:
    found = []
    kinds = [p.get_content_type() for p in message.iter_parts()]
    if message.get_content_type() != "multipart/alternative":
        found.append(f"the message is {message.get_content_type()}, not multipart/alternative "
                     "with a text/plain and a text/html part")
    elif kinds[:1] != ["text/plain"] or kinds[-1:] != ["text/html"]:
        found.append(f"the parts are {', '.join(kinds) or 'missing'}: text/plain must come first "
                     "and text/html last (clients show the last part they understand)")
    long_lines = [n for n, line in enumerate(raw.split(b"\n"), 1)
                  if len(line.rstrip(b"\r")) > MAX_LINE]
    if long_lines:
        found.append(f"{len(long_lines)} line(s) longer than {MAX_LINE} octets (first: line "
                     f"{long_lines[0]}); servers may reject or break them (RFC 5322 2.1.1)")
    # Decoded as well as raw: a quoted-printable soft break may cut a placeholder in the bytes.
    left = leftovers(b"\n".join([raw, *(p.encode() for p in _parts(message) if p)]))
    if left:
        found.append(f"placeholders left unfilled: {', '.join(left)}")
    return found


def _parts(message: EmailMessage) -> tuple[str | None, str | None]:
    """The first text/plain and the first text/html part, decoded."""
    text = html = None
    for part in message.walk():
        kind = part.get_content_type()
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        try:
            content = part.get_content()
        except (LookupError, ValueError):  # an unknown charset: read it as UTF-8 regardless
            payload = part.get_payload(decode=True)
            content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        if kind == "text/plain" and text is None:
            text = cast(str, content)
        elif kind == "text/html" and html is None:
            html = cast(str, content)
    return text, html


def _visible_unsubscribe(links: list[str], html: str, header_uris: list[str]) -> list[str]:
    """Gmail and Yahoo want an unsubscribe link in the body, not only in the headers."""
    bare = {u.split("?", 1)[0] for u in header_uris}
    if any(link.split("?", 1)[0] in bare for link in links):
        return []
    if re.search(r"<a\b[^>]*>[^<]*unsubscribe", html, re.IGNORECASE):
        return []
    return ["no unsubscribe link in the HTML body (Gmail and Yahoo require a visible one)"]
