"""fetch_feeds against a real HTTP server on 127.0.0.1: the good path and every bad input."""

from __future__ import annotations

import functools
import gzip
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

import digest
from digest.feeds import fetch_feeds
from digest.feeds.fetch import CappedBody, _BodyTooLarge
from digest.models import CommentsMode, Feed, FetchOutcome, Validators
from digest.settings import FetchSettings
from support.feedserver import FeedServer, Route

DATA = Path(__file__).parents[1] / "data"
WORDPRESS = (DATA / "wordpress.rss").read_bytes()
FAST = FetchSettings(timeout=5.0)
MB = 1024 * 1024


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def fetch_one(url: str, settings: FetchSettings = FAST, validators: Validators | None = None,
              *, comments: CommentsMode = "feed") -> FetchOutcome:
    feed = Feed(url=url, name="Test feed", comments=comments)
    (outcome,) = fetch_feeds([feed], {url: validators} if validators else {}, settings)
    assert outcome.feed == feed
    return outcome


def failed(outcome: FetchOutcome) -> str:
    assert outcome.status == "error"
    assert outcome.posts == ()
    assert outcome.error
    return outcome.error


def test_fetches_and_parses_a_feed_naming_the_tool(server: FeedServer) -> None:
    url = server.route("/feed/", Route(body=WORDPRESS))
    outcome = fetch_one(url)
    assert outcome.status == "ok" and outcome.http_status == 200
    assert [p.key for p in outcome.posts] == [
        "id:https://feelingagain.example.org/?p=412", "id:https://feelingagain.example.org/?p=398",
        "id:https://feelingagain.example.org/?p=377"]
    (request,) = server.requests_to("/feed/")
    assert f"digest/{digest.__version__}" in request.headers["User-Agent"]
    assert "gzip" in request.headers["Accept-Encoding"]


def test_conditional_get_returns_not_modified_and_keeps_validators(server: FeedServer) -> None:
    stamp = "Tue, 05 Mar 2024 09:12:44 GMT"
    url = server.route("/feed/", Route(body=WORDPRESS, etag='"v1"', last_modified=stamp))
    first = fetch_one(url)
    assert first.validators == Validators(etag='"v1"', last_modified=stamp)

    second = fetch_one(url, validators=first.validators)
    assert (second.status, second.http_status, second.posts) == ("not_modified", 304, ())
    assert second.validators == first.validators
    conditional = server.requests_to("/feed/")[1].headers
    assert conditional["If-None-Match"] == '"v1"'
    assert conditional["If-Modified-Since"] == stamp

    server.routes["/feed/"].etag = '"v2"'  # the feed changed: a full answer with new validators
    third = fetch_one(url, validators=first.validators)
    assert third.status == "ok" and third.validators.etag == '"v2"' and len(third.posts) == 3


def test_last_modified_alone_gives_not_modified(server: FeedServer) -> None:
    stamp = "Tue, 05 Mar 2024 09:12:44 GMT"
    url = server.route("/feed/", Route(body=WORDPRESS, last_modified=stamp))
    outcome = fetch_one(url, validators=Validators(last_modified=stamp))
    assert outcome.status == "not_modified"
    assert outcome.validators == Validators(last_modified=stamp)


def test_gzip_body_is_accepted(server: FeedServer) -> None:
    url = server.route("/feed/", Route(body=WORDPRESS, gzip=True))
    outcome = fetch_one(url)
    assert outcome.status == "ok" and len(outcome.posts) == 3
    assert server.sent["/feed/"] < len(WORDPRESS)  # it really travelled compressed


@pytest.mark.parametrize(("status", "reason"), [(404, "HTTP 404 Not Found"),
                                                (500, "HTTP 500 Internal Server Error")])
def test_http_errors_are_named(server: FeedServer, status: int, reason: str) -> None:
    url = server.route("/feed/", Route(status=status, body=b"oops", content_type="text/plain"))
    old = Validators(etag='"old"')
    outcome = fetch_one(url, validators=old)
    assert failed(outcome) == reason
    assert outcome.http_status == status
    assert outcome.validators == old  # nothing learnt, nothing forgotten


def test_slow_server_times_out(server: FeedServer) -> None:
    url = server.route("/slow", Route(body=WORDPRESS, delay=3.0))
    outcome = fetch_one(url, FetchSettings(timeout=0.3))
    assert failed(outcome) == "timed out after 0.3 s"


