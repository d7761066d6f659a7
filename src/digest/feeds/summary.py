"""Post summaries: cut sanitised HTML to a number of words, and turn HTML into plain text.

Truncation walks the DOM and never slices the HTML string, so a cut can never leave half a tag
or an unclosed element behind.
"""

from __future__ import annotations

import html as html_lib
import re
import textwrap
from dataclasses import dataclass

import nh3
from lxml import etree
from lxml import html as lxml_html

ELLIPSIS = "…"
# Scripts written without spaces between words count one character as one word, so a Chinese
# or Japanese summary is cut as well.
_WORD = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\s\u3040-\u30ff\u3400-\u4dbf"
    r"\u4e00-\u9fff\uf900-\ufaff]+"
)
_TRAILING_PUNCTUATION = ",;:—–-"
_SUMMARY_TAGS = {"p", "br", "b", "strong", "i", "em", "a", "ul", "ol", "li", "blockquote", "code",
                 "pre"}


@dataclass
class _Slot:
    """A run of text in document order: an element's text or its tail."""

    element: etree._Element
    attr: str  # "text" or "tail"


def truncate_html(html: str, words: int) -> tuple[str, bool]:
    """Keep the first ``words`` words of an HTML fragment; return (html, was_truncated).

    The cut falls at a word boundary, "…" is appended to the last kept text and everything after
    it (text, elements, empty list items) is dropped; open elements are closed by serialising
    the tree.
    """
    root = _parse_fragment(html)
    if root is None:
        return "", False
    cut = _find_cut(root, max(words, 0))
    if cut is None:
        return _serialize(root), False
    slot, end = cut
    text = getattr(slot.element, slot.attr)
    kept = text[:end].rstrip().rstrip(_TRAILING_PUNCTUATION).rstrip()
    setattr(slot.element, slot.attr, kept + ELLIPSIS)
    _drop_after(root, slot)
    return _serialize(root), True


def html_to_text(html: str, width: int = 78) -> str:
    """Readable plain text: paragraphs apart, list items as "- ", links as "text <url>".

    Lines are wrapped at ``width`` columns (0: no wrapping) without breaking words or URLs.
    """
    root = _parse_fragment(html)
    if root is None:
        return ""
    walker = _TextWalker()
    walker.block(root)
    walker.flush()
    lines: list[str] = []
    previous_item = False
    for prefix, text in walker.blocks:
        if not text:  # a new list begins: a blank line, even right after another list
            previous_item = False
            continue
        # List items sit on consecutive lines; everything else is a paragraph of its own.
        if lines and not (prefix and previous_item):
            lines.append("")
        lines.extend(_wrap(prefix, text, width))
        previous_item = bool(prefix)
    return "\n".join(lines)


def clean_summary(html: str) -> str:
    """Allowlist-clean summary HTML again before it is marked safe in a template.

    Feed HTML is sanitised when stored; cleaning it once more here keeps the email safe from
    whatever reached the store by another route. Images go: a summary is text, and an image
    without width and height breaks the layout in Outlook.
    """
    return str(nh3.clean(html, tags=_SUMMARY_TAGS, attributes={"a": {"href"}},
                         url_schemes={"http", "https", "mailto"}, link_rel=None,
                         strip_comments=True))


def wrap_text(text: str, width: int = 78) -> str:
    """Tidy a rendered text part: no trailing spaces, no runs of blank lines, lines <= width.

    Lines already short enough are left alone; longer ones wrap at spaces (keeping their
    indentation), never inside a word or URL.
    """
    lines: list[str] = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line and lines and not lines[-1]:
            continue
        if len(line) <= width:
            lines.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        lines.extend(textwrap.wrap(line, width, initial_indent="", subsequent_indent=indent,
                                   break_long_words=False, break_on_hyphens=False))
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def _parse_fragment(html: str) -> etree._Element | None:
    if not html.strip():
        return None
    try:
        root: etree._Element = lxml_html.fragment_fromstring(html, create_parent="div")
        return root
    except etree.ParserError:
        return None


