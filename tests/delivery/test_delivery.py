"""The send loop end to end: a real store, real SMTP servers, real outbox folders, real crashes."""

from __future__ import annotations

import bisect
import dataclasses
import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dkim
import pytest

from digest.delivery.loop import DeliveryOptions, deliver
from digest.delivery.progress import Progress
from digest.delivery.ratelimit import TokenBucket
from digest.delivery.report import DeliveryReport
from digest.delivery.senders import SenderFactory, make_sender
from digest.delivery.senders.smtp import SmtpSender
from digest.errors import SendError
from digest.mail.dkim import DkimSigner
from digest.mail.message import MessageTemplate
from digest.models import (
    TOKEN_EMAIL,
    TOKEN_NAME,
    TOKEN_UNSUBSCRIBE,
    Delivery,
    Issue,
    Recipient,
    RenderedIssue,
)
from digest.settings import SmtpSettings
from digest.store import Store
from digest.subscribers import SubscriberRow
from support.dkimkeys import DOMAIN, SELECTOR, DkimKey
from support.smtpserver import CountingHandler, FaultyHandler, SmtpServer

NOW = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
RENDERED = RenderedIssue(
    subject="Weekly digest", preheader="", post_count=1,
    html=f"<p>Hello {TOKEN_NAME}</p><p><a href=\"{TOKEN_UNSUBSCRIBE}\">Leave</a> {TOKEN_EMAIL}</p>",
    text=f"Hello {TOKEN_NAME}\n\nLeave: {TOKEN_UNSUBSCRIBE}\n")
FAST = {"backoff_base": 0.01, "backoff_cap": 0.05}


def address(i: int) -> str:
    return f"user{i}@example.com"


def recipient_for(row: Delivery) -> Recipient:
    return Recipient(row.email, row.name, f"https://example.org/u/{row.subscriber_id}")


def make_store(path: Path, n: int) -> tuple[Store, Issue]:
    store = Store.open(path)
    store.import_subscribers(SubscriberRow(address(i), f"User {i}") for i in range(n))
    return store, store.create_issue([], RENDERED, NOW)


def template() -> MessageTemplate:
    return MessageTemplate.build(RENDERED, from_addr="Blog <digest@example.org>",
                                 list_id="blog.example.org", reply_to=None, date=NOW,
                                 list_unsubscribe_mailto=None)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[tuple[Store, Issue]]:
    store, issue = make_store(tmp_path / "digest.sqlite3", 150)
    yield store, issue
    store.close()


def run(store: Store, issue: Issue, factory: SenderFactory, **options: Any) -> DeliveryReport:
    return deliver(store, issue, template(), factory, options=DeliveryOptions(**options),
                   recipient_for=recipient_for, envelope_from="bounces@example.org",
                   clock=lambda: NOW)


def smtp_factory(server: SmtpServer, **kw: Any) -> SenderFactory:
    settings = SmtpSettings(host="127.0.0.1", port=server.port, security="none", **kw)
    return lambda: SmtpSender(settings, connect_attempts=1)


def rows(store: Store) -> dict[str, tuple[str, int, str | None, str | None]]:
    """email -> (status, attempts, last_error, message_id), read straight from the file."""
    conn = sqlite3.connect(store.path)
    try:
        found = conn.execute(
            "SELECT s.email, d.status, d.attempts, d.last_error, d.message_id FROM deliveries d"
            " JOIN subscribers s ON s.id = d.subscriber_id").fetchall()
    finally:
        conn.close()
    return {email: (status, attempts, error, mid) for email, status, attempts, error, mid in found}


def test_every_address_gets_exactly_one_message(ledger: tuple[Store, Issue]) -> None:
    store, issue = ledger
    with SmtpServer(CountingHandler(keep=True)) as server:
        report = run(store, issue, smtp_factory(server), connections=4)
    handler = server.handler
    assert handler.counts == {address(i): 1 for i in range(150)}
    assert (report.sent, report.failed, report.rejected, report.skipped) == (150, 0, 0, 0)
    assert report.finished and report.stopped_reason is None
    assert store.get_issue(issue.id).status == "sent"
    ledger_rows = rows(store)
    assert {status for status, *_ in ledger_rows.values()} == {"sent"}
    for rcpt, content in handler.messages:  # each copy is addressed and marked for its row
        status, attempts, _, message_id = ledger_rows[rcpt]
        assert attempts == 1 and message_id is not None
        assert f"To: User {rcpt[4:-12]} <{rcpt}>".encode() in content
        assert f"Message-ID: {message_id}".encode() in content
    assert run(store, issue, smtp_factory(server)).sent == 0  # a re-run sends nothing more


