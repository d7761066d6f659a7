"""Which feed entry is which post: the identity rules, pure (data in, decisions out, no I/O).

Like reader's ``Decider``, nothing here reads or writes: the parser asks ``entry_keys`` how to key
the entries of one document, and the store asks ``match`` which stored post each entry of a
fetch is, then records the answer. The rules (the README has them as a table):

1. A post is recognised by its guid, else by its normalised link (``link_key``), within its
   feed. A guid that is itself a URL is compared as a link.
2. One link normalisation for the whole program: http and https, host case, a leading ``www.``,
   default ports, a trailing slash, empty path segments (``//``), tracking parameters
   (``utm_*``, ``fbclid``, Medium's ``source=rss...``...) and fragments that do not name a
   part of the page (``#top``, ``#more-12``, ``#xtor=RSS-1``) are set aside; fragments such as
   ``#comment-5`` or ``#!/post/3`` are kept.
3. A guid several different entries of one document share is no identity: those entries are
   keyed by their link (then by title, date and text). A link several different entries share
   (feeds that point every entry at the front page) is no identity either.
4. A fetch meets the stored posts of its feed in three passes, each post matched at most once:
   the same key or guid; else the same link; else the same title and the same date. So a feed
   that rewrites its guids (WordPress ``?p=102`` becoming the permalink), moves to https or to
   ``www.``, or changes its permalink structure keeps its posts.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from digest.models import Post

# Query parameters that say where a click came from, never which page it is.
_TRACKING = re.compile(
    r"^(?:utm_\w+|fbclid|gclid|dclid|msclkid|yclid|mc_cid|mc_eid|_hsenc|_hsmi|mkt_tok|igshid"
    r"|__s|vero_id|oly_enc_id|oly_anon_id|wt_mc|xtor|at_medium|at_campaign|rss|feed_id)$",
    re.IGNORECASE,
)
# Values of an otherwise meaningful parameter that only tag a feed click (Medium: source=rss-...).
_TRACKING_VALUES = {"source": re.compile(r"^rss", re.IGNORECASE),
                    "ref": re.compile(r"^(?:rss|feed|feedly)", re.IGNORECASE)}
# Fragments that point at a place every page has, or carry tracking: not a part of the post.
_NAVIGATION_FRAGMENT = re.compile(
    r"^(?:|top|more|more-\d+|content|main|main-content|site-content|respond|comments|"
    r"disqus_thread|page|article|post|entry|(?:utm_|xtor=|at_medium=|ref=).*)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Percent-escapes of unreserved characters (RFC 3986 §2.3) mean the same as the characters.
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"


def link_key(url: str) -> str:
    """What identifies the page behind a link, however a feed spelled it.

    Returns an ``https://host/path?query#fragment`` string in a canonical spelling (see the
    module's rule 2); the result is for comparing and keying, never for linking to. A URL that
    cannot be parsed is returned stripped, unchanged otherwise.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return text
    host = (parts.hostname or "").lower().rstrip(".")
    host = host.removeprefix("www.")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # Empty segments ("//article/1", a generator joining a base that ends in "/") name the
    # same page on every server a blog runs on.
    path = re.sub(r"/{2,}", "/", quote(unquote(parts.path), safe=_SAFE_PATH)).rstrip("/")
    query = urlencode([(name, value)
                       for name, value in parse_qsl(parts.query, keep_blank_values=True)
                       if not _is_tracking(name, value)])
    fragment = "" if _NAVIGATION_FRAGMENT.match(parts.fragment) else parts.fragment
    return urlunsplit(("https", netloc, path, query, fragment))


def _is_tracking(name: str, value: str) -> bool:
    if _TRACKING.match(name):
        return True
    pattern = _TRACKING_VALUES.get(name.lower())
    return bool(pattern and pattern.match(value))


def guid_key(guid: str) -> str:
    """A guid as compared: a URL guid as its ``link_key``, any other guid as written."""
    text = guid.strip()
    return link_key(text) if re.match(r"(?i)^https?://", text) else text


@dataclass(frozen=True)
class Entry:
    """What a feed document says about one entry, as the identity rules need it."""

    guid: str  # "" when the entry has none
    link: str | None  # absolute http(s) URL
    title: str
    published: datetime | None
    text: str = ""  # the summary, only to tell apart entries with nothing else


def entry_keys(entries: Sequence[Entry]) -> list[str]:
    """The key of each entry of one document (rules 1 and 3), in the same order.

    Keys are ``id:GUID``, ``link:LINK_KEY`` or ``sha256:HEX``; each kind has its own prefix, so a
    guid can never equal a link or hash of another post. Entries that are the same entry listed
    twice get the same key (the caller keeps the first).
    """
    guids = _shared([guid_key(e.guid) if e.guid.strip() else None for e in entries], entries)
    links = _shared([link_key(e.link) if e.link else None for e in entries], entries)
    keys = []
    for entry in entries:
        guid = entry.guid.strip()
        if guid and guid_key(guid) not in guids:
            keys.append("id:" + guid)
        elif entry.link and link_key(entry.link) not in links:
            keys.append("link:" + link_key(entry.link))
        else:
            keys.append("sha256:" + _content_hash(entry))
    return keys


def _shared(values: Sequence[str | None], entries: Sequence[Entry]) -> set[str]:
    """Values (guids or links) that several different entries carry."""
    seen: dict[str, set[tuple[str, str, str]]] = {}
    for value, entry in zip(values, entries, strict=True):
        if value is not None:
            seen.setdefault(value, set()).add(_fingerprint(entry))
    return {value for value, prints in seen.items() if len(prints) > 1}


