"""The archive through the real web app (Starlette's test client, a real store, a real SMTP
server): /issues newest first, /issues/latest, /issues.atom parsed back with feedparser, and the
emails' footer linking to them."""

from __future__ import annotations

import calendar
import re
import warnings
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

with warnings.catch_warnings():  # the test client still speaks httpx 0.28, which is installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from digest import app as pipeline
from digest.issues import drafts
from digest.models import FetchOutcome, Issue
from digest.web import create_app
from support.browser import EDITOR_TOKEN, FEED, Site, make_site, message_to, post
from support.smtpserver import CountingHandler, SmtpServer


@pytest.fixture
def site(tmp_path: Path, smtp: tuple[SmtpServer, CountingHandler]) -> Site:
    return make_site(tmp_path, smtp[0].port, posts=0)


@pytest.fixture
def client(site: Site) -> TestClient:
    app = create_app(site.settings, site.sender_factory(), editor_token=EDITOR_TOKEN,
                     base_url="http://testserver", clock=site.clock)
    return TestClient(app, follow_redirects=False)


def send_issue(site: Site, *keys: str) -> Issue:
    """New posts ``keys`` fetched, drafted, approved and delivered over SMTP, a day later."""
    site.clock.advance(days=1)
    with site.store() as store:
        store.record_fetch(FetchOutcome(feed=FEED, status="ok",
                                        posts=tuple(post(key, 0) for key in keys)), site.clock())
    issue = site.make_draft()
    with site.store() as store:
        drafts.approve(store, issue.id, site.clock())
        drafts.start_sending(store, issue.id)
        sending = store.get_issue(issue.id)
        deps = pipeline.Deps(clock=site.clock, sender_factory=site.sender_factory())
        pipeline.deliver_issue(site.settings, store, sending, deps)
        store.finish_issue(issue.id, site.clock())
        return store.get_issue(issue.id)


def test_the_archive_lists_sent_issues_newest_first(site: Site, client: TestClient) -> None:
    first = send_issue(site, "a1")
    second = send_issue(site, "b1", "b2")
    with site.store() as store:
        store.record_fetch(FetchOutcome(feed=FEED, status="ok", posts=(post("c1", 0),)),
                           site.clock())
    draft = site.make_draft()
    response = client.get("/issues")
    assert response.status_code == 200
    rows = re.findall(r"<tr><td><time datetime=\"([^\"]+)\">([^<]+)</time></td>"
                      r"<td><a href=\"(/issues/\d+)\">([^<]+)</a></td><td>(\d+)</td></tr>",
                      response.text)
    assert [(link, posts) for _, _, link, _, posts in rows] == [
        (f"/issues/{second.id}", "2"), (f"/issues/{first.id}", "1")]
    assert [day for _, day, _, _, _ in rows] == ["2024-03-06", "2024-03-05"]
    assert rows[0][0] == "2024-03-06T08:00Z"
    assert f"/issues/{draft.id}\"" not in response.text  # a draft is not published
    # A subject from feed titles is escaped, never markup.
    assert "&lt;b&gt;bold&lt;/b&gt;" in rows[0][3] and "<b>" not in response.text
    assert 'type="application/atom+xml"' in response.text
    assert "http://testserver/issues.atom" in response.text


def test_latest_redirects_to_the_newest_issue(site: Site, client: TestClient) -> None:
    empty = client.get("/issues/latest")
    assert empty.status_code == 404 and "No issues yet" in empty.text
    send_issue(site, "a1")
    newest = send_issue(site, "b1")
    response = client.get("/issues/latest")
    assert response.status_code == 307 and response.headers["location"] == f"/issues/{newest.id}"
    assert client.get(response.headers["location"]).status_code == 200


def test_the_atom_feed_parses_with_ids_dates_and_links(site: Site, client: TestClient) -> None:
    first = send_issue(site, "a1")
    second = send_issue(site, "b1", "b2")
    response = client.get("/issues.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Example weekly"
    assert parsed.feed.id == "http://testserver/issues"
    assert {(link.rel, link.href) for link in parsed.feed.links} == {
        ("self", "http://testserver/issues.atom"), ("alternate", "http://testserver/issues")}
    assert [entry.id for entry in parsed.entries] == [
        f"http://testserver/issues/{second.id}", f"http://testserver/issues/{first.id}"]
    for entry, issue in zip(parsed.entries, (second, first), strict=True):
        assert entry.link == f"http://testserver/issues/{issue.id}"
        assert issue.sent_at is not None
        when = datetime.fromtimestamp(calendar.timegm(entry.published_parsed), UTC)
        assert when == issue.sent_at.replace(microsecond=0)
        assert entry.updated_parsed == entry.published_parsed
        assert entry.title == issue.subject
        assert client.get(entry.link.removeprefix("http://testserver")).status_code == 200
    assert parsed.entries[0].summary.startswith("2 posts: ")
    assert parsed.entries[1].summary.startswith("1 post: ")
    assert parsed.feed.updated_parsed == parsed.entries[0].updated_parsed


def test_an_empty_archive_is_a_valid_feed_and_a_page_that_says_so(client: TestClient) -> None:
    page = client.get("/issues")
    assert page.status_code == 200 and "No issue has been sent yet" in page.text
    parsed = feedparser.parse(client.get("/issues.atom").content)
    assert not parsed.bozo and parsed.entries == [] and parsed.feed.id


def test_each_email_links_to_the_archive_when_public_url_is_set(
        site: Site, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    send_issue(site, "a1")
    received = message_to(smtp[1].messages, "ann@example.org")
    text = next(p for p in received.walk() if p.get_content_type() == "text/plain")
    html = next(p for p in received.walk() if p.get_content_type() == "text/html")
    assert "Past issues: http://testserver/issues" in text.get_content()
    assert re.search(r'<a href="http://testserver/issues"[^>]*>Past issues</a>', html.get_content())

    smtp[1].messages.clear()
    private = replace(site, settings=replace(site.settings, digest=replace(
        site.settings.digest, public_url=None)))
    send_issue(private, "b1")
    received = message_to(smtp[1].messages, "ann@example.org")
    assert "Past issues" not in received.as_string()
