"""Will the email fit a phone? Words too long for a line, and fixed widths wider than the column.

Mail clients lay a digest out in a 600 px column on a desktop and in the width of the screen on
a phone (375 px, less 20 px of padding each side). Two things widen that column for everyone who
reads it, because a table cell grows to hold its widest unbreakable content:

- a word (a German compound, a URL, a hash in code) longer than a phone's line, with no place to
  break: where a client drops the CSS that allows breaking anywhere (``word-break``,
  ``overflow-wrap``), only real break opportunities count (spaces, ``<wbr>``, soft hyphens and
  zero-width spaces);
- a fixed width in pixels: a ``width`` attribute or a CSS ``width``/``min-width`` above the
  600 px column, or above a phone's 335 px line without a fluid ``max-width``/``width`` in % to
  shrink it.

Pure: HTML in, messages out. Also run by render for every issue, so the run warns too.
"""

from __future__ import annotations

import re
from collections import Counter

from lxml import etree
from lxml import html as lxml_html

COLUMN_PX = 600  # the card's max-width, and Outlook's fixed ghost table
PHONE_LINE_PX = 335  # a 375 px screen less the 20 px padding each side
# Characters of the widest text (a 20 px bold serif title, about 11 px a character) that fit a
# phone's line. A longer run with no break opportunity widens the layout on a phone.
PHONE_LINE_CHARS = 30
BREAKS = "\u00ad\u200b"  # soft hyphen, zero-width space: break opportunities inside a word
_SKIPPED = frozenset({"head", "style", "script", "title"})
_WIDTH_CSS = re.compile(r"(?:^|;)\s*(min-width|width)\s*:\s*(\d+(?:\.\d+)?)px", re.IGNORECASE)
_FLUID_CSS = re.compile(r"(?:^|;)\s*(?:max-)?width\s*:\s*\d+(?:\.\d+)?%", re.IGNORECASE)
_PIXELS = re.compile(r"\s*(\d+)\s*(?:px)?\s*$")


def layout_problems(page: str) -> list[str]:
    """Messages for words longer than a phone's line and fixed widths wider than the column."""
    if not page.strip():
        return []
    parser = lxml_html.HTMLParser(encoding="utf-8")
    root = lxml_html.document_fromstring(page.encode("utf-8"), parser=parser)
    return _long_words(root) + _fixed_widths(root)


def unbreakable_runs(text: str) -> list[str]:
    """The pieces of ``text`` a browser may not break: split at spaces and BREAKS."""
    return [run for run in re.split(r"[\s" + BREAKS + "]+", text) if run]


def _long_words(root: etree._Element) -> list[str]:
    counts: Counter[str] = Counter()
    for run in _runs(root):
        if len(run) > PHONE_LINE_CHARS:
            counts[run] += 1
    found = []
    for run, count in counts.items():
        times = f" ({count} times)" if count > 1 else ""
        shown = run if len(run) <= 60 else run[:57] + "..."
        found.append(f"{shown!r}{times}: {len(run)} characters with nowhere to break, longer than "
                     f"a phone's line (about {PHONE_LINE_CHARS}); it widens the email on phones "
                     "where the client drops the CSS that breaks words")
    return found


def _runs(root: etree._Element) -> list[str]:
    """Unbreakable runs of visible text; <wbr> and block edges end a run."""
    runs: list[str] = []
    current: list[str] = []

    def end() -> None:
        runs.extend(unbreakable_runs("".join(current)))
        current.clear()

    def visit(element: etree._Element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _SKIPPED or _hidden(element):
            return
        if tag in ("wbr", "br") or tag not in _INLINE:
            end()
        current.append(element.text or "")
        for child in element:
            if isinstance(child.tag, str):
                visit(child)
            current.append(child.tail or "")
        if tag not in _INLINE:
            end()

    visit(root)
    end()
    return runs


_INLINE = frozenset({"a", "b", "strong", "i", "em", "code", "span", "small", "sup", "sub", "u",
                     "s", "abbr", "mark", "q", "cite", "kbd", "samp", "var", "time"})


def _hidden(element: etree._Element) -> bool:
    """The preheader and other display:none parts: never laid out."""
    style = re.sub(r"\s+", "", element.get("style") or "").lower()
    return "display:none" in style


def _fixed_widths(root: etree._Element) -> list[str]:
    found = []
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag in _SKIPPED:
            continue
        style = element.get("style") or ""
        fluid = bool(_FLUID_CSS.search(style))
        widths = [("width attribute", int(m.group(1)))
                  for m in [_PIXELS.match(element.get("width") or "")] if m]
        widths += [(f"CSS {m.group(1).lower()}", round(float(m.group(2))))
                   for m in _WIDTH_CSS.finditer(style)]
        for what, pixels in widths:
            if pixels > COLUMN_PX or (pixels > PHONE_LINE_PX and not fluid):
                limit = (f"the {COLUMN_PX} px column" if pixels > COLUMN_PX else
                         f"a phone's {PHONE_LINE_PX} px line, with no max-width in % to shrink it")
                found.append(f"<{element.tag}> {what} {pixels} px is wider than {limit}"
                             f"{_where(element)}")
    return found


def _where(element: etree._Element) -> str:
    label = element.get("class") or element.get("id") or element.get("src") or ""
    return f" ({label[:60]})" if label else ""