def test_faulty_server(ledger: tuple[Store, Issue]) -> None:
    store, issue = ledger
    rejected = [address(i) for i in range(0, 150, 17)]
    hopeless = [address(i) for i in range(5, 150, 31)]  # 451 on every attempt this run
    faults = {address(i): [("451", "421", "drop-before", "drop-after")[i % 4]]
              for i in range(1, 150, 3)}
    faults.update({a: ["451"] * 3 for a in hopeless})
    faults.update({address(i): ["451", "drop-before"] for i in range(2, 150, 11)})
    handler = FaultyHandler(reject=rejected, faults=faults)
    with SmtpServer(handler) as server:
        report = run(store, issue, smtp_factory(server), connections=3, **FAST)
    deliverable = {address(i) for i in range(150)} - set(rejected) - set(hopeless)
    assert set(handler.counts) == deliverable
    for rcpt in deliverable:  # a second copy only where the server kept one and then dropped
        assert handler.counts[rcpt] == 1 + handler.dropped_after[rcpt]
    assert sum(handler.dropped_after.values()) > 0
    ledger_rows = rows(store)
    for rcpt in rejected:
        assert ledger_rows[rcpt][0] == "rejected" and ledger_rows[rcpt][1] == 1
        assert ledger_rows[rcpt][2] == "550 5.1.1 No such user"
    for rcpt in hopeless:
        assert ledger_rows[rcpt][:3] == ("failed", 3, "451 4.3.0 Try again later")
    for rcpt in deliverable:
        assert ledger_rows[rcpt][0] == "sent"
        assert ledger_rows[rcpt][1] == 1 + len(faults.get(rcpt, []))
    assert (report.sent, report.rejected, report.failed) == (
        len(deliverable), len(rejected), len(hopeless))
    assert report.finished  # failed rows wait for --retry-failed, nothing is pending

    handler.faults.clear()
    with SmtpServer(handler) as server:
        again = run(store, issue, smtp_factory(server), include_failed=True)
    assert again.sent == len(hopeless) and again.rejected == 0
    assert all(handler.counts[rcpt] == 1 for rcpt in hopeless)


def test_unreachable_server_leaves_everything_pending(ledger: tuple[Store, Issue]) -> None:
    store, issue = ledger
    with SmtpServer(CountingHandler()) as server:
        port = server.port
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none")
    with pytest.raises(SendError, match=f"cannot connect to the mail server 127.0.0.1:{port}"):
        run(store, issue, lambda: SmtpSender(settings, connect_attempts=2, retry_delay=0.01))
    assert store.delivery_counts(issue.id)["pending"] == 150
    assert store.get_issue(issue.id).status == "sending"


def test_refused_login_sends_nothing(ledger: tuple[Store, Issue]) -> None:
    store, issue = ledger
    with SmtpServer(CountingHandler(), users={"digest": "right"},
                    auth_require_tls=False) as server, \
            pytest.raises(SendError, match="refused the login"):
        run(store, issue, smtp_factory(server, username="digest", password="wrong"))
    assert server.handler.total == 0
    assert store.delivery_counts(issue.id)["pending"] == 150


