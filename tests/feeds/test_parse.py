"""parse_feed: sample feeds against their expectations, keys, dates, counts, bad documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from lxml import etree

import digest
from digest.feeds import USER_AGENT, parse_feed
from digest.models import Feed, FetchOutcome, Post

DATA = Path(__file__).parents[1] / "data"
EXPECTATIONS = sorted(DATA.glob("*.expected.json"))
FEED = Feed(url="https://blog.example.org/feed/", name="Example Blog")


def _source_of(expected: Path) -> Path:
    stem = expected.name.removesuffix(".expected.json")
    (source,) = [p for p in DATA.glob(stem + ".*") if not p.name.endswith(".json")]
    return source


def _as_expected(post: Post, fields: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in fields:
        value = getattr(post, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        if name == "summary_html":
            value = _canonical_html(value)
        row[name] = value
    return row


def _canonical_html(html: str) -> str:
    """HTML compared for meaning: attributes sorted, layout whitespace collapsed."""
    if not html:
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for element in root.iter():
        attributes = sorted(element.attrib.items())
        element.attrib.clear()
        element.attrib.update(attributes)
    return " ".join(lxml.html.tostring(root, encoding="unicode").split())


def test_every_sample_feed_has_expectations() -> None:
    names = {p.name.removesuffix(".expected.json") for p in EXPECTATIONS}
    assert {"wordpress", "thread-prefix", "blogger", "nodates", "hostile"} <= names


@pytest.mark.parametrize("expected_path", EXPECTATIONS, ids=lambda p: p.name)
def test_sample_feed_parses_to_its_expected_posts(expected_path: Path) -> None:
    expected = json.loads(expected_path.read_text(encoding="utf-8"))
    outcome = parse_feed(Feed(**expected["feed"]), _source_of(expected_path).read_bytes(), {})

    assert outcome.status == "ok", outcome.error
    assert outcome.feed_title == expected["feed_title"]
    assert outcome.feed_link == expected["feed_link"]
    want = [{**row, "summary_html": _canonical_html(row["summary_html"])}
            for row in expected["posts"]]
    got = [_as_expected(post, list(want[0])) for post in outcome.posts]
    assert got == want
    for post in outcome.posts:
        assert post.feed_url == expected["feed"]["url"]
        assert post.published is None or post.published.tzinfo == UTC


def _items_reversed(rss: bytes) -> bytes:
    tree = etree.fromstring(rss)
    channel = tree.find("channel")
    assert channel is not None
    items = channel.findall("item")
    for item in items:
        channel.remove(item)
    channel.extend(reversed(items))
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="utf-8"))


def test_keys_are_stable_across_parses_and_reordering() -> None:
    body = (DATA / "nodates.rss").read_bytes()
    first = parse_feed(FEED, body, {})
    again = parse_feed(FEED, body, {})
    reordered = parse_feed(FEED, _items_reversed(body), {})

    by_title = {p.title: p.key for p in first.posts}
    assert len(set(by_title.values())) == len(first.posts) == 5
    assert [p.key for p in again.posts] == [p.key for p in first.posts]
    assert [p.title for p in reordered.posts] == [p.title for p in reversed(first.posts)]
    assert {p.title: p.key for p in reordered.posts} == by_title


def test_key_kinds_cannot_collide() -> None:
    body = b"""<rss version="2.0"><channel><title>c</title>
      <item><title>A</title><guid isPermaLink="false">https://x.example/a</guid></item>
      <item><title>B</title><link>https://x.example/a</link></item>
    </channel></rss>"""
    keys = [p.key for p in parse_feed(FEED, body, {}).posts]
    # A's http(s) id is also its link, so the link is no identity for B: two posts, two keys
    assert keys[0] == "id:https://x.example/a" and len(set(keys)) == 2


def test_link_key_ignores_tracking_parameters_and_fragment() -> None:
    template = '<rss version="2.0"><channel><item><title>t</title><link>{}</link></item>' \
               "</channel></rss>"
    plain = parse_feed(FEED, template.format("https://x.example/p?id=3").encode(), {})
    tagged = parse_feed(FEED, template.format(
        "https://X.example:443/p?utm_source=a&amp;id=3#more").encode(), {})
    assert plain.posts[0].key == tagged.posts[0].key == "link:https://x.example/p?id=3"


@pytest.mark.parametrize(("date", "expected"), [
    ("<pubDate>Mon, 01 Jan 2024 10:00:00 +0200</pubDate>", datetime(2024, 1, 1, 8, tzinfo=UTC)),
    ("<pubDate>Mon, 01 Jan 2024 10:00:00</pubDate>", datetime(2024, 1, 1, 10, tzinfo=UTC)),
    ("<dc:date>2024-01-01T10:00:00</dc:date>", datetime(2024, 1, 1, 10, tzinfo=UTC)),
    ("<pubDate>not a date</pubDate>", None),
    ("", None),
])
def test_published_is_utc_with_zoneless_dates_taken_as_utc(date: str,
                                                           expected: datetime | None) -> None:
    body = ('<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<item><guid>g</guid><title>t</title>{date}</item></channel></rss>").encode()
    (post,) = parse_feed(FEED, body, {}).posts
    assert post.published == expected


def test_updated_is_used_when_published_is_missing() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title>
      <entry><id>e1</id><title>t</title><updated>2024-05-06T07:08:09-01:00</updated></entry>
    </feed>"""
    (post,) = parse_feed(FEED, body, {}).posts
    assert post.published == datetime(2024, 5, 6, 8, 8, 9, tzinfo=UTC)


