"""The welcome through the real web app, a real SMTP server and the real run: one message after
a confirmed subscription, with the issues' unsubscribe link and headers; retried by the next run
when it cannot go, never sent twice; off with ``welcome: false``; overridable templates."""

from __future__ import annotations

import re
import warnings
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

with warnings.catch_warnings():  # the test client still speaks httpx 0.28, which is installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from digest import app as pipeline
from digest.delivery.senders import make_sender
from digest.issues.schedule import parse as parse_schedule
from digest.models import Feed
from digest.settings import SmtpSettings
from digest.web import create_app
from support.browser import EDITOR_TOKEN, Site, confirm_link, free_port, make_site, message_to
from support.rss import Item, write_rss
from support.smtpserver import CountingHandler, FaultyHandler, SmtpServer


@pytest.fixture
def site(tmp_path: Path, smtp: tuple[SmtpServer, CountingHandler]) -> Site:
    made = make_site(tmp_path, smtp[0].port, base_url=PUBLIC)
    feed = write_rss(tmp_path / "feed.xml", "Example Blog", [
        Item("n1", "A new post", "https://blog.example.org/n1",
             datetime(2024, 3, 3, tzinfo=UTC))])
    return replace(made, settings=replace(made.settings, approval="auto", editors=(),
                                          feeds=(Feed(url=str(feed), name="Example Blog"),)))


PUBLIC = "https://news.example.org"  # public_url and unsubscribe_url: https, so one-click too


def client_for(site: Site, sender_factory: Any = None) -> TestClient:
    app = create_app(site.settings, sender_factory or site.sender_factory(),
                     editor_token=EDITOR_TOKEN, base_url=PUBLIC, clock=site.clock)
    return TestClient(app, follow_redirects=False)


def send_queued(client: TestClient) -> None:
    """One pass of the server's mail thread over the queue of confirmation requests."""
    client.app.state.web.mail_worker.send()  # type: ignore[attr-defined]


def subscribe(client: TestClient, smtp: CountingHandler, email: str) -> str:
    """Ask and confirm, as a reader does; the page the confirmation shows."""
    assert client.post("/subscribe", data={"email": email}).status_code == 200
    send_queued(client)
    confirmations = [(rcpt, data) for rcpt, data in smtp.messages if b"Confirm your" in data]
    query = parse_qs(urlsplit(confirm_link(message_to(confirmations, email))).query)
    response = client.post("/subscribe/confirm", data={"e": query["e"][0],
                                                       "token": query["token"][0]})
    assert response.status_code == 200, response.text
    return str(response.text)


def welcomes_to(smtp: CountingHandler, email: str) -> list[bytes]:
    return [data for rcpt, data in smtp.messages if rcpt == email and b"Welcome to" in data]


def run(site: Site) -> pipeline.RunReport:
    deps = pipeline.Deps(clock=site.clock, sender_factory=site.sender_factory())
    return pipeline.run(site.settings, deps)


