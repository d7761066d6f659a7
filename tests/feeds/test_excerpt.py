"""What a summary keeps of a feed's HTML: the post's own words, not captions or a repeated title,
and which enclosures are named."""

from __future__ import annotations

import pytest

from digest.feeds.excerpt import is_picture, own_words
from digest.feeds.parse import parse_feed
from digest.models import Feed

FEED = Feed(url="https://blog.example.org/feed/", name="Blog")


@pytest.mark.parametrize(("fragment", "expected"), [
    # Medium: the title as the first heading, a photo credit under the image
    ('<h3>Kettles</h3><figure><img src="k.jpg"><figcaption>Photo by A on Unsplash</figcaption>'
     "</figure><p>Words.</p>", '<figure><img src="k.jpg"></figure><p>Words.</p>'),
    # WordPress classic editor captions
    ('<div class="wp-caption"><img src="k.jpg"><p class="wp-caption-text">Our kettle</p></div>'
     "<p>Words.</p>", '<div class="wp-caption"><img src="k.jpg"></div><p>Words.</p>'),
    # a description that is only the title's heading says nothing
    ("<h1>  kettles </h1>\n", ""),
])
def test_captions_and_a_repeated_title_are_not_the_posts_words(fragment: str,
                                                               expected: str) -> None:
    assert own_words(fragment, "Kettles") == expected


@pytest.mark.parametrize("fragment", [
    "<h2>Week one</h2><p>Words.</p>",  # a heading of its own is the post's
    "<p>Kettles</p>",  # the title as a sentence stays: only a heading repeats it
    "Intro <h3>Kettles</h3>",  # not the first thing in the post
])
def test_other_headings_and_text_are_kept_as_written(fragment: str) -> None:
    assert own_words(fragment, "Kettles") == fragment


@pytest.mark.parametrize(("url", "media_type", "picture"), [
    ("https://cdn.example.net/cover.jpeg", "image/jpeg", True),
    ("https://cdn.example.net/cover.webp", None, True),
    ("https://cdn.example.net/ep1.mp3", "audio/mpeg", False),
    ("https://cdn.example.net/cover.jpg?x=1", "audio/mpeg", False),  # the type decides
    ("https://cdn.example.net/paper.pdf", None, False),
])
def test_pictures_among_enclosures(url: str, media_type: str | None, picture: bool) -> None:
    assert is_picture(url, media_type) is picture


def _item(inner: str) -> bytes:
    return (f'<rss version="2.0"><channel><title>B</title><link>https://blog.example.org/</link>'
            f"<item><title>T</title>{inner}</item></channel></rss>").encode()


def test_a_picture_enclosure_is_not_offered_as_a_download() -> None:
    outcome = parse_feed(FEED, _item(
        '<link>https://blog.example.org/t</link><description>Words.</description>'
        '<enclosure url="https://cdn.example.net/cover.jpg" length="0" type="image/jpeg"/>'), {})
    assert outcome.posts[0].summary_html == "Words."


def test_a_picture_is_the_link_only_when_nothing_else_reaches_the_entry() -> None:
    picture = '<enclosure url="https://cdn.example.net/cover.jpg" type="image/jpeg"/>'
    audio = '<enclosure url="https://cdn.example.net/ep.mp3" type="audio/mpeg" length="4200000"/>'
    only_picture = parse_feed(FEED, _item(picture), {}).posts[0]
    both = parse_feed(FEED, _item(picture + audio), {}).posts[0]
    with_guid = parse_feed(FEED, _item(picture + "<guid>https://blog.example.org/t</guid>"),
                           {}).posts[0]
    assert only_picture.link == "https://cdn.example.net/cover.jpg"
    assert both.link == "https://cdn.example.net/ep.mp3"
    assert "Listen: MP3, 4.2 MB" in both.summary_html
    assert with_guid.link == "https://blog.example.org/t"


def test_feedburner_names_the_posts_own_address_under_any_prefix() -> None:
    body = (b'<rss version="2.0" xmlns:fb="http://rssnamespace.org/feedburner/ext/1.0"><channel>'
            b"<title>B</title><item><title>T</title>"
            b"<link>http://feedproxy.google.com/~r/B/~3/abc/t.html</link>"
            b"<fb:origLink>https://blog.example.org/t.html</fb:origLink></item></channel></rss>")
    assert parse_feed(FEED, body, {}).posts[0].link == "https://blog.example.org/t.html"
