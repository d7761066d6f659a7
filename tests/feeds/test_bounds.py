"""Every text from a feed is bounded wherever it goes: the rule, and a 1 MB title and author
through the real `digest run`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from digest.feeds.bounds import LIMITS, MAX_RUN, bound, bound_runs, bound_url, shorten
from digest.feeds.sanitize import clean_header_text, clean_html
from support.e2e import digest, parse, parts, write_config

MB = 1 << 20
# Gmail clips an HTML part past ~102 KB: the unsubscribe link must come before that.
GMAIL_CLIP = 102 * 1024


@pytest.mark.parametrize(("text", "limit", "expected"), [
    ("short", 10, "short"),
    ("exactly ten", 11, "exactly ten"),
    ("one two three four five", 12, "one two…"),  # cut at the last space in the last half
    ("abcdefghijklmnop", 8, "abcdefg…"),  # no space: cut inside the word
    ("e\u0301e\u0301e\u0301e\u0301", 4, "e\u0301…"),  # never between a letter and its accent
    ("ab👍🏽cd", 4, "ab…"),  # an emoji keeps its skin tone
    ("a👩\u200d💻b", 3, "a…"),  # a ZWJ sequence is one grapheme
    ("anything", 1, "…"),
])
def test_shorten_cuts_on_word_and_grapheme_boundaries(text: str, limit: int,
                                                      expected: str) -> None:
    assert shorten(text, limit) == expected
    assert len(shorten(text, limit)) <= limit


def test_each_kind_has_its_limit() -> None:
    huge = "word " * MB
    for kind in ("title", "author", "feed_title", "subject", "attribute", "message"):
        cut = bound(huge, kind)
        assert len(cut) <= LIMITS[kind] and cut.endswith("…"), kind
    assert bound_url("https://example.org/" + "a" * MB) is None
    assert bound_url("https://example.org/p") == "https://example.org/p"


def test_headers_and_attributes_use_the_same_rule() -> None:
    assert clean_header_text("title " * MB) == bound("title " * MB, "subject")
    html = clean_html(f'<p>x <img src="https://example.org/a.png" alt="{"alt " * MB}"></p>'
                      f'<p><img src="https://example.org/{"b" * MB}.png" alt="gone"></p>')
    assert len(html) < 1000
    assert 'alt="alt alt' in html and "gone" not in html


def test_overlong_runs_are_cut_before_feedparser_sees_them() -> None:
    """feedparser's author regex is quadratic in such a run: a 1 MB name took hours."""
    body = b"<author>" + b"Name" * MB + b"</author><p>" + b"x" * MAX_RUN + b" ok&amp;</p>"
    assert bound_runs(body) == (b"<author>" + b"Name" * (MAX_RUN // 4) + b"</author><p>"
                                + b"x" * MAX_RUN + b" ok&amp;</p>")
    base64 = b"QUJD/" * MB  # a data: URI has a "/" every few characters: left alone
    assert bound_runs(base64) == base64


def _feed(title: str, author: str) -> str:
    return (
        '<rss version="2.0"><channel><title>' + title + "</title>"
        "<link>https://blog.example.org/</link>"
        "<item><guid>p1</guid><title>" + title + "</title>"
        "<author>writer@example.org (" + author + ")</author>"
        "<link>https://blog.example.org/p1</link><description>Hello there.</description></item>"
        "<item><guid>p2</guid><title>Second</title><dc:creator xmlns:dc="
        '"http://purl.org/dc/elements/1.1/">' + author + "</dc:creator>"
        "<link>https://blog.example.org/p2</link><description>&lt;p&gt;Look: &lt;img src="
        '"https://blog.example.org/i.png" alt="' + title + '"&gt;&lt;/p&gt;</description></item>'
        "</channel></rss>")


def test_a_megabyte_title_and_author_leave_email_and_output_small(tmp_path: Path) -> None:
    title = ("Longtitle " * (MB // 10 + 1))[:MB]
    author = ("Authorname" * (MB // 10 + 1))[:MB]  # one megabyte "word": no space to cut at
    feed = tmp_path / "feed.xml"
    feed.write_text(_feed(title, author))
    config = write_config(tmp_path, [str(feed)])

    result = digest(config, "run")
    assert result.code == 0, result.err
    assert len(result.out) + len(result.err) < 4000
    assert max(len(line) for line in (result.out + result.err).splitlines()) <= 300

    messages = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(messages) == 3
    for path in messages:
        raw = path.read_bytes()
        assert len(raw) < 64 * 1024
        message = parse(raw)
        assert len(message["Subject"]) <= LIMITS["subject"]
        text, page = parts(message)
        assert "Longtitle Longtitle" in page and "Authorname" in page
        assert page.find("mailto:leave@example.org") < GMAIL_CLIP
        assert "Longtitle Longtitle" in text and len(text) < 16 * 1024

    with sqlite3.connect(tmp_path / "digest.sqlite3") as db:
        rows = db.execute("SELECT length(title), length(author) FROM posts").fetchall()
    assert all(t <= LIMITS["title"] and a <= LIMITS["author"] for t, a in rows)