def test_a_confirmed_reader_gets_one_welcome_like_an_issue(
        site: Site, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    client = client_for(site)
    assert "You are subscribed" in subscribe(client, smtp[1], "cy@example.org")
    [raw] = welcomes_to(smtp[1], "cy@example.org")
    msg = message_to([("cy@example.org", raw)], "cy@example.org")
    assert msg["Subject"] == "Welcome to Example weekly"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Id"] and msg["From"] == "Example <digest@example.org>"
    header_link = re.search(r"<(https://news\.example\.org/unsubscribe\?token=[^>]+)>",
                            msg["List-Unsubscribe"])
    assert header_link
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert f"Unsubscribe: {header_link.group(1)}" in text
    assert f'href="{header_link.group(1)}"'.replace("&", "&amp;") in html
    assert "It comes whenever the blog has new posts." in text
    assert "Read the latest issue: https://news.example.org/issues/latest" in text
    assert "https://news.example.org/issues/latest" in html and "cy@example.org" in text
    assert "%%DIGEST" not in raw.decode()
    # The link in the welcome unsubscribes, in one click, like an issue's.
    token = parse_qs(urlsplit(header_link.group(1)).query)["token"][0]
    left = client.post(f"/unsubscribe?token={token}", data={"List-Unsubscribe": "One-Click"})
    assert left.status_code == 200 and site.status("cy@example.org") == "unsubscribed"


def test_never_a_second_welcome(site: Site, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    client = client_for(site)
    subscribe(client, smtp[1], "cy@example.org")
    subscribe(client, smtp[1], "cy@example.org")  # already active: nothing happens
    site.clock.advance(hours=1)
    with site.store() as store:
        store.set_subscriber_status("cy@example.org", "unsubscribed")
    subscribe(client, smtp[1], "cy@example.org")  # back again: subscribed, not welcomed again
    assert site.status("cy@example.org") == "active"
    run(site)
    run(site)
    assert len(welcomes_to(smtp[1], "cy@example.org")) == 1


def test_a_welcome_that_cannot_go_waits_for_the_next_run(
        site: Site, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    # Confirmation requests go out; the welcome meets a server that is down.
    up = client_for(site)
    assert up.post("/subscribe", data={"email": "cy@example.org"}).status_code == 200
    send_queued(up)
    query = parse_qs(urlsplit(confirm_link(message_to(smtp[1].messages,
                                                      "cy@example.org"))).query)
    down = make_sender("smtp", smtp=SmtpSettings(host="127.0.0.1", port=free_port(),
                                                 security="none", timeout=2), max_attempts=1)
    page = client_for(site, down).post("/subscribe/confirm", data={
        "e": query["e"][0], "token": query["token"][0]})
    assert page.status_code == 200 and "You are subscribed" in page.text
    assert welcomes_to(smtp[1], "cy@example.org") == []
    with site.store() as store:
        assert store.welcome_counts()["pending"] == 1
    report = run(site)
    assert report.welcomes.sent == ("cy@example.org",) and not report.trouble
    assert len(welcomes_to(smtp[1], "cy@example.org")) == 1
    assert run(site).welcomes == pipeline.WelcomeReport()
    assert len(welcomes_to(smtp[1], "cy@example.org")) == 1


def test_a_refused_welcome_is_reported_once_and_not_retried(tmp_path: Path) -> None:
    handler = FaultyHandler(reject=["gone@example.org"], keep=True)
    with SmtpServer(handler) as server:
        site = make_site(tmp_path, server.port)
        with site.store() as store:
            store.confirm_subscriber("gone@example.org", "", site.clock(), welcome=True)
        deps = pipeline.Deps(clock=site.clock, sender_factory=site.sender_factory())
        report = pipeline.send_welcomes(site.settings, deps)
        assert report.failed and report.failed[0][0] == "gone@example.org"
        assert "5.1.1" in report.failed[0][1]
        assert pipeline.send_welcomes(site.settings, deps) == pipeline.WelcomeReport()
        with site.store() as store:
            assert store.welcome_counts()["failed"] == 1


def test_a_welcome_claimed_elsewhere_or_in_a_crash_is_not_sent_again(
        site: Site, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    with site.store() as store:
        cy = store.confirm_subscriber("cy@example.org", "", site.clock(), welcome=True)
        dee = store.confirm_subscriber("dee@example.org", "", site.clock(), welcome=True)
        assert store.claim_welcome(cy.id, site.clock())  # a process that then crashed
        assert not store.claim_welcome(cy.id, site.clock())
    report = run(site)
    assert report.welcomes.sent == ("dee@example.org",)
    assert welcomes_to(smtp[1], "cy@example.org") == []
    assert dee.id and len(welcomes_to(smtp[1], "dee@example.org")) == 1


def test_welcome_false_sends_and_queues_nothing(
        site: Site, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    quiet = replace(site, settings=replace(site.settings, welcome=False))
    subscribe(client_for(quiet), smtp[1], "cy@example.org")
    assert quiet.status("cy@example.org") == "active"
    run(quiet)
    assert welcomes_to(smtp[1], "cy@example.org") == []
    with site.store() as store:
        assert sum(store.welcome_counts().values()) == 0


def test_the_schedule_says_how_often_and_an_override_replaces_the_words(
        site: Site, smtp: tuple[SmtpServer, CountingHandler], tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "welcome.txt.j2").write_text("Hello from {{ title }}, {{ frequency }}.\n"
                                           "Leave: {{ recipient.unsubscribe_url }}\n")
    weekly = replace(site, settings=replace(
        site.settings, templates=folder,
        schedule=parse_schedule("weekly monday 08:00 Europe/Berlin")))
    subscribe(client_for(weekly), smtp[1], "cy@example.org")
    [raw] = welcomes_to(smtp[1], "cy@example.org")
    msg = message_to([("cy@example.org", raw)], "cy@example.org")
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("Hello from Example weekly, every Monday at 08:00 (Europe/Berlin).")
    assert "Leave: https://news.example.org/unsubscribe?token=" in text
    assert "It comes every Monday at 08:00 (Europe/Berlin)." in html  # the bundled HTML


def test_a_broken_override_is_reported_and_the_issue_still_goes(
        site: Site, smtp: tuple[SmtpServer, CountingHandler], tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "welcome.txt.j2").write_text("{{ no_such_value }}\n")
    broken = replace(site, settings=replace(site.settings, templates=folder))
    with broken.store() as store:
        store.confirm_subscriber("cy@example.org", "", site.clock(), welcome=True)
    report = run(broken)
    assert report.trouble and "no_such_value" in report.welcomes.stopped
    assert report.issue is not None and report.deliveries and report.deliveries[0].sent == 3
    assert welcomes_to(smtp[1], "cy@example.org") == []
    with broken.store() as store:
        assert store.welcome_counts()["pending"] == 1
