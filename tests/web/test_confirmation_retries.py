"""Confirmation requests the mail server refused with a temporary error (451) are tried again by
the server's mail thread and by the next `digest run`, a bounded number of times and never sent
twice; finished requests are deleted after a while. A real SMTP server on 127.0.0.1, the real
app and the real `digest` command."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from digest.app.confirmations import KEEP_DONE, MAX_ATTEMPTS, RETRY_WAIT, ConfirmationReport
from digest.web import create_app
from support.browser import EDITOR_TOKEN, SECRET, Site, make_site, write_serve_config
from support.e2e import Result
from support.smtpserver import FaultyHandler, SmtpServer

NEW = "new@example.org"


@pytest.fixture
def relay(request: pytest.FixtureRequest) -> Iterator[tuple[SmtpServer, FaultyHandler]]:
    handler = FaultyHandler(faults={NEW: list(request.param)}, keep=True)
    with SmtpServer(handler) as server:
        yield server, handler


def _client(site: Site) -> TestClient:
    app = create_app(site.settings, site.sender_factory(), editor_token=EDITOR_TOKEN,
                     base_url="http://testserver", clock=site.clock)
    return TestClient(app, follow_redirects=False)


def _pass(client: TestClient) -> ConfirmationReport:
    """One pass of the server's mail thread (the real use case it runs)."""
    report: ConfirmationReport = client.app.state.web.mail_worker.send()  # type: ignore
    return report


def _digest_with_secret(config: Path, *args: str) -> Result:
    env = {**os.environ, "DIGEST_SECRET": SECRET.decode()}
    proc = subprocess.run([sys.executable, "-m", "digest", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, cwd=config.parent,
                          env=env)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT email, status, attempts FROM mail_queue ORDER BY id").fetchall()


@pytest.mark.parametrize("relay", [["451"]], indirect=True)
def test_a_451_is_tried_again_later_and_the_next_run_sends_it_once(
        tmp_path: Path, relay: tuple[SmtpServer, FaultyHandler]) -> None:
    server, handler = relay
    site = make_site(tmp_path, server.port)
    client = _client(site)
    assert client.post("/subscribe", data={"email": NEW}).status_code == 200
    first = _pass(client)
    assert (first.sent, first.retrying, first.failed) == (0, 1, ())
    assert _rows(site.settings.store) == [(NEW, "queued", 1)]
    again = _pass(client)  # not due yet: the relay is not asked again at once
    assert (again.sent, again.retrying) == (0, 0) and handler.attempts[NEW] == 1

    config = write_serve_config(site, 8025)  # the server is not running; the clock is now
    result = _digest_with_secret(config, "run")
    assert "Confirmation requests from the web form sent: 1" in result.out, result.err
    assert handler.snapshot()[NEW] == 1 and _rows(site.settings.store) == [(NEW, "sent", 1)]
    assert "Confirmation requests" not in _digest_with_secret(config, "run").out
    site.clock.now += RETRY_WAIT * 10
    assert _pass(client).sent == 0 and handler.snapshot()[NEW] == 1


@pytest.mark.parametrize("relay", [["451"] * (MAX_ATTEMPTS + 3)], indirect=True)
def test_a_confirmation_refused_for_now_every_time_stops_after_the_last_attempt(
        tmp_path: Path, relay: tuple[SmtpServer, FaultyHandler]) -> None:
    server, handler = relay
    site = make_site(tmp_path, server.port)
    client = _client(site)
    client.post("/subscribe", data={"email": NEW})
    reports = []
    for _ in range(MAX_ATTEMPTS + 2):
        reports.append(_pass(client))
        site.clock.now += RETRY_WAIT * MAX_ATTEMPTS
    assert handler.attempts[NEW] == MAX_ATTEMPTS and not handler.snapshot()[NEW]
    assert [r.retrying for r in reports[:MAX_ATTEMPTS - 1]] == [1] * (MAX_ATTEMPTS - 1)
    assert reports[MAX_ATTEMPTS - 1].failed and "451" in reports[MAX_ATTEMPTS - 1].failed[0]
    assert _rows(site.settings.store) == [(NEW, "failed", MAX_ATTEMPTS - 1)]


@pytest.mark.parametrize("relay", [[]], indirect=True)
def test_finished_requests_are_deleted_after_the_keeping_age_and_waiting_ones_kept(
        tmp_path: Path, relay: tuple[SmtpServer, FaultyHandler]) -> None:
    server, handler = relay
    site = make_site(tmp_path, server.port)
    client = _client(site)
    client.post("/subscribe", data={"email": NEW})
    assert _pass(client).sent == 1
    site.clock.now += KEEP_DONE - RETRY_WAIT
    client.post("/subscribe", data={"email": "later@example.org"})
    server.stop_listening()  # the relay is gone: the new request waits, queued
    assert _pass(client).stopped
    assert [r[:2] for r in _rows(site.settings.store)] == [(NEW, "sent"),
                                                          ("later@example.org", "queued")]
    site.clock.now += RETRY_WAIT * 2
    assert _pass(client).stopped
    assert [r[:2] for r in _rows(site.settings.store)] == [("later@example.org", "queued")]
