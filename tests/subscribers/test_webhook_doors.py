"""Webhook posts through the real app and store: a Mailgun signature is good for one post (a
replay with other event-data changes nothing), and a malformed body from any of the three
providers answers 400, never 500, with nothing changed."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from digest.settings import WebhookSettings
from digest.web import create_app
from support.browser import EDITOR_TOKEN, Site, make_site
from support.smtpserver import CountingHandler, SmtpServer
from support.webhook_samples import (
    MAILGUN_KEY,
    NOW,
    POSTMARK_AUTH,
    basic_auth,
    mailgun_body,
    sendgrid_headers,
    sendgrid_keys,
)

PRIVATE, PUBLIC = sendgrid_keys()
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with SmtpServer(CountingHandler()) as server:
        plain = make_site(tmp_path, server.port)
        hooks = WebhookSettings(mailgun_signing_key=MAILGUN_KEY, sendgrid_public_key=PUBLIC,
                                postmark_basic_auth=POSTMARK_AUTH)
        yield replace(plain, settings=replace(plain.settings, webhooks=hooks))


@pytest.fixture
def client(site: Site) -> TestClient:
    app = create_app(site.settings, site.sender_factory(), editor_token=EDITOR_TOKEN,
                     base_url="http://testserver", clock=lambda: NOW)
    return TestClient(app, follow_redirects=False)


def _mailgun(client: TestClient, raw: bytes) -> Any:
    return client.post("/webhooks/mailgun", content=raw,
                       headers={"Content-Type": "application/json"})


def test_a_mailgun_signature_is_good_for_one_post(site: Site, client: TestClient) -> None:
    first = mailgun_body("mailgun_failed_permanent.json")
    assert _mailgun(client, first).status_code == 200
    assert site.status("ann@example.org") == "bounced"
    again = _mailgun(client, first)
    assert again.status_code == 406 and "replay" in again.text  # 406: Mailgun does not retry
    # The captured signature re-posted with other event-data: refused, nothing changed.
    forged = json.loads(first)
    forged["event-data"] = {**forged["event-data"], "event": "complained",
                            "recipient": "bob@example.org"}
    response = _mailgun(client, json.dumps(forged).encode())
    assert response.status_code == 406
    assert site.status("bob@example.org") == "active"


def test_another_token_is_another_post(site: Site, client: TestClient) -> None:
    assert _mailgun(client, mailgun_body("mailgun_failed_permanent.json",
                                         token="a" * 50)).status_code == 200
    second = mailgun_body("mailgun_complained.json", token="b" * 50,
                          recipient="bob@example.org")
    assert _mailgun(client, second).status_code == 200
    assert site.status("bob@example.org") == "complained"


def _signed_mailgun(event_data: Any) -> bytes:
    data = json.loads(mailgun_body("mailgun_failed_permanent.json"))
    data["event-data"] = event_data
    return json.dumps(data).encode()


def _mailgun_with(**fields: Any) -> bytes:
    data = json.loads(mailgun_body("mailgun_failed_permanent.json"))
    data["event-data"].update(fields)
    return json.dumps(data).encode()


MAILGUN_BAD = {
    "nested": DEEP,
    "nested event-data": _signed_mailgun(None)[:-2].replace(b'"event-data": null',
                                                             b'"event-data": ' + DEEP) + b"}",
    "huge number": _mailgun_with(timestamp=1)[:-1].replace(b'"timestamp": 1',
                                                           b'"timestamp": ' + b"9" * 5000) + b"}",
    "year 10**300": _mailgun_with(timestamp=1e300),
    "wrong types": _mailgun_with(recipient={"a": [1]}, event=["failed"]),
}
SENDGRID_BAD = {
    "nested": DEEP,
    "huge number": b'[{"event": "bounce", "email": "ann@example.org", "timestamp": '
                   + b"9" * 5000 + b"}]",
    "year 10**300": b'[{"event": "bounce", "email": "ann@example.org", "timestamp": 1e300}]',
    "negative year": b'[{"event": "bounce", "email": "ann@example.org", "timestamp": -1e20}]',
    "wrong types": b'[{"event": "bounce", "email": {"address": "ann@example.org"}}]',
    "not a list": b'{"event": "bounce"}',
}
POSTMARK_BAD = {
    "nested": DEEP,
    "huge number": b'{"RecordType": "Bounce", "Email": "ann@example.org", "ID": ' + b"9" * 5000
                   + b"}",
    "year 1 east of UTC": b'{"RecordType": "Bounce", "Type": "HardBounce", "Email": '
                          b'"ann@example.org", "BouncedAt": "0001-01-01T00:00:00+05:00"}',
    "year 9999 west of UTC": b'{"RecordType": "Bounce", "Type": "HardBounce", "Email": '
                             b'"ann@example.org", "BouncedAt": "9999-12-31T23:59:59-05:00"}',
    "wrong types": b'{"RecordType": "Bounce", "Email": ["ann@example.org"]}',
    "not an object": b"[1, 2]",
}


@pytest.mark.parametrize("case", MAILGUN_BAD)
def test_a_malformed_mailgun_body_is_400(site: Site, client: TestClient, case: str) -> None:
    response = _mailgun(client, MAILGUN_BAD[case])
    assert response.status_code == 400, response.text
    assert site.status("ann@example.org") == "active"


@pytest.mark.parametrize("case", SENDGRID_BAD)
def test_a_malformed_sendgrid_body_is_400(site: Site, client: TestClient, case: str) -> None:
    raw = SENDGRID_BAD[case]
    response = client.post("/webhooks/sendgrid", content=raw,
                           headers=sendgrid_headers(PRIVATE, raw))
    assert response.status_code == 400, response.text
    assert site.status("ann@example.org") == "active"


@pytest.mark.parametrize("case", POSTMARK_BAD)
def test_a_malformed_postmark_body_is_400(site: Site, client: TestClient, case: str) -> None:
    response = client.post("/webhooks/postmark", content=POSTMARK_BAD[case],
                           headers=basic_auth())
    assert response.status_code == 400, response.text
    assert site.status("ann@example.org") == "active"
