"""Rendering for any post: featured pictures, long words and URLs, and the layout warnings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import html as lxml_html

from digest.issues.breaks import SOFT_HYPHEN, break_long_runs, breakable_text
from digest.issues.render import MAX_HTML_BYTES, Renderer, without_browser_link
from digest.mail.check_layout import layout_problems
from digest.models import TOKEN_EMAIL, TOKEN_WEB_VERSION, FeaturedImage, IssuePlan, Post
from digest.settings import DigestSettings

DIGEST = DigestSettings(title="Feeling Again weekly", from_addr="Feeling Again <d@example.org>",
                        site_url="https://example.org/", summary_words=30)
CREATED = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)

WIDE = FeaturedImage("https://example.org/up/wide.jpg", "Harbour at dawn", 2400, 1600)
SMALL = FeaturedImage("https://example.org/up/small.jpg", "", 150, 100)
UNSIZED = FeaturedImage("https://example.org/up/unsized.jpg")
COMPOUND = "Rechtsschutzversicherungsgesellschaftenbedingungsänderungsverordnung"  # 67 letters
LONG_URL = ("https://stress.example.org/comments/2026/11/24/reply-to-the-thread-about-very-long-"
            "words?utm_source=digest&replytocom=123456789")


def make_post(n: int, *, title: str = "", summary: str = "",
              image: FeaturedImage | None = None) -> Post:
    return Post(key=f"p{n}", feed_url="https://example.org/feed/", title=title or f"Post {n}",
                link=f"https://example.org/post-{n}/", author="Ian", published=CREATED,
                summary_html=summary or f"<p>Summary of post {n}.</p>", comment_count=2,
                image=image)


def make_plan(posts: list[Post]) -> IssuePlan:
    return IssuePlan(posts=tuple(posts), covered_keys=tuple(p.key for p in posts), more_count=0,
                     since=None, subject="Feeling Again weekly", intro_markdown="Hello.",
                     created_at=CREATED)


def golden_plan() -> IssuePlan:
    return make_plan([make_post(n, image=WIDE if n == 1 else None) for n in range(1, 6)])


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def images_of(html: str) -> list[dict[str, str]]:
    doc = lxml_html.document_fromstring(html)
    return [dict(img.attrib) for img in doc.iter("img")]


def test_featured_pictures_fit_the_column_with_width_height_and_alt(renderer: Renderer) -> None:
    posts = [make_post(1, image=WIDE, title="Harbour"), make_post(2, image=SMALL, title="Small"),
             make_post(3, image=UNSIZED, title="No size given"), make_post(4, title="None")]
    shown = {img["src"]: img for img in images_of(renderer.render(make_plan(posts), DIGEST).html)}
    assert len(shown) == 3  # one per post that has one, nothing for the fourth
    wide, small, unsized = (shown[image.url] for image in (WIDE, SMALL, UNSIZED))
    assert (wide["width"], wide["height"], wide["alt"]) == ("520", "347", "Harbour at dawn")
    assert (small["width"], small["height"]) == ("150", "100")  # never scaled up
    assert unsized["width"] == "520" and "height" not in unsized
    assert unsized["alt"] == "No size given"  # the title stands in for a missing alt
    for img in (wide, small, unsized):
        assert "max-width:100%" in img["style"].replace(" ", "")
        assert "height:auto" in img["style"].replace(" ", "")


def test_images_none_shows_no_pictures_and_the_text_part_never_changes(
        renderer: Renderer) -> None:
    plan = make_plan([make_post(1, image=WIDE), make_post(2, image=UNSIZED)])
    featured = renderer.render(plan, DIGEST)
    none = renderer.render(plan, replace(DIGEST, images="none"))
    assert len(images_of(featured.html)) == 2 and images_of(none.html) == []
    assert featured.text == none.text == renderer.render(
        make_plan([make_post(1), make_post(2)]), DIGEST).text
    assert WIDE.url not in featured.text


def test_the_size_budget_counts_the_picture_markup(renderer: Renderer) -> None:
    alt = "A long description of the picture. " * 120  # about 4 KB of alt text per picture
    summary = "<p>" + " ".join(f"word{i}" for i in range(300)) + "</p>"
    posts = [make_post(n, summary=summary) for n in range(1, 13)]
    pictured = [replace(p, image=replace(WIDE, alt=alt)) for p in posts]
    digest = replace(DIGEST, summary_words=300)
    without = renderer.render(make_plan(posts), digest)
    assert without.post_count == len(posts) and not without.warnings  # fits without pictures
    out = renderer.render(make_plan(pictured), digest)
    assert out.post_count < len(posts) and len(out.html.encode()) <= MAX_HTML_BYTES
    assert any("KB limit" in warning for warning in out.warnings)


def test_long_words_and_urls_get_break_opportunities_only_in_the_html(
        renderer: Renderer) -> None:
    post = make_post(1, title=f"Die {COMPOUND} erklärt",
                     summary=f'<p>See <a href="{LONG_URL}">{LONG_URL}</a> and {COMPOUND}.</p>')
    out = renderer.render(make_plan([post]), DIGEST)
    assert out.warnings == ()  # nothing the layout check would report
    assert layout_problems(out.html) == []
    assert "<wbr>" in out.html and SOFT_HYPHEN in out.html and "</wbr>" not in out.html
    assert f'href="{LONG_URL.replace("&", "&amp;")}"' in out.html  # the link itself untouched
    assert COMPOUND in out.text and LONG_URL in out.text  # the text part as it always was
    assert SOFT_HYPHEN not in out.text
    doc = lxml_html.document_fromstring(out.html)
    title = doc.find_class("post-title")[0].text_content()
    assert title.replace(SOFT_HYPHEN, "") == f"Die {COMPOUND} erklärt"


def test_code_and_tables_from_a_feed_cannot_set_a_width(renderer: Renderer) -> None:
    summary = ('<pre>' + "x" * 200 + '</pre><table width="900"><tr><td>a</td><td>b</td></tr>'
               "</table>")
    out = renderer.render(make_plan([make_post(1, summary=summary)]), DIGEST)
    assert out.warnings == () and "900" not in out.html
    pre = lxml_html.document_fromstring(out.html).find(".//pre")
    assert pre is not None and "white-space:pre-wrap" in pre.get("style", "").replace(" ", "")


def test_a_template_that_widens_the_email_gets_a_layout_warning(renderer: Renderer,
                                                                 tmp_path: Path) -> None:
    (tmp_path / "footer.html.j2").write_text(
        '<table role="presentation" width="700"><tr><td><a href="{{ recipient.unsubscribe_url }}">'
        "Unsubscribe</a></td></tr></table>\n")
    out = Renderer(tmp_path).render(golden_plan(), DIGEST)
    assert [w for w in out.warnings if w.startswith("layout: ")] == [
        "layout: <table> width attribute 700 px is wider than the 600 px column"]


def test_breaking_leaves_short_words_tokens_and_the_preheader_alone() -> None:
    assert breakable_text("short words only") == [("short words only", False)]
    pieces = breakable_text(f"to {TOKEN_EMAIL} at {TOKEN_WEB_VERSION}")
    assert "".join(text for text, _ in pieces) == f"to {TOKEN_EMAIL} at {TOKEN_WEB_VERSION}"
    page = (f'<!DOCTYPE html><html><head><title>{COMPOUND}</title></head><body>'
            f'<div style="display:none">{COMPOUND}</div><p>{COMPOUND}</p></body></html>')
    broken = break_long_runs(page)
    assert broken.startswith("<!DOCTYPE html>")
    assert broken.count(COMPOUND) == 2  # the title and the hidden preheader, as written
    assert layout_problems(page) and not layout_problems(broken)


def test_the_web_version_leaves_out_its_own_link(renderer: Renderer) -> None:
    out = renderer.render(golden_plan(), replace(DIGEST, public_url="https://news.example.org"))
    assert out.html.count(TOKEN_WEB_VERSION) == 1
    web = without_browser_link(out.html)
    assert TOKEN_WEB_VERSION not in web and "View this issue in your browser" not in web
    assert len(out.html) - len(web) < 600  # only that line went
    assert without_browser_link(web) == web