def test_server_lost_midway_records_exactly_what_went_out(ledger: tuple[Store, Issue],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store, issue = ledger
    handler = CountingHandler()
    with SmtpServer(handler) as server:
        original = handler.handle_DATA

        async def stop_after_60(smtp_server: Any, session: Any, envelope: Any) -> str:
            if handler.total >= 59:
                server.stop_listening()
            return await original(smtp_server, session, envelope)

        monkeypatch.setattr(handler, "handle_DATA", stop_after_60)
        with pytest.raises(SendError, match="cannot connect"):
            run(store, issue, smtp_factory(server, messages_per_connection=5), connections=2)
    counts = store.delivery_counts(issue.id)
    assert counts["sent"] == handler.total >= 60
    assert counts["pending"] == 150 - handler.total
    sent = {rcpt for rcpt, (status, *_) in rows(store).items() if status == "sent"}
    assert sent == set(handler.counts)


def test_hourly_cap_stops_and_leaves_the_rest_pending(ledger: tuple[Store, Issue],
                                                      tmp_path: Path) -> None:
    store, issue = ledger
    report = run(store, issue, make_sender("outbox", outbox_dir=tmp_path / "out"),
                 max_per_hour=40, connections=2)
    assert report.sent == 40 and not report.finished
    assert report.stopped_reason is not None and "hourly cap of 40" in report.stopped_reason
    assert store.delivery_counts(issue.id)["pending"] == 110
    assert len(list((tmp_path / "out").glob("*.eml"))) == 40


def test_outbox_resume_does_not_duplicate(ledger: tuple[Store, Issue], tmp_path: Path) -> None:
    store, issue = ledger
    factory = make_sender("outbox", outbox_dir=tmp_path / "out")
    run(store, issue, factory, max_per_hour=70)
    report = run(store, issue, factory)
    assert report.sent == 80 and report.finished
    assert len(list((tmp_path / "out").glob("*.eml"))) == 150
    assert not list((tmp_path / "out").glob(".*"))


def test_inactive_subscribers_are_skipped(ledger: tuple[Store, Issue], tmp_path: Path) -> None:
    store, issue = ledger
    store.set_subscriber_status(address(3), "unsubscribed")
    store.set_subscriber_status(address(4), "bounced")
    report = run(store, issue, make_sender("outbox", outbox_dir=tmp_path / "out"))
    assert (report.sent, report.skipped) == (148, 2)
    assert rows(store)[address(3)][0] == "skipped"


def test_progress_on_a_terminal_and_in_a_log(ledger: tuple[Store, Issue], tmp_path: Path) -> None:
    store, issue = ledger
    ticks = iter(range(0, 10_000, 7))
    screen = io.StringIO()
    progress = Progress(screen, tty=True, clock=lambda: float(next(ticks)))
    report = deliver(store, issue, template(), make_sender("outbox", outbox_dir=tmp_path / "o"),
                     options=DeliveryOptions(connections=1),
                     recipient_for=recipient_for, envelope_from="b@example.org",
                     clock=lambda: NOW, progress=progress)
    out = screen.getvalue()
    assert "\r[" in out and "/150 (" in out and "msg/s" in out and "left" in out
    last = out.rpartition("\r\x1b[K")[2]  # the bar is cleared before the summary
    assert last.startswith(f"issue {issue.id}: 150 sent, 0 failed, 0 rejected, 0 skipped in ")
    assert last.endswith(f" ({report.rate:.0f} msg/s)\n") and last.count("\n") == 1
    log = io.StringIO()
    plain = Progress(log, tty=False, every_seconds=1e9, every_percent=25)
    plain.start(9, 200)
    for done in range(0, 201, 10):
        plain.update(done, 0)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0] == "issue 9: sending 200 messages"
    assert [line.split("(")[1].split(")")[0] for line in lines[1:]] == ["25%", "50%", "75%",
                                                                        "100%"]


class FakeClock:
    """Time that moves only when someone sleeps: every send time is exact."""

    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def busiest_second(times: list[float]) -> int:
    """The most sends in any half-open one-second window [t, t + 1)."""
    return max(bisect.bisect_left(times, t + 1.0 - 1e-9) - i for i, t in enumerate(times))


@pytest.mark.parametrize(("rate", "most"), [(20.0, 20), (2.5, 3), (1.0, 1), (0.5, 1)])
def test_token_bucket_never_bursts_above_the_rate(rate: float, most: int) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(100):
        bucket.acquire()
        times.append(clock())
    assert busiest_second(times) == most
    first = [t for t in times if t < 1.0 - 1e-9]
    assert len(first) == most  # the first second too: no burst at the start
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) == pytest.approx(1 / rate)


def test_token_bucket_burst_is_what_it_says() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, burst=3, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(13):
        bucket.acquire()
        times.append(clock())
    assert times[:3] == [0.0, 0.0, 0.0]
    assert times[3:] == pytest.approx([0.1 * k for k in range(1, 11)])
    with pytest.raises(ValueError, match="burst must be at least 1"):
        TokenBucket(10, burst=0.5)
    with pytest.raises(ValueError, match="rate must be positive"):
        TokenBucket(0)


def test_rate_limit_in_the_loop(tmp_path: Path) -> None:
    """20 a second through the real loop: sends counted per second of the injected clock."""
    store, issue = make_store(tmp_path / "digest.sqlite3", 70)
    clock = FakeClock()
    times: list[float] = []
    outbox = make_sender("outbox", outbox_dir=tmp_path / "o")

    def timed() -> Any:
        sender = outbox()
        send = sender.send_batch

        def send_batch(messages: Any) -> Any:
            times.extend(clock() for _ in messages)
            return send(messages)

        sender.send_batch = send_batch  # type: ignore[method-assign]
        return sender

    report = deliver(store, issue, template(), timed,
                     options=DeliveryOptions(rate_per_second=20.0, connections=1),
                     recipient_for=recipient_for, envelope_from="b@example.org",
                     clock=lambda: NOW, sleep=clock.sleep, monotonic=clock)
    store.close()
    assert report.sent == 70 and len(times) == 70
    per_second = [sum(1 for t in times if k <= t + 1e-9 < k + 1) for k in range(4)]
    assert per_second == [20, 20, 20, 10]
    assert busiest_second(times) == 20


