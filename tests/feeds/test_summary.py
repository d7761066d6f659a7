"""Summaries: truncation by words on the DOM, plain text, cleaning, text wrapping."""

from __future__ import annotations

import re

import pytest
from lxml import html as lxml_html

from digest.feeds.summary import clean_summary, html_to_text, truncate_html, wrap_text

NESTED = "<p>Intro <b>bold <i>nested text</i> more</b> after</p><ul><li>one</li><li>two</li></ul>"


def words_of(html: str) -> list[str]:
    root = lxml_html.fragment_fromstring(html, create_parent="div")
    # Block boundaries separate words even where the markup has no space between them.
    return " ".join(root.itertext()).replace("…", " ").split()


@pytest.mark.parametrize(("limit", "expected"), [
    (1, "<p>Intro…</p>"),
    (3, "<p>Intro <b>bold <i>nested…</i></b></p>"),
    (4, "<p>Intro <b>bold <i>nested text…</i></b></p>"),
    (6, "<p>Intro <b>bold <i>nested text</i> more</b> after…</p>"),
    (7, "<p>Intro <b>bold <i>nested text</i> more</b> after</p><ul><li>one…</li></ul>"),
])
def test_truncation_closes_every_open_element(limit: int, expected: str) -> None:
    assert truncate_html(NESTED, limit) == (expected, True)


def test_no_truncation_when_the_summary_is_short_enough() -> None:
    result, truncated = truncate_html(NESTED, 8)
    assert not truncated
    assert words_of(result) == words_of(NESTED)
    assert "…" not in result


@pytest.mark.parametrize("limit", range(0, 40, 3))
def test_truncation_keeps_exactly_the_first_words(limit: int) -> None:
    source = ("<p>The <em>first</em> paragraph, with a <a href='https://example.org/x'>link "
              "inside</a> and a tail.</p><blockquote><p>A quote &amp; more text</p></blockquote>"
              "<ol><li>alpha beta</li><li>gamma <strong>delta epsilon</strong></li></ol><p>end"
              " of it all</p>")
    all_words = words_of(source)
    result, truncated = truncate_html(source, limit)
    assert truncated == (limit < len(all_words))
    kept = [w.rstrip(",") for w in words_of(result)]
    assert kept == [w.rstrip(",") for w in all_words[:limit]]
    # The result is well formed: parsing and serialising again changes nothing.
    reparsed = lxml_html.fragment_fromstring(result or "<p></p>", create_parent="div")
    assert (reparsed.text or "") + "".join(
        lxml_html.tostring(c, encoding="unicode") for c in reparsed) == (result or "<p></p>")


def test_cut_never_leaves_dangling_punctuation() -> None:
    assert truncate_html("<p>one, two; three</p>", 1) == ("<p>one…</p>", True)
    assert truncate_html("<p>one, two; three</p>", 2) == ("<p>one, two…</p>", True)


def test_plain_text_and_empty_input() -> None:
    assert truncate_html("just some plain words here", 2) == ("just some…", True)
    assert truncate_html("a &lt;b&gt; c d", 2) == ("a &lt;b&gt;…", True)
    assert truncate_html("", 5) == ("", False)
    assert truncate_html("   ", 5) == ("", False)


def test_scripts_without_spaces_are_cut_by_character() -> None:
    assert truncate_html("<p>这是一个很长的中文句子</p>", 4) == ("<p>这是一个…</p>", True)


def test_html_to_text_keeps_structure_and_links() -> None:
    source = ("<p>First <b>para</b> with <a href='https://example.org/r'>a link</a>.</p>"
              "<ul><li>one</li><li>two</li></ul><ol><li>uno</li><li>dos</li></ol>"
              "<p>Mail <a href='mailto:me@example.org'>me@example.org</a><br>next line</p>")
    assert html_to_text(source) == (
        "First para with a link <https://example.org/r>.\n\n"
        "- one\n- two\n\n1. uno\n2. dos\n\n"
        "Mail me@example.org\n\nnext line"
    )


def test_html_to_text_wraps_without_breaking_urls() -> None:
    url = "https://example.org/" + "long-path-segment/" * 5
    source = ("<p>" + "word " * 30 + f"<a href='{url}'>here</a></p><ul><li>" + "item " * 30
              + "</li></ul>")
    text = html_to_text(source)
    lines = text.splitlines()
    assert all(len(line) <= 78 or url in line for line in lines)
    assert any(url in line for line in lines)
    item_lines = lines[lines.index("") + 1:]
    assert item_lines[0].startswith("- item")
    assert all(line.startswith("  item") for line in item_lines[1:])
    assert html_to_text(source, width=0).count("\n") == 2


def test_clean_summary_drops_what_email_must_not_carry() -> None:
    hostile = ('<p onclick="x()">Hi <script>alert(1)</script><img src="https://t.example/p.gif"'
               ' width="1" height="1"><a href="javascript:alert(1)">bad</a> <a '
               'href="https://example.org/ok" style="position:fixed">ok</a></p>'
               "<form><input></form>")
    cleaned = clean_summary(hostile)
    assert not re.search(r"script|onclick|javascript|<img|<form|<input|style=", cleaned)
    assert '<a href="https://example.org/ok">ok</a>' in cleaned
    assert "Hi" in cleaned


def test_wrap_text_tidies_and_wraps_long_lines() -> None:
    long_line = "  " + " ".join(["word"] * 40)
    text = wrap_text(f"\n\nTitle   \n\n\n\n{long_line}\nhttps://example.org/{'x' * 90}\n\n")
    lines = text.splitlines()
    assert lines[0] == "Title" and lines[1] == ""
    assert lines[2] != ""  # runs of blank lines collapse to one
    assert all(line.startswith("  word") for line in lines[2:-1])
    assert all(len(line) <= 78 for line in lines[:-1])
    assert lines[-1] == f"https://example.org/{'x' * 90}"  # unbreakable, left whole
    assert text.endswith("\n") and not text.endswith("\n\n")