def _find_cut(root: etree._Element, words: int) -> tuple[_Slot, int] | None:
    """The text slot and offset where word number ``words`` ends, if more words follow."""
    remaining = words
    last: tuple[_Slot, int] | None = None
    for slot in _slots(root):
        text = getattr(slot.element, slot.attr)
        for match in _WORD.finditer(text):
            if remaining == 0:
                return last if last is not None else (slot, match.start())
            remaining -= 1
            last = (slot, match.end())
    return None


def _slots(root: etree._Element) -> list[_Slot]:
    """Every text run of the fragment in reading order (the root's own tail excluded)."""
    slots: list[_Slot] = []

    def visit(element: etree._Element) -> None:
        if element.text:
            slots.append(_Slot(element, "text"))
        for child in element:
            if isinstance(child.tag, str):
                visit(child)
            if child.tail:
                slots.append(_Slot(child, "tail"))

    visit(root)
    return slots


def _drop_after(root: etree._Element, slot: _Slot) -> None:
    """Remove every node that comes after the cut in document order."""
    node = slot.element
    if slot.attr == "text":
        for child in list(node):
            node.remove(child)
        if node is not root:
            node.tail = None
    while node is not root:
        parent = node.getparent()
        assert parent is not None  # every node below the root has one
        for sibling in list(node.itersiblings()):
            parent.remove(sibling)  # lxml removes the sibling's tail with it
        node = parent
        if node is not root:
            node.tail = None


def _serialize(root: etree._Element) -> str:
    head = html_lib.escape(root.text or "", quote=False)
    return head + "".join(
        etree.tostring(child, encoding="unicode", method="html") for child in root
    )


_BLOCK_TAGS = frozenset({
    "p", "div", "blockquote", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "tr", "section", "article", "header", "footer", "figure", "figcaption", "hr",
    "dl", "dt", "dd",
})


class _TextWalker:
    """Collects blocks of inline text; block elements start a new block."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, str]] = []  # (list item prefix or "", text)
        self.parts: list[str] = []
        self.prefix = ""

    def flush(self) -> None:
        text = " ".join("".join(self.parts).split())
        if text:
            self.blocks.append((self.prefix, text))
        self.parts = []
        self.prefix = ""

    def block(self, element: etree._Element) -> None:
        if element.text:
            self.parts.append(element.text)
        number = 0
        for child in element:
            if isinstance(child.tag, str):
                number += child.tag == "li"
                self.child(child, element.tag, number)
            if child.tail:
                self.parts.append(child.tail)

    def child(self, element: etree._Element, parent_tag: object, number: int) -> None:
        tag = element.tag
        if tag == "br":
            self.flush()
        elif tag == "li":
            self.flush()
            self.prefix = f"{number}. " if parent_tag == "ol" else "- "
            self.block(element)
            self.flush()
        elif tag in ("ul", "ol"):
            self.flush()
            self.blocks.append(("", ""))
            self.block(element)
            self.flush()
        elif tag in _BLOCK_TAGS:
            self.flush()
            self.block(element)
            self.flush()
        elif tag == "a":
            self.link(element)
        elif tag == "img":
            self.parts.append(element.get("alt") or "")
        else:
            self.block(element)

    def link(self, element: etree._Element) -> None:
        label = " ".join(etree.tostring(element, method="text", encoding="unicode",
                                        with_tail=False).split())
        href = (element.get("href") or "").strip()
        if href.startswith("mailto:") and label == href[len("mailto:"):]:
            href = ""
        if href and href != label:
            self.parts.append(f"{label} <{href}>" if label else f"<{href}>")
        else:
            self.parts.append(label)


def _wrap(prefix: str, text: str, width: int) -> list[str]:
    if width <= 0:
        return [prefix + text]
    return textwrap.wrap(prefix + text, width, subsequent_indent=" " * len(prefix),
                         break_long_words=False, break_on_hyphens=False)
