"""Links in a message's HTML and what is wrong with each. Pure."""

from __future__ import annotations

import html as html_lib
import ipaddress
import re
from urllib.parse import urlsplit

from lxml import etree
from lxml import html as lxml_html

LINK_ATTRIBUTES = ("href", "src", "background")
# Outlook-only markup (VML buttons, backgrounds) lives in conditional comments, out of the DOM.
_COMMENT_LINK_RE = re.compile(r"""\b(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


def html_links(page: str) -> list[str]:
    """Every href/src/background value, in document order, conditional comments included."""
    if not page.strip():
        return []
    # Bytes, because lxml refuses a str that starts with an XML encoding declaration.
    parser = lxml_html.HTMLParser(encoding="utf-8")
    root = lxml_html.document_fromstring(page.encode("utf-8"), parser=parser)
    links: list[str] = []
    for node in root.iter():
        if isinstance(node, etree._Comment):
            found = _COMMENT_LINK_RE.findall(node.text or "")
            links += [html_lib.unescape(a or b) for a, b in found]
            continue
        links += [str(v) for name in LINK_ATTRIBUTES if (v := node.get(name)) is not None]
    return links


def link_problem(link: str) -> str | None:
    """Why a link does not belong in a digest, or None when it is fine."""
    if not link.strip():
        return "empty link"
    if any(c.isspace() for c in link):
        return "contains whitespace (encode spaces as %20)"
    try:
        parts = urlsplit(link)
        host = parts.hostname
    except ValueError as exc:
        return f"cannot be parsed: {exc}"
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        return None if "@" in parts.path else "mailto: link without an address"
    if scheme == "http":
        return "plain http: use https"
    if scheme != "https":
        if not scheme:
            return "relative link: a mail has no base address, make it absolute https"
        return f"{scheme}: link: only https and mailto work in every mail client"
    if not host:
        return "https link without a host name"
    return _host_problem(host)


def _host_problem(host: str) -> str | None:
    host = host.rstrip(".")
    if host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        return f"points at {host}, which readers cannot reach"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # Browsers read 2130706433 or 0x7f.1 as IP addresses too.
        if re.fullmatch(r"[0-9.]+|(0x[0-9a-f]+\.?)+", host):
            return f"points at an IP address ({host}); spam filters distrust those, use a name"
        return None
    return f"points at an IP address ({host}); spam filters distrust those, use a name"
