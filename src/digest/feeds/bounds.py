"""How long a text from a feed may be, wherever it goes: one rule for every kind of field.

A feed decides the length of its titles, names and attributes, so one entry with a 1 MB title
could make every email megabytes long (pushing the unsubscribe link past Gmail's clip), every
run's output a megabyte line, and the store grow without end. Each kind of field has a maximum
length in characters (``LIMITS``); a longer text is cut by ``shorten``: at a word boundary when
one falls in the last half, never inside a grapheme (a base character with its combining marks,
an emoji with its modifiers or joined by ZWJ), and ended with "…".

Applied when a feed is parsed (``bound_outcome``: what is stored), again where the text is used
(the subject, the rendered post, HTML attributes), so posts stored before are bounded as well.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Literal

from digest.models import FetchOutcome, Post

Kind = Literal["title", "author", "feed_title", "subject", "attribute", "message", "url"]
# Characters. A title longer than a few lines is never read whole in an inbox; the subject's
# 150 is what the Subject header always held; a message is one line of run output.
LIMITS: dict[Kind, int] = {
    "title": 300,
    "author": 100,
    "feed_title": 200,
    "subject": 150,
    "attribute": 300,  # alt, title of images and links in summaries
    "message": 500,  # errors and warnings about a feed in the run output and the store
    "url": 4096,  # links are never cut (a cut URL goes elsewhere): longer ones are dropped
}
ELLIPSIS = "…"
_ZWJ = "\u200d"


def bound(text: str, kind: Kind) -> str:
    """``text`` within the limit for its kind (see ``LIMITS``), cut by ``shorten``."""
    return shorten(text, LIMITS[kind])


# Word and address characters: feedparser looks for an email address in every author with a
# regex that is quadratic in the length of such a run (a 1 MB name took hours). No word, URL or
# address of a readable feed comes near this length; base64 data has a "/" every ~64 characters.
MAX_RUN = LIMITS["url"]
_LONG_RUN = re.compile(rb"(?<![A-Za-z0-9_.+\-])[A-Za-z0-9_.+\-]{%d,}" % (MAX_RUN + 1))


def bound_runs(document: bytes) -> bytes:
    """A feed document with every run of over ``MAX_RUN`` word/address characters (ASCII
    letters, digits, ``_.+-``) cut to ``MAX_RUN``; linear time, and markup is left intact."""
    return _LONG_RUN.sub(lambda match: match.group(0)[:MAX_RUN], document)


def bound_url(url: str | None) -> str | None:
    """The URL, or None when it is longer than ``LIMITS["url"]`` (a cut URL would mislead)."""
    return url if url is None or len(url) <= LIMITS["url"] else None


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters: cut at a word boundary in the last half when there is one,
    else at a grapheme boundary, with "…" as the last character. Short text is returned as is."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = _grapheme_start(text, limit - 1)
    space = text.rfind(" ", 0, cut + 1)
    if space > limit // 2:
        cut = space
    return text[:cut].rstrip() + ELLIPSIS


def _grapheme_start(text: str, index: int) -> int:
    """The nearest index at or before ``index`` that begins a grapheme (approximately UAX #29:
    marks, joiners, variation selectors and emoji modifiers stay with what they follow)."""
    while index > 0 and (_extends(text[index]) or text[index - 1] == _ZWJ):
        index -= 1
    return index


def _extends(char: str) -> bool:
    code = ord(char)
    return (unicodedata.category(char) in ("Mn", "Mc", "Me") or char == _ZWJ
            or 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF  # VS, skin tones
            or 0xE0020 <= code <= 0xE007F)  # emoji tag sequences (flags of regions)


def bound_post(post: Post) -> Post:
    """The post with its title, author and URLs within their limits."""
    return dataclasses.replace(
        post, title=bound(post.title, "title"), author=bound(post.author, "author"),
        link=bound_url(post.link), comments_url=bound_url(post.comments_url),
        comments_feed=bound_url(post.comments_feed))


def bound_outcome(outcome: FetchOutcome) -> FetchOutcome:
    """Every text of a fetch outcome within its limit: posts, feed title, error, warnings."""
    return dataclasses.replace(
        outcome,
        posts=tuple(bound_post(post) for post in outcome.posts),
        feed_title=None if outcome.feed_title is None else bound(outcome.feed_title,
                                                                 "feed_title"),
        feed_link=bound_url(outcome.feed_link),
        error=None if outcome.error is None else bound(outcome.error, "message"),
        warnings=tuple(bound(warning, "message") for warning in outcome.warnings))


def bound_attribute(tag: str, attribute: str, value: str) -> str | None:
    """nh3 ``attribute_filter``: text attributes within ``LIMITS["attribute"]``, over-long URLs
    dropped (with its ``src`` gone, an image is removed by the sanitizer)."""
    if attribute in ("href", "src"):
        return bound_url(value)
    return bound(value, "attribute")
