"""Feed bytes -> FetchOutcome with normalised, sanitised posts. Pure: no I/O, no clock."""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import html
import io
import re
import unicodedata
import xml.sax
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.html
from lxml.etree import ParserError

from digest.feeds import excerpt, identity
from digest.feeds.images import featured_image
from digest.feeds.sanitize import clean_html, safe_url
from digest.models import Feed, FetchOutcome, Post, Validators

# Encodings a server or XML declaration names by habit even when the bytes are UTF-8.
_SINGLE_BYTE = frozenset(
    {"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "iso-8859-15", "iso8859-15",
     "windows-1252", "cp1252", "us-ascii", "ascii"}
)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._-]+)""", re.IGNORECASE)


def parse_feed(feed: Feed, body: bytes, headers: Mapping[str, str]) -> FetchOutcome:
    """Parse a feed document into posts; a document that is not a usable feed is an error."""
    lowered = {name.lower(): value for name, value in headers.items()}
    validators = Validators(etag=lowered.get("etag"), last_modified=lowered.get("last-modified"))
    parsed = _feedparse(body, lowered)
    problem = _problem(parsed, body, lowered)
    if problem:
        return FetchOutcome(feed=feed, status="error", error=problem, validators=validators)
    meta = parsed.get("feed", {})
    own_url = feed.url if feed.url.startswith(("http://", "https://")) else ""
    feed_link = _web_url(urljoin(own_url, meta["link"])) if meta.get("link") else None
    context = _Context(
        feed=feed,
        base=feed_link or own_url,
        default_author=_author_of(meta) or feed.name,
        thread_prefix=_prefix(parsed.get("namespaces", {}), THREAD_NS),
        feedburner_prefix=_prefix(parsed.get("namespaces", {}), FEEDBURNER_NS),
        markup_titles=not str(parsed.get("version", "")).startswith("atom"),
    )
    items = parsed.get("entries", [])
    drafts = [_to_post(item, context) for item in items]
    drafts = [dataclasses.replace(post, image=featured_image(item, context.base))
              for item, post in zip(items, drafts, strict=True)]
    keys = identity.entry_keys([identity.Entry(
        (item.get("id") or "").strip(), post.link, post.title, post.published, post.summary_html)
        for item, post in zip(items, drafts, strict=True)])
    posts: dict[str, Post] = {}
    for post, key in zip(drafts, keys, strict=True):
        guid = key.removeprefix("id:") if key.startswith("id:") else None
        # a feed repeating an entry keeps its first copy
        posts.setdefault(key, dataclasses.replace(post, key=key, guid=guid))
    return FetchOutcome(
        feed=feed, status="ok", posts=tuple(posts.values()), validators=validators,
        feed_title=_plain_text(meta.get("title_detail") or meta.get("title"),
                               context.markup_titles) or None,
        feed_link=feed_link,
        warnings=_recovered(parsed),
    )


def _recovered(parsed: Any) -> tuple[str, ...]:
    """A document feedparser read only by recovering from broken XML: worth a warning, since
    entries after the break may be missing and the next break may lose them all."""
    exc = parsed.get("bozo_exception")
    if not isinstance(exc, xml.sax.SAXParseException):
        return ()
    return (f"{_malformed(exc)}; read anyway, some entries may be missing or wrong",)


def count_entries(body: bytes, headers: Mapping[str, str]) -> int | None:
    """How many comments a comments feed holds, or None when it is not a usable feed."""
    lowered = {name.lower(): value for name, value in headers.items()}
    parsed = _feedparse(body, lowered)
    if _problem(parsed, body, lowered):
        return None
    # Comment feeds are often paged; OpenSearch's total (Blogger) counts every comment.
    total = _parse_count(parsed.get("feed", {}).get("opensearch_totalresults"))
    return total if total is not None else len(parsed.get("entries", []))


def _feedparse(body: bytes, headers: dict[str, str]) -> Any:
    # A file object, never bytes or str: given those, feedparser first tries them as a URL
    # or a local file name, so a hostile body could make it read files from this machine.
    return feedparser.parse(
        io.BytesIO(body), response_headers=_fix_declared_encoding(body, headers),
        sanitize_html=False,  # nh3 does this, stricter and faster
        # With no base URL given, only xml:base gives feedparser anything to resolve against;
        # relative links are otherwise resolved here, against the feed's link.
        resolve_relative_uris=b"xml:base" in body,
    )


def _fix_declared_encoding(body: bytes, headers: dict[str, str]) -> dict[str, str]:
    """Trust the bytes over a Latin-1 label when they are valid UTF-8.

    Non-ASCII Latin-1 text is almost never valid UTF-8, while UTF-8 labelled Latin-1 is a
    common server mistake that would turn every accented title into mojibake.
    """
    content_type = headers.get("content-type", "")
    match = _CHARSET.search(content_type)
    declared_match = _XML_ENCODING.match(body[:512])
    declared = match.group(1) if match else (
        declared_match.group(1).decode("ascii") if declared_match else None)
    if declared is None or declared.lower() not in _SINGLE_BYTE or body.isascii():
        return headers
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return headers
    media_type = content_type.split(";")[0].strip() or "application/xml"
    return {**headers, "content-type": f"{media_type}; charset=utf-8"}


def _problem(parsed: Any, body: bytes, headers: Mapping[str, str]) -> str | None:
    """Why a parse result is not a usable feed, in words; None when it is one."""
    if parsed.get("entries"):
        return None  # usable entries are kept even from a slightly broken document
    exc = parsed.get("bozo_exception")
    malformed = isinstance(exc, xml.sax.SAXParseException)
    if parsed.get("version"):
        return _malformed(exc) if malformed else None
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if "html" in headers.get("content-type", "").lower() or head.startswith(
            (b"<!doctype html", b"<html")):
        return "not a feed: got an HTML page"
    if not head:
        return "not a feed: the document is empty"
    if head.startswith((b"{", b"[")):
        return "not a feed: got JSON, not RSS or Atom"
    if malformed:
        return _malformed(exc)
    return "not a feed: no RSS or Atom document found"


def _malformed(exc: xml.sax.SAXParseException) -> str:
    return f"malformed XML at line {exc.getLineNumber()}: {exc.getMessage()}"


def _summary_html(item: Any, base: str, title: str) -> str:
    """The summary from the richest source (see ``excerpt``), cleaned, without the endings,
    captions and title heading that are not the post's words; any enclosure named first."""
    detail = item.get("summary_detail")
    contents = item.get("content") or []
    summary = _as_html(detail) if detail else ""
    content = _as_html(contents[0]) if contents else ""
    if not detail and not contents:  # feedparser may give a bare summary and no detail
        summary = _as_html({"value": item.get("summary"), "type": "text/html"})
    summary, content = excerpt.own_words(summary, title), excerpt.own_words(content, title)
    chosen = excerpt.spaced(excerpt.richest(summary, content))
    cleaned = excerpt.drop_endings(clean_html(_absolute_links(chosen, base) if base else chosen))
    return _enclosure_html(item, base) + cleaned


