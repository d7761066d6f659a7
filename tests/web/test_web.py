"""The web pages over HTTP (Starlette's test client on the real app, a real SQLite store and a
real SMTP server): every route, and every security rule."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from markupsafe import escape

with warnings.catch_warnings():  # the test client still speaks httpx 0.28, which is installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from digest.errors import ConfigError
from digest.web import Limits, create_app
from digest.web.security import SESSION_COOKIE, is_loopback, safe_next
from support.browser import (
    EDITOR_TOKEN,
    Site,
    confirm_link,
    message_to,
)
from support.smtpserver import CountingHandler, SmtpServer


def client_for(site: Site, limits: Limits | None = None) -> TestClient:
    app = create_app(site.settings, site.sender_factory(), editor_token=EDITOR_TOKEN,
                     base_url="http://testserver", clock=site.clock, limits=limits)
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def client(site: Site) -> TestClient:
    return client_for(site)


def login(client: TestClient) -> None:
    response = client.post("/editor/login", data={"token": EDITOR_TOKEN, "next": "/editor/"})
    assert response.status_code == 303, response.text


def csrf_of(client: TestClient, path: str = "/editor/draft") -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert match
    return str(match.group(1))


# --- editor: credentials, sessions, redirects ----------------------------------------------------

EDITOR_GETS = ["/editor/", "/editor/draft", "/editor/preview/1"]
EDITOR_POSTS = ["/editor/draft/make", "/editor/draft/edit", "/editor/draft/approve",
                "/editor/draft/test", "/editor/draft/already-sent", "/editor/logout"]


@pytest.mark.parametrize("path", EDITOR_GETS + EDITOR_POSTS)
def test_editor_routes_refuse_without_credentials(site: Site, client: TestClient,
                                                  path: str) -> None:
    site.make_draft()
    method = client.post if path in EDITOR_POSTS else client.get
    response = method(path)
    assert response.status_code == 401
    assert "Post p0" not in response.text
    assert site.issue(1).status == "draft"


def test_a_browser_without_credentials_is_sent_to_login_and_back(client: TestClient) -> None:
    response = client.get("/editor/draft", headers={"Accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"] == "/editor/login?next=%2Feditor%2Fdraft"
    done = client.post("/editor/login", data={"token": EDITOR_TOKEN, "next": "/editor/draft"})
    assert done.headers["location"] == "/editor/draft"
    cookie = done.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/editor/draft").status_code == 200


def test_a_wrong_token_logs_nobody_in(client: TestClient) -> None:
    response = client.post("/editor/login", data={"token": "guess", "next": "/editor/"})
    assert response.status_code == 401 and "not the editor token" in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert client.get("/editor/").status_code == 401


def test_bearer_token_works_and_a_wrong_one_is_refused(site: Site, client: TestClient) -> None:
    site.make_draft()
    good = client.get("/editor/", headers={"Authorization": f"Bearer {EDITOR_TOKEN}"})
    assert good.status_code == 200 and "review the draft" in good.text
    bad = client.get("/editor/", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_forged_and_expired_session_cookies_are_refused(site: Site, client: TestClient) -> None:
    login(client)
    real = client.cookies[SESSION_COOKIE]
    body, mac = real.split(".")
    client.cookies.set(SESSION_COOKIE, body + "." + mac[::-1], path="/editor")
    assert client.get("/editor/").status_code == 401
    client.cookies.set(SESSION_COOKIE, real, path="/editor")
    assert client.get("/editor/").status_code == 200
    site.clock.advance(hours=13)
    assert client.get("/editor/").status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)", "editor/",
                                    "/\t/evil.example"])
def test_login_never_redirects_off_site(client: TestClient, target: str) -> None:
    response = client.post("/editor/login", data={"token": EDITOR_TOKEN, "next": target})
    assert response.headers["location"] == "/editor/"
    page = client.get("/editor/login", params={"next": target})
    assert 'name="next" value="/editor/"' in page.text


def test_safe_next_keeps_local_paths() -> None:
    assert safe_next("/editor/draft?dark=1") == "/editor/draft?dark=1"


def test_without_an_editor_token_the_editor_pages_are_off(site: Site) -> None:
    app = create_app(site.settings, site.sender_factory(), editor_token=None,
                     base_url="http://testserver", clock=site.clock)
    client = TestClient(app, follow_redirects=False)
    assert client.post("/editor/login", data={"token": ""}).status_code == 403
    assert client.get("/editor/", headers={"Authorization": "Bearer "}).status_code == 401


def test_the_app_needs_the_secret(site: Site) -> None:
    from dataclasses import replace
    with pytest.raises(ConfigError, match="DIGEST_SECRET"):
        create_app(replace(site.settings, secret=None), site.sender_factory(),
                   editor_token=EDITOR_TOKEN, base_url="http://testserver")


def test_logging_in_is_rate_limited(site: Site) -> None:
    client = client_for(site, Limits(logins=2))
    for _ in range(2):
        assert client.post("/editor/login", data={"token": "x"}).status_code == 401
    assert client.post("/editor/login", data={"token": EDITOR_TOKEN}).status_code == 429


# --- editor: CSRF --------------------------------------------------------------------------------

@pytest.mark.parametrize("csrf", [None, "", "forged.token", "a" * 30])
def test_an_editor_post_without_a_valid_csrf_token_is_refused(site: Site, client: TestClient,
                                                              csrf: str | None) -> None:
    issue = site.make_draft()
    login(client)
    data = {"issue_id": str(issue.id), "hash": issue.content_hash or ""}
    if csrf is not None:
        data["csrf"] = csrf
    response = client.post("/editor/draft/approve", data=data)
    assert response.status_code == 403
    assert site.issue(issue.id).status == "draft"


def test_a_csrf_token_from_another_session_is_refused(site: Site, client: TestClient) -> None:
    issue = site.make_draft()
    other = client_for(site)
    login(other)
    foreign = csrf_of(other)
    login(client)
    response = client.post("/editor/draft/approve", data={
        "csrf": foreign, "issue_id": str(issue.id), "hash": issue.content_hash or ""})
    assert response.status_code == 403
    assert site.issue(issue.id).status == "draft"


# --- editor: the draft ---------------------------------------------------------------------------

def test_issues_page_lists_issues_with_delivery_counts(site: Site, client: TestClient) -> None:
    issue = site.make_draft()
    with site.store() as store:
        from digest.issues import drafts
        drafts.approve(store, issue.id, site.clock())
        drafts.start_sending(store, issue.id)
    login(client)
    text = client.get("/editor/").text
    row = re.search(r"<tr><td><a href=\"/issues/1\">1</a></td>.*?</tr>", text)
    assert row, text
    assert "sending" in row.group(0)
    assert "<td>0</td><td>2</td><td>0</td>" in row.group(0)  # sent, pending, failed


def test_make_a_draft_from_the_stored_posts(site: Site, client: TestClient) -> None:
    login(client)
    assert "No open draft" in client.get("/editor/draft").text
    response = client.post("/editor/draft/make", data={"csrf": csrf_of(client)})
    assert response.headers["location"] == "/editor/draft?done=made"
    with site.store() as store:
        draft = store.open_draft()
    assert draft is not None and draft.status == "draft"


def test_draft_page_shows_subject_size_hash_text_and_previews(site: Site,
                                                              client: TestClient) -> None:
    issue = site.make_draft()
    login(client)
    text = client.get("/editor/draft").text
    assert str(escape(issue.subject)) in text
    assert (issue.content_hash or "")[:12] in text
    assert "Gmail clips at 102 KB" in text
    assert 'src="/editor/preview/1"' in text and 'width="375"' in text
    assert "About p0." in text  # the text part
    assert "<b>bold</b>" not in text  # feed titles are escaped
    dark = client.get("/editor/draft", params={"dark": "1"}).text
    assert 'src="/editor/preview/1?dark=1"' in dark


def test_preview_is_sandboxed_and_dark_mode_turns_the_dark_rules_on(site: Site,
                                                                    client: TestClient) -> None:
    site.make_draft()
    login(client)
    light = client.get("/editor/preview/1")
    assert light.status_code == 200
    assert light.headers["content-security-policy"].startswith("sandbox")
    assert "prefers-color-scheme: dark" in light.text
    dark = client.get("/editor/preview/1", params={"dark": "1"}).text
    assert "prefers-color-scheme" not in dark and "@media all" in dark
    assert client.get("/editor/preview/99").status_code == 404


def test_approve_posts_the_hash_and_a_stale_page_cannot_approve(site: Site,
                                                                client: TestClient) -> None:
    issue = site.make_draft()
    login(client)
    token = csrf_of(client)
    edited = client.post("/editor/draft/edit", data={
        "csrf": token, "issue_id": str(issue.id), "subject": "A new subject",
        "intro": "New intro"})
    assert edited.headers["location"] == "/editor/draft?done=edited"
    stale = client.post("/editor/draft/approve", data={
        "csrf": token, "issue_id": str(issue.id), "hash": issue.content_hash or ""})
    assert stale.status_code == 409 and "changed since it was reviewed" in stale.text
    assert site.issue(issue.id).status == "draft"
    current = site.issue(issue.id)
    fresh = client.post("/editor/draft/approve", data={
        "csrf": token, "issue_id": str(issue.id), "hash": current.content_hash or ""})
    assert fresh.headers["location"] == "/editor/draft?done=approved"
    approved = site.issue(issue.id)
    assert approved.status == "approved" and approved.approved_hash == current.content_hash


def test_edit_renders_again_and_escapes_what_the_editor_typed(site: Site,
                                                              client: TestClient) -> None:
    issue = site.make_draft()
    login(client)
    client.post("/editor/draft/edit", data={
        "csrf": csrf_of(client), "issue_id": str(issue.id),
        "subject": "Spring <script>x</script>", "intro": "Hello <img src=x onerror=y> **you**"})
    edited = site.issue(issue.id)
    assert edited.subject == "Spring <script>x</script>"
    assert edited.content_hash != issue.content_hash
    page = client.get("/editor/draft").text
    assert "<script>x</script>" not in page and "Spring &lt;script&gt;" in page
    assert "onerror=y>" not in client.get(f"/editor/preview/{issue.id}").text


def test_a_bad_edit_changes_nothing(site: Site, client: TestClient) -> None:
    issue = site.make_draft()
    login(client)
    response = client.post("/editor/draft/edit", data={
        "csrf": csrf_of(client), "issue_id": str(issue.id), "subject": "   "})
    assert response.status_code == 400 and "Nothing was changed" in response.text
    assert site.issue(issue.id).content_hash == issue.content_hash


def test_send_a_test_copy(site: Site, client: TestClient,
                          smtp: tuple[SmtpServer, CountingHandler]) -> None:
    issue = site.make_draft()
    login(client)
    response = client.post("/editor/draft/test", data={
        "csrf": csrf_of(client), "issue_id": str(issue.id), "to": "ed@example.org"})
    assert response.headers["location"] == "/editor/draft?done=tested&to=ed%40example.org"
    msg = message_to(smtp[1].messages, "ed@example.org")
    assert msg["Subject"] == "[TEST] " + issue.subject
    bad = client.post("/editor/draft/test", data={
        "csrf": csrf_of(client), "issue_id": str(issue.id), "to": "not an address"})
    assert bad.status_code == 400
    assert len(smtp[1].messages) == 1


# --- unsubscribe ---------------------------------------------------------------------------------

def _token(site: Site, email: str) -> str:
    return parse_qs(urlsplit(site.unsubscribe_link(email)).query)["token"][0]


def test_get_unsubscribe_asks_and_changes_nothing(site: Site, client: TestClient) -> None:
    response = client.get("/unsubscribe", params={"token": _token(site, "ann@example.org")})
    assert response.status_code == 200
    assert "Unsubscribe ann@example.org" in response.text
    assert site.status("ann@example.org") == "active"


def test_the_unsubscribe_button_unsubscribes(site: Site, client: TestClient) -> None:
    response = client.post("/unsubscribe", data={"token": _token(site, "ann@example.org")})
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    assert site.status("ann@example.org") == "unsubscribed"
    assert site.status("bob@example.org") == "active"


def test_one_click_post_needs_no_cookie_or_csrf(site: Site, client: TestClient) -> None:
    link = site.unsubscribe_link("bob@example.org")
    response = client.post(urlsplit(link).path + "?" + urlsplit(link).query,
                           content=b"List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert site.status("bob@example.org") == "unsubscribed"
    again = client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200


@pytest.mark.parametrize("how", ["altered", "other list", "missing reader", "garbage"])
def test_forged_unsubscribe_tokens_change_nothing(site: Site, client: TestClient,
                                                  how: str) -> None:
    from digest.mail import tokens
    from digest.web.security import SESSION_PURPOSE

    token = _token(site, "ann@example.org")
    forged = {
        "altered": token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
        "other list": tokens.unsubscribe_token(b"web-test-secret-0123456789abcdef", 1,
                                               "ann@example.org", "Other <other.example.org>"),
        "missing reader": tokens.unsubscribe_token(b"web-test-secret-0123456789abcdef", 99,
                                                   "zed@example.org", "x <y>"),
        "garbage": "not-a-token" + SESSION_PURPOSE,
    }[how]
    for response in (client.get("/unsubscribe", params={"token": forged}),
                     client.post("/unsubscribe", data={"token": forged}),
                     client.post(f"/unsubscribe?token={forged}",
                                 data={"List-Unsubscribe": "One-Click"})):
        assert response.status_code == 400
    assert site.status("ann@example.org") == "active"


def test_unsubscribe_without_a_token_explains(client: TestClient) -> None:
    response = client.get("/unsubscribe")
    assert response.status_code == 200 and "unsubscribe link at the bottom" in response.text


# --- subscribe (double opt-in) -------------------------------------------------------------------

def _subscribe(client: TestClient, email: str, name: str = "", *, send: bool = True) -> str:
    """Post the form; with ``send``, then do what the server's mail thread does next."""
    response = client.post("/subscribe", data={"email": email, "name": name})
    assert response.status_code == 200, response.text
    if send:
        send_queued(client)
    return str(response.text)


