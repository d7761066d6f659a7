"""Feed discovery: the feed a web page advertises, as RSS/Atom autodiscovery describes it.

A page names its feeds with ``<link rel="alternate" type="application/rss+xml" href="...">``
(or ``application/atom+xml``) in its head. Pure: page bytes in, an absolute URL out.
"""

from __future__ import annotations

from urllib.parse import urljoin

import lxml.html
from lxml import etree

from digest.feeds.sanitize import safe_url

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")
# JSON Feed is not read by digest; listed only so it is never chosen.
_READABLE = FEED_TYPES[:2]


def advertised_feed(page: bytes, page_url: str) -> str | None:
    """The first RSS or Atom feed the page advertises, made absolute; None when it names none.

    Comment feeds (WordPress names them "... Comments Feed") are passed over while another
    feed is named, since they carry comments rather than posts.
    """
    try:
        root = lxml.html.fromstring(page)
    except (etree.ParserError, ValueError):
        return None
    found: list[tuple[bool, str]] = []
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = link.get("href")
        if "alternate" not in rel or kind not in _READABLE or not href:
            continue
        url = safe_url(urljoin(page_url, href.strip()))
        if url and not url.lower().startswith("mailto:"):
            found.append(("comment" in (link.get("title") or "").lower(), url))
    found.sort(key=lambda pair: pair[0])  # stable: posts feeds first, in page order
    return found[0][1] if found else None
