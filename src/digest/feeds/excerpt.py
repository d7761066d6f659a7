"""What a post's summary and title say, taken from the richest source a feed offers. Pure.

- Titles are text (RSS 2.0 says a title is "the title of the item", and feeds put `<head>` or
  `<script>` in them as words): only tags that open and close (``<b>..</b>``) are markup; a
  lone ``<word>`` is kept as written.
- The summary is the feed's own summary unless that is only a heading (jekyll-feed's excerpt of a
  post that starts with one), a few words where the content has more, or an automatic excerpt
  (WordPress's ``[…]``) beside the full content: then it is the content.
- Excerpt endings (``[…]``, ``[...]``, "Continue reading →", "The post … appeared first on …")
  are dropped: the digest has its own "view more" link.
- Markup escaped twice (WordPress comment feeds: ``In reply to &lt;a href=…&gt;``) is markup.
- Block elements and images stand between words: a space keeps the words apart when they go.
- Words that are not the post's own go: figure captions (photo credits such as Medium's "Photo
  by … on Unsplash", WordPress's ``wp-caption-text``) and a leading heading that repeats the
  title (Medium and many static sites open the content with it; some feeds' whole description
  is that heading).
- An enclosure is named, so an episode can be reached: "Listen: MP3, 42 MB". A picture given as
  an enclosure (Substack's cover image) is the post's illustration, not something to download:
  it is not named.
"""

from __future__ import annotations

import html
import re
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import lxml.html
from lxml import etree

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)\b[^<>]*?(/?)>")
_BREAK = re.compile(r"(?i)<(?:br|wbr)\s*/?>")


def title_text(markup: str) -> str:
    """Text of a title given as HTML: a tag that opens and closes is markup (a script's or
    style's content goes with it), a lone ``<word>`` is a word and stays."""
    opened = {m.group(2).lower() for m in _TAG.finditer(markup) if not m.group(1)}
    closed = {m.group(2).lower() for m in _TAG.finditer(markup) if m.group(1)}
    paired = opened & closed
    for name in paired & {"script", "style"}:
        markup = re.sub(rf"(?is)<{name}\b[^>]*>.*?</{name}\s*>", "", markup)

    def strip(match: re.Match[str]) -> str:
        return "" if match.group(2).lower() in paired else match.group(0)

    return html.unescape(_TAG.sub(strip, _BREAK.sub(" ", markup)))


_ESCAPED_TAG = re.compile(r"&lt;/?(?:a|p|br|em|strong|b|i|blockquote|code|q|ul|ol|li)\b", re.I)
_REAL_TAG = re.compile(r"<[A-Za-z/]")


def unescape_markup(value: str) -> str:
    """HTML that was escaped once too often (only escaped tags, no real ones) as HTML."""
    if _REAL_TAG.search(value) or not _ESCAPED_TAG.search(value):
        return value
    return html.unescape(value)


_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_FEW_WORDS = 12
_ENDING = re.compile(
    r"\s*(?:\[\s*(?:\.\.\.|…|&hellip;|&#8230;|&#x2026;)\s*\]|&hellip;|&#8230;)\s*$", re.I)
_MORE_LINK = re.compile(
    r"^\s*(?:continue reading|read more|read the rest|keep reading|read on|more)\b", re.I)
_APPEARED_FIRST = re.compile(r"^\s*The post .+ appeared first on .+$", re.S)


def richest(summary: str, content: str) -> str:
    """Of two cleaned HTML fragments, the one a reader learns most from (see the module)."""
    if not content:
        return summary
    if not summary:
        return content
    summary_words, content_words = _words(summary), _words(content)
    if content_words <= summary_words:
        return summary
    if _only_headings(summary) or summary_words < _FEW_WORDS or _ENDING.search(_text(summary)):
        return content
    return summary


def own_words(fragment: str, title: str) -> str:
    """The fragment without figure captions and without a leading heading that repeats
    ``title``; "" when nothing else is left."""
    root = _parse(fragment)
    if root is None:
        return fragment
    captions = [element for element in root.iter()
                if element.tag == "figcaption" or "wp-caption-text" in (element.get("class") or "")]
    for element in captions:
        element.drop_tree()
    first = next((child for child in root if isinstance(child.tag, str)), None)
    repeats = (first is not None and first.tag in _HEADINGS and not (root.text or "").strip()
               and _same_words(first.text_content(), title))
    if repeats and first is not None:
        first.drop_tree()
    if not captions and not repeats:
        return fragment
    return _serialise(root) if root.text_content().strip() else ""


def _same_words(text: str, title: str) -> bool:
    return bool(title.strip()) and " ".join(text.casefold().split()) == " ".join(
        title.casefold().split())


