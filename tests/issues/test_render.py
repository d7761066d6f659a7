"""Rendering an issue: HTML structure per the email checklist, text part, tokens, size, errors.

Golden files: ``tests/golden/digest.html`` and ``digest.txt`` hold the output for a fixed plan
and clock. After a deliberate change to the templates, regenerate them with
``UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_render.py -k golden`` and review the diff.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from lxml import etree
from lxml import html as lxml_html

from digest.errors import RenderError
from digest.issues.render import MAX_HTML_BYTES, Renderer
from digest.mail.fill import personalize
from digest.models import (
    TOKEN_EMAIL,
    TOKEN_NAME,
    TOKEN_UNSUBSCRIBE,
    TOKENS,
    FeaturedImage,
    IssuePlan,
    Post,
    Recipient,
    RenderedIssue,
)
from digest.settings import DigestSettings

GOLDEN = Path(__file__).parents[1] / "golden"
DEMO_FEED = Path(__file__).parents[2] / "demo" / "feed.xml"
CREATED = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
DIGEST = DigestSettings(title="Feeling Again weekly", from_addr="Feeling Again <d@example.org>",
                        site_url="https://example.org/", summary_words=30,
                        intro="This week on **Feeling Again**: [our guide](/guide/) & more.")
PADDING = "\u034f\u200c\u00a0"


def make_post(n: int, *, comments: int | None = 3, author: str = "Ian Skaife",
              link: str | None = "", title: str = "", summary: str = "",
              image: FeaturedImage | None = None) -> Post:
    return Post(
        key=f"https://example.org/?p={n}", feed_url="https://example.org/feed/",
        title=title or f"Post number {n} about feeling again",
        link=f"https://example.org/2026/11/post-{n}/" if link == "" else link,
        author=author, published=datetime(2026, 11, n % 28 + 1, 9, 0, tzinfo=UTC),
        summary_html=summary or f"<p>Summary of post {n} with <em>emphasis</em>.</p>",
        comment_count=comments, comments_url=f"https://example.org/2026/11/post-{n}/#comments",
        image=image)


def make_plan(posts: list[Post], *, more_count: int = 0, since: datetime | None = None,
              intro: str = DIGEST.intro) -> IssuePlan:
    keys = tuple(p.key for p in posts) + tuple(f"more-{i}" for i in range(more_count))
    return IssuePlan(posts=tuple(posts), covered_keys=keys, more_count=more_count, since=since,
                     subject=f"Feeling Again weekly: {posts[0].title if posts else 'news'}",
                     intro_markdown=intro, created_at=CREATED)


def golden_plan() -> IssuePlan:
    posts = [
        make_post(24, comments=9, title="What emotional blunting feels like",
                  summary="<p>We asked readers to describe the flatness. <em>Like watching my "
                          "life through a window</em>, one said.</p>",
                  image=FeaturedImage("https://example.org/uploads/window.jpg",
                                      "Rain on a window at dusk", 1200, 800)),
        make_post(22, comments=17, author="Hannah Lindqvist", title="Rebuilding joy",
                  summary="<p>Small experiments that helped:</p><ul><li><strong>Morning "
                          "light.</strong> Ten minutes outside.</li><li>Old hobbies on a timer, "
                          "twenty minutes, even when it felt pointless at first and for a good "
                          "long while, weeks in fact, before anything changed.</li></ul>"),
        make_post(20, comments=1, author="Priya Raman", title="Questions for your appointment",
                  image=FeaturedImage("https://example.org/uploads/notebook.png")),
        make_post(19, comments=0, title="Why stopping suddenly is not the answer"),
        make_post(16, comments=None, author="Maya Okafor", title="Dose & timing <notes>",
                  link=None),
    ]
    return make_plan(posts, more_count=2, since=datetime(2026, 11, 18, 7, 0, tzinfo=UTC))


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.fixture(scope="module")
def rendered(renderer: Renderer) -> RenderedIssue:
    return renderer.render(golden_plan(), DIGEST)


@pytest.fixture(scope="module")
def doc(rendered: RenderedIssue) -> lxml_html.HtmlElement:
    return parse(rendered.html)


def parse(html: str) -> lxml_html.HtmlElement:
    return lxml_html.document_fromstring(html)


def css_of(doc: lxml_html.HtmlElement) -> str:
    return "".join(style.text or "" for style in doc.iter("style"))


def test_document_head(doc: lxml_html.HtmlElement, rendered: RenderedIssue) -> None:
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert (doc.get("lang"), doc.get("dir")) == ("en", "ltr")
    assert doc.xpath("//meta[@charset='utf-8']")
    assert doc.findtext(".//title") == rendered.subject == golden_plan().subject
    assert "width=device-width" in doc.xpath("string(//meta[@name='viewport']/@content)")
    assert doc.xpath("string(//meta[@name='color-scheme']/@content)") == "light dark"
    assert doc.xpath("string(//meta[@name='supported-color-schemes']/@content)") == "light dark"


def test_layout_tables_and_article_wrapper(doc: lxml_html.HtmlElement,
                                           rendered: RenderedIssue) -> None:
    tables = doc.xpath("//table")
    assert len(tables) >= 3
    for table in tables:
        assert table.get("role") == "presentation"
        assert (table.get("cellpadding"), table.get("cellspacing"), table.get("border")) == (
            "0", "0", "0")
    assert re.search(r"max-width:\s*600px", rendered.html)
    assert rendered.html.count("<!--[if") == rendered.html.count("<![endif]-->") >= 2
    assert '<!--[if mso]><table role="presentation" align="center" width="600"' in rendered.html
    (article,) = doc.xpath("//div[@role='article']")
    assert article.get("aria-roledescription") == "email"
    assert article.get("aria-label") == rendered.subject
    assert (article.get("lang"), article.get("dir")) == ("en", "ltr")


def test_headings(doc: lxml_html.HtmlElement) -> None:
    plan = golden_plan()
    assert [h.text_content() for h in doc.iter("h1")] == ["Feeling Again weekly"]
    assert [h.text_content() for h in doc.iter("h2")] == [p.title for p in plan.posts]
    linked = [h.xpath("string(a/@href)") or None for h in doc.iter("h2")]
    assert linked == [p.link for p in plan.posts]


def test_bylines_for_every_kind_of_count(doc: lxml_html.HtmlElement) -> None:
    bylines = [p.text_content() for p in doc.find_class("byline")]
    assert bylines == [
        "Posted by Ian Skaife with 9 comments",
        "Posted by Hannah Lindqvist with 17 comments",
        "Posted by Priya Raman with 1 comment",
        "Posted by Ian Skaife with no comments yet",
        "Posted by Maya Okafor",
    ]


def test_byline_without_author(renderer: Renderer) -> None:
    plan = make_plan([make_post(1, author="", comments=4), make_post(2, author=" ", comments=None)])
    doc = parse(renderer.render(plan, DIGEST).html)
    assert [p.text_content() for p in doc.find_class("byline")] == ["4 comments"]


def test_view_more_buttons_link_to_the_posts(doc: lxml_html.HtmlElement,
                                             rendered: RenderedIssue) -> None:
    links = [p.link for p in golden_plan().posts if p.link]
    buttons = doc.find_class("button")
    assert [b.get("href") for b in buttons] == links
    assert all(b.text_content() == "View more" for b in buttons)
    assert re.findall(r'<v:roundrect [^>]*href="([^"]+)"', rendered.html) == links
    (more,) = doc.find_class("more")
    assert more.xpath("string(a/@href)") == DIGEST.site_url
    assert more.text_content().strip() == "View 2 more on the blog"


def test_preheader_is_first_hidden_and_made_of_titles(doc: lxml_html.HtmlElement,
                                                      rendered: RenderedIssue) -> None:
    assert doc.body is not None
    first = doc.body[0]
    style = first.get("style")
    assert style is not None
    for part in ("display:none", "max-height:0", "max-width:0", "overflow:hidden", "mso-hide:all"):
        assert part in style
    assert not re.search(r"font-size|color|opacity", style)
    text = first.text_content().rstrip(PADDING + " ")
    assert text == rendered.preheader
    assert 40 <= len(text) <= 140
    assert text.startswith("What emotional blunting feels like · Rebuilding joy")


def test_long_titles_make_a_preheader_of_at_most_140_characters(renderer: Renderer) -> None:
    posts = [make_post(n, title=f"A rather long title for post {n} " * 3) for n in range(1, 6)]
    preheader = renderer.render(make_plan(posts), DIGEST).preheader
    assert 100 < len(preheader) <= 140 and preheader.endswith("…")


def test_styles_dark_mode_and_fonts(doc: lxml_html.HtmlElement, rendered: RenderedIssue) -> None:
    parents = [style.getparent() for style in doc.iter("style")]
    assert all(parent is not None and parent.tag == "head" for parent in parents)
    css = css_of(doc)
    assert len(css.encode()) < 16 * 1024
    assert "@media (prefers-color-scheme: dark)" in css and "max-width: 620px" in css
    dark = css[css.index("prefers-color-scheme: dark"):css.index("[data-ogsb]")]
    # Every element coloured inline has a dark override for one of its classes.
    coloured = [element for element in doc.xpath("//*[@style][@class]")
                if re.search(r"(^|;)\s*(color|background-color)\s*:", element.get("style"))]
    assert len(coloured) > 20
    for element in coloured:
        assert any(f".{name}" in dark for name in element.get("class").split()), element.get(
            "class")
    assert "!important" in dark
    families = re.findall(r"font-family:\s*([^;\"'>]+(?:['\"][^'\"]*['\"][^;\"'>]*)*)",
                          rendered.html)
    assert len(families) > 20
    for family in families:
        assert family.strip().rstrip("'\"").split(",")[-1].strip() in (
            "serif", "sans-serif", "monospace"), family


def test_nothing_email_clients_strip(rendered: RenderedIssue, doc: lxml_html.HtmlElement) -> None:
    for tag in ("script", "form", "input", "iframe", "svg", "object", "embed", "base", "link"):
        assert not doc.xpath(f"//{tag}"), tag
    assert "data:" not in rendered.html and "base64" not in rendered.html
    assert not doc.xpath("//@*[starts-with(name(), 'on')]")
    assert len(rendered.html.encode()) < MAX_HTML_BYTES
    for href in doc.xpath("//a/@href"):
        parts = urlsplit(href)
        assert href == TOKEN_UNSUBSCRIBE or (parts.scheme == "https" and parts.hostname), href


def test_feed_text_is_escaped(renderer: Renderer) -> None:
    post = make_post(1, title="<script>alert(1)</script> & co", author="Eve <eve@x>")
    out = renderer.render(make_plan([post]), DIGEST)
    doc = parse(out.html)
    assert not doc.xpath("//script")
    assert doc.xpath("string(//h2)") == "<script>alert(1)</script> & co"
    assert "&lt;script&gt;" in out.html
    assert doc.find_class("byline")[0].text_content() == "Posted by Eve <eve@x> with 3 comments"
    assert "<script>alert(1)</script> & co" in out.text  # the text part is not HTML


def test_hostile_summary_is_cleaned(renderer: Renderer) -> None:
    summary = ('<p>Fine <a href="javascript:alert(1)">x</a><img src="https://t.example/p.gif">'
               '</p><script>alert(2)</script><form><input name="p"></form>')
    out = renderer.render(make_plan([make_post(1, summary=summary)]), DIGEST)
    assert not re.search(r"javascript:|<script|<form|<input|t\.example", out.html)
    assert "Fine" in out.html


def test_intro_markdown_cannot_inject_html(renderer: Renderer) -> None:
    intro = ("# Big news\n\n<script>alert(1)</script> <b>bold</b> [relative](/about/) "
             "[bad](javascript:alert(1))")
    out = renderer.render(make_plan([make_post(1)], intro=intro), DIGEST)
    doc = parse(out.html)
    (intro_cell,) = doc.find_class("intro")
    assert not doc.xpath("//script") and not intro_cell.xpath(".//b")
    assert "<script>alert(1)</script>" in intro_cell.text_content()
    assert len(doc.findall(".//h1")) == 1 and intro_cell.xpath("string(.//h3)") == "Big news"
    assert intro_cell.xpath(".//a/@href") == ["https://example.org/about/"]
    assert "https://example.org/about/" in out.text


def test_text_part(rendered: RenderedIssue) -> None:
    text = rendered.text
    for post in golden_plan().posts:
        assert post.title in text
        if post.link:
            assert post.link in text
    assert "View 2 more on the blog: https://example.org/" in text
    assert TOKEN_UNSUBSCRIBE in text and TOKEN_EMAIL in text
    assert "Posted by Priya Raman with 1 comment" in text
    assert "our guide <https://example.org/guide/>" in text
    assert all(len(line) <= 78 for line in text.splitlines())
    assert not re.search("[\u034f\u200c\u00a0]", text)
    assert not re.search(r"</?(p|a|em|strong|ul|ol|li|div|table|td|br|h1|h2)\b[^>]*>", text)
    assert rendered.preheader not in text


def test_tokens_survive_inlining_and_personalize_fills_them(rendered: RenderedIssue) -> None:
    assert f'href="{TOKEN_UNSUBSCRIBE}"' in rendered.html
    assert f"as {TOKEN_EMAIL}." in rendered.html
    recipient = Recipient(email="a.b+c@example.org", name="Ann <&> Bee",
                          unsubscribe_url="https://example.org/u?t=abc&list=1")
    html, text = personalize(rendered, recipient)
    assert not any(token in html or token in text for token in TOKENS)
    assert 'href="https://example.org/u?t=abc&amp;list=1"' in html
    assert "Unsubscribe: https://example.org/u?t=abc&list=1" in text
    doc = parse(html)
    assert doc.xpath("string(//a[text()='Unsubscribe']/@href)") == recipient.unsubscribe_url
    assert "as a.b+c@example.org." in " ".join(text.split())


def test_premailer_and_cssutils_stay_quiet(caplog: pytest.LogCaptureFixture,
                                           capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    Renderer().render(golden_plan(), DIGEST)
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert noisy == []
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_size_guard_drops_posts_with_a_warning(renderer: Renderer) -> None:
    huge = "<p>" + " ".join(f"word{i}" for i in range(3000)) + "</p>"
    posts = [make_post(n, summary=huge) for n in range(1, 11)]
    digest = replace(DIGEST, summary_words=5000)
    out = renderer.render(make_plan(posts, more_count=3), digest)
    assert 0 < out.post_count < len(posts)
    assert len(out.html.encode()) <= MAX_HTML_BYTES
    assert len(out.warnings) == 1 and "KB" in out.warnings[0]
    doc = parse(out.html)
    assert len(doc.findall(".//h2")) == out.post_count
    dropped = len(posts) - out.post_count
    assert doc.find_class("more")[0].text_content().strip() == (
        f"View {3 + dropped} more on the blog")
    assert posts[out.post_count - 1].title in out.text
    assert str(posts[out.post_count].link) not in out.text
    assert TOKEN_UNSUBSCRIBE in out.html  # the footer survives


def test_size_guard_names_an_oversized_intro(renderer: Renderer) -> None:
    intro = " ".join(f"word{i}" for i in range(15000))
    out = renderer.render(make_plan([make_post(1), make_post(2)], intro=intro), DIGEST)
    assert out.post_count == 0
    assert len(out.warnings) == 1 and "shorten the intro" in out.warnings[0]
    assert "View 2 more on the blog" in out.text


def test_size_guard_leaves_normal_issues_alone(rendered: RenderedIssue) -> None:
    assert rendered.warnings == ()
    assert rendered.post_count == len(golden_plan().posts)


def test_right_to_left_language(renderer: Renderer) -> None:
    out = renderer.render(make_plan([make_post(1)]), replace(DIGEST, language="he"))
    doc = parse(out.html)
    assert (doc.get("lang"), doc.get("dir")) == ("he", "rtl")


def test_user_templates_override_file_by_file(tmp_path: Path) -> None:
    (tmp_path / "footer.html.j2").write_text(
        '<p>Custom footer for {{ recipient.name }} <a href="{{ recipient.unsubscribe_url }}">'
        "leave</a></p>\n")
    out = Renderer(tmp_path).render(golden_plan(), DIGEST)
    assert "Custom footer for " + TOKEN_NAME in out.html
    html, _ = personalize(out, Recipient("a@example.org", "Ann <&> Bee", "https://e.org/u"))
    assert "Custom footer for Ann &lt;&amp;&gt; Bee" in html
    assert "You receive this because" not in out.html
    assert "You receive this because" in out.text  # digest.txt.j2 still the bundled one
    assert len(parse(out.html).findall(".//h2")) == 5


def test_unknown_variable_is_a_render_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "post.html.j2").write_text("<h2>{{ post.title }}</h2>\n<p>{{ post_colour }}</p>\n")
    with pytest.raises(RenderError) as caught:
        Renderer(tmp_path).render(golden_plan(), DIGEST)
    message = str(caught.value)
    assert "post_colour" in message and "post.html.j2" in message and "line 2" in message


def test_unknown_attribute_is_a_render_error(tmp_path: Path) -> None:
    (tmp_path / "digest.txt.j2").write_text("{{ title }}\n{{ recipient.phone }}\n")
    with pytest.raises(RenderError, match=r"digest\.txt\.j2.*phone"):
        Renderer(tmp_path).render(golden_plan(), DIGEST)


def test_missing_template_is_a_render_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "footer.html.j2").write_text('{% include "legal.html.j2" %}\n')
    with pytest.raises(RenderError) as caught:
        Renderer(tmp_path).render(golden_plan(), DIGEST)
    assert "legal.html.j2" in str(caught.value) and str(tmp_path) in str(caught.value)


def test_template_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "footer.html.j2").write_text("<p>fine</p>\n{% if %}\n")
    with pytest.raises(RenderError, match=r"footer\.html\.j2, line 2"):
        Renderer(tmp_path).render(golden_plan(), DIGEST)


def test_missing_template_folder_is_a_render_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="does not exist"):
        Renderer(tmp_path / "nope")


def test_golden_files(rendered: RenderedIssue) -> None:
    """The bundled templates' output for a fixed plan; see the module docstring to update."""
    expected = {"digest.html": rendered.html, "digest.txt": rendered.text}
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        for name, content in expected.items():
            (GOLDEN / name).write_text(content, encoding="utf-8")
    for name, content in expected.items():
        assert (GOLDEN / name).read_text(encoding="utf-8") == content, (
            f"{name} changed; if intended, rerun with UPDATE_GOLDEN=1 and review the diff")


def test_demo_feed_is_a_rich_sample() -> None:
    parsed = feedparser.parse(DEMO_FEED.read_bytes())
    assert not parsed.bozo and parsed.feed.link == "https://example.org/"
    entries = parsed.entries
    assert len(entries) >= 12
    assert len({e.author for e in entries}) >= 4
    counts = [e.get("slash_comments") for e in entries]
    assert {"0", "1", None} <= set(counts) and any(c and int(c) > 1 for c in counts)
    assert all(e.published_parsed[:2] == (2026, 11) for e in entries)
    assert len({e.published_parsed[2] for e in entries}) == len(entries)
    summaries = " ".join(e.summary for e in entries)
    for tag in ("<p>", "<em>", "<ul>", "<ol>", "<a href="):
        assert tag in summaries
    assert max(len(e.summary.split()) for e in entries) > DIGEST.summary_words * 2
    assert etree.fromstring(DEMO_FEED.read_bytes()) is not None
