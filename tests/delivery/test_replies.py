"""Replies read by what they are about: the classifier, then real SMTP servers answering each class
at RCPT TO and at the end of DATA (with and without SIZE), and the mail APIs' answers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.delivery.loop import DeliveryOptions, deliver
from digest.delivery.replies import classify, classify_postmark, classify_request_refusal
from digest.delivery.report import DeliveryReport
from digest.delivery.senders import make_sender
from digest.mail.message import MessageTemplate
from digest.models import TOKEN_UNSUBSCRIBE, Delivery, Issue, Recipient, RenderedIssue
from digest.settings import SmtpSettings
from digest.store import Store
from digest.subscribers import SubscriberRow
from support.smtpserver import ScriptedHandler, SmtpServer

NOW = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
READERS = [f"reader{i}@example.com" for i in range(8)]


@pytest.mark.parametrize(("code", "text", "stage", "kind"), [
    # the enhanced code decides first
    (550, "5.1.1 <ann@example.com>: Recipient address rejected: User unknown", "rcpt", "reader"),
    (550, "5.1.1 The email account that you tried to reach does not exist.", "data", "reader"),
    (550, "5.2.1 The email account that you tried to reach is disabled.", "rcpt", "reader"),
    (550, "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found", "rcpt", "reader"),
    (552, "5.2.2 The recipient's mailbox is full", "rcpt", "mailbox_full"),
    (452, "4.2.2 The email account that you tried to reach is over quota.", "rcpt",
     "mailbox_full"),
    (451, "4.7.1 Greylisted, please try again later", "rcpt", "temporary"),
    (421, "4.7.0 Too many connections; spam suspected", "data", "temporary"),
    (552, "5.3.4 Message size exceeds fixed maximum message size", "data", "message"),
    (552, "5.3.4 Message size exceeds fixed maximum message size", "mail", "message"),
    (552, "5.2.3 Message exceeds local size limit", "data", "message"),
    (554, "5.6.0 Message headers are malformed", "data", "message"),
    (550, "5.7.1 Message rejected due to content restrictions", "data", "sender"),
    (550, "5.7.26 Unauthenticated email from example.org is not accepted due to domain's "
     "DMARC policy", "data", "sender"),
    (550, "5.7.1 Relaying denied", "rcpt", "sender"),
    (553, "5.1.8 Sender address rejected: Domain not found", "mail", "sender"),
    (550, "5.1.1 Sender address unknown", "mail", "sender"),
    (554, "5.3.0 Other mail system problem", "data", "relay"),
    (554, "5.4.6 Routing loop detected", "data", "relay"),
    # X.0.0 says nothing: the wording and the reply code decide
    (550, "5.0.0 <bob@example.com>: Recipient address rejected: User unknown", "rcpt", "reader"),
    (550, "5.0.0 Blocked by SpamHaus: listed at zen.spamhaus.org", "rcpt", "sender"),
    # no enhanced code: wording, then the reply code and its stage
    (550, "No such user here", "rcpt", "reader"),
    (550, "Mailbox unavailable", "rcpt", "reader"),
    (550, "Message rejected as spam", "data", "sender"),
    (554, "Your message looks like SPAM or has been reported as spam", "rcpt", "sender"),
    (552, "Requested mail action aborted: exceeded storage allocation", "rcpt", "mailbox_full"),
    (552, "Error: message size exceeds fixed maximum message size", "mail", "message"),
    (552, "Error: Too much mail data", "data", "message"),
    (552, "", "rcpt", "mailbox_full"),
    (552, "", "data", "message"),
    (550, "", "rcpt", "reader"),
    (550, "", "mail", "sender"),
    (554, "Transaction failed", "data", "relay"),
    (450, "Blocked for spam", "rcpt", "temporary"),  # a 4xx is never final
    (250, "2.0.0 Ok: queued", "data", "accepted"),
])
def test_replies_are_classified_by_what_they_are_about(code: int, text: str, stage: str,
                                                       kind: str) -> None:
    assert classify(code, text, stage).kind == kind  # type: ignore[arg-type]


def test_only_the_readers_own_refusals_are_final_for_the_reader() -> None:
    assert classify(550, "5.1.1 no such user").outcome == "permanent"
    assert classify(552, "5.2.2 full").outcome == "temporary"
    assert classify(451, "4.3.0 later").outcome == "temporary"
    for text in ("5.3.4 too big", "5.7.26 DMARC", "5.3.0 broken"):
        verdict = classify(554, text, "data")
        assert verdict.outcome == "refused" and not verdict.about_reader


@pytest.mark.parametrize(("code", "message", "kind"), [
    (0, "OK", "accepted"),
    (406, "You tried to send to recipient(s) that have been marked as inactive.", "reader"),
    (300, "Invalid 'To' address: 'nobody'.", "reader"),
    (300, "Invalid email request: The message size exceeds the limit.", "message"),
    (100, "Maintenance", "temporary"),
    (429, "Rate limit exceeded", "temporary"),
    (401, "Sender signature not confirmed", "sender"),
    (None, "", "temporary"),
])
def test_postmark_error_codes(code: int | None, message: str, kind: str) -> None:
    assert classify_postmark(code, message).kind == kind


@pytest.mark.parametrize(("text", "kind"), [
    ("SendGrid 400: The from address does not match a verified Sender Identity (from.email)",
     "sender"),
    ("SendGrid 400: Does not contain a valid address. (personalizations.0.to.0.email)",
     "temporary"),
    ("Mailgun 400: 'to' parameter is not a valid address. please check documentation",
     "temporary"),
    ("SendGrid 400: The content value must be a string at least one character in length.",
     "message"),
    ("Mailgun 400: Message size exceeds the limit", "message"),
])
def test_a_request_refused_as_a_whole_is_never_one_readers_fault(text: str, kind: str) -> None:
    assert classify_request_refusal(text).kind == kind


# real servers -------------------------------------------------------------------------------


def _rendered(padding: int = 0) -> RenderedIssue:
    filler = "<p>" + "x" * 70 + "</p>\n"
    return RenderedIssue(subject="Weekly", preheader="", post_count=1,
                         html=f"<p>Hi</p>{filler * padding}<a href=\"{TOKEN_UNSUBSCRIBE}\">x</a>",
                         text=f"Hi\nLeave: {TOKEN_UNSUBSCRIBE}\n")


def _send(tmp_path: Path, server: SmtpServer, padding: int = 0) -> tuple[Store, Issue,
                                                                          DeliveryReport]:
    store = Store.open(tmp_path / "digest.sqlite3")
    store.import_subscribers(SubscriberRow(e, "") for e in READERS)
    rendered = _rendered(padding)
    issue = store.create_issue([], rendered, NOW)
    template = MessageTemplate.build(rendered, from_addr="Blog <digest@example.org>",
                                     list_id="blog.example.org", reply_to=None, date=NOW,
                                     list_unsubscribe_mailto=None)
    smtp = SmtpSettings(host=server.host, port=server.port, security="none")

    def recipient(row: Delivery) -> Recipient:
        return Recipient(row.email, row.name, f"https://example.org/u/{row.subscriber_id}")

    report = deliver(store, issue, template, make_sender("smtp", smtp=smtp),
                     options=DeliveryOptions(connections=1, max_attempts=1),
                     recipient_for=recipient, envelope_from="bounces@example.org",
                     clock=lambda: NOW)
    return store, issue, report


def _rejections(store: Store) -> list[int]:
    rows = store._conn.execute("SELECT consecutive_rejections FROM subscribers ORDER BY id")
    return [int(r[0]) for r in rows]


NOT_ABOUT_READER = [
    ("552 5.3.4 Message size exceeds fixed maximum message size", "message"),
    ("550 5.7.26 Unauthenticated email from example.org is not accepted due to domain's DMARC "
     "policy", "sender"),
    ("550 5.7.1 Message rejected as spam by content filter", "sender"),
    ("554 5.3.0 Other mail system problem", "relay"),
    ("552 Requested mail action aborted: message size exceeds fixed maximum", "message"),
]


@pytest.mark.parametrize("stage", ["rcpt", "data"])
@pytest.mark.parametrize("size", [None, 10_000_000], ids=["no-SIZE", "SIZE"])
@pytest.mark.parametrize(("reply", "kind"), NOT_ABOUT_READER)
def test_a_refusal_not_about_the_reader_stops_the_send_and_marks_nobody(
        tmp_path: Path, stage: str, size: int | None, reply: str, kind: str) -> None:
    handler = ScriptedHandler(stage, reply)
    with SmtpServer(handler, size_limit=size) as server:
        store, issue, report = _send(tmp_path, server)
    with store:
        assert report.refused and not report.finished
        assert (report.sent, report.rejected, report.failed) == (0, 0, 0)
        assert handler.answered == 3  # stopped after three in a row
        assert store.delivery_counts(issue.id)["pending"] == len(READERS)
        assert {s.status for s in store.subscribers()} == {"active"}
        assert set(_rejections(store)) == {0}
        assert store.get_issue(issue.id).status == "sending"
    reason = report.stopped_reason or ""
    assert reply in reason and "not the reader" in reason
    assert f"digest issues cancel {issue.id}" in reason and "Nobody was marked" in reason


def test_a_552_to_mail_from_is_the_message_not_the_sender_address(tmp_path: Path) -> None:
    handler = ScriptedHandler("mail", "552 5.3.4 Message size exceeds fixed maximum message size")
    with SmtpServer(handler) as server:
        store, issue, report = _send(tmp_path, server)
    with store:
        assert report.refused and store.delivery_counts(issue.id)["pending"] == len(READERS)
    reason = report.stopped_reason or ""
    assert "sender address" not in reason and "the message itself" in reason


@pytest.mark.parametrize("size", [None, 10_000_000], ids=["no-SIZE", "SIZE"])
@pytest.mark.parametrize("stage", ["rcpt", "data"])
def test_the_readers_own_refusal_counts_towards_bounced(tmp_path: Path, stage: str,
                                                        size: int | None) -> None:
    handler = ScriptedHandler(stage, "550 5.1.1 The email account does not exist",
                              only=READERS[:2])
    with SmtpServer(handler, size_limit=size) as server:
        store, issue, report = _send(tmp_path, server)
    with store:
        assert not report.refused and report.finished
        assert (report.sent, report.rejected) == (len(READERS) - 2, 2)
        assert _rejections(store) == [1, 1] + [0] * (len(READERS) - 2)


@pytest.mark.parametrize("size", [None, 10_000_000], ids=["no-SIZE", "SIZE"])
@pytest.mark.parametrize(("stage", "reply"), [
    ("rcpt", "552 5.2.2 Mailbox full"), ("rcpt", "452 4.2.2 Over quota"),
    ("data", "552 5.2.2 Mailbox full"), ("rcpt", "451 4.3.0 Try again later"),
    ("data", "421 4.3.2 System not accepting network messages")])
def test_a_full_mailbox_or_a_temporary_refusal_fails_without_counting(
        tmp_path: Path, stage: str, reply: str, size: int | None) -> None:
    handler = ScriptedHandler(stage, reply, only=READERS[:1])
    with SmtpServer(handler, size_limit=size) as server:
        store, issue, report = _send(tmp_path, server)
    with store:
        assert not report.refused
        assert (report.sent, report.failed, report.rejected) == (len(READERS) - 1, 1, 0)
        assert set(_rejections(store)) == {0}


def test_one_policy_refusal_among_acceptances_is_a_temporary_failure(tmp_path: Path) -> None:
    handler = ScriptedHandler("rcpt", "550 5.7.1 Service unavailable; client host blocked",
                              only=READERS[3:4])
    with SmtpServer(handler) as server:
        store, issue, report = _send(tmp_path, server)
    with store:
        assert not report.refused
        assert (report.sent, report.failed, report.rejected) == (len(READERS) - 1, 1, 0)
        assert set(_rejections(store)) == {0}


def test_a_message_over_the_advertised_size_is_never_handed_over(tmp_path: Path) -> None:
    handler = ScriptedHandler("none", "")
    with SmtpServer(handler, size_limit=8 * 1024) as server:
        store, issue, report = _send(tmp_path, server, padding=300)
    with store:
        assert report.refused and handler.total == 0
        assert store.delivery_counts(issue.id)["pending"] == len(READERS)
    reason = report.stopped_reason or ""
    assert "KB; the mail server" in reason and "accepts at most 8.0 KB" in reason
