"""The digest email in a real browser (Debian's headless Chromium): axe-core finds no accessibility
violation in light or dark mode, for the demo and for hostile and WordPress feeds; screenshots at
600 px, 375 px and in dark mode go to test-artifacts/ for eyes; a spoiled page does fail.

`make test` installs Chromium and axe-core (.ci/install-system-deps); these tests skip only where
they could not be installed, and fail under CI=true.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from digest import app as pipeline
from digest import config
from digest.delivery.senders import make_sender
from support import chromium
from support.demo_digest import CLOCK, build_demo
from support.e2e import DATA, expected_posts, write_config

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


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