@pytest.mark.parametrize(("markup", "expected"), [
    ("<slash:comments>4</slash:comments>", 4),
    ("<slash:comments>0</slash:comments>", 0),
    ("<slash:comments>many</slash:comments>", None),
    ("<slash:comments></slash:comments>", None),
    ("", None),
])
def test_rss_comment_counts(markup: str, expected: int | None) -> None:
    body = ('<rss version="2.0" xmlns:slash="http://purl.org/rss/1.0/modules/slash/"><channel>'
            f"<item><guid>g</guid>{markup}</item></channel></rss>").encode()
    (post,) = parse_feed(FEED, body, {}).posts
    assert post.comment_count == expected


@pytest.mark.parametrize("prefix", ["thr", "t", "replies"])
def test_atom_thread_total_under_any_prefix(prefix: str) -> None:
    body = (f'<feed xmlns="http://www.w3.org/2005/Atom" '
            f'xmlns:{prefix}="http://purl.org/syndication/thread/1.0"><title>f</title>'
            f"<entry><id>e</id><title>t</title><{prefix}:total>9</{prefix}:total></entry>"
            "</feed>").encode()
    (post,) = parse_feed(FEED, body, {}).posts
    assert post.comment_count == 9


def test_replies_link_count_and_comments_feed() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom"
                     xmlns:x="http://purl.org/syndication/thread/1.0"><title>f</title>
      <link rel="alternate" href="https://x.example/"/>
      <entry><id>e</id><title>t</title>
        <link rel="replies" type="application/atom+xml" href="/e/comments" x:count="11"/>
      </entry></feed>"""
    (post,) = parse_feed(FEED, body, {}).posts
    assert post.comment_count == 11
    assert post.comments_feed == "https://x.example/e/comments"


def test_titles_and_authors_become_plain_single_line_text() -> None:
    body = b"""<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
      <item><guid>g</guid>
      <title>  Tom &amp;amp; Jerry&#10;&lt;i&gt;return&lt;/i&gt;  &#8212; again </title>
      <dc:creator>  Ann &lt;b&gt;Lee&lt;/b&gt; </dc:creator></item></channel></rss>"""
    (post,) = parse_feed(FEED, body, {}).posts
    assert post.title == "Tom & Jerry return \u2014 again"
    assert post.author == "Ann Lee"


def test_author_falls_back_to_feed_author_then_configured_name() -> None:
    with_feed_author = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>f</title>
      <author><name>Feed Person</name></author><entry><id>e</id><title>t</title></entry></feed>"""
    without = b'<rss version="2.0"><channel><item><guid>g</guid></item></channel></rss>'
    assert parse_feed(FEED, with_feed_author, {}).posts[0].author == "Feed Person"
    assert parse_feed(FEED, without, {}).posts[0].author == "Example Blog"


def test_only_web_links_survive_and_relative_ones_resolve_against_the_feed_link() -> None:
    body = b"""<rss version="2.0"><channel><link>https://blog.example.org/sub/</link>
      <item><guid>1</guid><link>post.html</link><comments>#c</comments></item>
      <item><guid>2</guid><link>javascript:alert(1)</link></item>
      <item><guid>3</guid><link>mailto:a@example.org</link></item>
      <item><guid>4</guid><link>ftp://files.example.org/x</link></item>
    </channel></rss>"""
    posts = parse_feed(FEED, body, {}).posts
    assert [p.link for p in posts] == ["https://blog.example.org/sub/post.html", None, None, None]
    assert posts[0].comments_url == "https://blog.example.org/sub/#c"


