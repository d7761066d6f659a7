"""Reader-side doors over HTTP (the real app, a real store, a real SMTP server): /subscribe does
the same work for every address and mails from outside the request, never twice; numbers too big
for a row id are 404; the web version's links come from public_url, never from the request."""

from __future__ import annotations

import sqlite3
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from digest.app.confirmations import ConfirmationReport
from digest.issues import drafts
from digest.store import Store, mailqueue
from digest.web import create_app
from support.browser import (
    EDITOR_TOKEN,
    Site,
    confirm_link,
    free_port,
    make_site,
    message_to,
    serve_process,
    write_serve_config,
)
from support.smtpserver import CountingHandler, SmtpServer

HUGE = "99999999999999999999999"


@pytest.fixture
def client(site: Site) -> TestClient:
    app = create_app(site.settings, site.sender_factory(), editor_token=EDITOR_TOKEN,
                     base_url="http://testserver", clock=site.clock)
    return TestClient(app, follow_redirects=False)


def send_queued(client: TestClient) -> ConfirmationReport:
    """One pass of the server's mail thread (the real use case it runs)."""
    report: ConfirmationReport = client.app.state.web.mail_worker.send()  # type: ignore
    return report


def dump(path: Path, *, skip: str = "mail_queue") -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but ``skip``: what a request may have written."""
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: conn.execute(f"SELECT * FROM {t}").fetchall() for t in tables if t != skip}


def queue_rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT kind, email, name, link_base, queued_at, status"
                            " FROM mail_queue ORDER BY id").fetchall()


# --- /subscribe: the same work for every address -------------------------------------------------

def test_the_request_does_the_same_work_for_a_listed_and_an_unlisted_address(
        site: Site, client: TestClient, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    store = site.settings.store
    before = dump(store)
    answers = [client.post("/subscribe", data={"email": email, "name": ""})
               for email in ("ann@example.org", "new@example.org")]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].text == answers[1].text
    assert dump(store) == before  # nothing else written: not even the subscriber's row
    rows = queue_rows(store)  # one row each, alike but for the address
    assert [r[1] for r in rows] == ["ann@example.org", "new@example.org"]
    assert rows[0][:1] + rows[0][2:] == rows[1][:1] + rows[1][2:]
    assert smtp[1].messages == []  # no sender call inside the request

    report = send_queued(client)
    assert (report.sent, report.skipped) == (1, 1)  # ann is active: no message for her
    assert [rcpt for rcpt, _ in smtp[1].messages] == ["new@example.org"]
    assert send_queued(client) == ConfirmationReport()  # never twice
    assert len(smtp[1].messages) == 1


def test_a_confirmation_interrupted_mid_send_is_not_sent_again(
        site: Site, client: TestClient, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    client.post("/subscribe", data={"email": "new@example.org"})
    with Store.open(site.settings.store) as store:
        claimed = mailqueue.claim_next(store, site.clock())  # a sender that then crashed
    assert claimed is not None
    assert send_queued(client) == ConfirmationReport()  # claimed: not taken again
    site.clock.advance(hours=2)
    send_queued(client)
    assert smtp[1].messages == []
    assert queue_rows(site.settings.store)[0][-1] == "failed"


def test_an_unreachable_relay_leaves_the_request_queued(site: Site, tmp_path: Path) -> None:
    dead = make_site(tmp_path / "dead", free_port())
    app = create_app(dead.settings, dead.sender_factory(), editor_token=EDITOR_TOKEN,
                     base_url="http://testserver", clock=dead.clock)
    client = TestClient(app, follow_redirects=False)
    assert client.post("/subscribe", data={"email": "new@example.org"}).status_code == 200
    report = send_queued(client)
    assert report.sent == 0 and report.stopped and "cannot connect" in report.stopped
    assert queue_rows(dead.settings.store)[0][-1] == "queued"


def test_serve_mails_the_confirmation_from_its_own_thread(
        site: Site, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    port = free_port()
    with serve_process(write_serve_config(site, port), port) as url:
        answer = httpx.post(f"{url}/subscribe", data={"email": "new@example.org"})
        assert answer.status_code == 200
        deadline = time.monotonic() + 30  # waits for the thread; asserts nothing about speed
        while not smtp[1].messages and time.monotonic() < deadline:
            time.sleep(0.05)
    link = confirm_link(message_to(smtp[1].messages, "new@example.org"))
    assert link.startswith(f"http://127.0.0.1:{port}/subscribe/confirm?")


def test_the_next_run_sends_what_the_form_queued(
        site: Site, client: TestClient, smtp: tuple[SmtpServer, CountingHandler]) -> None:
    client.post("/subscribe", data={"email": "new@example.org"})
    config = write_serve_config(site, 8025)  # the server is not running
    result = _digest_with_secret(config, "run")
    assert "Confirmation requests from the web form sent: 1" in result.out, result.err
    assert smtp[1].snapshot()["new@example.org"] == 1
    assert "Confirmation requests" not in _digest_with_secret(config, "run").out
    assert smtp[1].snapshot()["new@example.org"] == 1


def _digest_with_secret(config: Path, *args: str) -> Any:
    import os
    import subprocess
    import sys

    from support.browser import SECRET
    from support.e2e import Result

    env = {**os.environ, "DIGEST_SECRET": SECRET.decode()}
    proc = subprocess.run([sys.executable, "-m", "digest", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, cwd=config.parent,
                          env=env)
    return Result(proc.returncode, proc.stdout, proc.stderr)


# --- numbers too big for a row id ----------------------------------------------------------------

def _sent_issue(site: Site) -> int:
    issue = site.make_draft()
    with site.store() as store:
        drafts.approve(store, issue.id, site.clock())
        drafts.start_sending(store, issue.id)
    return issue.id


@pytest.mark.parametrize("path", [f"/issues/{HUGE}", "/issues/9223372036854775808",
                                  "/issues/0", f"/issues/{'9' * 5000}"])
def test_an_issue_number_too_big_for_the_store_is_404(site: Site, client: TestClient,
                                                      path: str) -> None:
    _sent_issue(site)
    assert client.get(path).status_code == 404


def test_the_editor_preview_with_a_huge_number_is_404(site: Site, client: TestClient) -> None:
    client.post("/editor/login", data={"token": EDITOR_TOKEN, "next": "/editor/"})
    assert client.get(f"/editor/preview/{HUGE}").status_code == 404


def test_an_unsubscribe_token_naming_a_huge_subscriber_is_a_bad_link(
        site: Site, client: TestClient) -> None:
    from digest.mail import tokens
    from support.browser import SECRET

    token = tokens.sign(SECRET, "unsubscribe", {"s": 10**30, "l": "x"}, context="a@b.c")
    assert client.get("/unsubscribe", params={"token": token}).status_code == 400
    response = client.post("/unsubscribe", params={"token": token},
                           data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400


# --- the web version's links ---------------------------------------------------------------------

def test_the_web_version_links_come_from_public_url_not_the_request(
        site: Site, client: TestClient) -> None:
    issue_id = _sent_issue(site)
    hostile = client.get(f"/issues/{issue_id}", params={"x": '"><script>alert(1)</script>'},
                         headers={"Host": "evil.example"})
    assert hostile.status_code == 200
    assert "evil.example" not in hostile.text and "<script>alert" not in hostile.text
    # The page does not link to itself ("view in browser" is left out of the web version); the
    # links it has come from public_url.
    assert "/issues/" not in hostile.text
    assert "http://testserver/unsubscribe" in hostile.text