def _fingerprint(entry: Entry) -> tuple[str, str, str]:
    return (link_key(entry.link) if entry.link else "", _title_key(entry.title),
            entry.published.isoformat() if entry.published else "")


def _content_hash(entry: Entry) -> str:
    basis = entry.title + "\n" + (entry.published.isoformat() if entry.published else "")
    if entry.link:
        basis += "\n" + link_key(entry.link)
    if not entry.title and not entry.published:
        basis += "\n" + entry.text  # nothing else tells such entries apart
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()


def _title_key(title: str) -> str:
    return " ".join(title.casefold().split())


@dataclass(frozen=True)
class Known:
    """A post the store already has from this feed.

    ``link_key`` and ``guid_key`` are ``link_key(link)`` and ``guid_key(guid)``, computed here
    when not given: the store keeps them per row, since normalising thousands of stored links
    on every fetch costs far more than the matching itself.
    """

    key: str
    guid: str | None  # the guid it is recognised by; None when its guid is no identity
    link: str | None
    title: str
    published: datetime | None
    link_key: str | None = None
    guid_key: str | None = None

    def __post_init__(self) -> None:
        if self.link_key is None and self.link:
            object.__setattr__(self, "link_key", link_key(self.link))
        if self.guid_key is None and self.guid:
            object.__setattr__(self, "guid_key", guid_key(self.guid))


@dataclass(frozen=True)
class Incoming:
    """A post of this fetch: its key from ``entry_keys`` and the guid behind it."""

    key: str
    guid: str | None  # None unless the key is the guid (rule 3)
    link: str | None
    title: str
    published: datetime | None


def match(incoming: Sequence[Incoming], known: Sequence[Known]) -> list[str]:
    """The key each incoming post is recorded under: a stored post's, or its own (rule 4).

    Each stored post is matched at most once, so two entries never become one post. A link
    shared by several stored posts, or by several incoming ones, matches nothing.
    """
    result: list[str | None] = [None] * len(incoming)
    taken: set[str] = set()
    by_key = {k.key: k for k in known}
    by_guid = _index(known, lambda k: k.guid_key)
    by_link = _index(known, lambda k: k.link_key)
    by_title = _index(known, lambda k: _title_date(k.title, k.published))
    incoming_links = Counter(link_key(p.link) for p in incoming if p.link)
    passes: tuple[Callable[[Incoming], list[Known]], ...] = (
        lambda p: [by_key[p.key]] if p.key in by_key else by_guid.get(
            guid_key(p.guid) if p.guid else "", []),
        lambda p: by_link.get(link_key(p.link), []) if p.link and incoming_links[
            link_key(p.link)] == 1 else [],
        lambda p: by_title.get(_title_date(p.title, p.published) or "", []),
    )
    for candidates_of in passes:
        for index, post in enumerate(incoming):
            if result[index] is not None:
                continue
            candidates = candidates_of(post)
            # Two stored posts with one link or title: it tells neither apart.
            if len(candidates) == 1 and candidates[0].key not in taken:
                result[index] = candidates[0].key
                taken.add(candidates[0].key)
    own = [post.key for post in incoming]
    return [key if key is not None else own[i] for i, key in enumerate(result)]


def _index(known: Sequence[Known],
           value_of: Callable[[Known], str | None]) -> dict[str, list[Known]]:
    index: dict[str, list[Known]] = {}
    for post in known:
        value = value_of(post)
        if value:
            index.setdefault(value, []).append(post)
    return index


def _title_date(title: str, published: datetime | None) -> str | None:
    """Title and date together, when both are there: a post's identity of last resort."""
    text = _title_key(title)
    return f"{text}\n{published.isoformat()}" if text and published is not None else None




def place(published: Sequence[datetime | None]) -> tuple[list[datetime | None], list[int]]:
    """Where each entry of one document stands, in the order the feed lists them.

    Returns (date, rank) per entry. An undated entry takes the date of its newer neighbour in
    the feed (the one listed before it, or after it in a feed listed oldest first), else of its
    older neighbour, else None; so it is never placed ahead of newer dated posts. The rank counts
    from the newest end of the feed (0 = newest): entries with equal dates keep feed order.
    """
    dated = [moment for moment in published if moment is not None]
    rising = sum(a < b for a, b in zip(dated, dated[1:], strict=False))
    falling = sum(a > b for a, b in zip(dated, dated[1:], strict=False))
    oldest_first = rising > falling
    order = list(range(len(published)))
    if oldest_first:
        order.reverse()  # walk from the newest end
    placed: list[datetime | None] = list(published)
    newer: datetime | None = None
    for index in order:  # newer neighbours first
        if placed[index] is None:
            placed[index] = newer
        newer = placed[index] if placed[index] is not None else newer
    older: datetime | None = None
    for index in reversed(order):  # what is still undated has only older neighbours
        if published[index] is not None:
            older = published[index]
        elif placed[index] is None:
            placed[index] = older
    ranks = [0] * len(published)
    for rank, index in enumerate(order):
        ranks[index] = rank
    return placed, ranks


def settle(posts: Sequence[Post], known: Sequence[Known]) -> tuple[
        list[Post], list[datetime | None], list[int]]:
    """One fetch's posts (in feed order) as the store records them: each under the key ``match``
    gives it, a post listed twice kept once (its first entry), with ``place``'s date and rank."""
    incoming = [Incoming(p.key, p.guid, p.link, p.title, p.published) for p in posts]
    keyed = [replace(post, key=key) if key != post.key else post
             for post, key in zip(posts, match(incoming, known), strict=True)]
    first: dict[str, Post] = {}
    for post in keyed:
        first.setdefault(post.key, post)
    kept = list(first.values())
    placed, ranks = place([post.published for post in kept])
    return kept, placed, ranks