def _as_html(detail: Any) -> str:
    value: str = detail.get("value") or ""
    if not value:
        return ""
    if "html" not in (detail.get("type") or "text/html"):
        return "<p>" + html.escape(value, quote=False) + "</p>"
    return excerpt.unescape_markup(value)


def _enclosure_html(item: Any, base: str) -> str:
    for enclosure in item.get("enclosures") or []:
        url = _web_url(urljoin(base, enclosure.get("href") or ""))
        if url and not excerpt.is_picture(url, enclosure.get("type")):
            label = excerpt.enclosure_label(url, enclosure.get("type"), enclosure.get("length"))
            return clean_html(f'<p><a href="{html.escape(url)}">{html.escape(label)}</a></p>')
    return ""


# An href/src whose value does not start with a scheme (the quote is excluded from the
# lookahead, or backtracking over the optional quote would match every attribute).
_RELATIVE_URL = re.compile(r"""(?:href|src)\s*=\s*["']?(?!["'\s]|[a-z][a-z0-9+.-]*:)""", re.I)


def _absolute_links(fragment: str, base: str) -> str:
    """Resolve relative href/src against the feed's link, so they still work in an email."""
    if not _RELATIVE_URL.search(fragment):
        return fragment
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
        root.make_links_absolute(base, resolve_base_href=False, handle_failures="discard")
    except (ParserError, ValueError):
        return fragment  # left relative; clean_html then drops those links
    return str(lxml.html.tostring(root, encoding="unicode"))


THREAD_NS = "http://purl.org/syndication/thread/1.0"
FEEDBURNER_NS = "http://rssnamespace.org/feedburner/ext/1.0"
_FEED_TYPES = ("application/atom+xml", "application/rss+xml", "application/xml", "text/xml")


@dataclass(frozen=True)
class _Context:
    feed: Feed
    base: str  # absolute URL relative links resolve against ("" when there is none)
    default_author: str
    thread_prefix: str | None  # the feed's own prefix for RFC 4685 (thr, t, ...)
    feedburner_prefix: str | None  # the feed's prefix for FeedBurner's namespace
    markup_titles: bool  # RSS titles are HTML by habit; Atom says so with type="html"


