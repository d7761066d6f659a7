"""Each sample feed fetched twice over real HTTP into a real store: before and after the change the
feed went through (guids rewritten, a move to https, a new permalink structure, ...). The first
issue holds the expected posts in the expected order; the second fetch finds exactly the new
posts, and the next issue holds them and nothing that was sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digest.feeds import fetch_feeds
from digest.issues.compose import History, plan_issue
from digest.models import Feed, IssuePlan, RenderedIssue
from digest.settings import DigestSettings, FetchSettings
from digest.store import Store
from support.feedserver import FeedServer, Route

DATA = Path(__file__).parents[1] / "data"
CASES = sorted(p for p in DATA.glob("*.expected.json") if "later" in json.loads(p.read_text()))
DIGEST = DigestSettings(title="Weekly", from_addr="Weekly <d@example.org>",
                        site_url="https://example.org/", max_posts=10)
FIRST = datetime(2024, 3, 14, 8, 0, tzinfo=UTC)
SECOND = datetime(2024, 3, 19, 8, 0, tzinfo=UTC)


def _stem(path: Path) -> str:
    return path.name.removesuffix(".expected.json")


def _source(stem: str, folder: Path = DATA) -> bytes:
    (source,) = [p for p in folder.glob(stem + ".*") if not p.name.endswith(".json")]
    return source.read_bytes()


def _fetch(store: Store, feed: Feed, now: datetime) -> int:
    (outcome,) = fetch_feeds([feed], {}, FetchSettings())
    assert outcome.status == "ok", outcome.error
    return store.record_fetch(outcome, now)


def _issue(store: Store, feeds: list[Feed], now: datetime) -> IssuePlan | None:
    """Plan the next issue from the store and record it as made, as a run does."""
    history = History(sent_links=tuple(store.issued_links()))
    plan = plan_issue(store.unissued_posts(), store.last_issue(), DIGEST, now, feeds=feeds,
                      history=history)
    if plan is not None:
        store.create_issue(plan.covered_keys, RenderedIssue(plan.subject, "<p>x</p>", "x", "", 0),
                           now)
    return plan


def _titles(plan: IssuePlan | None) -> list[str]:
    return [] if plan is None else [post.title for post in plan.posts]


@pytest.mark.parametrize("expected_path", CASES, ids=_stem)
def test_two_fetches_send_each_post_once(expected_path: Path, tmp_path: Path) -> None:
    expected: dict[str, Any] = json.loads(expected_path.read_text(encoding="utf-8"))
    later = expected["later"]
    stem = _stem(expected_path)
    with FeedServer() as server, Store.open(tmp_path / "digest.sqlite3") as store:
        feed = Feed(url=server.route("/feed", Route(body=_source(stem))), name=stem)
        assert _fetch(store, feed, FIRST) == len(expected["posts"])
        first = _issue(store, [feed], FIRST)
        assert _titles(first) == later["first_issue"]

        server.route("/feed", Route(body=_source(stem, DATA / "later")))
        assert _fetch(store, feed, SECOND) == later["new"]
        second = _issue(store, [feed], SECOND)
        assert _titles(second) == later["next_issue"]
        assert first is not None and second is not None
        assert not set(first.covered_keys) & set(second.covered_keys)
        # a third fetch of the same feed finds nothing new and offers nothing
        assert _fetch(store, feed, SECOND) == 0
        assert _issue(store, [feed], SECOND) is None


def test_a_comments_feed_beside_its_posts_feed_is_not_taken_for_copies(tmp_path: Path) -> None:
    """Comments link to post/#comment-N: each is its own entry, shown or counted, never merged
    into the post."""
    with FeedServer() as server, Store.open(tmp_path / "digest.sqlite3") as store:
        posts = Feed(url=server.route("/feed", Route(body=_source("wp-guid-rewrite"))),
                     name="Posts")
        comments = Feed(url=server.route("/comments", Route(body=_source("wp-comments"))),
                        name="Comments")
        assert _fetch(store, posts, FIRST) + _fetch(store, comments, FIRST) == 4
        plan = _issue(store, [posts, comments], FIRST)
        assert plan is not None
        assert len(plan.posts) + plan.more_count == len(plan.covered_keys) == 4
        assert "Comment on Leeks in <head>-high beds by Ann" in _titles(plan)


def test_a_scheduled_post_waits_for_its_date_and_is_then_sent(tmp_path: Path) -> None:
    with FeedServer() as server, Store.open(tmp_path / "digest.sqlite3") as store:
        feed = Feed(url=server.route("/feed", Route(body=_source("ghost-order"))), name="Ghost")
        _fetch(store, feed, FIRST)
        first = _issue(store, [feed], FIRST)
        assert first is not None and "Scheduled: the roadmap" not in _titles(first)
        assert "Scheduled" not in first.subject
        later = _issue(store, [feed], datetime(2024, 4, 23, tzinfo=UTC))
        assert _titles(later) == ["Scheduled: the roadmap"]


def test_copies_from_another_feed_are_counted_once(tmp_path: Path) -> None:
    """The same posts syndicated by a second feed (http, www., tracking parameters) are not new
    posts: run output counts distinct posts."""
    with FeedServer() as server, Store.open(tmp_path / "digest.sqlite3") as store:
        later = _source("hugo-moved", DATA / "later")
        mirror = _source("hugo-moved").replace(b"<title>Field Recordings</title>",
                                               b"<title>Mirror</title>")
        feed = Feed(url=server.route("/feed", Route(body=later)), name="Hugo")
        copy = Feed(url=server.route("/mirror", Route(body=mirror)), name="Mirror")
        assert _fetch(store, feed, FIRST) == 3
        assert _fetch(store, copy, FIRST) == 0


def test_a_recovered_malformed_feed_is_read_with_a_warning() -> None:
    expected = json.loads((DATA / "typepad-malformed.expected.json").read_text())
    with FeedServer() as server:
        feed = Feed(url=server.route("/feed", Route(body=_source("typepad-malformed"))),
                    name="TypePad")
        (outcome,) = fetch_feeds([feed], {}, FetchSettings())
    assert outcome.status == "ok"
    assert [p.title for p in outcome.posts] == ["Salt & pepper"]
    assert outcome.warnings == tuple(expected["warnings"])
    assert outcome.warnings[0].startswith("malformed XML at line 3")


def test_a_web_page_that_advertises_its_feed_is_followed_once() -> None:
    page = (DATA / "discover.html").read_bytes()
    with FeedServer() as server:
        server.route("/blog/feed/", Route(body=_source("wp-guid-rewrite")))
        url = server.route("/blog/", Route(body=page, content_type="text/html; charset=utf-8"))
        (outcome,) = fetch_feeds([Feed(url=url, name="Blog")], {}, FetchSettings())
        assert len(server.requests_to("/blog/feed/")) == 1
    assert outcome.status == "ok"
    assert len(outcome.posts) == 2 and outcome.feed.url == url
    assert outcome.warnings == (f"{url} is a web page; it advertises its feed at "
                                f"{server.url('/blog/feed/')}: put that URL in feeds.yaml",)


def test_a_web_page_without_a_feed_is_still_an_error() -> None:
    with FeedServer() as server:
        url = server.route("/", Route(body=b"<!doctype html><title>Hi</title><p>no feed</p>",
                                      content_type="text/html"))
        (outcome,) = fetch_feeds([Feed(url=url, name="Page")], {}, FetchSettings())
    assert (outcome.status, outcome.error) == ("error", "not a feed: got an HTML page")
