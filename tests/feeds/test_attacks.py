"""Hostile feeds that are already held off, kept as regression tests: XML entity bombs and
external entities, and (through the real `digest run`) a redirect into the internal network and
comments feeds past the run's budget."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.feeds import fetch_feeds
from digest.models import Feed
from digest.settings import FetchSettings
from support.e2e import digest, write_config
from support.feedserver import FeedServer, Route

DATA = Path(__file__).parents[1] / "data"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def _billion_laughs() -> bytes:
    entities = ['<!ENTITY a "lollollollollollollollollollol">']
    entities += [f'<!ENTITY {chr(98 + i)} "{f"&{chr(97 + i)};" * 10}">' for i in range(9)]
    return ('<?xml version="1.0"?><!DOCTYPE rss [' + "".join(entities) + "]>"
            '<rss version="2.0"><channel><title>t</title><item><guid>1</guid><title>&j;</title>'
            "<description>&j;</description></item></channel></rss>").encode()


def test_billion_laughs_is_not_expanded(server: FeedServer) -> None:
    url = server.route("/laughs", Route(body=_billion_laughs()))
    (outcome,) = fetch_feeds([Feed(url, "laughs")], {}, FetchSettings(timeout=5))
    assert all("lol" not in post.title + post.summary_html for post in outcome.posts)


def test_external_entities_are_not_read(server: FeedServer, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    body = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "{secret.as_uri()}">'
            '<!ENTITY y SYSTEM "' + server.url("/probe") + '">]><rss version="2.0"><channel>'
            "<title>t &x;</title><item><guid>1</guid><title>A &x; &y;</title><description>&x;"
            "</description></item></channel></rss>").encode()
    url = server.route("/xxe", Route(body=body))
    (outcome,) = fetch_feeds([Feed(url, "xxe")], {}, FetchSettings(timeout=5))
    assert "TOPSECRET" not in repr(outcome)
    assert server.requests_to("/probe") == []


def test_run_reports_a_refused_redirect_and_left_out_comment_feeds(
        tmp_path: Path, server: FeedServer) -> None:
    with FeedServer("127.0.0.2") as internal:
        internal.route("/admin", Route(body=(DATA / "wordpress.rss").read_bytes()))
        server.route("/moved", Route(redirect_to=internal.url("/admin")))
        items = "".join(f"<item><guid>p{i}</guid><title>Post {i}</title><wfw:commentRss>"
                        f"{server.url(f'/c{i}')}</wfw:commentRss></item>" for i in range(30))
        server.route("/blog", Route(body=(
            '<rss version="2.0" xmlns:wfw="http://wellformedweb.org/CommentAPI/"><channel>'
            f"<title>Blog</title>{items}</channel></rss>").encode()))
        for i in range(30):
            server.route(f"/c{i}", Route(body=b"<rss/>", delay=10.0))
        config = write_config(tmp_path, [server.url("/moved"),
                                         server.url("/blog") + "\n    comments: fetch"],
                              extra="fetch: {comment_budget: 0.5, timeout: 20}\n")
        result = digest(config, "run")
        assert internal.requests == []
    assert result.code != 0
    assert (f"FAILED    127.0.0.1 ({server.url('/moved')}): refused: redirected to "
            f"{internal.url('/admin')}, which is on a loopback address (127.0.0.2)") in result.out
    assert (f"WARNING   127.0.0.1 ({server.url('/blog')}): comment feeds: 0 of 30 fetched; 30 "
            "left out (30 the run's time budget for comment feeds was spent); "
            "fetch.comment_budget is 0.5 s") in result.out
