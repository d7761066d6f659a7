"""The editors' "Send now" through the real web app and a real SMTP server: only an approved
draft, only with the form's CSRF token and the hash that was approved, by the same rules as
`digest send`; and the issues list newest first."""

from __future__ import annotations

import re
import warnings

import pytest

with warnings.catch_warnings():  # the test client still speaks httpx 0.28, which is installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from digest.issues import drafts
from digest.models import FetchOutcome
from digest.store.lock import run_lock
from digest.web import create_app
from support.browser import EDITOR_TOKEN, FEED, Site, post
from support.smtpserver import CountingHandler, SmtpServer


@pytest.fixture
def client(site: Site) -> TestClient:
    app = create_app(site.settings, site.sender_factory(), editor_token=EDITOR_TOKEN,
                     base_url="http://testserver", clock=site.clock)
    client = TestClient(app, follow_redirects=False)
    response = client.post("/editor/login", data={"token": EDITOR_TOKEN, "next": "/editor/"})
    assert response.status_code == 303
    return client


def form_of(client: TestClient) -> dict[str, str]:
    """The "Send now" form's fields as the draft page shows them."""
    page = client.get("/editor/draft").text
    found = re.search(r'<form method="post" action="/editor/draft/send">(.*?)</form>', page,
                      re.S)
    assert found, page
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', found.group(1)))


def approve(site: Site) -> int:
    issue = site.make_draft()
    with site.store() as store:
        drafts.approve(store, issue.id, site.clock())
    return issue.id


def test_send_now_sends_the_approved_draft_once(site: Site, client: TestClient,
                                                smtp: tuple[SmtpServer, CountingHandler]) -> None:
    issue_id = approve(site)
    fields = form_of(client)
    response = client.post("/editor/draft/send", data=fields)
    assert response.status_code == 303, response.text
    assert sorted(r for r, _ in smtp[1].messages) == ["ann@example.org", "bob@example.org"]
    assert site.issue(issue_id).status == "sent"
    shown = client.get(response.headers["location"]).text
    assert "Sent, by the same rules as `digest send`. (2 sent, 0 not sent)" in shown.replace(
        "&#96;", "`")
    again = client.post("/editor/draft/send", data=fields)  # the page was out of date
    assert again.status_code == 409 and "reload the page" in again.text
    assert len(smtp[1].messages) == 2


def test_no_send_button_before_approval_and_no_send_of_a_draft(
        site: Site, client: TestClient, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    issue = site.make_draft()
    assert "/editor/draft/send" not in client.get("/editor/draft").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/editor/draft").text)
    assert csrf
    response = client.post("/editor/draft/send", data={
        "csrf": csrf.group(1), "issue_id": str(issue.id), "hash": issue.content_hash or ""})
    assert response.status_code == 409
    assert smtp[1].messages == [] and site.issue(issue.id).status == "draft"


def test_send_now_needs_the_csrf_token_and_the_approved_hash(
        site: Site, client: TestClient, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    issue_id = approve(site)
    fields = form_of(client)
    assert client.post("/editor/draft/send", data={**fields, "csrf": "x"}).status_code == 403
    other = {**fields, "hash": "0" * 64}
    assert client.post("/editor/draft/send", data=other).status_code == 409
    assert client.post("/editor/draft/send", data={**fields, "hash": ""}).status_code == 409
    assert client.post("/editor/draft/send", data={**fields, "issue_id": "x"}).status_code == 409
    assert smtp[1].messages == [] and site.issue(issue_id).status == "approved"


def test_send_now_waits_while_a_run_holds_the_lock(
        site: Site, client: TestClient, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    issue_id = approve(site)
    fields = form_of(client)
    with run_lock(site.settings.store):
        response = client.post("/editor/draft/send", data=fields)
    assert response.status_code == 409 and "another" in response.text.lower()
    assert smtp[1].messages == [] and site.issue(issue_id).status == "approved"


def test_the_issues_list_is_newest_first(site: Site, client: TestClient) -> None:
    approve(site)
    assert client.post("/editor/draft/send", data=form_of(client)).status_code == 303
    with site.store() as store:
        store.record_fetch(FetchOutcome(feed=FEED, status="ok", posts=(post("n1", 0),)),
                           site.clock())
    site.make_draft()
    numbers = re.findall(r"<tr><td>(?:<a href=\"/issues/\d+\">)?(\d+)", client.get(
        "/editor/").text)
    assert numbers == ["2", "1"]
