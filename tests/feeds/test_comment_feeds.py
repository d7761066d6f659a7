"""Comments feeds (``comments: fetch``): only on the feed's own site, inside the network
boundary, within the run's time budget and cap; what is left out is said per feed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from digest.feeds import fetch_feeds
from digest.feeds.comments import site_of
from digest.models import Feed, FetchOutcome
from digest.settings import FetchSettings
from support.feedserver import FeedServer, Route


@pytest.fixture
def blog() -> Iterator[FeedServer]:
    with FeedServer("127.0.0.1") as running:
        yield running


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    with FeedServer("127.0.0.2") as running:
        yield running


def feed_naming(comment_urls: list[str], link: str = "") -> bytes:
    items = "".join(f"<item><guid>p{i}</guid><title>Post {i}</title>"
                    f"<wfw:commentRss>{url}</wfw:commentRss></item>"
                    for i, url in enumerate(comment_urls))
    return (f'<rss version="2.0" xmlns:wfw="http://wellformedweb.org/CommentAPI/"><channel>'
            f"<title>Blog</title><link>{link}</link>{items}</channel></rss>").encode()


def comments(count: int) -> bytes:
    items = "".join(f"<item><guid>c{i}</guid></item>" for i in range(count))
    return f'<rss version="2.0"><channel><title>Comments</title>{items}</channel></rss>'.encode()


def fetch(url: str, **settings: float) -> FetchOutcome:
    (outcome,) = fetch_feeds([Feed(url, "Blog", comments="fetch")], {},
                             FetchSettings(timeout=30.0, **settings))  # type: ignore[arg-type]
    assert outcome.status == "ok", outcome.error
    return outcome


def test_comments_feeds_on_another_site_are_not_fetched(blog: FeedServer) -> None:
    blog.route("/c", Route(body=comments(3)))
    url = blog.route("/feed", Route(body=feed_naming(
        [blog.url("/c"), "http://tracker.example.net/c", "https://evil.example/comments"])))
    outcome = fetch(url)
    assert [p.comment_count for p in outcome.posts] == [3, None, None]
    assert outcome.warnings == ("comment feeds: 1 of 3 fetched; 2 left out "
                             "(2 not on the feed's own site)",)


def test_a_feed_claiming_an_internal_site_cannot_reach_it(
        blog: FeedServer, internal: FeedServer) -> None:
    """The feed's <link> may name any site; the boundary still keeps 127.0.0.2 closed."""
    internal.route("/c", Route(body=comments(5)))
    url = blog.route("/feed", Route(body=feed_naming([internal.url("/c")], internal.base)))
    outcome = fetch(url)
    assert outcome.posts[0].comment_count is None
    assert outcome.warnings == ("comment feeds: 0 of 1 fetched; 1 left out "
                             "(1 on an internal address)",)
    assert internal.requests == []


def test_a_feed_configured_on_an_internal_host_counts_its_comments(internal: FeedServer) -> None:
    internal.route("/c", Route(body=comments(5)))
    outcome = fetch(internal.route("/feed", Route(body=feed_naming([internal.url("/c")]))))
    assert outcome.posts[0].comment_count == 5
    assert outcome.warnings == ()  # nothing left out, nothing to say


def test_unanswering_comments_feeds_end_with_the_run_budget(blog: FeedServer) -> None:
    urls = [blog.route(f"/c{i}", Route(body=comments(1), delay=20.0)) for i in range(120)]
    url = blog.route("/feed", Route(body=feed_naming(urls)))
    outcome = fetch(url, comment_budget=0.5, concurrency=10)
    assert [p.comment_count for p in outcome.posts] == [None] * 120
    assert outcome.warnings == (
        "comment feeds: 0 of 120 fetched; 120 left out (120 the run's time budget for comment "
        "feeds was spent); fetch.comment_budget is 0.5 s",)
    # Only those started before the budget ran out were asked for at all.
    assert len([r for r in blog.requests if r.path.startswith("/c")]) <= 10


def test_the_cap_on_comments_feeds_is_shared_by_the_run(blog: FeedServer) -> None:
    urls = [blog.route(f"/c{i}", Route(body=comments(i))) for i in range(3)]
    first = blog.route("/one", Route(body=feed_naming(urls)))
    second = blog.route("/two", Route(body=feed_naming(urls)))
    outcomes = fetch_feeds([Feed(first, "One", comments="fetch"),
                            Feed(second, "Two", comments="fetch")], {},
                           FetchSettings(timeout=5.0, max_comment_feeds=4, concurrency=1))
    fetched = [sum(p.comment_count is not None for p in o.posts) for o in outcomes]
    assert sum(fetched) == 4
    notes = [note for o in outcomes for note in o.warnings]
    assert any("2 the run's cap on comment feeds was reached" in note for note in notes)
    assert all(note.endswith("fetch.max_comment_feeds is 4") for note in notes if "cap" in note)


@pytest.mark.parametrize(("url", "site"), [
    ("https://blog.example.co.uk/feed", "example.co.uk"),
    ("https://comments.example.co.uk/x", "example.co.uk"),
    ("https://alice.blogspot.com/feeds/1/comments", "alice.blogspot.com"),  # a private suffix
    ("http://127.0.0.1:8080/c", "127.0.0.1"), ("http://[::1]/c", "::1"),
    ("http://localhost:8000/c", "localhost"), ("HTTPS://Example.ORG./", "example.org"),
    ("file:///etc/passwd", None), ("/var/feed.xml", None), (None, None),
])
def test_site_of(url: str | None, site: str | None) -> None:
    assert site_of(url) == site
