"""Mail API senders (Postmark, SendGrid, Mailgun) against local fakes of each provider: payload
shapes and auth, batch sizes, per-recipient values surviving batching, retries, refusals."""

from __future__ import annotations

import html
import math
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from digest.app import delivery_options
from digest.delivery.loop import deliver
from digest.delivery.report import DeliveryReport
from digest.delivery.senders import make_sender
from digest.delivery.senders.api import ApiSender, retry_after
from digest.errors import ConfigError, SendError
from digest.mail.message import MessageTemplate, make_message_id
from digest.models import (
    TOKEN_EMAIL,
    TOKEN_NAME,
    TOKEN_UNSUBSCRIBE,
    Delivery,
    Issue,
    Outgoing,
    Recipient,
    RenderedIssue,
)
from digest.settings import API_BATCH_LIMITS, ApiSettings, DigestSettings, SenderSettings, Settings
from digest.store import Store
from digest.subscribers import SubscriberRow
from support.e2e import DATA, expected_posts, write_config
from support.fakeapis import Delivered, FakeApi, api_kind
from support.feedserver import FeedServer, Route

NOW = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
FROM = "Example Blog <digest@example.org>"
PROVIDERS = ("postmark", "sendgrid", "mailgun")
ENV_NAMES = {"postmark": "POSTMARK_TOKEN", "sendgrid": "SENDGRID_API_KEY",
             "mailgun": "MAILGUN_API_KEY"}
READERS = [("ann@example.org", "Ann & Bob <the team>"), ("zoe@example.org", "Zoë Ørsted"),
           ("q@example.org", 'Quentin "Q" O\'Neil'), ("nn@example.org", ""),
           ("amp@example.org", "a&amp;b"), ("pct@example.org", "100% sure %recipient.x%")]


def rendered() -> RenderedIssue:
    page = (f'<html><body><p>Hello {TOKEN_NAME},</p><p>Sent to {TOKEN_EMAIL}.</p>'
            f'<a href="{TOKEN_UNSUBSCRIBE}">Unsubscribe</a></body></html>')
    text = f"Hello {TOKEN_NAME},\nSent to {TOKEN_EMAIL}.\nUnsubscribe: {TOKEN_UNSUBSCRIBE}\n"
    return RenderedIssue("Weekly digest: café & co", page, text, "", 1)


def template() -> MessageTemplate:
    return MessageTemplate.build(rendered(), from_addr=FROM, list_id="blog.example.org",
                                 reply_to="Editor <editor@example.org>", date=NOW,
                                 list_unsubscribe_mailto="mailto:leave@example.org")


def unsubscribe_url(subscriber_id: int) -> str:
    return f"https://blog.example.org/unsubscribe?s={subscriber_id}&t=a'b\"c"


def recipient_for(row: Delivery) -> Recipient:
    return Recipient(row.email, row.name, unsubscribe_url(row.subscriber_id))


def api_settings(fake: FakeApi, **more: Any) -> ApiSettings:
    """The settings that send through ``fake``; ``more`` replaces any field (checked by replace)."""
    settings = ApiSettings(kind=api_kind(fake.provider), token=fake.token,
                           base_url=fake.base_url, token_env=ENV_NAMES[fake.provider],
                           domain=fake.domain if fake.provider == "mailgun" else None)
    return replace(settings, **more)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(params=PROVIDERS)
def fake(request: pytest.FixtureRequest) -> Iterator[FakeApi]:
    with FakeApi(request.param, token=f"secret-{request.param}-token") as api:
        yield api


def make_store(tmp_path: Path, readers: list[tuple[str, str]]) -> tuple[Store, Issue]:
    store = Store.open(tmp_path / "digest.sqlite3")
    store.import_subscribers(SubscriberRow(email, name) for email, name in readers)
    return store, store.create_issue([], rendered(), NOW)


