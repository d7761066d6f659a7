"""Make feed content safe for email: allowlisted HTML, header-safe text, web-only URLs.

Feed HTML is hostile input. ``clean_html`` runs it through nh3 (an allowlist sanitizer) with a
small lxml pass in the middle for what an allowlist cannot express: nh3 can drop attributes but
not whole elements, so tracking pixels, images without a usable source and links without a
target are removed or unwrapped by walking the tree. A last nh3 pass re-serialises the result,
so whatever lxml emits is held to the same allowlist.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import lxml.html
import nh3

from digest.feeds.bounds import bound_attribute, shorten

ALLOWED_TAGS = frozenset(
    {"p", "br", "b", "strong", "i", "em", "a", "ul", "ol", "li", "blockquote", "code", "pre",
     "img", "h3", "h4"}
)
# Removed together with everything inside them: their content is code, widgets or fallback
# markup, never prose a reader wants to see as loose text.
DROPPED_WITH_CONTENT = frozenset(
    {"script", "style", "template", "noscript", "iframe", "object", "svg", "math", "form",
     "textarea", "select", "title", "head"}
)
URL_SCHEMES = frozenset({"http", "https", "mailto"})
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height", "title"}}
# Tables are kept through the first pass only to be flattened: a table from a feed has widths
# and columns of its own and would widen the email's column on a phone.
_TABLE_TAGS = frozenset({"table", "caption", "thead", "tbody", "tfoot", "tr", "td", "th"})
CELL_SEPARATOR = " · "

# The first pass keeps img's style so the lxml pass can spot pixels hidden by CSS.
_FIRST_PASS = nh3.Cleaner(
    tags=set(ALLOWED_TAGS | _TABLE_TAGS), clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes={**_ATTRIBUTES, "img": _ATTRIBUTES["img"] | {"style"}},
    url_schemes=set(URL_SCHEMES), strip_comments=True, link_rel=None,
    attribute_filter=bound_attribute,  # a 1 MB alt text must not reach the email
)
_FINAL_PASS = nh3.Cleaner(
    tags=set(ALLOWED_TAGS), clean_content_tags=set(DROPPED_WITH_CONTENT), attributes=_ATTRIBUTES,
    url_schemes=set(URL_SCHEMES), strip_comments=True, link_rel=None,
)

_HIDDEN_STYLE = re.compile(
    r"(?:^|;)(?:display:none|visibility:hidden|opacity:0(?:\.0*)?(?:;|$)"
    r"|(?:max-)?(?:width|height):0*[01](?:\.0*)?(?:px)?(?:;|$|!))"
)
# Hosts and paths that only ever serve counters and ad flare, whatever size they claim.
_TRACKER_MARKERS = ("//pixel.wp.com/", "//stats.wordpress.com/", "feedburner.com/~r/",
                    "feedburner.com/~ff/")
_DIGITS = re.compile(r"\s*(\d+)\s*(?:px)?\s*$")


def clean_html(html: str) -> str:
    """Allowlist-clean a piece of feed HTML for an email body."""
    if not html or not html.strip():
        return ""
    first = _FIRST_PASS.clean(html)
    if not first.strip():
        return ""
    root = lxml.html.fragment_fromstring(first, create_parent="div")
    for table in reversed(list(root.iter("table"))):  # innermost first
        flatten_table(table)
    for img in list(root.iter("img")):
        _fix_image(img)
    for link in list(root.iter("a")):
        href = safe_url(link.get("href"))
        if not link.text_content().strip() and link.find(".//img") is None:
            # Nothing left to click (FeedBurner's "feedflare" buttons once their images go):
            # an invisible link, and an empty "[]" in the text version.
            link.drop_tree()
        elif href is None:
            link.drop_tag()  # a link going nowhere (or somewhere relative) is just its text
        else:
            link.set("href", href)
    result: str = _FINAL_PASS.clean(lxml.html.tostring(root, encoding="unicode"))
    return result.strip()


def flatten_table(table: lxml.html.HtmlElement) -> None:
    """Replace a table by a list: one item per row, its cells' content joined by " · ".

    The caption, if any, becomes a paragraph before the list. Cell markup (links, emphasis) is
    kept; the table's own layout (columns, widths) is not.
    """
    replacement: list[lxml.html.HtmlElement] = []
    caption = table.find("caption")
    if caption is not None:
        paragraph = lxml.html.Element("p")
        _move_content(caption, paragraph)
        replacement.append(paragraph)
    items = lxml.html.Element("ul")
    for row in table.iter("tr"):
        item = lxml.html.Element("li")
        cells = [cell for cell in row if cell.tag in ("td", "th")]
        for number, cell in enumerate(cells):
            if number:
                _append_text(item, CELL_SEPARATOR)
            _move_content(cell, item)
        if item.text_content().strip(" ·\n\t"):
            items.append(item)
    if len(items):
        replacement.append(items)
    parent = table.getparent()
    if parent is None:
        return
    index = parent.index(table)
    tail = table.tail
    parent.remove(table)
    for offset, element in enumerate(replacement):
        parent.insert(index + offset, element)
    if tail:
        if replacement:
            _append_tail(replacement[-1], tail)
        else:
            _append_text_at(parent, index, tail)


def _move_content(source: lxml.html.HtmlElement, target: lxml.html.HtmlElement) -> None:
    """Append source's text and children to target."""
    _append_text(target, source.text or "")
    for child in list(source):
        target.append(child)  # moves it, with its tail


