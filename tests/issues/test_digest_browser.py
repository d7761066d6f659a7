"""The digest email in a real browser (Debian's headless Chromium): axe-core finds no accessibility
violation in light or dark mode, for the demo and for hostile and WordPress feeds; screenshots at
600 px, 375 px and in dark mode go to test-artifacts/ for eyes; a spoiled page does fail.

A feed of layout-hostile posts (tests/data/layout-hostile.rss: long words, URLs, code, a wide table,
2,400 px pictures served from 127.0.0.1, long titles) stays within the window at 375 and 600 px,
light and dark, with its pictures loaded, also where a client drops the CSS that breaks words.
``UPDATE_SCREENSHOTS=1`` writes the demo's screenshots (with pictures) for the README into docs/.

`make test` installs Chromium and axe-core (.ci/install-system-deps); these tests skip only where
they could not be installed, and fail under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest import app as pipeline
from digest import config
from digest.delivery.senders import make_sender
from digest.mail.check_layout import layout_problems
from support import chromium
from support.demo_digest import CLOCK, build_demo
from support.e2e import DATA, expected_posts, write_config
from support.feedserver import FeedServer, Route
from support.pictures import DEMO_PICTURES, LAYOUT_PICTURES, gradient_png

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DEMO_UPLOADS = "https://example.org/wp-content/uploads/2026/11/"


@pytest.fixture(scope="module", autouse=True)
def _browser() -> None:
    chromium.require_browser()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The HTML part of each digest, built as `digest preview` builds it."""
    demo = tmp_path_factory.mktemp("demo")
    build_demo(demo)
    built = {"demo": (demo / "preview" / "digest.html").read_text(encoding="utf-8")}
    for feed in ("hostile", "wordpress"):
        built[feed] = _feed_digest(tmp_path_factory.mktemp(feed), DATA / f"{feed}.rss")
    return built


@pytest.fixture(scope="module")
def pictures() -> Iterator[FeedServer]:
    """The demo's and the hostile feed's pictures, served over HTTP from 127.0.0.1."""
    with FeedServer() as server:
        for name, (width, height, top, bottom) in {**DEMO_PICTURES, **LAYOUT_PICTURES}.items():
            server.route(f"/{name}", Route(body=gradient_png(width, height, top, bottom),
                                           content_type="image/png"))
        yield server


@pytest.fixture(scope="module")
def hostile_layout(tmp_path_factory: pytest.TempPathFactory, pictures: FeedServer) -> str:
    """The digest of the layout-hostile feed, its pictures pointing at the local server."""
    folder = tmp_path_factory.mktemp("layout")
    feed = folder / "layout-hostile.rss"
    source = (DATA / "layout-hostile.rss").read_text(encoding="utf-8")
    feed.write_text(source.replace("IMAGE_BASE", pictures.base.rstrip("/")), encoding="utf-8")
    return _feed_digest(folder, feed)


@pytest.fixture(scope="module")
def demo_with_pictures(pages: dict[str, str], pictures: FeedServer) -> str:
    """The demo digest with its placeholder https pictures served from 127.0.0.1 instead."""
    page = pages["demo"]
    assert page.count(DEMO_UPLOADS) == 3  # three of the demo's posts have a picture
    return page.replace(DEMO_UPLOADS, pictures.base.rstrip("/") + "/")