def test_dribbling_server_hits_the_overall_deadline(server: FeedServer) -> None:
    route = Route(stream=lambda: iter([b"<rss>"] + [b" "] * 100), drip=0.05)
    url = server.route("/drip", route)
    outcome = fetch_one(url, FetchSettings(timeout=0.2))
    assert failed(outcome) == "timed out: no complete answer after 0.6 s"


def test_connection_refused_is_named() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert failed(fetch_one(f"http://127.0.0.1:{port}/feed")).startswith("could not connect")


def test_redirects_are_followed(server: FeedServer) -> None:
    server.route("/old", Route(status=301, redirect_to="/newer"))
    server.route("/newer", Route(status=308, redirect_to="/feed/"))
    server.route("/feed/", Route(body=WORDPRESS))
    outcome = fetch_one(server.url("/old"))
    assert outcome.status == "ok" and len(outcome.posts) == 3


def test_redirect_loop_is_an_error(server: FeedServer) -> None:
    server.route("/a", Route(redirect_to="/b"))
    server.route("/b", Route(redirect_to="/a"))
    a, b = server.url("/a"), server.url("/b")
    assert failed(fetch_one(a)) == f"redirect loop: {a} -> {b} -> {a}"


def test_too_many_redirects_is_an_error(server: FeedServer) -> None:
    for hop in range(4):
        server.route(f"/hop{hop}", Route(redirect_to=f"/hop{hop + 1}"))
    server.route("/hop4", Route(body=WORDPRESS))
    settings = FetchSettings(timeout=5.0, max_redirects=3)
    assert failed(fetch_one(server.url("/hop0"), settings)) == "too many redirects (3)"
    assert len(server.requests_to("/hop3")) == 1 and not server.requests_to("/hop4")
    assert fetch_one(server.url("/hop1"), settings).status == "ok"  # three hops are fine


def _fifty_megabytes() -> Iterator[bytes]:
    chunk = b"<!-- " + b"x" * (64 * 1024 - 9) + b" -->"
    for _ in range(50 * 16):
        yield chunk


def test_fifty_megabyte_body_is_cut_off_early(server: FeedServer) -> None:
    url = server.route("/huge", Route(stream=_fifty_megabytes))
    assert failed(fetch_one(url)) == "body larger than 10 MB"
    # The client hung up: the server could not push much past the cap plus socket buffers.
    assert server.sent["/huge"] < 30 * MB


def test_declared_oversize_body_is_refused_before_reading(server: FeedServer) -> None:
    url = server.route("/huge", Route(stream=_fifty_megabytes, declare_length=50 * MB))
    assert failed(fetch_one(url)) == "body larger than 10 MB"
    assert server.sent.get("/huge", 0) < 30 * MB