def _append_text(element: lxml.html.HtmlElement, text: str) -> None:
    if not text:
        return
    if len(element):
        _append_tail(element[-1], text)
    else:
        element.text = (element.text or "") + text


def _append_tail(element: lxml.html.HtmlElement, text: str) -> None:
    element.tail = (element.tail or "") + text


def _append_text_at(parent: lxml.html.HtmlElement, index: int, text: str) -> None:
    """Text placed where child ``index`` of parent was, once that child is gone."""
    if index == 0:
        parent.text = (parent.text or "") + text
    else:
        _append_tail(parent[index - 1], text)


def _fix_image(img: lxml.html.HtmlElement) -> None:
    src = safe_url(img.get("src"))
    if src is None or src.lower().startswith("mailto:") or is_tracking_pixel(img, src):
        img.drop_tree()
        return
    img.set("src", src)
    for dimension in ("width", "height"):
        value = img.get(dimension)
        if value is not None:
            match = _DIGITS.match(value)
            if match:
                img.set(dimension, match.group(1))
            else:
                del img.attrib[dimension]
    img.attrib.pop("style", None)
    if img.get("alt") is None:
        img.set("alt", "")  # decorative unless the feed says otherwise; screen readers skip it


def is_tracking_pixel(img: lxml.html.HtmlElement, src: str) -> bool:
    """Whether an <img> is a counter, not a picture: 0/1 px, hidden by CSS, or a known tracker."""
    for dimension in ("width", "height"):
        match = _DIGITS.match(img.get(dimension, ""))
        if match and int(match.group(1)) <= 1:
            return True
    style = re.sub(r"\s+", "", img.get("style", "")).lower()
    if style and _HIDDEN_STYLE.search(style):
        return True
    lowered = src.lower()
    return any(marker in lowered for marker in _TRACKER_MARKERS)


# Bidirectional overrides can make a subject read differently from what it says.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Every character of Unicode categories Cc (C0 and C1), Zl and Zp, and the bidi controls.
_HEADER_BREAKERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029" + "".join(_BIDI_CONTROLS) + "]")


def clean_header_text(text: str, limit: int = 150) -> str:
    """Make feed text safe for a mail header: one line, no controls, no encoded-words.

    Control characters (C0, C1 including U+0085, and U+2028/U+2029) become spaces, so nothing
    can start a new header line; ``=?`` becomes ``= ?`` because Python's email package would
    otherwise decode an encoded-word such as ``=?UTF-8?Q?=0A?=`` into a real line break.
    """
    collapsed = " ".join(_HEADER_BREAKERS.sub(" ", text).split())
    while "=?" in collapsed:
        collapsed = collapsed.replace("=?", "= ?")
    return shorten(collapsed, limit)


_URL_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) or mailto address, else None."""
    if url is None:
        return None
    # Browsers drop tabs and newlines anywhere in a URL ("java\nscript:"), so do the same
    # before judging the scheme.
    candidate = url.replace("\t", "").replace("\n", "").replace("\r", "").strip()
    if not candidate or _URL_CONTROL.search(candidate):
        return None
    candidate = candidate.replace(" ", "%20")
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return candidate if parts.hostname else None
    if scheme == "mailto":
        return candidate if "@" in parts.path else None
    return None
