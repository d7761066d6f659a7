"""Bounce, complaint and unsubscribe webhooks of Mailgun, SendGrid and Postmark: each post proven
to come from its provider (signed samples, tampered and stale ones refused), each event applied
to the right subscriber once, and a bounced subscriber left out of the next `digest run`."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digest.errors import WebhookError
from digest.store import Store
from digest.subscribers.webhook_apply import apply_events
from digest.subscribers.webhooks import WebhookEvent, WebhookSecrets, parse_event
from support.e2e import DATA, digest, parse, write_config
from support.webhook_samples import (
    MAILGUN_KEY,
    NOW,
    POSTMARK_AUTH,
    SIGNED_AT,
    basic_auth,
    body,
    mailgun_body,
    sendgrid_headers,
    sendgrid_keys,
)

PRIVATE, PUBLIC = sendgrid_keys()
SECRETS = WebhookSecrets(mailgun_signing_key=MAILGUN_KEY, sendgrid_public_key=PUBLIC,
                         postmark_basic_auth=POSTMARK_AUTH)
PEOPLE = ("ann@example.org", "bob@example.org", "cy@example.org", "dee@example.org",
          "eve@example.org", "fay@example.org")


def _summary(events: list[WebhookEvent]) -> list[tuple[str, str, bool]]:
    return [(e.kind, e.email, e.permanent) for e in events]


def _refused(provider: str, headers: dict[str, str], raw: bytes, *,
             secrets: WebhookSecrets = SECRETS, now: datetime = NOW) -> WebhookError:
    with pytest.raises(WebhookError) as caught:
        parse_event(provider, headers, raw, secrets, now=now)
    assert caught.value.provider == provider
    return caught.value


# Mailgun


@pytest.mark.parametrize(("name", "expected"), [
    ("mailgun_failed_permanent.json", ("bounce", "ann@example.org", True)),
    ("mailgun_failed_temporary.json", ("bounce", "ann@example.org", False)),
    ("mailgun_complained.json", ("complaint", "ann@example.org", True)),
    ("mailgun_unsubscribed.json", ("unsubscribe", "ann@example.org", True)),
    ("mailgun_delivered.json", ("ignored", "ann@example.org", False)),
])
def test_mailgun_signed_samples(name: str, expected: tuple[str, str, bool]) -> None:
    events = parse_event("mailgun", {}, mailgun_body(name), SECRETS, now=NOW)
    assert _summary(events) == [expected]
    assert events[0].provider == "mailgun"
    assert events[0].occurred_at == datetime.fromtimestamp(1795420790.811, UTC)


def test_mailgun_reason_carries_the_smtp_answer() -> None:
    [event] = parse_event("mailgun", {}, mailgun_body("mailgun_failed_permanent.json"), SECRETS,
                          now=NOW)
    assert event.reason == ("mailgun bounce: 550 5.1.1 The email account that you tried to "
                            "reach does not exist.")


def test_mailgun_suppressed_unsubscribe_is_an_unsubscribe() -> None:
    raw = mailgun_body("mailgun_failed_permanent.json", reason="suppress-unsubscribe")
    assert _summary(parse_event("mailgun", {}, raw, SECRETS, now=NOW)) == [
        ("unsubscribe", "ann@example.org", True)]


def test_mailgun_wrong_key_is_refused() -> None:
    raw = mailgun_body("mailgun_failed_permanent.json", key="key-someone-else")
    error = _refused("mailgun", {}, raw)
    assert error.status == 401
    assert "signature does not match" in str(error)


def test_mailgun_tampered_event_data_with_a_replayed_signature_is_refused() -> None:
    # The signature covers timestamp + token only, so an attacker can replay a real one with
    # other event-data; the age limit bounds the window, and a stale replay is refused.
    genuine = json.loads(mailgun_body("mailgun_failed_permanent.json"))
    genuine["event-data"]["recipient"] = "bob@example.org"
    later = NOW + timedelta(hours=1)
    error = _refused("mailgun", {}, json.dumps(genuine).encode(), now=later)
    assert error.status == 401
    assert "replay" in str(error)


def test_mailgun_tampered_signature_is_refused() -> None:
    data = json.loads(mailgun_body("mailgun_failed_permanent.json"))
    genuine = data["signature"]["signature"]
    data["signature"]["signature"] = genuine[:-1] + ("1" if genuine[-1] == "0" else "0")
    assert _refused("mailgun", {}, json.dumps(data).encode()).status == 401


@pytest.mark.parametrize("offset", [timedelta(minutes=16), timedelta(minutes=-16)])
def test_mailgun_stale_or_future_timestamp_is_refused(offset: timedelta) -> None:
    raw = mailgun_body("mailgun_failed_permanent.json",
                       timestamp=SIGNED_AT + int(offset.total_seconds()))
    assert "replay" in str(_refused("mailgun", {}, raw))


def test_mailgun_within_the_age_limit_is_accepted() -> None:
    raw = mailgun_body("mailgun_failed_permanent.json", timestamp=SIGNED_AT - 14 * 60)
    assert len(parse_event("mailgun", {}, raw, SECRETS, now=NOW)) == 1


@pytest.mark.parametrize(("raw", "words"), [
    (b"not json", "not JSON"),
    (b"[]", "no signature"),
    (b'{"event-data": {}}', "no signature"),
    (b'{"signature": {"timestamp": "1", "token": "t"}}', "no signature"),
])
def test_mailgun_malformed_bodies(raw: bytes, words: str) -> None:
    assert words in str(_refused("mailgun", {}, raw))


def test_mailgun_without_event_data_is_malformed() -> None:
    data = json.loads(mailgun_body("mailgun_failed_permanent.json"))
    del data["event-data"]
    error = _refused("mailgun", {}, json.dumps(data).encode())
    assert error.status == 400
    assert "event-data" in str(error)


def test_mailgun_bounce_without_recipient_is_malformed() -> None:
    raw = mailgun_body("mailgun_failed_permanent.json", recipient="")
    assert "without a recipient" in str(_refused("mailgun", {}, raw))


# SendGrid


SENDGRID_EXPECTED = [
    ("ignored", "ann@example.org", False),
    ("bounce", "ann@example.org", True),
    ("bounce", "bob@example.org", False),
    ("complaint", "cy@example.org", True),
    ("unsubscribe", "dee@example.org", True),
    ("unsubscribe", "eve@example.org", True),
    ("bounce", "fay@example.org", True),
    ("bounce", "nobody@example.net", True),
    ("ignored", "ann@example.org", False),
]


def test_sendgrid_signed_batch() -> None:
    raw = body("sendgrid_events.json")
    events = parse_event("sendgrid", sendgrid_headers(PRIVATE, raw), raw, SECRETS, now=NOW)
    assert _summary(events) == SENDGRID_EXPECTED
    assert events[1].reason == "sendgrid bounce: 5.0.0 500 unknown recipient"
    assert events[1].occurred_at == datetime.fromtimestamp(1795420760, UTC)


def test_sendgrid_headers_are_case_insensitive_and_pem_keys_work() -> None:
    from cryptography.hazmat.primitives import serialization
    pem = PRIVATE.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    raw = body("sendgrid_events.json")
    headers = {k.lower(): v for k, v in sendgrid_headers(PRIVATE, raw).items()}
    secrets = WebhookSecrets(sendgrid_public_key=pem)
    assert _summary(parse_event("sendgrid", headers, raw, secrets, now=NOW)) == SENDGRID_EXPECTED


def test_sendgrid_tampered_body_is_refused() -> None:
    raw = body("sendgrid_events.json")
    headers = sendgrid_headers(PRIVATE, raw)
    tampered = raw.replace(b'"type": "blocked"', b'"type": "bounce"')
    assert tampered != raw
    error = _refused("sendgrid", headers, tampered)
    assert error.status == 401


def test_sendgrid_signature_of_another_key_is_refused() -> None:
    other, _ = sendgrid_keys()
    raw = body("sendgrid_events.json")
    assert _refused("sendgrid", sendgrid_headers(other, raw), raw).status == 401


def test_sendgrid_timestamp_is_signed_too() -> None:
    raw = body("sendgrid_events.json")
    headers = sendgrid_headers(PRIVATE, raw)
    headers["X-Twilio-Email-Event-Webhook-Timestamp"] = str(SIGNED_AT + 1)
    assert "does not match" in str(_refused("sendgrid", headers, raw))


def test_sendgrid_stale_post_is_refused() -> None:
    raw = body("sendgrid_events.json")
    headers = sendgrid_headers(PRIVATE, raw, timestamp=SIGNED_AT - 3600)
    assert "replay" in str(_refused("sendgrid", headers, raw))


@pytest.mark.parametrize("missing", ["X-Twilio-Email-Event-Webhook-Signature",
                                     "X-Twilio-Email-Event-Webhook-Timestamp"])
def test_sendgrid_unsigned_post_is_refused(missing: str) -> None:
    raw = body("sendgrid_events.json")
    headers = sendgrid_headers(PRIVATE, raw)
    del headers[missing]
    error = _refused("sendgrid", headers, raw)
    assert error.status == 401
    assert str(error).startswith("sendgrid webhook: unsigned: the X-Twilio-Email-Event-Webhook")


def test_sendgrid_garbage_signature_is_refused() -> None:
    raw = body("sendgrid_events.json")
    headers = sendgrid_headers(PRIVATE, raw)
    headers["X-Twilio-Email-Event-Webhook-Signature"] = "%%% not base64 %%%"
    assert _refused("sendgrid", headers, raw).status == 401


@pytest.mark.parametrize("raw", [b'{"event": "bounce"}', b"[1, 2]", b"\xff\xfe"])
def test_sendgrid_signed_but_malformed(raw: bytes) -> None:
    error = _refused("sendgrid", sendgrid_headers(PRIVATE, raw), raw)
    assert error.status == 400


# Postmark


@pytest.mark.parametrize(("name", "expected"), [
    ("postmark_bounce.json", ("bounce", "ann@example.org", True)),
    ("postmark_soft_bounce.json", ("bounce", "bob@example.org", False)),
    ("postmark_spam_complaint.json", ("complaint", "cy@example.org", True)),
    ("postmark_subscription_change.json", ("unsubscribe", "dee@example.org", True)),
    ("postmark_delivery.json", ("ignored", "eve@example.org", False)),
])
def test_postmark_samples_with_basic_auth(name: str, expected: tuple[str, str, bool]) -> None:
    events = parse_event("postmark", basic_auth(), body(name), SECRETS, now=NOW)
    assert _summary(events) == [expected]


def test_postmark_times_are_read_to_utc() -> None:
    [event] = parse_event("postmark", basic_auth(), body("postmark_bounce.json"), SECRETS,
                          now=NOW)
    assert event.occurred_at == datetime(2026, 11, 23, 7, 59, 50, 273539, tzinfo=UTC)
    assert event.reason.startswith("postmark bounce: HardBounce: smtp;550 5.1.1")


def test_postmark_reactivation_changes_nothing() -> None:
    data = json.loads(body("postmark_subscription_change.json"))
    data["SuppressSending"] = False
    [event] = parse_event("postmark", basic_auth(), json.dumps(data).encode(), SECRETS, now=NOW)
    assert event.kind == "ignored"


@pytest.mark.parametrize("headers", [
    {},
    basic_auth("digest-hooks:wrong"),
    basic_auth("digest-hooks:s3cret pass:word "),
    {"Authorization": "Bearer " + POSTMARK_AUTH},
    {"Authorization": "Basic !!!"},
])
def test_postmark_without_the_right_credentials_is_refused(headers: dict[str, str]) -> None:
    error = _refused("postmark", headers, body("postmark_bounce.json"))
    assert error.status == 401
    assert "s3cret" not in str(error)


@pytest.mark.parametrize(("raw", "words"), [
    (b"{", "not JSON"), (b"[]", "RecordType"), (b"{}", "no RecordType"),
    (b'{"RecordType": "Bounce", "Type": "HardBounce"}', "Bounce without Email"),
])
def test_postmark_malformed(raw: bytes, words: str) -> None:
    error = _refused("postmark", basic_auth(), raw)
    assert (error.status, words in str(error)) == (400, True)


# Every provider


@pytest.mark.parametrize("provider", ["mailgun", "sendgrid", "postmark"])
def test_an_unconfigured_provider_is_refused(provider: str) -> None:
    raw = body("sendgrid_events.json")
    error = _refused(provider, basic_auth() | sendgrid_headers(PRIVATE, raw), raw,
                     secrets=WebhookSecrets())
    assert error.status == 403
    assert "not configured: set webhooks." in str(error)


def test_an_unknown_provider_is_refused() -> None:
    assert _refused("sparkpost", {}, b"[]").status == 404


def test_secrets_stay_out_of_repr() -> None:
    shown = repr(SECRETS)
    assert MAILGUN_KEY not in shown and PUBLIC not in shown and "s3cret" not in shown


# Applying events to the store


def _store(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "digest.sqlite3", clock=lambda: NOW)
    for email in PEOPLE:
        store.add_subscriber(email)
    return store


def _rows(path: Path) -> dict[str, tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT email, status, status_reason, status_changed_at, updated_at"
                            " FROM subscribers").fetchall()
    finally:
        conn.close()
    return {row[0]: tuple(row[1:]) for row in rows}


def _sendgrid_events() -> list[WebhookEvent]:
    raw = body("sendgrid_events.json")
    return parse_event("sendgrid", sendgrid_headers(PRIVATE, raw), raw, SECRETS, now=NOW)


def test_each_kind_updates_the_right_subscriber(tmp_path: Path) -> None:
    later = NOW + timedelta(minutes=5)
    with _store(tmp_path) as store:
        report = apply_events(store, _sendgrid_events(), later)
        statuses = {s.email: s.status for s in store.subscribers()}
    assert statuses == {"ann@example.org": "bounced", "bob@example.org": "active",
                        "cy@example.org": "complained", "dee@example.org": "unsubscribed",
                        "eve@example.org": "unsubscribed", "fay@example.org": "bounced"}
    assert report.changed == (("ann@example.org", "bounced"), ("cy@example.org", "complained"),
                              ("dee@example.org", "unsubscribed"),
                              ("eve@example.org", "unsubscribed"), ("fay@example.org", "bounced"))
    assert (report.soft_bounces, report.ignored, report.unknown) == (1, 2, 1)
    assert report.unknown_emails == ("nobody@example.net",)
    rows = _rows(tmp_path / "digest.sqlite3")
    assert rows["ann@example.org"][1:3] == ("sendgrid bounce: 5.0.0 500 unknown recipient",
                                            "2026-11-23T07:59:20.000000+00:00")
    assert rows["ann@example.org"][3] == later.isoformat(timespec="microseconds")
    assert rows["bob@example.org"][1:3] == (None, None)  # a soft bounce records nothing


def test_applying_the_same_post_twice_changes_nothing_more(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        apply_events(store, _sendgrid_events(), NOW)
        before = _rows(tmp_path / "digest.sqlite3")
        again = apply_events(store, _sendgrid_events(), NOW + timedelta(hours=1))
    assert again.changed == ()
    assert again.unchanged == 5
    assert _rows(tmp_path / "digest.sqlite3") == before


def test_a_complaint_outranks_a_bounce_but_not_the_other_way(tmp_path: Path) -> None:
    bounce = parse_event("postmark", basic_auth(), body("postmark_bounce.json"), SECRETS, now=NOW)
    complaint = parse_event("mailgun", {}, mailgun_body("mailgun_complained.json"), SECRETS,
                            now=NOW)
    with _store(tmp_path) as store:
        assert apply_events(store, bounce, NOW).changed == (("ann@example.org", "bounced"),)
        assert apply_events(store, complaint, NOW).changed == (("ann@example.org", "complained"),)
        assert apply_events(store, bounce, NOW).unchanged == 1
    status, reason = _rows(tmp_path / "digest.sqlite3")["ann@example.org"][:2]
    assert (status, reason) == ("complained", "mailgun complaint: marked as spam")


def test_addresses_are_matched_as_the_store_matches_them(tmp_path: Path) -> None:
    raw = mailgun_body("mailgun_failed_permanent.json", recipient="  Ann@EXAMPLE.org ")
    events = parse_event("mailgun", {}, raw, SECRETS, now=NOW)
    with _store(tmp_path) as store:
        assert apply_events(store, events, NOW).changed == (("Ann@EXAMPLE.org", "bounced"),)


def test_unknown_addresses_change_nothing(tmp_path: Path) -> None:
    raw = mailgun_body("mailgun_complained.json", recipient="stranger@example.com")
    events = parse_event("mailgun", {}, raw, SECRETS, now=NOW)
    with _store(tmp_path) as store:
        before = _rows(tmp_path / "digest.sqlite3")
        report = apply_events(store, events, NOW)
    assert (report.changed, report.unknown) == ((), 1)
    assert _rows(tmp_path / "digest.sqlite3") == before


def test_a_bounced_subscriber_gets_no_mail_on_the_next_run(tmp_path: Path) -> None:
    config = write_config(tmp_path, [str(DATA / "wordpress.rss")])
    with Store.open(tmp_path / "digest.sqlite3", clock=lambda: NOW) as store:
        for email in ("ann@example.org", "bob@example.org", "cy@example.org"):
            store.add_subscriber(email)
        events = parse_event("postmark", basic_auth(), body("postmark_bounce.json"), SECRETS,
                             now=NOW)
        assert apply_events(store, events, NOW).changed == (("ann@example.org", "bounced"),)
    result = digest(config, "run")
    assert result.code == 0, result.err
    sent = sorted(str(parse(p.read_bytes())["To"])
                  for p in (tmp_path / "outbox").glob("*.eml"))
    assert len(sent) == 2
    assert not any("ann@example.org" in to for to in sent)
    assert any("bob@example.org" in to for to in sent)
    with Store.open(tmp_path / "digest.sqlite3") as store:  # the CSV import kept her out
        assert {s.email: s.status for s in store.subscribers()}["ann@example.org"] == "bounced"
