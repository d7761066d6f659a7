"""The archive readers see: every sent issue, newest first, the latest one, and an Atom feed of
them (RFC 4287) that a feed reader can follow. Read-only."""

from __future__ import annotations

import re
from datetime import datetime

from feedgen.feed import FeedGenerator

from digest.settings import Settings
from digest.store import Store
from digest.store.archive import PublishedIssue

FEED_ENTRIES = 20  # the newest issues in the feed; the archive page lists them all
# Characters XML 1.0 cannot carry at all (lxml refuses them): C0 controls but tab and newlines,
# surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def archive(settings: Settings, limit: int | None = None) -> list[PublishedIssue]:
    """Every sent (or sending) issue, newest first; at most ``limit``."""
    with Store.open(settings.store) as store:
        return store.published_issues(limit)


def latest(settings: Settings) -> PublishedIssue | None:
    """The newest sent issue; None before the first one."""
    newest = archive(settings, 1)
    return newest[0] if newest else None


def atom_feed(settings: Settings, issues: list[PublishedIssue], base_url: str,
              now: datetime) -> bytes:
    """An Atom feed (UTF-8 XML) of ``issues`` (newest first; the first FEED_ENTRIES are
    used). Each entry's id and link are the issue's web version under ``base_url``; the feed's
    ``updated`` is the newest issue's date, else ``now`` (timezone-aware)."""
    base = base_url.rstrip("/")
    digest = settings.digest
    shown = issues[:FEED_ENTRIES]
    feed = FeedGenerator()
    feed.id(f"{base}/issues")
    feed.title(_xml(digest.title))
    feed.author({"name": _xml(digest.title)})
    feed.link(href=f"{base}/issues.atom", rel="self", type="application/atom+xml")
    feed.link(href=f"{base}/issues", rel="alternate", type="text/html")
    feed.updated(shown[0].published_at if shown else now)
    if digest.language:
        feed.language(digest.language)
    for issue in shown:
        url = f"{base}/issues/{issue.id}"
        entry = feed.add_entry(order="append")
        entry.id(url)
        entry.title(_xml(issue.subject))
        entry.link(href=url, rel="alternate", type="text/html")
        entry.published(issue.published_at)
        entry.updated(issue.published_at)
        posts = f"{issue.post_count} post{'' if issue.post_count == 1 else 's'}"
        entry.summary(_xml(f"{posts}: {issue.preheader}" if issue.preheader else posts))
    xml: bytes = feed.atom_str(pretty=True)
    return xml


def _xml(text: str) -> str:
    return _NOT_XML.sub("", text)