def is_picture(url: str, media_type: str | None) -> bool:
    """An enclosure that is an image (by its type, else by its file name)."""
    if media_type:
        return media_type.lower().startswith("image/")
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    return suffix in (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif")


def drop_endings(fragment: str) -> str:
    """The fragment without the excerpt endings blogs append (see the module)."""
    root = _parse(fragment)
    if root is None:
        return fragment
    changed = _drop_trailing_blocks(root)
    last = _last_text_slot(root)
    if last is not None:
        element, attr = last
        text = getattr(element, attr)
        trimmed = _ENDING.sub("", text)
        if trimmed != text:
            setattr(element, attr, trimmed)
            changed = True
    return _serialise(root) if changed else fragment


def _drop_trailing_blocks(root: lxml.html.HtmlElement) -> bool:
    changed = False
    while len(root):
        last = root[-1]
        text = last.text_content()
        links = last.findall(".//a") if last.tag != "a" else [last]
        if last.tag in ("p", "a") and _APPEARED_FIRST.match(text):
            last.drop_tree()
        elif links and _MORE_LINK.match(links[-1].text_content()):
            links[-1].drop_tree()
            if last is not links[-1] and not last.text_content().strip() and not len(last):
                last.drop_tree()
        else:
            return changed
        changed = True
    return changed


def spaced(fragment: str) -> str:
    """A space after every block element and image, so words never run together when a later
    step drops the element (clean_summary keeps no images and few blocks)."""
    root = _parse(fragment)
    if root is None:
        return fragment
    for element in root.iter():
        if element is not root and isinstance(element.tag, str) and (
                element.tag in _BLOCKS or element.tag == "img"):
            tail = element.tail or ""
            follows = tail or element.getnext() is not None
            if follows and not tail[:1].isspace():
                element.tail = " " + tail
    return _serialise(root)


_BLOCKS = frozenset({"p", "div", "blockquote", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4",
                     "h5", "h6", "table", "tr", "td", "th", "figure", "figcaption", "hr",
                     "section", "article", "header", "footer", "dl", "dt", "dd"})
_KINDS = {"audio": "Listen", "video": "Watch"}
_FORMATS = {"mpeg": "MP3", "mp3": "MP3", "x-m4a": "M4A", "mp4": "MP4", "x-mp4": "MP4",
            "ogg": "OGG", "opus": "Opus", "aac": "AAC", "x-wav": "WAV", "wav": "WAV",
            "quicktime": "MOV", "webm": "WebM", "pdf": "PDF"}


def enclosure_label(url: str, media_type: str | None, length: str | None) -> str:
    """How a link to an enclosure reads: "Listen: MP3, 42 MB" (sizes in SI units, as the byte
    count of RSS 2.0's ``length`` attribute; a missing or zero length is left out)."""
    major, _, minor = (media_type or "").lower().partition("/")
    suffix = PurePosixPath(urlsplit(url).path).suffix.lstrip(".").lower()
    if major not in _KINDS and suffix in ("mp3", "m4a", "ogg", "opus", "aac", "wav"):
        major = "audio"
    elif major not in _KINDS and suffix in ("mp4", "mov", "webm", "m4v"):
        major = "video"
    kind = _KINDS.get(major, "Download")
    name = _FORMATS.get(minor) or (suffix.upper() if suffix else "") or (minor.upper() or "file")
    parts = [name]
    size = int(length) if length and length.strip().isdigit() else 0
    if size > 0:
        parts.append(_size(size))
    return f"{kind}: {', '.join(parts)}"


def _size(count: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if count >= scale:
            value = count / scale
            return f"{value:.1f} {unit}" if value < 10 and unit != "KB" else f"{value:.0f} {unit}"
    return f"{count} bytes"


def _parse(fragment: str) -> lxml.html.HtmlElement | None:
    if not fragment.strip():
        return None
    try:
        return lxml.html.fragment_fromstring(fragment, create_parent="div")
    except etree.ParserError:
        return None


def _serialise(root: lxml.html.HtmlElement) -> str:
    head = html.escape(root.text or "", quote=False)
    return (head + "".join(etree.tostring(child, encoding="unicode", method="html")
                           for child in root)).strip()


def _last_text_slot(root: lxml.html.HtmlElement) -> tuple[lxml.html.HtmlElement, str] | None:
    last: tuple[lxml.html.HtmlElement, str] | None = None
    if root.text and root.text.strip():
        last = (root, "text")
    for element in root.iterdescendants():
        if element.text and element.text.strip():
            last = (element, "text")
        if element.tail and element.tail.strip():
            last = (element, "tail")
    return last


def _text(fragment: str) -> str:
    root = _parse(fragment)
    return "" if root is None else root.text_content()


def _words(fragment: str) -> int:
    return len(_text(fragment).split())


def _only_headings(fragment: str) -> bool:
    root = _parse(fragment)
    if root is None or (root.text or "").strip():
        return False
    return all(child.tag in _HEADINGS or not child.text_content().strip() for child in root
               if isinstance(child.tag, str)) and not any((c.tail or "").strip() for c in root)