@pytest.mark.parametrize(("headers", "body"), [
    # declared Latin-1 (HTTP header), bytes are UTF-8
    ({"Content-Type": "application/rss+xml; charset=iso-8859-1"},
     '<rss version="2.0"><channel><item><guid>g</guid><title>Café — crème</title></item>'
     "</channel></rss>".encode()),
    # declared Latin-1 (XML declaration), bytes are UTF-8
    ({}, '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><item>'
         "<guid>g</guid><title>Café — crème</title></item></channel></rss>".encode()),
    # declared UTF-8, bytes are windows-1252
    ({"Content-Type": "text/xml; charset=utf-8"},
     '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><item><guid>g</guid>'
     "<title>Café — crème</title></item></channel></rss>".encode("cp1252")),
])
def test_wrong_encoding_declarations_still_give_readable_titles(headers: dict[str, str],
                                                                body: bytes) -> None:
    outcome = parse_feed(FEED, body, headers)
    assert outcome.status == "ok"
    assert outcome.posts[0].title == "Café — crème"


def _error(body: bytes, headers: dict[str, str] | None = None) -> FetchOutcome:
    outcome = parse_feed(FEED, body, headers or {})
    assert outcome.status == "error"
    assert outcome.posts == ()
    return outcome


def test_malformed_xml_without_entries_names_the_line() -> None:
    body = b'<?xml version="1.0"?>\n<rss version="2.0">\n<channel>\n<title>x</titel>\n</rss>'
    assert _error(body).error == "malformed XML at line 4: mismatched tag"


def test_malformed_xml_with_usable_entries_keeps_them() -> None:
    body = b"""<rss version="2.0"><channel><title>x</title>
      <item><guid>1</guid><title>One &amp; only</title></item>
      <item><guid>2</guid><title>Broken & entity</title></item>"""
    outcome = parse_feed(FEED, body, {})
    assert outcome.status == "ok"
    assert [p.title for p in outcome.posts] == ["One & only", "Broken & entity"]


def test_html_page_is_not_a_feed() -> None:
    page = b"<!DOCTYPE html>\n<html><head><title>Blog</title></head><body>Hi</body></html>"
    assert _error(page).error == "not a feed: got an HTML page"
    assert _error(page, {"content-type": "text/html"}).error == "not a feed: got an HTML page"


def test_other_non_feeds_say_what_they_are() -> None:
    assert _error(b"").error == "not a feed: the document is empty"
    assert _error(b'{"items": []}').error == "not a feed: got JSON, not RSS or Atom"


def test_a_body_naming_a_local_file_is_not_read_as_that_file() -> None:
    # feedparser given bytes would try them as a file name; the feed's own path must not leak.
    body = str(DATA / "wordpress.rss").encode()
    assert _error(body).error is not None


def test_feed_without_items_is_ok_and_empty() -> None:
    outcome = parse_feed(FEED, b'<rss version="2.0"><channel><title>Quiet</title>'
                               b"</channel></rss>", {})
    assert (outcome.status, outcome.posts, outcome.feed_title) == ("ok", (), "Quiet")


def test_repeated_entries_are_kept_once() -> None:
    body = b"""<rss version="2.0"><channel>
      <item><guid>same</guid><title>first</title><description>one</description></item>
      <item><guid>same</guid><title>first</title><description>two</description></item>
      </channel></rss>"""
    assert [p.summary_html for p in parse_feed(FEED, body, {}).posts] == ["one"]


def test_different_entries_sharing_a_guid_stay_apart() -> None:
    body = b"""<rss version="2.0"><channel>
      <item><guid>same</guid><title>first</title></item>
      <item><guid>same</guid><title>second</title></item></channel></rss>"""
    posts = parse_feed(FEED, body, {}).posts
    assert [p.title for p in posts] == ["first", "second"]
    assert [p.guid for p in posts] == [None, None]  # a shared guid identifies neither


def test_validators_come_from_the_response_headers() -> None:
    outcome = parse_feed(FEED, b'<rss version="2.0"><channel></channel></rss>',
                         {"ETag": '"abc"', "Last-Modified": "Tue, 05 Mar 2024 09:12:44 GMT"})
    assert outcome.validators.etag == '"abc"'
    assert outcome.validators.last_modified == "Tue, 05 Mar 2024 09:12:44 GMT"


def test_user_agent_names_the_tool_and_version() -> None:
    assert USER_AGENT.startswith(f"digest/{digest.__version__} ")
