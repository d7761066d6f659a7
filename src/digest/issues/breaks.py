"""Break opportunities in long words, so no client lays the digest out wider than a phone.

The CSS (``word-break: break-word; overflow-wrap: anywhere``) lets modern clients break any
word, but some drop CSS (Gmail's apps for other accounts, Outlook's Word engine for most of it).
For those, every run of more than ``LONG_RUN`` characters without a space gets break
opportunities written into the text itself, so that no piece is longer than ``PIECE``: ``<wbr>``
after the punctuation of URLs, paths and code (``/ . ? & = - _``), and soft hyphens (U+00AD)
inside plain words, which show a hyphen only where a line actually breaks. The text part is made
separately and never holds them.

Works on the DOM of the rendered page, skipping ``<head>``, and leaves the per-recipient tokens
whole (they are replaced after rendering).
"""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

from digest.mail.check_layout import BREAKS, PHONE_LINE_CHARS
from digest.models import TOKEN_WEB_VERSION, TOKENS

LONG_RUN = 20  # characters: shorter runs are left alone (almost every real word)
PIECE = 12  # characters: the longest piece left between two break opportunities
SOFT_HYPHEN = "\u00ad"
assert PIECE < LONG_RUN <= PHONE_LINE_CHARS

_SKIPPED = frozenset({"head", "style", "script", "title"})
_PROTECTED = re.compile("(" + "|".join(re.escape(t) for t in (*TOKENS, TOKEN_WEB_VERSION)) + ")")
_LONG = re.compile(r"[^\s" + BREAKS + "]{" + str(LONG_RUN + 1) + ",}")
_URL_PUNCTUATION = re.compile(r"(?<=[/.?&=_\-#:;,])(?=[^/.?&=_\-#:;,])")
_WORDY = re.compile(r"^[^\W\d_]+$")  # letters only: a word, hyphenated softly


def break_long_runs(page: str) -> str:
    """The HTML document ``page`` with break opportunities in its long runs of text."""
    if not _LONG.search(page):
        return page
    parser = lxml_html.HTMLParser(encoding="utf-8")
    root = lxml_html.document_fromstring(page.encode("utf-8"), parser=parser)
    body = root.find("body")
    if body is None:
        return page
    _visit(body)
    doctype: str = getattr(root.getroottree().docinfo, "doctype", "")
    out = lxml_html.tostring(root, encoding="unicode", method="html")
    return f"{doctype}\n{out}" if doctype else out


def breakable_text(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into pieces, each with whether a ``<wbr>`` follows it.

    Soft hyphens are already inside the pieces; only long runs are touched.
    """
    pieces: list[tuple[str, bool]] = []
    for part in _PROTECTED.split(text):
        if not part or _PROTECTED.fullmatch(part):
            pieces.append((part, False))
            continue
        position = 0
        for match in _LONG.finditer(part):
            pieces.append((part[position:match.start()], False))
            pieces.extend(_break_run(match.group(0)))
            position = match.end()
        pieces.append((part[position:], False))
    return _merge(pieces)


def _break_run(run: str) -> list[tuple[str, bool]]:
    if _WORDY.match(run):
        return [(SOFT_HYPHEN.join(_chunks(run)), False)]
    pieces: list[tuple[str, bool]] = []
    for segment in _URL_PUNCTUATION.split(run):
        for chunk in _chunks(segment):
            pieces.append((chunk, True))
    pieces[-1] = (pieces[-1][0], False)
    return pieces


def _chunks(run: str) -> list[str]:
    """``run`` in pieces of at most PIECE characters, as even as possible."""
    if len(run) <= PIECE:
        return [run]
    count = -(-len(run) // PIECE)
    size = -(-len(run) // count)
    return [run[i:i + size] for i in range(0, len(run), size)]


def _merge(pieces: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    merged: list[tuple[str, bool]] = []
    for text, wbr in pieces:
        if merged and not merged[-1][1]:
            merged[-1] = (merged[-1][0] + text, wbr)
        else:
            merged.append((text, wbr))
    return [piece for piece in merged if piece[0] or piece[1]]


def _visit(element: etree._Element) -> None:
    if not isinstance(element.tag, str) or element.tag in _SKIPPED or _hidden(element):
        return
    for child in list(element):
        _visit(child)
        if child.tail and _LONG.search(child.tail):
            _rewrite(child, "tail")
    if element.text and _LONG.search(element.text):
        _rewrite(element, "text")


def _hidden(element: etree._Element) -> bool:
    """The preheader (display:none): its text is the inbox preview, left exactly as written."""
    return "display:none" in re.sub(r"\s+", "", element.get("style") or "").lower()


def _rewrite(node: etree._Element, slot: str) -> None:
    """Replace node.text (or node.tail) by its pieces, with <wbr> elements between them."""
    pieces = breakable_text(getattr(node, slot))
    setattr(node, slot, pieces[0][0] if pieces else "")
    if len(pieces) < 2 and not (pieces and pieces[0][1]):
        return
    parent, index = (node, 0) if slot == "text" else (node.getparent(), None)
    assert parent is not None
    if index is None:
        index = list(parent).index(node) + 1
    previous_wbr = pieces[0][1]
    for text, wbr in pieces[1:]:
        if previous_wbr:
            element = etree.Element("wbr")
            element.tail = text
            parent.insert(index, element)
            index += 1
        previous_wbr = wbr
