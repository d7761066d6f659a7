"""Several feeds: one merged list or a section per feed, and syndicated copies shown once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import html as lxml_html

from digest.issues.compose import History, plan_issue, same_post_link
from digest.issues.render import Renderer
from digest.models import Feed, Post, StoredPost
from digest.settings import DigestSettings
from support.e2e import parse, parts, write_config
from support.rss import Item, run_cli, write_rss

BLOG = Feed("https://example.org/feed/", "Feeling Again")
GUESTS = Feed("https://guests.example.net/rss", "Guest posts")
NEWS = Feed("https://news.example.com/atom.xml", "Research news")
FEEDS = (BLOG, GUESTS, NEWS)
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
DIGEST = DigestSettings(title="Feeling Again weekly", from_addr="Feeling Again <d@example.org>",
                        site_url="https://example.org/", max_posts=10)
SECTIONS = replace(DIGEST, layout="sections")


def stored(key: str, feed: Feed, hours_ago: int, *, link: str | None = "",
           seen_hours_ago: int = 1) -> StoredPost:
    post = Post(key=key, feed_url=feed.url, title=f"Title {key}",
                link=f"https://example.org/{key}/" if link == "" else link, author="Ann",
                published=NOW - timedelta(hours=hours_ago), summary_html="<p>Text.</p>",
                comment_count=1)
    return StoredPost(post, first_seen=NOW - timedelta(hours=seen_hours_ago))


def shown(posts: tuple[Post, ...]) -> list[str]:
    return [post.key for post in posts]


# --- the link that identifies a post ---------------------------------------------------------


@pytest.mark.parametrize(("one", "other"), [
    ("https://Example.ORG/a/b/", "https://example.org/a/b"),
    ("HTTPS://example.org/a", "https://example.org/a/"),
    ("https://example.org/a?utm_source=rss&utm_medium=feed", "https://example.org/a"),
    ("https://example.org/a?p=1&utm_campaign=x", "https://example.org/a/?p=1"),
    ("https://example.org/a#comments", "https://example.org/a"),
    ("https://example.org:443/a", "https://example.org/a"),
])
def test_links_that_name_the_same_post(one: str, other: str) -> None:
    assert same_post_link(one) == same_post_link(other)


@pytest.mark.parametrize(("one", "other"), [
    ("https://example.org/a", "https://example.org/b"),
    ("https://example.org/a?p=1", "https://example.org/a?p=2"),
    ("https://example.org/Post", "https://example.org/post"),  # paths are case-sensitive
    ("https://example.org/a", "https://example.org:8443/a"),
    ("https://example.org/a", "https://mirror.example.org/a"),
])
def test_links_that_name_different_posts(one: str, other: str) -> None:
    assert same_post_link(one) != same_post_link(other)


# --- syndicated copies -----------------------------------------------------------------------


def test_a_copy_in_a_later_feed_is_covered_but_not_shown() -> None:
    original = stored("blog-1", BLOG, 30, link="https://example.org/2026/11/one/")
    # The guest feed saw it first, and its copy is newer: config order still wins.
    copy = stored("guest-1", GUESTS, 2, link="https://EXAMPLE.org/2026/11/one?utm_source=g",
                  seen_hours_ago=40)
    other = stored("guest-2", GUESTS, 5)
    plan = plan_issue([copy, other, original], None, DIGEST, NOW, feeds=FEEDS)
    assert plan is not None
    assert shown(plan.posts) == ["guest-2", "blog-1"]
    assert sorted(plan.covered_keys) == ["blog-1", "guest-1", "guest-2"]
    assert plan.more_count == 0
    assert plan.subject == "Feeling Again weekly: Title guest-2"


def test_a_copy_arriving_after_the_original_was_sent_never_shows() -> None:
    copy = stored("guest-1", GUESTS, 2, link="https://example.org/2026/11/one")
    fresh = stored("guest-2", GUESTS, 1)
    history = History(sent_links=((BLOG.url, "https://example.org/2026/11/one/"),))
    plan = plan_issue([copy, fresh], None, DIGEST, NOW, feeds=FEEDS, history=history)
    assert plan is not None
    assert shown(plan.posts) == ["guest-2"]
    # not covered by an issue it does not appear in; left out of every issue instead
    assert sorted(plan.covered_keys) == ["guest-2"]
    assert plan.sent_before == ("guest-1",)
    # A copy alone makes no issue: never an empty one.
    assert plan_issue([copy], None, DIGEST, NOW, feeds=FEEDS, history=history) is None


def test_a_feed_repeating_its_own_link_is_not_copying() -> None:
    # Some feeds point every entry at the front page; those are still different posts.
    first = stored("a", BLOG, 3, link="https://example.org/")
    second = stored("b", BLOG, 2, link="https://example.org/")
    history = History(sent_links=((BLOG.url, "https://example.org/"),))
    plan = plan_issue([first, second], None, DIGEST, NOW, feeds=FEEDS, history=history)
    assert plan is not None and shown(plan.posts) == ["b", "a"]


def test_posts_without_links_are_never_copies() -> None:
    plan = plan_issue([stored("a", BLOG, 3, link=None), stored("b", GUESTS, 2, link=None)],
                      None, DIGEST, NOW, feeds=FEEDS)
    assert plan is not None and shown(plan.posts) == ["b", "a"]


# --- layout ----------------------------------------------------------------------------------


def mixed() -> list[StoredPost]:
    return ([stored(f"blog-{n}", BLOG, 10 * n) for n in range(1, 7)]
            + [stored("guest-1", GUESTS, 15)]
            + [stored(f"news-{n}", NEWS, 10 * n + 3) for n in range(1, 4)])


def test_merged_is_one_list_newest_first() -> None:
    plan = plan_issue(mixed(), None, replace(DIGEST, max_posts=4), NOW, feeds=FEEDS)
    assert plan is not None
    assert plan.sections == ()
    assert shown(plan.posts) == ["blog-1", "news-1", "guest-1", "blog-2"]
    assert plan.more_count == 6


def test_sections_follow_config_order_and_share_max_posts_in_turn() -> None:
    plan = plan_issue(mixed(), None, replace(SECTIONS, max_posts=7), NOW, feeds=FEEDS)
    assert plan is not None
    assert [(s.name, shown(s.posts)) for s in plan.sections] == [
        ("Feeling Again", ["blog-1", "blog-2", "blog-3"]),
        ("Guest posts", ["guest-1"]),
        ("Research news", ["news-1", "news-2", "news-3"]),
    ]
    assert shown(plan.posts) == [key for s in plan.sections for key in shown(s.posts)]
    assert plan.more_count == 3  # blog-4..6
    assert len(plan.covered_keys) == 10
    assert plan.subject == "Feeling Again weekly: Title blog-1"  # the newest post overall


def test_sections_with_room_for_everything() -> None:
    plan = plan_issue(mixed(), None, SECTIONS, NOW, feeds=FEEDS)
    assert plan is not None
    assert [len(s.posts) for s in plan.sections] == [6, 1, 3]
    assert plan.more_count == 0


def test_sections_with_fewer_slots_than_feeds_go_by_config_order() -> None:
    plan = plan_issue(mixed(), None, replace(SECTIONS, max_posts=2), NOW, feeds=FEEDS)
    assert plan is not None
    assert [(s.name, shown(s.posts)) for s in plan.sections] == [
        ("Feeling Again", ["blog-1"]), ("Guest posts", ["guest-1"])]
    assert plan.more_count == 8


def test_a_feed_no_longer_configured_gets_a_last_section_named_by_its_host() -> None:
    gone = Feed("https://old.example.com/feed", "Old")
    plan = plan_issue([stored("old-1", gone, 1), stored("blog-1", BLOG, 5)], None, SECTIONS,
                      NOW, feeds=FEEDS)
    assert plan is not None
    assert [s.name for s in plan.sections] == ["Feeling Again", "old.example.com"]


def test_sections_rendered_with_headings_in_html_and_text() -> None:
    plan = plan_issue(mixed(), None, replace(SECTIONS, max_posts=7), NOW, feeds=FEEDS)
    assert plan is not None
    rendered = Renderer().render(plan, SECTIONS)
    doc = lxml_html.document_fromstring(rendered.html)
    headings = [(h.tag, " ".join(h.text_content().split()))
                for h in doc.xpath("//h1|//h2|//h3")]
    assert headings == [
        ("h1", "Feeling Again weekly"),
        ("h2", "Feeling Again"), ("h3", "Title blog-1"), ("h3", "Title blog-2"),
        ("h3", "Title blog-3"),
        ("h2", "Guest posts"), ("h3", "Title guest-1"),
        ("h2", "Research news"), ("h3", "Title news-1"), ("h3", "Title news-2"),
        ("h3", "Title news-3"),
    ]
    text = rendered.text
    order = [text.index(mark) for mark in ("FEELING AGAIN", "Title blog-3", "GUEST POSTS",
                                           "Title guest-1", "RESEARCH NEWS", "Title news-3",
                                           "View 3 more on the blog")]
    assert order == sorted(order)


def test_merged_rendering_has_no_section_headings() -> None:
    plan = plan_issue(mixed(), None, DIGEST, NOW, feeds=FEEDS)
    assert plan is not None
    doc = lxml_html.document_fromstring(Renderer().render(plan, DIGEST).html)
    assert not doc.xpath("//h3") and not doc.xpath("//*[@class='section']")
    assert len(doc.xpath("//h2[@class='post-title']")) == 10


# --- through the CLI, with local feed files ----------------------------------------------------


def test_two_feeds_in_sections_with_a_syndicated_post_once(tmp_path: Path) -> None:
    blog = tmp_path / "blog.xml"
    guests = tmp_path / "guests.xml"
    day = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    shared = Item("blog-42", "Shared post", "https://example.org/2026/11/shared/", day, 4)
    write_rss(blog, "Feeling Again", [
        shared, Item("blog-43", "Blog only", "https://example.org/2026/11/blog-only/",
                     day + timedelta(hours=1), 1)])
    write_rss(guests, "Guests", [
        Item("guest-7", "Shared post (syndicated)",
             "https://EXAMPLE.org/2026/11/shared?utm_source=guests#top", day + timedelta(hours=3)),
        Item("guest-8", "Guest only", "https://guests.example.net/guest-only/",
             day + timedelta(hours=2))])
    config = write_config(tmp_path / "site", [str(blog), str(guests)])
    config.write_text(config.read_text().replace(
        "  max_posts: 10\n", "  max_posts: 10\n  layout: sections\n"))

    result = run_cli(config, "run", now=datetime(2026, 11, 23, 8, 0, tzinfo=UTC))
    assert result.code == 0, result.err
    # four posts covered, three shown: the syndicated copy is not shown twice
    assert "Issue 1" in result.out and "(3 posts)" in result.out
    files = sorted((config.parent / "outbox").glob("*.eml"))
    assert len(files) == 3
    text, page = parts(parse(files[0].read_bytes()))
    doc = lxml_html.fromstring(page)
    assert [" ".join(h.text_content().split()) for h in doc.xpath("//h2|//h3")] == [
        "blog.xml", "Blog only", "Shared post", "guests.xml", "Guest only"]
    assert "Shared post (syndicated)" not in text

    # The guest feed repeats the post under yet another id: it never comes back.
    write_rss(guests, "Guests", [
        Item("guest-9", "Shared again", "https://example.org/2026/11/shared/",
             day + timedelta(days=3))])
    later = run_cli(config, "run", "--force", now=datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
    assert later.code == 0, later.err
    # recognised by its link as the post the guest feed listed before: nothing new at all
    assert "0 new posts\n" in later.out
    assert "No new issue" in later.out
    assert len(list((config.parent / "outbox").glob("*.eml"))) == 3
