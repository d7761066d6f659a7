"""The layout check: words longer than a phone's line, fixed widths wider than the column."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.mail.check import check_message
from digest.mail.check_layout import PHONE_LINE_CHARS, layout_problems
from support.demo_digest import Demo, build_demo
from support.e2e import digest


def page(body: str) -> str:
    return f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>"


WORD = "Antidepressivaabsetzungserscheinungsdokumentation"  # 49 letters
URL = "https://stress.example.org/comments/2026/11/24/reply-to-the-thread?replytocom=1"


@pytest.mark.parametrize("body", [
    f"<h2>Die {WORD}</h2>",
    f"<p>See <a href='{URL}'>{URL}</a></p>",
    f"<pre>{'x' * 80}</pre>",
    f"<p>{WORD[:20]}<b>{WORD[20:]}</b></p>",  # inline markup does not end a word
])
def test_a_word_longer_than_a_phones_line_is_reported(body: str) -> None:
    (problem,) = layout_problems(page(body))
    assert "nowhere to break, longer than a phone's line" in problem


@pytest.mark.parametrize("body", [
    f"<h2>{WORD[:20]}<wbr>{WORD[20:40]}<wbr>{WORD[40:]}</h2>",
    f"<h2>{WORD[:20]}\u00ad{WORD[20:40]}\u00ad{WORD[40:]}</h2>",
    f"<h2>{WORD[:20]}\u200b{WORD[20:]}</h2>",
    f"<p>{'a' * PHONE_LINE_CHARS}</p>",
    f"<p>{WORD[:25]}</p><p>{WORD[25:]}</p>",  # two blocks are two lines
    f'<div style="display: none">{WORD}</div>',  # a preheader is never laid out
    f'<a href="{URL}">short text</a>',  # addresses in attributes are not text
])
def test_words_with_places_to_break_are_fine(body: str) -> None:
    assert layout_problems(page(body)) == []


@pytest.mark.parametrize(("body", "expected"), [
    ('<table width="700"><tr><td>x</td></tr></table>',
     "<table> width attribute 700 px is wider than the 600 px column"),
    ('<div style="min-width: 640px">x</div>',
     "<div> CSS min-width 640 px is wider than the 600 px column"),
    ('<img src="https://e.org/a.png" width="520" alt="">',
     "<img> width attribute 520 px is wider than a phone's 335 px line, with no max-width in %"),
    ('<td style="width:400px">x</td>', "CSS width 400 px is wider than a phone's 335 px line"),
])
def test_fixed_widths_wider_than_the_column_are_reported(body: str, expected: str) -> None:
    (problem,) = layout_problems(page(body))
    assert expected in problem


@pytest.mark.parametrize("body", [
    '<img src="https://e.org/a.png" width="520" style="max-width:100%;height:auto" alt="">',
    '<table width="100%" style="max-width:600px"><tr><td>x</td></tr></table>',
    '<img src="https://e.org/a.png" width="300" alt="">',
])
def test_fluid_or_narrow_widths_are_fine(body: str) -> None:
    assert layout_problems(page(body)) == []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return build_demo(tmp_path_factory.mktemp("demo"))


def test_the_demo_fits_and_a_spoiled_copy_is_caught(demo: Demo) -> None:
    assert check_message(demo.eml).in_area("layout") == ()
    html = demo.draft.rendered.html.replace("</body>", f"<p>{WORD}</p></body>")
    found = check_message(demo.message(html=html)).in_area("layout")
    assert len(found) == 1 and WORD in found[0].message and found[0].severity == "problem"


def test_digest_check_names_layout_problems_and_exits_1(demo: Demo, tmp_path: Path) -> None:
    html = demo.draft.rendered.html.replace(
        "</body>", f'<table width="800"><tr><td>{WORD}</td></tr></table></body>')
    eml = tmp_path / "wide.eml"
    eml.write_bytes(demo.message(html=html))
    result = digest(demo.settings.path, "check", "--eml", str(eml))
    assert result.code == 1, result.out + result.err
    lines = result.out.splitlines()
    layout = lines.index(next(line for line in lines if line.startswith("Layout:")))
    assert lines[layout].endswith(": 2 problems")
    assert "width attribute 800 px is wider than the 600 px column" in lines[layout + 1] + lines[
        layout + 2]
    assert WORD in result.out
