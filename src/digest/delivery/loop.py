"""The ledger-driven send loop.

The main thread reads pending rows a page at a time (keyset pagination, so memory stays flat
whatever the list size), personalises each message and feeds a bounded queue. Each worker thread
owns one sender (one SMTP connection), sends, retries temporary failures with exponential
backoff and jitter, and has final results written to the ledger by the recorder
(``recorder.py``: a group commit) before its connection can deliver anything more.

Crash bound: a worker waits until its results are recorded before its connection can deliver
anything more (with SMTP, before the next message's end of data: ``worker.py``). After
a crash (even SIGKILL) every row is either recorded or still pending, and the next run sends
again only what was in flight: at most one message per connection with SMTP (or the outbox),
at most one request per connection (``connections`` x the batch size) with a mail API.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from digest.delivery.progress import Progress
from digest.delivery.ratelimit import TokenBucket
from digest.delivery.recorder import Recorder
from digest.delivery.refusals import RefusalStreak
from digest.delivery.report import DeliveryReport
from digest.delivery.senders import ContentSender, Sender, SenderFactory
from digest.delivery.worker import Channels, Job, Retry, Worker
from digest.errors import ConfigError, PermanentSendError
from digest.mail.message import MessageTemplate
from digest.mail.message_id import make_message_id
from digest.models import Delivery, Issue, Outgoing, Recipient, SendResult


class Ledger(Protocol):
    def pending_deliveries(self, issue_id: int, *, after_id: int = 0, limit: int = 500,
                           include_failed: bool = False) -> list[Delivery]: ...

    def skip_inactive(self, issue_id: int) -> int: ...

    def record_results(self, results: Sequence[SendResult], *, now: datetime,
                       bounce_after: int) -> None: ...

    def finish_issue(self, issue_id: int, now: datetime) -> bool: ...

    def store_id(self) -> str: ...  # random, made once per store: part of every Message-ID


@runtime_checkable
class HourlyLedger(Protocol):
    """A ledger that can count recent sends, for an hourly cap shared across runs."""

    def sent_since(self, since: datetime) -> int: ...


@runtime_checkable
class SendingLedger(Protocol):
    """A ledger that can make its commits cheaper for the length of a send."""

    def sending(self) -> contextlib.AbstractContextManager[None]: ...


@runtime_checkable
class CountingLedger(Protocol):
    """A ledger that can count rows by status, for progress with a total and a time left."""

    def delivery_counts(self, issue_id: int) -> dict[str, int]: ...


@dataclass(frozen=True)
class DeliveryOptions:
    connections: int = 4  # worker threads, each with its own sender (SMTP connection)
    max_attempts: int = 3  # per message in this run, before it is recorded as failed
    backoff_base: float = 1.0  # seconds before the 2nd attempt; doubles each time
    backoff_cap: float = 60.0
    rate_per_second: float | None = None
    max_per_hour: int | None = None
    bounce_after: int = 3  # rejected by this many issues in a row: the subscriber is bounced
    include_failed: bool = False  # also retry rows a previous run recorded as failed
    page_size: int = 500  # rows read from the ledger at a time; also the feeding queue's room
    # Build each recipient's MIME message. Off for mail APIs: they send the issue's content with
    # each recipient's values (Outgoing.recipient_values) and never read the bytes.
    mime: bool = True
    # Child processes that DKIM-sign (digest.mail.dkim_pool), so signing runs on every core;
    # 0: the worker threads sign. Only for a send of at least signing_pool_from messages:
    # below that, starting the processes costs more than it saves.
    signing_processes: int = 0
    signing_pool_from: int = 200

    def __post_init__(self) -> None:
        for name in ("connections", "max_attempts", "bounce_after", "page_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"must be at least 1, got {getattr(self, name)}", key=name)
        if self.signing_processes < 0:
            raise ConfigError("must not be negative", key="signing_processes")
        if self.rate_per_second is not None and self.rate_per_second <= 0:
            raise ConfigError("must be positive", key="rate_per_second")
        if self.max_per_hour is not None and self.max_per_hour < 0:
            raise ConfigError("must not be negative", key="max_per_hour")


def deliver(ledger: Ledger, issue: Issue, template: MessageTemplate,
            sender_factory: SenderFactory, *, options: DeliveryOptions | None = None,
            recipient_for: Callable[[Delivery], Recipient], envelope_from: str,
            clock: Callable[[], datetime], sleep: Callable[[float], None] = time.sleep,
            monotonic: Callable[[], float] = time.monotonic,
            progress: Progress | None = None) -> DeliveryReport:
    """Send the issue to every pending row; returns what happened.

    A ``SendError`` from a sender stops the send: results so far are recorded, unsent rows stay
    pending, and the error propagates. Refusals that are not about the readers (see
    ``digest.delivery.refusals``) stop it too, a few in a row, without marking anyone: the report
    says so (``refused``, ``stopped_reason``) and nothing is raised.
    """
    run = _Run(ledger, issue, template, options or DeliveryOptions(), recipient_for,
               envelope_from, clock, sleep, monotonic, progress)
    return run.execute(sender_factory)


@dataclass
class _Run:
    ledger: Ledger
    issue: Issue
    template: MessageTemplate
    opt: DeliveryOptions
    recipient_for: Callable[[Delivery], Recipient]
    envelope_from: str
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]
    progress: Progress | None

    def __post_init__(self) -> None:
        self.stop = threading.Event()
        self.recorder = Recorder(self.ledger, self.clock, self.opt.bounce_after, self.stop,
                                 self.progress, refusals=RefusalStreak(self.issue.id))
        # Room for a full batch per connection, so batch senders can fill their batches. A MIME
        # job holds its whole message (tens of KB): a few per connection keep the workers fed,
        # and memory stays flat (a page of them would be ~20 MB).
        size = (self.opt.connections * 8 if self.opt.mime
                else max(self.opt.connections * 40, self.opt.page_size))
        self.channels = Channels(queue.Queue(maxsize=size), self.recorder, self.stop,
                                 sign=self.template.sign if self.opt.mime else None)
        self.started = self.monotonic()
        self.store_id = self.ledger.store_id()
        self.sign_ahead: Callable[..., Future[bytes]] | None = None

    def execute(self, sender_factory: SenderFactory) -> DeliveryReport:
        skipped = self.ledger.skip_inactive(self.issue.id)
        budget = self._hourly_budget()
        total = self._total(budget)
        if self.progress:
            self.progress.start(self.issue.id, total)
        with self._commits(), self._signing(total):
            recorder = threading.Thread(target=self.recorder.run, daemon=True,
                                        name="digest-ledger")
            recorder.start()
            workers = self._start_workers(sender_factory)
            try:
                stopped = self._produce(budget)
            except BaseException:  # interrupted, or the ledger failed: stop after the batches
                self.stop.set()
                raise
            finally:
                self.channels.fed_all.set()
                for worker in workers:
                    worker.join()
                self.recorder.close()
                recorder.join()
        report = self._report(skipped, stopped)
        if self.progress:
            self.progress.finish(report)
        for error in (*self.channels.fatal, self.recorder.error):
            if error is not None:
                raise error
        return report

    @contextlib.contextmanager
    def _commits(self) -> Iterator[None]:
        if isinstance(self.ledger, SendingLedger):
            with self.ledger.sending():
                yield
        else:
            yield

    @contextlib.contextmanager
    def _signing(self, total: int | None) -> Iterator[None]:
        """DKIM signing in ``signing_processes`` child processes for a send of at least
        ``signing_pool_from`` messages (``digest.mail.dkim_pool``); else in the worker
        threads."""
        sign, processes = self.channels.sign, self.opt.signing_processes
        if (sign is None or not processes
                or (total is not None and total < self.opt.signing_pool_from)):
            yield
            return
        from digest.mail.dkim import DkimSigner  # only a DKIM send needs cryptography
        from digest.mail.dkim_pool import SigningPool

        if not isinstance(sign, DkimSigner):
            yield
            return
        with SigningPool(sign, processes) as pool:
            self.channels.sign = pool
            self.sign_ahead = pool.submit  # signed while the job waits in the inbox
            try:
                yield
            finally:  # the pool's processes are gone: sign in this process again
                self.channels.sign, self.sign_ahead = sign, None

    def _start_workers(self, sender_factory: SenderFactory) -> list[threading.Thread]:
        opt = self.opt
        rate = opt.rate_per_second
        bucket = TokenBucket(rate, clock=self.monotonic, sleep=self.sleep) if rate else None
        retry = Retry(opt.max_attempts, opt.backoff_base, opt.backoff_cap)
        threads = []
        factory = self._prepared(sender_factory)
        for i in range(opt.connections):
            worker = Worker(self.channels, retry, bucket, self.sleep, self.monotonic)
            threads.append(threading.Thread(target=worker.run, args=(factory,),
                                            daemon=True, name=f"digest-send-{i}"))
            threads[-1].start()
        return threads

    def _prepared(self, sender_factory: SenderFactory) -> SenderFactory:
        """Senders that send the issue's content themselves get it before the first batch."""

        def make() -> Sender:
            sender = sender_factory()
            if isinstance(sender, ContentSender):
                sender.prepare(self.issue, self.template)
            return sender

        return make

    def _report(self, skipped: int, stopped: str | None) -> DeliveryReport:
        finished = False
        error = next(iter(self.channels.fatal), self.recorder.error) or self.recorder.refused
        if error is not None:
            stopped = f"{error}"
        elif stopped is None:
            finished = self.ledger.finish_issue(self.issue.id, self.clock())
        elapsed = max(self.monotonic() - self.started, 1e-9)
        counts = self.recorder.counts
        return DeliveryReport(self.issue.id, counts["sent"], counts["temporary"],
                              counts["permanent"], skipped, elapsed, counts["sent"] / elapsed,
                              stopped, finished, refused=self.recorder.refused is not None)

    def _hourly_budget(self) -> int | None:
        cap = self.opt.max_per_hour
        if cap is None:
            return None
        if isinstance(self.ledger, HourlyLedger):
            return max(0, cap - self.ledger.sent_since(self.clock() - timedelta(hours=1)))
        return cap  # the ledger cannot count recent sends: the cap holds within this run

    def _total(self, budget: int | None) -> int | None:
        if not isinstance(self.ledger, CountingLedger):
            return None
        counts = self.ledger.delivery_counts(self.issue.id)
        total = counts.get("pending", 0) + (counts.get("failed", 0)
                                            if self.opt.include_failed else 0)
        return total if budget is None else min(total, budget)

    # main thread: feeding and recording

    def _produce(self, budget: int | None) -> str | None:
        """Feed every pending row to the workers; returns why it stopped early, if it did."""
        after, fed = 0, 0
        while not self.stop.is_set():
            page = self.ledger.pending_deliveries(self.issue.id, after_id=after,
                                                  limit=self.opt.page_size,
                                                  include_failed=self.opt.include_failed)
            if not page:
                return None
            for row in page:
                if budget is not None and fed >= budget:
                    return (f"the hourly cap of {self.opt.max_per_hour} messages was reached; "
                            "the rest stay pending for the next run")
                job = self._job(row)
                if job is not None:
                    self._put(job)
                    fed += 1
                if self.stop.is_set():
                    break
            after = page[-1].id
        return None

    def _job(self, row: Delivery) -> Job | None:
        message_id = make_message_id(self.issue.id, row.subscriber_id, self.template.from_addr,
                                     self.store_id)
        recipient = self.recipient_for(row)
        try:
            # Signed (DKIM) by the worker that sends it: RSA is OpenSSL's and runs in
            # parallel with the other workers, not in this thread that feeds them all.
            data, body_hash = (self.template.unsigned(recipient, message_id=message_id)
                               if self.opt.mime else (b"", None))
        except PermanentSendError as exc:  # an address no server could take
            self.recorder.hand([SendResult(row.id, "permanent", reply=str(exc),
                                           message_id=message_id)], wait=False)
            return None
        signed = self.sign_ahead(data, body_hash=body_hash) if self.sign_ahead else None
        return Job(Outgoing(row.id, self.envelope_from, recipient.email, data, message_id,
                            recipient_values=recipient), body_hash=body_hash, signed=signed)

    def _put(self, job: Job) -> None:
        while not self.stop.is_set():
            try:
                self.channels.inbox.put(job, timeout=0.05)
                return
            except queue.Full:
                pass
