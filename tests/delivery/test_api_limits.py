"""Mail API requests kept under each provider's documented limits: messages (or recipients) per
request and bytes per request, against local fakes that refuse what the providers refuse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.delivery.senders.api import ApiSender, OversizeError, split
from digest.delivery.senders.mailgun import MailgunSender
from digest.delivery.senders.postmark import PostmarkSender
from digest.delivery.senders.sendgrid import SendGridSender
from digest.errors import SendError
from digest.mail.message import MessageTemplate, make_message_id
from digest.models import (
    TOKEN_EMAIL,
    TOKEN_NAME,
    TOKEN_UNSUBSCRIBE,
    Issue,
    Outgoing,
    Recipient,
    RenderedIssue,
)
from digest.settings import ApiSettings
from support.fakeapis import LIMITS, MAX_BYTES, FakeApi, api_kind

NOW = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
FROM = "Example Blog <digest@example.org>"
CLASSES: dict[str, type[ApiSender]] = {"postmark": PostmarkSender, "sendgrid": SendGridSender,
                                       "mailgun": MailgunSender}


def rendered(kb: int) -> RenderedIssue:
    """A digest of about ``kb`` KB of HTML (non-ASCII too, so bytes and characters differ)."""
    post = "<p>Caf\u00e9 \u00e0 la cr\u00e8me, \u201cquoted\u201d &amp; more: a long summary.</p>\n"
    body = post * (kb * 1024 // len(post.encode()))
    page = (f"<html><body><p>Hello {TOKEN_NAME},</p>{body}<p>Sent to {TOKEN_EMAIL}. "
            f'<a href="{TOKEN_UNSUBSCRIBE}">Unsubscribe</a></p></body></html>')
    return RenderedIssue("Weekly digest", page, f"Hello {TOKEN_NAME}\n{TOKEN_UNSUBSCRIBE}\n", "", 1)


def prepared(fake: FakeApi, kb: int, n: int,
             max_request_bytes: int | None = None) -> tuple[ApiSender, list[Outgoing]]:
    issue_content = rendered(kb)
    issue = Issue(1, issue_content.subject, issue_content.html, issue_content.text, NOW,
                  "sending", ())
    template = MessageTemplate.build(issue_content, from_addr=FROM, list_id="blog.example.org",
                                     reply_to=None, date=NOW, list_unsubscribe_mailto=None)
    settings = ApiSettings(kind=api_kind(fake.provider), token=fake.token, base_url=fake.base_url,
                           token_env="TOKEN",
                           domain=fake.domain if fake.provider == "mailgun" else None)
    sender = CLASSES[fake.provider](settings, attempts=1, max_request_bytes=max_request_bytes)
    sender.prepare(issue, template)
    messages = [Outgoing(i, "digest@example.org", f"u{i}@example.com", b"",
                         make_message_id(1, i, FROM, "teststore"),
                         recipient_values=Recipient(f"u{i}@example.com", f"Reader {i}",
                                                    f"https://blog.example.org/u/{i}"))
                for i in range(1, n + 1)]
    return sender, messages


def test_split_by_count_and_by_bytes() -> None:
    assert split(10, [5] * 7, most=3, limit=1000) == [range(0, 3), range(3, 6), range(6, 7)]
    assert split(10, [5] * 7, most=100, limit=25) == [range(0, 3), range(3, 6), range(6, 7)]
    assert split(10, [15, 1, 14, 16], most=100, limit=26) == [range(0, 2), range(2, 3),
                                                              range(3, 4)]
    assert split(10, [16], most=1, limit=26) == [range(0, 1)]  # exactly the limit is fine
    assert split(10, [], most=5, limit=26) == []
    with pytest.raises(OversizeError) as caught:
        split(10, [5, 17, 5], most=5, limit=26)
    assert caught.value.index == 1


def test_the_limits_used_are_the_documented_ones() -> None:
    for provider, cls in CLASSES.items():
        assert cls.max_request_bytes == MAX_BYTES[provider]
    assert MAX_BYTES == {"postmark": 50_000_000, "sendgrid": 30_000_000, "mailgun": 25_000_000}
    assert LIMITS == {"postmark": 500, "sendgrid": 1000, "mailgun": 1000}


def test_a_full_size_digest_to_500_readers_fits_postmarks_50_mb() -> None:
    """115 KB of HTML to 500 readers is 57.5 MB in one batch: Postmark refuses it (413)."""
    with FakeApi("postmark", keep=False) as fake:
        sender, messages = prepared(fake, 115, 500)
        results = sender.send_batch(messages)
    assert [r.outcome for r in results] == ["sent"] * 500
    assert [s.status for s in fake.requests] == [200, 200]
    assert sum(s.size for s in fake.requests) == 500
    assert sum(s.length for s in fake.requests) > 50_000_000  # one request would not do
    assert all(s.length <= 50_000_000 for s in fake.requests)
    assert set(fake.counts.values()) == {1} and len(fake.counts) == 500


@pytest.mark.parametrize("provider", list(CLASSES))
def test_requests_are_cut_under_a_byte_limit(provider: str) -> None:
    """The same rule under a smaller limit (an account's, say), for every provider: every
    request under it, none refused, each reader once."""
    limit = {"postmark": 70_000, "sendgrid": 24_000, "mailgun": 24_000}[provider]
    with FakeApi(provider, max_bytes=limit) as fake:
        sender, messages = prepared(fake, 20, 40, max_request_bytes=limit)
        results = sender.send_batch(messages)
    assert [r.outcome for r in results] == ["sent"] * 40
    assert len(fake.requests) > 2
    assert {s.status for s in fake.requests} <= {200, 202}
    assert all(s.length <= limit for s in fake.requests)
    assert set(fake.counts.values()) == {1} and len(fake.counts) == 40


@pytest.mark.parametrize("provider", list(CLASSES))
def test_a_fake_refuses_a_request_over_its_limit(provider: str) -> None:
    """The fake answers 413 one byte above its limit: a sender unaware of the limit halves
    the request, and the halves go through."""
    with FakeApi(provider) as fake:
        sender, messages = prepared(fake, 20, 4)
        sender.send_batch(messages)
    whole = fake.requests[0].length
    with FakeApi(provider, max_bytes=whole - 1) as fake:
        sender, messages = prepared(fake, 20, 4)
        results = sender.send_batch(messages)
    assert [s.status for s in fake.requests][0] == 413
    assert [r.outcome for r in results] == ["sent"] * 4
    assert set(fake.counts.values()) == {1} and len(fake.counts) == 4


@pytest.mark.parametrize("provider", list(CLASSES))
def test_one_message_over_the_limit_stops_the_send_and_sends_nothing(provider: str) -> None:
    with FakeApi(provider) as fake:
        sender, messages = prepared(fake, 20, 3, max_request_bytes=10_000)
        with pytest.raises(SendError, match=r"takes at most 10\.0 KB a request, and one "
                                            r"message alone makes 2\d\.\d KB: the digest is too"):
            sender.send_batch(messages)
    assert fake.requests == [] and not fake.counts