def send_queued(client: TestClient) -> object:
    """One pass of the server's mail thread over the queue (the real use case it runs)."""
    worker = client.app.state.web.mail_worker  # type: ignore[attr-defined]
    return worker.send()


def _confirm(client: TestClient, link: str) -> str:
    query = parse_qs(urlsplit(link).query)
    return str(client.post("/subscribe/confirm",
                           data={"e": query["e"][0], "token": query["token"][0]}).text)


def test_subscribe_sends_a_link_and_only_the_confirmation_subscribes(
        site: Site, client: TestClient, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    _subscribe(client, "cy@example.org", "Cy <b>")
    msg = message_to(smtp[1].messages, "cy@example.org")
    assert "Confirm your subscription" in msg["Subject"]
    link = confirm_link(msg)
    assert link.startswith("http://testserver/subscribe/confirm?")
    assert "Cy" not in msg.as_string()  # only the address typed in reaches the message
    page = client.get(urlsplit(link).path + "?" + urlsplit(link).query)
    assert page.status_code == 200 and "Confirm my subscription" in page.text
    assert site.status("cy@example.org") is None  # opening the link (a mail scanner) is not it
    assert "You are subscribed" in _confirm(client, link)
    assert site.status("cy@example.org") == "active"
    with site.store() as store:
        found = store.subscriber_by_email("cy@example.org")
    assert found is not None and found.name == "Cy <b>"


def test_the_answer_is_the_same_whether_or_not_the_address_is_listed(
        site: Site, client: TestClient, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    listed = _subscribe(client, "ann@example.org")
    unknown = _subscribe(client, "new@example.org")
    assert listed == unknown
    # An active reader is not mailed again; the new address is.
    assert [rcpt for rcpt, _ in smtp[1].messages] == ["new@example.org"]


def test_a_bad_address_is_refused_with_the_form_again(client: TestClient,
                                                      smtp: tuple[SmtpServer, CountingHandler]
                                                      ) -> None:
    response = client.post("/subscribe", data={"email": "<script>@x", "name": ""})
    assert response.status_code == 400 and 'aria-invalid="true"' in response.text
    assert "<script>@x" not in response.text
    assert smtp[1].messages == []


def test_expired_and_altered_confirmation_links_are_refused(
        site: Site, client: TestClient, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    _subscribe(client, "cy@example.org")
    link = confirm_link(message_to(smtp[1].messages, "cy@example.org"))
    other = link.replace("e=cy%40example.org", "e=mallory%40example.org")
    assert "not valid" in _confirm(client, other)
    assert site.status("mallory@example.org") is None
    site.clock.advance(hours=49)
    assert "not valid" in _confirm(client, link)
    assert site.status("cy@example.org") is None


def test_a_bounced_reader_needs_a_fresh_confirmation(
        site: Site, client: TestClient, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    with site.store() as store:
        store.set_subscriber_status("bob@example.org", "bounced")
    _subscribe(client, "bob@example.org")
    link = confirm_link(message_to(smtp[1].messages, "bob@example.org"))
    assert site.status("bob@example.org") == "bounced"
    assert "You are subscribed" in _confirm(client, link)
    assert site.status("bob@example.org") == "active"


def test_an_old_confirmation_link_cannot_undo_a_later_unsubscribe(
        site: Site, client: TestClient, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    _subscribe(client, "cy@example.org")
    link = confirm_link(message_to(smtp[1].messages, "cy@example.org"))
    _confirm(client, link)
    with site.store() as store:
        store.set_subscriber_status("cy@example.org", "unsubscribed")
    assert "not valid" in _confirm(client, link)
    assert site.status("cy@example.org") == "unsubscribed"
    _subscribe(client, "cy@example.org")  # asking again is an explicit new request
    assert "You are subscribed" in _confirm(client, confirm_link(
        message_to(smtp[1].messages, "cy@example.org")))
    assert site.status("cy@example.org") == "active"


def test_subscribing_is_rate_limited_per_address_and_per_client(
        site: Site, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    client = client_for(site, Limits(per_ip=4, per_address=2))
    for _ in range(2):
        _subscribe(client, "cy@example.org")
    assert client.post("/subscribe", data={"email": "CY@example.org"}).status_code == 429
    _subscribe(client, "dee@example.org")
    assert client.post("/subscribe", data={"email": "eve@example.org"}).status_code == 429
    assert sorted(r for r, _ in smtp[1].messages) == ["cy@example.org", "cy@example.org",
                                                     "dee@example.org"]


# --- web versions of issues, headers -------------------------------------------------------------

def test_the_web_version_of_a_sent_issue_has_no_personal_data(site: Site,
                                                              client: TestClient) -> None:
    issue = site.make_draft()
    assert client.get(f"/issues/{issue.id}").status_code == 404  # a draft is not published
    with site.store() as store:
        from digest.issues import drafts
        drafts.approve(store, issue.id, site.clock())
        drafts.start_sending(store, issue.id)
    response = client.get(f"/issues/{issue.id}")
    assert response.status_code == 200 and "Post p0" in response.text
    assert "%%DIGEST" not in response.text and "digest@example.org" not in response.text
    assert "token=" not in response.text
    assert 'href="http://testserver/unsubscribe"' in response.text
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert client.get("/issues/42").status_code == 404


def test_every_page_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/subscribe", "/unsubscribe", "/editor/login"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer"
    assert client.get("/").headers["location"] == "/subscribe"
    assert client.get("/static/site.css").headers["content-type"].startswith("text/css")


# --- provider webhooks ---------------------------------------------------------------------------

MAILGUN_KEY = "mailgun-signing-key-for-tests"


def _mailgun_post(client: TestClient, site: Site, email: str, key: str) -> int:
    import hashlib
    import hmac
    import json

    stamp, token = str(int(site.clock().timestamp())), "a" * 50
    signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    body = {"signature": {"timestamp": stamp, "token": token, "signature": signature},
            "event-data": {"event": "failed", "severity": "permanent", "recipient": email,
                           "timestamp": int(stamp), "reason": "bounce",
                           "delivery-status": {"code": 550, "message": "no such user"}}}
    response = client.post("/webhooks/mailgun", content=json.dumps(body).encode(),
                           headers={"Content-Type": "application/json"})
    return int(response.status_code)


def test_a_signed_provider_webhook_records_a_bounce_and_a_forged_one_nothing(
        site: Site) -> None:
    from dataclasses import replace

    from digest.settings import WebhookSettings

    hooked = replace(site, settings=replace(
        site.settings, webhooks=WebhookSettings(mailgun_signing_key=MAILGUN_KEY)))
    client = client_for(hooked)
    assert _mailgun_post(client, site, "ann@example.org", "wrong-key") == 401
    assert site.status("ann@example.org") == "active"
    assert client.post("/webhooks/nobody", content=b"{}").status_code == 404
    assert _mailgun_post(client, site, "ann@example.org", MAILGUN_KEY) == 200
    assert site.status("ann@example.org") == "bounced"
    assert site.status("bob@example.org") == "active"


# --- digest serve --------------------------------------------------------------------------------

@pytest.mark.parametrize(("host", "local"), [("127.0.0.1", True), ("localhost", True),
                                             ("::1", True), ("0.0.0.0", False),
                                             ("192.168.1.5", False), ("example.org", False)])
def test_serve_knows_which_addresses_stay_on_this_machine(host: str, local: bool) -> None:
    assert is_loopback(host) is local


def test_serve_without_the_secret_says_so_and_serves_nothing(tmp_path: Path) -> None:
    from support.e2e import digest, write_config

    config = write_config(tmp_path, ["https://blog.example.org/feed.xml"])
    result = digest(config, "serve", "--port", "0")
    assert result.code == 2 and "DIGEST_SECRET" in result.err


def test_serve_refuses_a_port_that_is_not_one(tmp_path: Path) -> None:
    from support.e2e import digest, write_config

    config = write_config(tmp_path, ["https://blog.example.org/feed.xml"])
    result = digest(config, "serve", "--port", "70000")
    assert result.code == 2 and "--port 70000 is not a port number" in result.err


def test_the_email_links_to_its_web_version(site: Site, client: TestClient,
                                            smtp: tuple[SmtpServer, CountingHandler]) -> None:
    from digest import app as pipeline
    from digest.issues import drafts

    issue = site.make_draft()
    with site.store() as store:
        drafts.approve(store, issue.id, site.clock())
        drafts.start_sending(store, issue.id)
        sending = store.find_issue(issue.id)
        assert sending is not None
        deps = pipeline.Deps(clock=site.clock, sender_factory=site.sender_factory())
        report = pipeline.deliver_issue(site.settings, store, sending, deps)
    assert report.sent >= 1
    received = message_to(smtp[1].messages, smtp[1].messages[0][0])
    text = next(p for p in received.walk() if p.get_content_type() == "text/plain")
    page = next(p for p in received.walk() if p.get_content_type() == "text/html")
    found = re.search(r"View this issue in your browser: (\S+)", text.get_content())
    assert found, text.get_content()
    link = found.group(1)
    assert link.startswith("http://testserver/issues/") and len(link.rsplit("/", 1)[1]) == 12
    assert f'href="{link}"' in page.get_content()
    assert "%%DIGEST" not in text.get_content() + page.get_content()

    assert "View this issue in your browser" in page.get_content()
    response = client.get(urlsplit(link).path)
    assert response.status_code == 200 and "Post p0" in response.text
    assert "%%DIGEST" not in response.text
    # The web version is the browser: it does not offer itself again.
    assert "View this issue in your browser" not in response.text
    assert 'class="browser-link"' not in response.text and "Unsubscribe" in response.text
    assert client.get("/issues/0123456789ab").status_code == 404
    assert client.get("/issues/not-a-hash").status_code == 404


# --- the pages' look: the digest's colours, templates overriding them, editors' pages -----------

def test_pages_use_the_digests_colours_and_title(client: TestClient) -> None:
    css = client.get("/static/site.css").text
    assert "--link: #0f766e" in css and "--brand: #115e59" in css  # digest.css's teal
    assert "--link: #7dd3c8" in css  # and its dark-mode teal
    page = client.get("/subscribe").text
    assert "Example weekly" in page and 'class="foot"' in page  # readers get the footer


def test_editor_pages_have_no_readers_footer(client: TestClient, site: Site) -> None:
    site.make_draft()
    assert 'class="foot"' not in client.get("/editor/login").text
    login(client)
    for path in ("/editor/", "/editor/draft"):
        page = client.get(path)
        assert page.status_code == 200 and 'class="foot"' not in page.text, path
        assert "Unsubscribe</a>" not in page.text


def test_the_templates_folder_overrides_pages_and_stylesheet(site: Site, tmp_path: Path) -> None:
    from dataclasses import replace

    folder = tmp_path / "my-templates"
    (folder / "web").mkdir(parents=True)
    (folder / "web" / "site.css").write_text("body { background: #fffbeb; }\n")
    (folder / "web" / "message.html").write_text(
        '{% extends "base.html" %}{% block heading %}{{ heading }}{% endblock %}'
        '{% block main %}<h1 class="ours">{{ heading }}</h1><p>{{ text }}</p>{% endblock %}')
    client = client_for(Site(replace(site.settings, templates=folder), site.clock,
                             site.smtp_port, site.readers))
    assert client.get("/static/site.css").text == "body { background: #fffbeb; }\n"
    missing = client.get("/issues/42")
    assert missing.status_code == 404 and '<h1 class="ours">No such issue</h1>' in missing.text
    assert 'class="foot"' in missing.text  # the bundled base.html still frames it
    assert 'class="ours"' not in client.get("/subscribe").text  # the others stay ours