def test_bad_options_are_named() -> None:
    from digest.errors import ConfigError

    with pytest.raises(ConfigError, match="connections: must be at least 1"):
        DeliveryOptions(connections=0)
    with pytest.raises(ConfigError, match="rate_per_second: must be positive"):
        DeliveryOptions(rate_per_second=0)


CHILD = """
import sys
from datetime import UTC, datetime
from pathlib import Path
sys.path[:0] = [sys.argv[3], str(Path(sys.argv[3]).parent)]
from test_delivery import recipient_for, template, NOW
from digest.delivery.loop import DeliveryOptions, deliver
from digest.delivery.senders.smtp import SmtpSender
from digest.settings import SmtpSettings
from digest.store import Store

settings = SmtpSettings(host="127.0.0.1", port=int(sys.argv[2]), security="none")
with Store.open(Path(sys.argv[1])) as store:
    issue = store.unfinished_issues()[0]
    deliver(store, issue, template(), lambda: SmtpSender(settings),
            options=DeliveryOptions(connections=4), recipient_for=recipient_for,
            envelope_from="bounces@example.org", clock=lambda: datetime.now(UTC))
"""


def run_child(db: Path, port: int, kill_at: int | None,
              total: Callable[[], int]) -> int:
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db), str(port),
                              str(Path(__file__).parent)], env=os.environ.copy())
    if kill_at is None:
        return child.wait(timeout=300)
    while total() < kill_at and child.poll() is None:
        time.sleep(0.002)
    child.send_signal(signal.SIGKILL)
    return child.wait(timeout=60)


def test_sigkill_and_resume_lose_no_one(tmp_path: Path) -> None:
    """Three SIGKILLs mid-send: after each, what the server has and the ledger does not say
    sent is at most one message per connection, and the re-runs repeat only those."""
    n, connections = 2000, 4
    db = tmp_path / "digest.sqlite3"
    store, issue = make_store(db, n)
    store.close()
    handler = CountingHandler()
    unrecorded = []
    with SmtpServer(handler) as server:
        for kill_at in (300, 900, 1500):
            before = handler.total
            assert run_child(db, server.port, kill_at, lambda: handler.total) == -signal.SIGKILL
            assert handler.total > before  # it was killed while sending
            sent = {rcpt for rcpt, (status, *_) in rows(store).items() if status == "sent"}
            assert sent <= set(handler.counts)  # nothing recorded that did not go out
            unrecorded.append(len(set(handler.counts) - sent))
        assert run_child(db, server.port, None, lambda: handler.total) == 0
    assert all(k <= connections for k in unrecorded), unrecorded
    assert set(handler.counts) == {address(i) for i in range(n)}
    duplicates = sum(c - 1 for c in handler.counts.values())
    assert duplicates <= 3 * connections
    with Store.open(db) as store:
        counts = store.delivery_counts(issue.id)
        assert counts["sent"] == n and store.get_issue(issue.id).status == "sent"


@pytest.mark.parametrize("processes", [0, 2], ids=["threads", "signing-processes"])
def test_messages_signed_by_the_workers_verify_once_each_retries_included(
        ledger: tuple[Store, Issue], key: DkimKey, processes: int) -> None:
    store, issue = ledger
    retried = address(7)
    handler = FaultyHandler(faults={retried: ["451"]}, keep=True)
    signed = dataclasses.replace(
        template(), sign=DkimSigner.from_pem(DOMAIN, SELECTOR, key.pem))
    with SmtpServer(handler) as server:
        report = deliver(store, issue, signed, smtp_factory(server),
                         options=DeliveryOptions(connections=4, backoff_base=0.01,
                                                 backoff_cap=0.05, signing_processes=processes,
                                                 signing_pool_from=100),
                         recipient_for=recipient_for, envelope_from="bounces@example.org",
                         clock=lambda: NOW)
    assert report.sent == 150 and handler.attempts[retried] == 2
    assert sorted(rcpt for rcpt, _ in handler.messages) == sorted(address(i) for i in range(150))
    for rcpt, raw in handler.messages:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        assert raw.count(b"DKIM-Signature:") == 1, rcpt
        assert dkim.verify(raw, dnsfunc=key.dns()) is True, rcpt
