"""Featured images: one per post, in the documented order of preference, https first."""

from __future__ import annotations

import pytest

from digest.feeds import parse_feed
from digest.models import FeaturedImage, Feed

FEED = Feed(url="https://blog.example.org/feed/", name="Example Blog")
HEAD = ('<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>B</title>'
        "<link>https://blog.example.org/</link>")


def image_of(item_xml: str) -> FeaturedImage | None:
    body = f"{HEAD}<item><title>The post</title><guid>g1</guid>{item_xml}</item></channel></rss>"
    outcome = parse_feed(FEED, body.encode(), {})
    assert outcome.status == "ok", outcome.error
    (post,) = outcome.posts
    return post.image


CONTENT_IMG = ('<content:encoded><![CDATA[<p><img src="https://blog.example.org/c.jpg" '
               'alt="From the content" width="640" height="480"></p>]]></content:encoded>')
ITUNES = '<itunes:image href="https://blog.example.org/i.jpg"/>'
ENCLOSURE = '<enclosure url="https://blog.example.org/e.png" type="image/png" length="9"/>'
MEDIA = ('<media:thumbnail url="https://blog.example.org/t.jpg" width="150" height="100"/>'
         '<media:content url="https://blog.example.org/m.jpg" medium="image" width="1200" '
         'height="800"/>')


@pytest.mark.parametrize(("kinds", "url"), [
    ([MEDIA, ENCLOSURE, ITUNES, CONTENT_IMG], "https://blog.example.org/m.jpg"),
    ([ENCLOSURE, ITUNES, CONTENT_IMG], "https://blog.example.org/e.png"),
    ([ITUNES, CONTENT_IMG], "https://blog.example.org/i.jpg"),
    ([CONTENT_IMG], "https://blog.example.org/c.jpg"),
], ids=["media", "enclosure", "itunes", "content"])
def test_the_documented_order_of_preference(kinds: list[str], url: str) -> None:
    found = image_of("".join(reversed(kinds)))  # the order in the feed does not matter
    assert found is not None and found.url == url


def test_media_the_widest_size_the_feed_gives_with_its_size() -> None:
    assert image_of(MEDIA) == FeaturedImage("https://blog.example.org/m.jpg", "", 1200, 800)
    thumbnail_only = '<media:thumbnail url="https://blog.example.org/t.jpg" width="150"/>'
    assert image_of(thumbnail_only) == FeaturedImage("https://blog.example.org/t.jpg", "", 150)


def test_content_image_keeps_alt_and_size_and_resolves_relative_addresses() -> None:
    assert image_of(CONTENT_IMG) == FeaturedImage("https://blog.example.org/c.jpg",
                                                  "From the content", 640, 480)
    relative = '<description><![CDATA[<img src="/up/r.jpg" alt=" A  cat ">]]></description>'
    assert image_of(relative) == FeaturedImage("https://blog.example.org/up/r.jpg", "A cat")


def test_https_is_taken_over_http_and_http_only_when_nothing_else() -> None:
    http_media = '<media:content url="http://blog.example.org/m.jpg" medium="image"/>'
    assert image_of(http_media + ITUNES) == FeaturedImage("https://blog.example.org/i.jpg")
    assert image_of(http_media) == FeaturedImage("http://blog.example.org/m.jpg")


@pytest.mark.parametrize("item", [
    # tracking pixels, by size, by CSS and by host
    '<description><![CDATA[<img src="https://t.example/p.gif" width="1" height="1">]]>'
    "</description>",
    '<description><![CDATA[<img src="https://t.example/p.gif" style="display: none">]]>'
    "</description>",
    '<description><![CDATA[<img src="https://pixel.wp.com/g.gif?x=1">]]></description>',
    # not an image, not a web address, not anything
    '<enclosure url="https://blog.example.org/episode.mp3" type="audio/mpeg" length="9"/>',
    '<media:content url="https://blog.example.org/clip.mp4" medium="video"/>',
    '<description><![CDATA[<img src="data:image/png;base64,iVBORw0KGgo=">]]></description>',
    '<description><![CDATA[<img src="javascript:alert(1)">]]></description>',
    "<itunes:image href=\"ftp://blog.example.org/i.jpg\"/>",
    "<description>Text only</description>",
], ids=["pixel-size", "pixel-css", "pixel-host", "audio", "video", "data", "javascript", "ftp",
        "none"])
def test_no_featured_image_from_what_is_not_a_picture(item: str) -> None:
    assert image_of(item) is None


def test_a_pixel_before_the_picture_is_skipped() -> None:
    item = ('<description><![CDATA[<img src="https://t.example/p.gif" width="1" height="1">'
            '<img src="https://blog.example.org/real.jpg" alt="Real">]]></description>')
    assert image_of(item) == FeaturedImage("https://blog.example.org/real.jpg", "Real")