def run_delivery(store: Store, issue: Issue, settings: ApiSettings, *,
                 sleeps: Sleeps | None = None) -> DeliveryReport:
    config = Settings(Path("feeds.yaml"), DigestSettings("Blog", FROM, "https://blog.example.org"),
                      (), Path("digest.sqlite3"),
                      sender=SenderSettings(kind=settings.kind, api=settings))
    factory = make_sender(settings.kind, api=settings)
    options = replace(delivery_options(config), backoff_base=0.01)  # quick in-run retries
    sleep = sleeps if sleeps is not None else Sleeps()
    return deliver(store, issue, template(), factory, options=options,
                   recipient_for=recipient_for, envelope_from="digest@example.org",
                   clock=lambda: NOW, sleep=sleep)


def ledger(db: Path) -> dict[str, tuple[str, str | None, str | None]]:
    """email -> (status, last_error, message_id), read straight from the database."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT s.email, d.status, d.last_error, d.message_id FROM deliveries"
                            " d JOIN subscribers s ON s.id = d.subscriber_id").fetchall()
    return {email: (status, error, mid) for email, status, error, mid in rows}


def subscriber_ids(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT email, id FROM subscribers").fetchall())


def check_copy(copy: Delivered, name: str, subscriber_id: int, issue_id: int,
               store_id: str) -> None:
    url = unsubscribe_url(subscriber_id)
    assert f"Hello {html.escape(name)}," in copy.html
    assert f'href="{html.escape(url)}"' in copy.html
    assert f"Hello {name},\n" in copy.text
    assert f"Unsubscribe: {url}\n" in copy.text
    assert f"Sent to {copy.email}." in copy.text
    rest = copy.html.replace(html.escape(name), "")  # a name may look like a variable
    for leftover in ("%%DIGEST", "%recipient.", "<the team>"):
        assert leftover not in rest
    assert "%%DIGEST" not in copy.text
    assert copy.subject == "Weekly digest: café & co"
    assert "digest@example.org" in copy.sender and "Example Blog" in copy.sender
    headers = {k.lower(): v for k, v in copy.headers.items()}
    assert headers["message-id"] == make_message_id(issue_id, subscriber_id, FROM, store_id)
    assert headers["list-unsubscribe"] == f"<{url}>, <mailto:leave@example.org>"
    assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    assert headers["list-id"].endswith("<blog.example.org>")
    assert headers["auto-submitted"] == "auto-generated"
    assert "editor@example.org" in headers["reply-to"]


def test_each_reader_gets_one_copy_with_their_own_values(tmp_path: Path, fake: FakeApi) -> None:
    store, issue = make_store(tmp_path, READERS)
    with store:
        report = run_delivery(store, issue, api_settings(fake, batch_size=4))
        store_id = store.store_id()
    assert report.sent == len(READERS) and report.finished
    assert sorted(fake.counts.values()) == [1] * len(READERS)
    ids = subscriber_ids(tmp_path / "digest.sqlite3")
    for email, name in READERS:
        [copy] = fake.for_email(email)
        check_copy(copy, name, ids[email], issue.id, store_id)
    # The requests are as few as the batch size allows, none above it.
    sizes = fake.sizes()
    assert len(sizes) == 2 and sum(sizes) == len(READERS) and max(sizes) <= 4
    rows = ledger(tmp_path / "digest.sqlite3")
    assert {status for status, _, _ in rows.values()} == {"sent"}
    assert rows["zoe@example.org"][2] == make_message_id(issue.id, ids["zoe@example.org"], FROM,
                                                    store_id)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_batches_are_full_and_never_above_the_limit(tmp_path: Path, provider: str) -> None:
    limit = API_BATCH_LIMITS[provider]
    readers = [(f"r{i}@example.com", f"Reader {i}") for i in range(limit + 3)]
    store, issue = make_store(tmp_path, readers)
    with FakeApi(provider, token="tok") as api, store:
        settings = api_settings(api, batch_size=limit * 10, connections=2)
        assert make_sender(provider, api=settings)().max_batch == limit
        report = run_delivery(store, issue, settings)
        assert report.sent == limit + 3
        assert max(api.sizes()) <= limit
        assert len(api.requests) == math.ceil(len(readers) / limit)
        assert len(api.counts) == limit + 3 and set(api.counts.values()) == {1}


def issue_and_messages(n: int) -> tuple[Issue, list[Outgoing]]:
    issue = Issue(1, rendered().subject, rendered().html, rendered().text, NOW, "sending", ())
    messages = [Outgoing(i, "digest@example.org", f"u{i}@example.com", b"",
                         make_message_id(1, i, FROM, "teststore"),
                         recipient_values=Recipient(f"u{i}@example.com", f"U {i}",
                                                    unsubscribe_url(i)))
                for i in range(1, n + 1)]
    return issue, messages


def direct_sender(fake: FakeApi, sleeps: Sleeps, **more: object) -> ApiSender:
    factory = make_sender(fake.provider, api=api_settings(fake, **more), max_attempts=3)
    sender = factory()
    assert isinstance(sender, ApiSender)
    sender._sleep, sender._clock = sleeps, lambda: NOW  # the wait is observed, not slept
    return sender


def test_retry_after_in_seconds_and_as_a_date_is_honoured(fake: FakeApi) -> None:
    sleeps = Sleeps()
    fake.fail_next(429, retry_after="7")
    fake.fail_next(429, retry_after=format_datetime(NOW + timedelta(seconds=30), usegmt=True))
    issue, messages = issue_and_messages(3)
    sender = direct_sender(fake, sleeps)
    sender.prepare(issue, template())
    results = sender.send_batch(messages)
    assert sleeps == [7.0, 30.0]
    assert [r.outcome for r in results] == ["sent"] * 3
    assert [r.attempts for r in results] == [3] * 3
    assert [s.status for s in fake.requests][:2] == [429, 429]


def test_server_errors_back_off_then_give_up_as_temporary(fake: FakeApi) -> None:
    sleeps = Sleeps()
    fake.fail_next(503, times=3)
    issue, messages = issue_and_messages(2)
    sender = direct_sender(fake, sleeps)
    sender.prepare(issue, template())
    results = sender.send_batch(messages)
    assert sleeps == [1.0, 2.0]  # exponential backoff when no Retry-After is given
    assert {r.outcome for r in results} == {"temporary"}
    assert all("503" in r.reply and r.attempts == 3 for r in results)
    assert not fake.counts


def test_a_wait_longer_than_worth_holding_the_run_is_left_to_the_next_run(fake: FakeApi) -> None:
    sleeps = Sleeps()
    fake.fail_next(429, retry_after="3600")
    issue, messages = issue_and_messages(1)
    sender = direct_sender(fake, sleeps)
    sender.prepare(issue, template())
    [result] = sender.send_batch(messages)
    assert sleeps == [] and result.outcome == "temporary" and "429" in result.reply


def test_retry_after_parsing() -> None:
    assert retry_after("120", NOW) == 120.0
    assert retry_after("Mon, 06 May 2024 07:01:00 GMT", NOW) == 60.0
    assert retry_after("Mon, 06 May 2024 06:00:00 GMT", NOW) == 0.0  # already past
    assert retry_after("soon", NOW) is None and retry_after(None, NOW) is None


def test_postmark_inactive_recipient_is_rejected_on_its_own_row(tmp_path: Path) -> None:
    store, issue = make_store(tmp_path, READERS)
    with FakeApi("postmark", token="tok") as api, store:
        api.refuse("zoe@example.org")
        report = run_delivery(store, issue, api_settings(api))
    assert (report.sent, report.rejected) == (len(READERS) - 1, 1)
    rows = ledger(tmp_path / "digest.sqlite3")
    status, error, _ = rows["zoe@example.org"]
    assert status == "rejected" and error is not None and "406" in error
    assert "inactive" in error
    assert all(rows[e][0] == "sent" for e, _ in READERS if e != "zoe@example.org")


@pytest.mark.parametrize("provider", ["sendgrid", "mailgun"])
def test_a_request_refused_as_a_whole_gives_each_row_the_reply(tmp_path: Path,
                                                               provider: str) -> None:
    store, issue = make_store(tmp_path, READERS)
    with FakeApi(provider, token="tok") as api, store:
        api.refuse("zoe@example.org")
        report = run_delivery(store, issue, api_settings(api, connections=1))
        first = api.requests[0]
    assert (first.size, first.status) == (len(READERS), 400)
    expected = "Does not contain a valid address" if provider == "sendgrid" else \
        "not a valid address"
    rows = ledger(tmp_path / "digest.sqlite3")
    # Temporary, never rejected: the send loop retries in regrouped batches, so readers sharing a
    # request with the refused address may still get theirs; the rest wait for the next run.
    status, error, _ = rows["zoe@example.org"]
    assert status == "failed" and error is not None and expected in error
    for email, (status, error, _) in rows.items():
        assert status == "sent" or (status == "failed" and error and expected in error), email
    assert report.sent + report.failed == len(READERS) and report.rejected == 0
    with Store.open(tmp_path / "digest.sqlite3") as again:
        assert {s.status for s in again.subscribers()} == {"active"}


def test_bad_credentials_stop_at_once_and_mark_nothing(tmp_path: Path, fake: FakeApi) -> None:
    store, issue = make_store(tmp_path, READERS)
    wrong = api_settings(fake, token="not-the-token")
    with store, pytest.raises(SendError) as caught:
        run_delivery(store, issue, wrong)
    message = str(caught.value)
    assert {"postmark": "Postmark", "sendgrid": "SendGrid", "mailgun": "Mailgun"}[
        fake.provider] in message
    assert ENV_NAMES[fake.provider] in message and "401" in message
    assert "not-the-token" not in message
    assert not fake.counts and len(fake.requests) == 1
    with Store.open(tmp_path / "digest.sqlite3") as again:
        assert again.delivery_counts(issue.id)["pending"] == len(READERS)
        assert again.delivery_counts(issue.id)["sent"] == 0


def test_wrong_endpoint_stops_the_send(fake: FakeApi) -> None:
    sleeps = Sleeps()
    sender = direct_sender(fake, sleeps, base_url=fake.base_url + "/nowhere",
                           domain="other.example.org")
    issue, messages = issue_and_messages(2)
    sender.prepare(issue, template())
    with pytest.raises(SendError, match="404.*check base_url"):
        sender.send_batch(messages)


def test_an_unreachable_provider_stops_the_send() -> None:
    with FakeApi("postmark", token="tok") as api:
        base = api.base_url  # the port is free again once the fake is gone
    settings = ApiSettings("postmark", "tok", base, token_env="POSTMARK_TOKEN")
    sleeps = Sleeps()
    sender = make_sender("postmark", api=settings)()
    assert isinstance(sender, ApiSender)
    sender._sleep = sleeps
    issue, messages = issue_and_messages(1)
    sender.prepare(issue, template())
    with pytest.raises(SendError, match="cannot reach Postmark"):
        sender.send_batch(messages)
    assert sleeps == [1.0, 2.0]


def test_a_finished_message_goes_out_as_it_is(fake: FakeApi) -> None:
    """Test copies (`digest send --to`) reach the sender unprepared, as MIME bytes."""
    recipient = Recipient("me@example.org", "Mé & you", unsubscribe_url(0))
    mid = make_message_id(0, 1, FROM, "teststore")
    data = template().personalize(recipient, message_id=mid)
    sender = direct_sender(fake, Sleeps())
    [result] = sender.send_batch([Outgoing(0, "digest@example.org", recipient.email, data, mid)])
    assert result.outcome == "sent"
    [copy] = fake.delivered
    assert "Hello Mé &amp; you," in copy.html and "Hello Mé & you,\n" in copy.text
    assert {k.lower(): v for k, v in copy.headers.items()}["message-id"] == mid


def test_api_senders_need_their_section() -> None:
    with pytest.raises(ConfigError, match="postmark section"):
        make_sender("postmark")
    sender = make_sender("sendgrid", api=ApiSettings("sendgrid", "k", "https://x.example",
                                                     batch_size=2500))()
    assert isinstance(sender, ApiSender) and sender.max_batch == 1000
    sender.close()


# --- the real command, end to end -----------------------------------------------------------------


def api_config(tmp_path: Path, feed_url: str, fake: FakeApi) -> Path:
    config = write_config(tmp_path, [feed_url])
    secret = {"postmark": "token_env", "sendgrid": "api_key_env", "mailgun": "api_key_env"}
    section = [f"  kind: {fake.provider}", f"  {fake.provider}:",
               f"    {secret[fake.provider]}: {ENV_NAMES[fake.provider]}",
               f"    base_url: {fake.base_url}", "    batch_size: 2"]
    if fake.provider == "mailgun":
        section.append(f"    domain: {fake.domain}")
    text = config.read_text().replace("  kind: outbox\n  outbox: outbox/\n",
                                      "\n".join(section) + "\n")
    config.write_text(text)
    return config


def run_digest(config: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digest", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, cwd=config.parent,
                          env={**os.environ, **env})


def test_digest_run_delivers_through_the_api(tmp_path: Path, fake: FakeApi) -> None:
    with FeedServer() as feeds:
        url = feeds.route("/wp.rss", Route(body=(DATA / "wordpress.rss").read_bytes()))
        config = api_config(tmp_path, url, fake)
        env = {ENV_NAMES[fake.provider]: fake.token}

        wrong = run_digest(config, {ENV_NAMES[fake.provider]: "wrong"}, "run")
        assert wrong.returncode == 4, wrong.stderr
        assert ENV_NAMES[fake.provider] in wrong.stderr and "401" in wrong.stderr
        assert "wrong" not in wrong.stderr.replace("wrong or", "")
        assert not fake.counts  # nothing went out, nothing was marked

        first = run_digest(config, env, "run")
        assert first.returncode == 0, first.stderr
        assert dict(fake.counts) == {"ann@example.org": 1, "bob@example.org": 1,
                                     "cy@example.org": 1}
        assert max(fake.sizes()) <= 2
        [bob] = fake.for_email("bob@example.org")
        assert "Bob Ørsted" in bob.to
        assert "Unsubscribe: mailto:leave@example.org?subject=unsubscribe%20bob%40example.org" \
            in bob.text
        assert "mailto:leave@example.org" in {k.lower(): v for k, v in bob.headers.items()}[
            "list-unsubscribe"]
        for post in expected_posts("wordpress"):
            assert post["link"] in bob.html and post["link"] in bob.text

        again = run_digest(config, env, "run")
        assert again.returncode == 0, again.stderr
        assert sum(fake.counts.values()) == 3


def test_a_request_refused_for_the_message_stops_the_send_and_marks_nobody(
        tmp_path: Path, fake: FakeApi) -> None:
    store, issue = make_store(tmp_path, READERS)
    fake.fail_next(400 if fake.provider != "postmark" else 422, times=5)
    with store:
        report = run_delivery(store, issue, api_settings(fake, connections=1))
        assert report.refused and (report.sent, report.rejected, report.failed) == (0, 0, 0)
        assert store.delivery_counts(issue.id)["pending"] == len(READERS)
        assert {s.status for s in store.subscribers()} == {"active"}
    assert "Internal Server Error" in (report.stopped_reason or "")
    assert f"digest issues cancel {issue.id}" in (report.stopped_reason or "")
    assert not fake.counts and len(fake.requests) == 1


def test_a_long_non_ascii_sender_name_reaches_the_provider_as_written(tmp_path: Path,
                                                                      fake: FakeApi) -> None:
    name = "이번 주 소식을 사용할 수 있습니다 그리고 더 많은 이야기가 있습니다"
    store, issue = make_store(tmp_path, READERS[:1])
    built = MessageTemplate.build(rendered(), from_addr=f"{name} <digest@example.org>",
                                  list_id="blog.example.org", reply_to=None, date=NOW,
                                  list_unsubscribe_mailto="mailto:leave@example.org")
    with store:
        factory = make_sender(fake.provider, api=api_settings(fake))
        report = deliver(store, issue, built, factory,
                         options=delivery_options(Settings(
                             Path("feeds.yaml"), DigestSettings("Blog", FROM, "https://b.org"),
                             (), Path("digest.sqlite3"),
                             sender=SenderSettings(kind=fake.provider,  # type: ignore[arg-type]
                                                   api=api_settings(fake)))),
                         recipient_for=recipient_for, envelope_from="digest@example.org",
                         clock=lambda: NOW)
    assert report.sent == 1
    [copy] = fake.delivered
    assert name in copy.sender


# What each provider documents for turning its open and click tracking off in one request.
TRACKING_OFF = {
    "postmark": {"TrackOpens": False, "TrackLinks": "None"},
    "sendgrid": {"click_tracking": {"enable": False, "enable_text": False},
                 "open_tracking": {"enable": False}},
    "mailgun": {"o:tracking": "no", "o:tracking-clicks": "no", "o:tracking-opens": "no"},
}


def test_every_request_turns_the_providers_tracking_off(tmp_path: Path, fake: FakeApi) -> None:
    """digest tracks no opens or clicks, and asks each provider not to, whatever the account's
    setting: issue batches and finished messages (test copies, welcomes) alike."""
    store, issue = make_store(tmp_path, READERS)
    with store:
        run_delivery(store, issue, api_settings(fake, batch_size=4))
    recipient = Recipient("me@example.org", "Me", unsubscribe_url(0))
    mid = make_message_id(0, 1, FROM, "teststore")
    data = template().personalize(recipient, message_id=mid)
    direct_sender(fake, Sleeps()).send_batch(
        [Outgoing(0, "digest@example.org", recipient.email, data, mid)])
    assert len(fake.delivered) == len(READERS) + 1
    for copy in fake.delivered:
        assert copy.tracking == TRACKING_OFF[fake.provider], copy.email


def test_an_api_silent_on_three_requests_in_a_row_stops_the_send_with_every_row_pending(
        tmp_path: Path, fake: FakeApi) -> None:
    with FeedServer() as feeds:
        url = feeds.route("/wp.rss", Route(body=(DATA / "wordpress.rss").read_bytes()))
        config = api_config(tmp_path, url, fake)
        config.write_text(config.read_text().replace(
            "    batch_size: 2\n", "    batch_size: 1\n    timeout: 0.5\n    connections: 1\n"))
        env = {ENV_NAMES[fake.provider]: fake.token}
        fake.stall_next(times=10)
        stalled = run_digest(config, env, "run")
        assert stalled.returncode == 4, stalled.stderr
        assert "no answer to 3 requests in a row" in stalled.stderr
        assert fake.stalled == 3 and not fake.counts  # each request posted once, none answered
        status = run_digest(config, env, "issues")
        assert "3 pending" in status.stdout or "pending 3" in status.stdout, status.stdout

        fake.stalls = 0
        resumed = run_digest(config, env, "send")
        assert resumed.returncode == 0, resumed.stderr
    assert dict(fake.counts) == {"ann@example.org": 1, "bob@example.org": 1,
                                 "cy@example.org": 1}


def test_two_silent_requests_do_not_stop_the_send_and_their_messages_go_out_once(
        tmp_path: Path, fake: FakeApi) -> None:
    store, issue = make_store(tmp_path, READERS)
    fake.stall_next(times=2)
    with store:
        report = run_delivery(store, issue, api_settings(fake, connections=1, batch_size=2,
                                                         timeout=0.5))
        assert report.sent == len(READERS) and not report.stopped_reason
    assert fake.stalled == 2
    assert all(n == 1 for n in fake.counts.values()) and len(fake.counts) == len(READERS)