def _feed_digest(folder: Path, feed: Path) -> str:
    settings = config.load(write_config(folder, [str(feed)]), {})
    deps = pipeline.Deps(clock=lambda: CLOCK,
                         sender_factory=make_sender("outbox", outbox_dir=folder / "outbox"))
    draft, why = pipeline.draft_next(settings, deps, pipeline.preview_recipient(settings))
    assert draft is not None, why
    pipeline.write_preview(settings, draft, folder / "preview", CLOCK)
    return (folder / "preview" / "digest.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("name", ["demo", "hostile", "wordpress"])
def test_no_accessibility_violations(pages: dict[str, str], name: str, dark: bool) -> None:
    page = pages[name]
    posts = page.count('class="post-title"')  # a whole digest, not an empty page
    assert posts >= 3 if name == "demo" else posts == len(expected_posts(name))
    violations = chromium.axe(page, dark=dark)
    assert violations == [], "\n".join(map(str, violations))


def test_a_spoiled_digest_does_have_violations(pages: dict[str, str]) -> None:
    """An image without alt text and pale grey on white: the check can fail."""
    spoiled = pages["demo"].replace(
        "</body>", '<img id="pixel" src="https://example.org/pixel.png" width="40" height="40">'
        '<p id="pale" style="color:#d4d4d4;background:#ffffff;font-size:14px">Barely there</p>'
        "</body>")
    assert spoiled != pages["demo"]
    rules = {v.rule: v for v in chromium.axe(spoiled)}
    assert {"image-alt", "color-contrast"} <= set(rules)
    assert rules["image-alt"].targets == ("#pixel",)
    assert rules["color-contrast"].targets == ("#pale",)  # only ours: the digest itself passes


def test_dark_mode_really_changes_the_colours(pages: dict[str, str]) -> None:
    script = "win.getComputedStyle(doc.body).backgroundColor"
    light = _rgb(chromium.evaluate(pages["demo"], script))
    dark = _rgb(chromium.evaluate(pages["demo"], script, dark=True))
    assert _luminance(light) > 0.8
    assert _luminance(dark) < 0.2


def test_no_sideways_scrolling_on_a_phone(pages: dict[str, str]) -> None:
    for name, page in pages.items():
        seen = chromium.evaluate(page, "win.innerWidth + ' ' + doc.documentElement.scrollWidth",
                                 width=375)
        inner, scroll = map(int, seen.split())
        assert inner == 375  # laid out at phone width
        assert scroll <= inner, f"{name} is {scroll} px wide on a {inner} px screen"
    # A fixed 600 px table, the classic email mistake, is caught.
    wide = pages["demo"].replace("</body>", '<table width="600"><tr><td>x</td></tr></table></body>')
    seen = chromium.evaluate(wide, "win.innerWidth + ' ' + doc.documentElement.scrollWidth",
                             width=375)
    assert int(seen.split()[1]) > 375


@pytest.mark.parametrize(("label", "width", "dark"), [
    ("600", 600, False), ("375", 375, False), ("600-dark", 600, True)])
def test_screenshots(pages: dict[str, str], label: str, width: int, dark: bool) -> None:
    for name, page in pages.items():
        out = chromium.screenshot(page, ARTIFACTS / f"digest-{name}-{label}.png", width=width,
                                  dark=dark)
        assert _png_size(out.read_bytes()) == (width, 1600)


_MEASURE = """JSON.stringify({inner: win.innerWidth, scroll: doc.documentElement.scrollWidth,
  images: Array.from(doc.images).map(i => [i.naturalWidth, i.getBoundingClientRect().width]),
  widest: Math.max(...Array.from(doc.querySelectorAll('td.post *')).map(
    e => e.getBoundingClientRect().right))})"""


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("width", [375, 600])
def test_hostile_posts_stay_within_the_window(hostile_layout: str, width: int,
                                              dark: bool) -> None:
    seen = json.loads(chromium.evaluate(hostile_layout, _MEASURE, dark=dark, width=width))
    assert seen["inner"] == width
    assert seen["scroll"] <= width, f"{seen['scroll']} px wide in a {width} px window"
    assert seen["widest"] <= width, "something in a post reaches past the window's edge"
    assert len(seen["images"]) == 4  # one featured picture per post
    for natural, shown in seen["images"]:
        assert natural in (2400, 800), "a picture did not load from the local server"
        assert shown <= min(width, 600) - 40  # within the column, padding included


def test_hostile_posts_fit_where_the_word_breaking_css_is_dropped(hostile_layout: str) -> None:
    """Clients that drop word-break/overflow-wrap: the break opportunities written into long
    words (<wbr>, soft hyphens) still keep the email within a phone's screen."""
    stripped = re.sub(r"(?:word-break|overflow-wrap)\s*:\s*[a-z-]+\s*(?:!important)?;?", "",
                      hostile_layout)
    assert stripped != hostile_layout and "overflow-wrap" not in stripped
    seen = json.loads(chromium.evaluate(stripped, _MEASURE, width=375))
    assert seen["scroll"] <= 375, f"{seen['scroll']} px wide in a 375 px window"
    # Without those break opportunities too, the same page is wider than the phone.
    bare = stripped.replace("<wbr>", "").replace("\u00ad", "")
    assert layout_problems(bare)
    seen = json.loads(chromium.evaluate(bare, _MEASURE, width=375))
    assert seen["scroll"] > 375


def test_hostile_posts_are_shaped_to_fit(hostile_layout: str) -> None:
    assert layout_problems(hostile_layout) == []  # what `digest check` would say
    assert hostile_layout.count('class="featured-image"') == 4
    assert "<table width" not in hostile_layout and "900px" not in hostile_layout
    assert "Week · Morning dose · Evening dose" in hostile_layout  # the table, as a list
    assert 'width="520" height="347"' in hostile_layout  # 2400 x 1600 scaled to the column
    assert "chart-2400.png" in hostile_layout and 'alt="A chart of doses' in hostile_layout
    assert hostile_layout.count("<wbr>") > 10 and "\u00ad" in hostile_layout


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("name", ["hostile_layout", "demo_with_pictures"])
def test_no_accessibility_violations_with_pictures_on(name: str, dark: bool,
                                                      request: pytest.FixtureRequest) -> None:
    page: str = request.getfixturevalue(name)
    loaded = chromium.evaluate(page, "Array.from(doc.images).every(i => i.naturalWidth > 0)")
    assert loaded == "true"
    violations = chromium.axe(page, dark=dark)
    assert violations == [], "\n".join(map(str, violations))


@pytest.mark.parametrize(("label", "width", "dark"), [
    ("600", 600, False), ("375", 375, False), ("375-dark", 375, True)])
def test_screenshots_with_pictures(hostile_layout: str, demo_with_pictures: str, label: str,
                                   width: int, dark: bool) -> None:
    for name, page in (("layout", hostile_layout), ("demo-pictures", demo_with_pictures)):
        out = chromium.screenshot(page, ARTIFACTS / f"digest-{name}-{label}.png", width=width,
                                  height=1400, dark=dark)
        assert _png_size(out.read_bytes()) == (width, 1400)
        if name == "demo-pictures" and os.environ.get("UPDATE_SCREENSHOTS") == "1":
            _keep_for_readme(out, ROOT / "docs" / f"digest-{label}.png")


def _keep_for_readme(shot: Path, target: Path) -> None:
    target.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, target)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _rgb(text: str) -> tuple[int, int, int]:
    found = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, [\d.]+)?\)", text.strip())
    assert found, f"not a CSS colour: {text!r}"
    red, green, blue = (int(found[i]) for i in (1, 2, 3))
    return red, green, blue


def _luminance(rgb: tuple[int, int, int]) -> float:
    """Relative luminance, as WCAG defines it for contrast ratios."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