def _to_post(item: Any, ctx: _Context) -> Post:
    title = _plain_text(item.get("title_detail") or item.get("title"), ctx.markup_titles)
    # FeedBurner links each entry through its own redirector (feedproxy.google.com, switched
    # off since) and names the post's own address in <feedburner:origLink>.
    original = item.get(f"{ctx.feedburner_prefix}_origlink") if ctx.feedburner_prefix else None
    link = _first_web_url(ctx.base, original, item.get("link"), *_reachable(item))
    published = _published(item)
    replies = [r for r in item.get("links", []) if r.get("rel") == "replies" and r.get("href")]
    feed_replies = [r for r in replies if r.get("type", _FEED_TYPES[0]) in _FEED_TYPES]
    page_replies = [r for r in replies if "html" in r.get("type", "")]
    comments_url = _first_web_url(ctx.base, item.get("comments"), *_hrefs(page_replies))
    comments_feed = _first_web_url(ctx.base, item.get("wfw_commentrss"), *_hrefs(feed_replies))
    return Post(
        key="",  # given by the identity rules, which look at every entry of the document
        feed_url=ctx.feed.url,
        title=title,
        link=link,
        author=_author_of(item) or ctx.default_author,
        published=published,
        summary_html=_summary_html(item, ctx.base, title),
        comment_count=_comment_count(item, ctx.thread_prefix, feed_replies + page_replies),
        comments_url=comments_url,
        comments_feed=comments_feed,
    )


def _published(item: Any) -> datetime | None:
    for name in ("published", "updated"):
        # dict.get: feedparser's own get maps updated to published with a DeprecationWarning.
        parsed = dict.get(item, name + "_parsed")
        if parsed:
            try:
                year, month, day, hour, minute, second = parsed[:6]
                return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
            except (ValueError, OverflowError):
                pass
        raw = dict.get(item, name)
        if raw:
            fallback = _parse_date(raw)
            if fallback:
                return fallback
    return None


def _parse_date(raw: str) -> datetime | None:
    """Dates feedparser gives up on, mostly RFC 822 dates without a zone."""
    value: datetime | None = None
    try:
        value = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(raw.strip())
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # a date without a zone is taken as UTC
    return value.astimezone(UTC)


def _comment_count(item: Any, prefix: str | None, replies: list[Any]) -> int | None:
    candidates = [item.get("slash_comments")]
    if prefix:
        candidates.append(item.get(f"{prefix}_total"))
    for link in replies:
        candidates += [link.get(f"{prefix}:count") if prefix else None, link.get("thr:count"),
                       link.get("count")]
    for raw in candidates:
        count = _parse_count(raw)
        if count is not None:
            return count
    return None  # unknown, which is not the same as zero


def _parse_count(raw: object) -> int | None:
    if isinstance(raw, str) and re.fullmatch(r"\s*\d{1,9}\s*", raw, re.ASCII):
        return int(raw)
    return None


def _prefix(namespaces: Mapping[str, str], namespace: str) -> str | None:
    """The prefix this feed declares for a namespace; feedparser keys elements by it."""
    for prefix, uri in namespaces.items():
        if uri.rstrip("/") == namespace.rstrip("/") and prefix:
            return prefix
    return None


def _author_of(node: Any) -> str:
    detail = node.get("author_detail") or {}
    return _plain_text(detail.get("name") or node.get("author") or "", markup=True)


def _plain_text(value: Any, markup: bool = False) -> str:
    """Text of a feedparser value (a str or a detail dict), as one line without markup."""
    if isinstance(value, Mapping):
        text, kind = value.get("value") or "", value.get("type") or "text/plain"
    else:
        text, kind = (value or ""), "text/plain"
    if markup or "html" in kind:
        text = excerpt.title_text(text)  # a title is text: only paired inline markup goes
    return " ".join("".join(" " if unicodedata.category(c)[0] == "C" and c not in "\u200c\u200d"
                            else c for c in text).split())




def _reachable(item: Any) -> list[str]:
    """Where an entry without a link can still be reached: its enclosure (a recording or a
    document), else an http(s) id, else its picture."""
    enclosures = [(str(e.get("href") or ""), e.get("type")) for e in item.get("enclosures") or []]
    media = [href for href, kind in enclosures if not excerpt.is_picture(href, kind)]
    pictures = [href for href, kind in enclosures if excerpt.is_picture(href, kind)]
    guid = str(item.get("id") or "").strip()
    return [*media, *([guid] if re.match(r"(?i)^https?://", guid) else []), *pictures]


def _hrefs(links: list[Any]) -> list[str]:
    return [str(link["href"]) for link in links]


def _first_web_url(base: str, *candidates: str | None) -> str | None:
    for candidate in candidates:
        if candidate:
            url = _web_url(urljoin(base, candidate))
            if url:
                return url
    return None


def _web_url(url: str | None) -> str | None:
    """An absolute http(s) URL, else None (mailto is fine in text, not as a post's link)."""
    safe = safe_url(url)
    return safe if safe and not safe.lower().startswith("mailto:") else None
