"""A post's featured picture: one image per entry, picked from what its feed names.

The order of preference (the first kind that names a usable image wins):

1. ``media:thumbnail`` and ``media:content`` of an image type (Media RSS), the widest the feed
   sizes (a feed often offers a 150 px thumbnail beside the full picture);
2. an ``<enclosure>`` (RSS) or ``link rel="enclosure"`` (Atom) that is a picture (an ``image/*``
   type, else a picture's file name: ``excerpt.is_picture``);
3. ``itunes:image`` (podcast feeds: the episode's artwork);
4. the first ``<img>`` of the entry's content or summary that is not a tracking pixel.

Only http(s) addresses are kept, resolved against the feed's link; an ``https://`` image is taken
over any ``http://`` one, and plain http only when the feed gives nothing else (mail clients load
what they are given; Gmail proxies every image either way). Sizes and alt text are kept as the
feed gives them; the template scales the picture to the column. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import lxml.html
from lxml.etree import ParserError

from digest.feeds import excerpt
from digest.feeds.sanitize import is_tracking_pixel, safe_url
from digest.models import FeaturedImage

_IMAGE_EXTENSION = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:[?#]|$)", re.IGNORECASE)
_PIXELS = re.compile(r"\s*(\d{1,5})\s*(?:px)?\s*$")
_ALT_LIMIT = 300  # characters; an alt is a description, not an article


def featured_image(entry: Any, base: str) -> FeaturedImage | None:
    """The entry's featured image by the module's order of preference, https first; or None.

    ``entry`` is one feedparser entry (a dict); ``base`` the absolute URL relative addresses
    resolve against ("" when there is none: relative addresses are then dropped).
    """
    fallback: FeaturedImage | None = None
    for candidate in _candidates(entry, base):
        if candidate.url.lower().startswith("https://"):
            return candidate
        fallback = fallback or candidate
    return fallback


def _candidates(entry: Any, base: str) -> Iterator[FeaturedImage]:
    for found in (_media(entry), _enclosures(entry), _itunes(entry), _content_images(entry)):
        for url, alt, width, height in found:
            absolute = safe_url(urljoin(base, url.strip())) if url else None
            if absolute and absolute.lower().startswith(("http://", "https://")):
                yield FeaturedImage(url=absolute, alt=_clean_alt(alt), width=width, height=height)


_Found = list[tuple[str, str, int | None, int | None]]


def _media(entry: Any) -> _Found:
    """Media RSS thumbnails and image contents, the widest known size first."""
    found: _Found = []
    for item in entry.get("media_thumbnail") or []:
        found.append((str(item.get("url") or ""), "", _pixels(item.get("width")),
                      _pixels(item.get("height"))))
    for item in entry.get("media_content") or []:
        medium, kind = str(item.get("medium") or ""), str(item.get("type") or "")
        url = str(item.get("url") or "")
        if medium == "image" or kind.startswith("image/") or (
                not medium and not kind and _IMAGE_EXTENSION.search(url)):
            found.append((url, "", _pixels(item.get("width")), _pixels(item.get("height"))))
    return sorted(found, key=lambda item: -(item[2] or 0))  # stable: feed order among equals


def _enclosures(entry: Any) -> _Found:
    links = [link for link in entry.get("links") or [] if link.get("rel") == "enclosure"]
    return [(str(link.get("href") or ""), "", None, None) for link in links
            if excerpt.is_picture(str(link.get("href") or ""), link.get("type"))]


def _itunes(entry: Any) -> _Found:
    image = entry.get("image")
    href = image.get("href") if isinstance(image, dict) else None
    return [(str(href), "", None, None)] if href else []


def _content_images(entry: Any) -> _Found:
    """The first <img> of the content (else the summary) that is a picture, not a counter."""
    sources = [item.get("value") for item in entry.get("content") or []]
    sources.append(entry.get("summary"))
    for source in sources:
        if not source or "<img" not in source.lower():
            continue
        try:
            root = lxml.html.fragment_fromstring(source, create_parent="div")
        except (ParserError, ValueError):
            continue
        for img in root.iter("img"):
            src = (img.get("src") or "").strip()
            if src and not src.lower().startswith("data:") and not is_tracking_pixel(img, src):
                return [(src, img.get("alt") or "", _pixels(img.get("width")),
                         _pixels(img.get("height")))]
    return []


def _pixels(value: object) -> int | None:
    match = _PIXELS.match(str(value)) if value is not None else None
    number = int(match.group(1)) if match else 0
    return number if number > 1 else None


def _clean_alt(alt: str) -> str:
    text = " ".join(alt.split())
    return text if len(text) <= _ALT_LIMIT else text[: _ALT_LIMIT - 1].rstrip() + "…"