@functools.cache
def _bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"\0" * MB
    return b"".join([*(compressor.compress(block) for _ in range(size // MB)),
                     compressor.flush()])


def test_gzip_bomb_is_refused(server: FeedServer) -> None:
    bomb = _bomb(100 * MB)
    assert len(bomb) < MB // 4
    url = server.route("/bomb", Route(body=bomb, headers={"Content-Encoding": "gzip"}))
    assert failed(fetch_one(url)) == "body larger than 10 MB"


def test_gzip_bomb_is_not_inflated_past_the_cap() -> None:
    bomb, limit = _bomb(100 * MB), 10 * MB
    body = CappedBody("gzip", limit)
    with pytest.raises(_BodyTooLarge):
        for start in range(0, len(bomb), 16 * 1024):
            body.feed(bomb[start:start + 16 * 1024])
    assert limit < body.produced <= limit + 1
    assert body.received < len(bomb)  # refused before the whole bomb had even arrived


def test_capped_body_decodes_gzip_deflate_and_concatenated_members() -> None:
    text = b"<rss>" + b"feed " * 1000 + b"</rss>"
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    cases = {
        "gzip": gzip.compress(text),
        "x-gzip": gzip.compress(text[:100]) + gzip.compress(text[100:]),
        "GZIP": gzip.compress(text) + b"\0" * 20,  # padding after the end is ignored
        "deflate": zlib.compress(text),
        "Deflate, identity": raw_deflate.compress(text) + raw_deflate.flush(),
        "": text,
    }
    for coding, data in cases.items():
        body = CappedBody(coding, len(text))
        for start in range(0, len(data), 7):
            body.feed(data[start:start + 7])
        assert body.finish() == text, coding


def test_unsupported_content_encoding_is_named(server: FeedServer) -> None:
    url = server.route("/br", Route(body=b"\x1b\x00", headers={"Content-Encoding": "br"}))
    assert failed(fetch_one(url)) == "unreadable body: unsupported Content-Encoding 'br'"


def test_corrupt_gzip_is_named(server: FeedServer) -> None:
    url = server.route("/bad", Route(body=b"\x1f\x8b\x08\x00garbage-garbage",
                                     headers={"Content-Encoding": "gzip"}))
    assert failed(fetch_one(url)).startswith("unreadable body: corrupt gzip data")


def test_malformed_xml_is_an_error_naming_the_line(server: FeedServer) -> None:
    body = b'<?xml version="1.0"?>\n<rss version="2.0">\n<channel>\n<title>x</titel>\n' \
           b"<item><title>a</title></item></channel></rss>"
    url = server.route("/bad.xml", Route(body=body))
    assert failed(fetch_one(url)) == "malformed XML at line 4: mismatched tag"


def test_slightly_broken_feed_with_entries_is_kept(server: FeedServer) -> None:
    body = WORDPRESS.replace(b"</channel>\n</rss>", b"")  # truncated at the end
    outcome = fetch_one(server.route("/cut.xml", Route(body=body)))
    assert outcome.status == "ok" and len(outcome.posts) == 3


def test_html_page_instead_of_a_feed(server: FeedServer) -> None:
    page = b"<!DOCTYPE html><html><head><title>Blog</title></head><body><p>Hi</p></body></html>"
    url = server.route("/", Route(body=page, content_type="text/html; charset=utf-8"))
    assert failed(fetch_one(url)) == "not a feed: got an HTML page"


@pytest.mark.parametrize(("content_type", "encoded"), [
    ("application/rss+xml; charset=iso-8859-1", "utf-8"),
    ("application/rss+xml; charset=utf-8", "cp1252"),
])
def test_wrong_encoding_declaration_still_reads(server: FeedServer, content_type: str,
                                                encoded: str) -> None:
    body = ('<rss version="2.0"><channel><title>Tést</title><item><guid>1</guid>'
            "<title>Naïve café — “quoted”</title></item></channel></rss>").encode(encoded)
    outcome = fetch_one(server.route("/enc", Route(body=body, content_type=content_type)))
    assert outcome.status == "ok"
    assert outcome.posts[0].title == "Naïve café — “quoted”"


def test_feed_with_no_items_is_ok(server: FeedServer) -> None:
    url = server.route("/empty", Route(body=b'<rss version="2.0"><channel><title>Nothing yet'
                                            b"</title></channel></rss>"))
    outcome = fetch_one(url)
    assert (outcome.status, outcome.posts, outcome.error) == ("ok", (), None)


def test_entries_without_guid_link_or_date_keep_their_keys(server: FeedServer) -> None:
    url = server.route("/nodates", Route(body=(DATA / "nodates.rss").read_bytes()))
    first, second = fetch_one(url), fetch_one(url)
    assert [p.key for p in first.posts] == [p.key for p in second.posts]
    assert len({p.key for p in first.posts}) == 5


def test_hostile_feed_arrives_sanitised(server: FeedServer) -> None:
    outcome = fetch_one(server.route("/hostile", Route(body=(DATA / "hostile.rss").read_bytes())))
    assert outcome.status == "ok" and len(outcome.posts) == 3
    for post in outcome.posts:
        assert "<script" not in post.summary_html and "javascript" not in post.summary_html
        assert "\n" not in post.title and "\r" not in post.title
        assert post.link is None or post.link.startswith("https://")
        assert post.comments_feed is None  # file:///etc/passwd is not followed


def test_local_paths_and_file_urls(tmp_path: Path) -> None:
    feed_file = tmp_path / "feed with space.xml"
    feed_file.write_bytes(WORDPRESS)
    by_path = fetch_one(str(feed_file))
    by_url = fetch_one(feed_file.as_uri())
    assert by_path.status == by_url.status == "ok"
    assert [p.key for p in by_path.posts] == [p.key for p in by_url.posts] and by_path.posts

    unchanged = fetch_one(str(feed_file), validators=by_path.validators)
    assert unchanged.status == "not_modified"


def test_local_file_problems_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "missing.xml"
    assert failed(fetch_one(str(missing))) == f"file not found: {missing}"
    big = tmp_path / "big.xml"
    big.write_bytes(b" " * 2048)
    assert failed(fetch_one(str(big), FetchSettings(max_bytes=1024))) == "file larger than 1 KB"
    assert failed(fetch_one("ftp://example.org/feed")) == \
        "unsupported address: ftp: URLs cannot be fetched"


def test_one_bad_feed_does_not_stop_the_others_and_order_is_kept(server: FeedServer) -> None:
    server.route("/good", Route(body=WORDPRESS, delay=0.2))
    server.route("/gone", Route(status=410, body=b""))
    server.route("/also-good", Route(body=(DATA / "blogger.atom").read_bytes()))
    feeds = [Feed(server.url(path), path) for path in ("/good", "/gone", "/also-good")]
    outcomes = fetch_feeds(feeds, {}, FetchSettings(timeout=5.0, concurrency=2))
    assert [o.feed for o in outcomes] == feeds
    assert [o.status for o in outcomes] == ["ok", "error", "ok"]
    assert outcomes[1].error == "HTTP 410 Gone"


COMMENTED = """<rss version="2.0" xmlns:wfw="http://wellformedweb.org/CommentAPI/"
  xmlns:slash="http://purl.org/rss/1.0/modules/slash/"><channel><title>c</title>
  <item><guid>p1</guid><wfw:commentRss>{base}/c1</wfw:commentRss></item>
  <item><guid>p2</guid><wfw:commentRss>{base}/c2</wfw:commentRss></item>
  <item><guid>p3</guid><wfw:commentRss>{base}/missing</wfw:commentRss></item>
  <item><guid>p4</guid><slash:comments>6</slash:comments>
    <wfw:commentRss>{base}/slow</wfw:commentRss></item>
  <item><guid>p5</guid></item>
</channel></rss>"""


def _comments_feed(count: int) -> bytes:
    items = "".join(f"<item><guid>c{i}</guid><title>Re: {i}</title></item>" for i in range(count))
    return f'<rss version="2.0"><channel><title>Comments</title>{items}</channel></rss>'.encode()


def test_comment_counts_can_be_fetched_from_comments_feeds(server: FeedServer) -> None:
    url = server.route("/feed", Route(body=COMMENTED.format(base=server.base).encode()))
    server.route("/c1", Route(body=_comments_feed(4)))
    server.route("/c2", Route(body=_comments_feed(0)))
    server.route("/slow", Route(body=_comments_feed(9), delay=3.0))
    outcome = fetch_one(url, FetchSettings(timeout=0.5), comments="fetch")
    assert outcome.status == "ok"
    # p3's comments feed is gone and p4's times out: the feed still works, and those posts keep
    # what the feed itself said (nothing for p3, 6 for p4).
    assert [p.comment_count for p in outcome.posts] == [4, 0, None, 6, None]
    assert fetch_one(url).posts[0].comment_count is None  # "feed" mode fetches nothing more


def test_comment_count_prefers_opensearch_total(server: FeedServer) -> None:
    url = server.route("/feed", Route(body=COMMENTED.format(base=server.base).encode()))
    paged = _comments_feed(2).replace(
        b"<channel>", b'<channel xmlns:openSearch="http://a9.com/-/spec/opensearchrss/1.0/">'
                      b"<openSearch:totalResults>57</openSearch:totalResults>")
    server.route("/c1", Route(body=paged))
    assert fetch_one(url, comments="fetch").posts[0].comment_count == 57


def test_fetched_comment_counts_refresh_even_when_the_feed_is_unchanged(
        server: FeedServer) -> None:
    body = COMMENTED.format(base=server.base).encode()
    url = server.route("/feed", Route(body=body, etag='"same"'))
    server.route("/c1", Route(body=_comments_feed(4)))
    first = fetch_one(url, comments="fetch")
    assert first.posts[0].comment_count == 4
    server.route("/c1", Route(body=_comments_feed(7)))
    again = fetch_one(url, validators=first.validators, comments="fetch")
    assert again.status == "ok" and again.posts[0].comment_count == 7
    # without per-post comment feeds, the same validators do give a 304
    assert fetch_one(url, validators=first.validators).status == "not_modified"
