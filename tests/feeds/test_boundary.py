"""The network boundary: a feed reaches internal addresses only when it is configured on one.

127.0.0.1 plays the public blog and 127.0.0.2 an internal host (an admin page, a metadata
service): both are loopback, so a feed on one may not send the fetcher to the other.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from digest.feeds import fetch_feeds
from digest.feeds.boundary import address_kind
from digest.feeds.fetch import FetchFailed, fetch_document
from digest.models import Feed, FetchOutcome, Validators
from digest.settings import FetchSettings
from support.feedserver import FeedServer, Route

DATA = Path(__file__).parents[1] / "data"
WORDPRESS = (DATA / "wordpress.rss").read_bytes()
FAST = FetchSettings(timeout=5.0)


@pytest.fixture
def blog() -> Iterator[FeedServer]:
    with FeedServer("127.0.0.1") as running:
        yield running


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    with FeedServer("127.0.0.2") as running:
        running.route("/secret", Route(body=WORDPRESS))
        yield running


def fetch_one(url: str, settings: FetchSettings = FAST, comments: str = "feed") -> FetchOutcome:
    feed = Feed(url=url, name="Test feed", comments="fetch" if comments == "fetch" else "feed")
    (outcome,) = fetch_feeds([feed], {}, settings)
    return outcome


def port_of(server: FeedServer) -> int:
    return int(server.base.rsplit(":", 1)[1])


def test_redirect_to_an_internal_host_is_refused_before_connecting(
        blog: FeedServer, internal: FeedServer) -> None:
    target = internal.url("/secret")
    url = blog.route("/feed", Route(redirect_to=target))
    outcome = fetch_one(url)
    assert outcome.status == "error" and outcome.posts == ()
    assert outcome.error == (f"refused: redirected to {target}, which is on a loopback address "
                             "(127.0.0.2); only a feed configured on that host may reach it")
    assert internal.requests == []  # nothing was asked of the internal host


@pytest.mark.parametrize("host", ["[::ffff:127.0.0.2]", "[::ffff:7f00:2]", "0.0.0.0",
                                  "localhost", "[::1]"])
def test_every_spelling_of_another_local_address_is_refused(
        internal: FeedServer, host: str) -> None:
    """A feed on 127.0.0.2 may not reach 127.0.0.1 however it is written (a name included)."""
    url = internal.route("/feed", Route(redirect_to=f"http://{host}:{port_of(internal)}/secret"))
    error = fetch_one(url).error or ""
    assert error.startswith("refused: redirected to http://"), error
    assert len(internal.requests_to("/secret")) == 0


def test_a_feed_configured_on_an_internal_host_works_there(internal: FeedServer) -> None:
    internal.route("/moved", Route(status=301, redirect_to="/secret"))
    outcome = fetch_one(internal.url("/moved"))
    assert outcome.status == "ok" and len(outcome.posts) == 3


def test_the_same_internal_host_by_mapped_address_is_the_same_host(internal: FeedServer) -> None:
    outcome = fetch_one(f"http://[::ffff:127.0.0.2]:{port_of(internal)}/secret")
    assert outcome.status == "ok" and len(outcome.posts) == 3


def test_a_public_feed_leaves_no_open_connection_for_an_internal_one(
        blog: FeedServer, internal: FeedServer) -> None:
    """The internal feed's connection is not reused by a redirect from the public one."""
    blog.route("/feed", Route(redirect_to=internal.url("/secret")))
    feeds = [Feed(internal.url("/secret"), "internal"), Feed(blog.url("/feed"), "public")]
    inside, outside = fetch_feeds(feeds, {}, FetchSettings(timeout=5.0, concurrency=1))
    assert inside.status == "ok"
    assert outside.status == "error" and (outside.error or "").startswith("refused")
    assert len(internal.requests_to("/secret")) == 1


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.2", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
    ("fd00::1", "private"), ("::ffff:192.168.0.1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("100.64.0.1", "reserved"),  # shared address space (RFC 6598): not global
    ("93.184.216.34", None), ("2606:4700::1111", None), ("::ffff:93.184.216.34", None),
])
def test_address_classes(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


def test_named_urls_must_be_web_addresses(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(WORDPRESS)

    async def attempt(url: str) -> None:
        async with httpx.AsyncClient() as client:
            await fetch_document(client, url, Validators(), FAST, named_by="http://example.org/")

    for url in (secret.as_uri(), str(secret), "ftp://example.org/c", "gopher://x/"):
        with pytest.raises(FetchFailed) as caught:
            asyncio.run(attempt(url))
        assert caught.value.reason == "only http(s) addresses named by a feed are fetched"


def test_redirect_to_a_file_url_is_refused(blog: FeedServer, tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(WORDPRESS)
    url = blog.route("/feed", Route(redirect_to=secret.as_uri()))
    assert fetch_one(url).error == f"redirected to a non-web address: {secret.as_uri()}"


def test_a_feed_advertised_by_a_page_stays_inside_the_boundary(
        blog: FeedServer, internal: FeedServer) -> None:
    page = (f'<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" '
            f'href="{internal.url("/secret")}"></head><body>Blog</body></html>').encode()
    url = blog.route("/", Route(body=page, content_type="text/html; charset=utf-8"))
    outcome = fetch_one(url)
    assert outcome.status == "error" and "loopback address (127.0.0.2)" in (outcome.error or "")
    assert internal.requests == []
