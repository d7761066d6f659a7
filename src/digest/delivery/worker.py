"""The sending side of the send loop: one thread per connection, each owning one sender.

A worker takes messages from the shared inbox, sends them, keeps temporary failures in its own
retry schedule (exponential backoff with jitter, so other messages go out meanwhile), signs
each message (DKIM, or takes it signed ahead) and hands final results to the recorder, waiting
until they are in the ledger before it sends anything more; with SMTP (a ``GatedSender``) a
message that went out is made sure of only before the next message's end of data, the point
where the server takes it, in one group commit with what the other connections handed over.
A batch is one message for SMTP and the outbox, one request for a mail API: so at any moment
at most one batch per connection has gone out without its result recorded.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

from digest.delivery.ratelimit import TokenBucket
from digest.delivery.recorder import Recorder
from digest.delivery.senders import ContentSender, Sender, SenderFactory
from digest.delivery.senders.base import GatedSender, Held
from digest.delivery.stall import StallWatch
from digest.errors import SendAborted, SendError
from digest.mail.canonical import Signer
from digest.models import Outgoing, SendResult


@dataclass(frozen=True)
class Job:
    message: Outgoing  # its data not yet signed
    attempts: int = 0  # attempts already made in this run
    body_hash: bytes | None = None  # the DKIM body hash of its data, when known
    signed: Future[bytes] | None = None  # its data signed, if signing was started ahead


@dataclass(frozen=True)
class Retry:
    max_attempts: int
    base: float  # seconds before the 2nd attempt; doubles each time
    cap: float

    def delay(self, attempts: int, rng: random.Random) -> float:
        delay = min(self.cap, self.base * 2.0 ** (attempts - 1))
        return float(delay * (0.5 + rng.random() / 2))  # jitter spreads retries of a busy server


@dataclass
class Channels:
    """What the main thread and the workers share."""

    inbox: queue.Queue[Job]
    recorder: Recorder
    stop: threading.Event  # finish the current batch
    fed_all: threading.Event = field(default_factory=threading.Event)  # no more jobs coming
    fatal: list[BaseException] = field(default_factory=list)  # why the send cannot go on
    stalls: StallWatch = field(default_factory=StallWatch)  # the relay silent after DATA
    # Signs a message's final bytes (DKIM) in the worker before it goes out; None: as they are.
    sign: Signer | None = None

    def fail(self, error: BaseException) -> None:
        self.fatal.append(error)  # list.append is atomic: no lock needed
        self.stop.set()


@dataclass
class Worker:
    channels: Channels
    retry: Retry
    bucket: TokenBucket | None
    sleep: Callable[[float], None]
    monotonic: Callable[[], float]
    _retries: list[tuple[float, int, Job]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)
    _rng: random.Random = field(default_factory=random.Random)
    # A mail API charges a request per batch: wait this long (seconds) for a batch to fill.
    fill_wait: float = 2.0
    # Results of this worker handed over up to this ticket; with a GatedSender they are
    # written while the next message starts, and waited for before it can be delivered.
    _ticket: int = 0
    _gated: bool = False

    def _previous_recorded(self) -> None:
        """The gate of a GatedSender: the previous results recorded; raises Held when the
        send is stopping (the ledger failed, refusals, an interrupt): this message stays."""
        self.channels.recorder.wait_for(self._ticket)
        if self.channels.stop.is_set():
            raise Held("the send is stopping")

    def run(self, sender_factory: SenderFactory) -> None:
        sender: Sender | None = None
        try:
            sender = sender_factory()
            whole = isinstance(sender, ContentSender)  # one request per batch: keep them full
            # One message at a time, except where a batch is one request: each result is then
            # recorded before the connection sends the next message.
            size = sender.max_batch if whole else 1
            if isinstance(sender, GatedSender):
                sender.gate = self._previous_recorded
                self._gated = True
            while not self.channels.stop.is_set():
                batch = self._next_batch(size)
                if batch is None:
                    return
                if batch and whole and len(batch) < size:
                    self._fill(batch, size)
                if batch:
                    self._send(sender, batch)
        except BaseException as exc:
            if isinstance(exc, SendAborted):
                self.channels.recorder.hand(exc.results, wait=True)
            self.channels.fail(exc)
        finally:
            if sender is not None:
                with contextlib.suppress(SendError, OSError):  # a failed goodbye changes nothing
                    sender.close()

    def _next_batch(self, size: int) -> list[Job] | None:
        """Due retries first, then new messages; [] while waiting, None when all is done."""
        now = self.monotonic()
        batch: list[Job] = []
        while self._retries and self._retries[0][0] <= now and len(batch) < size:
            batch.append(heapq.heappop(self._retries)[2])
        inbox = self.channels.inbox
        with contextlib.suppress(queue.Empty):
            while len(batch) < size:
                batch.append(inbox.get_nowait())
        if batch:
            return batch
        if self._retries:
            self.sleep(min(0.05, max(0.001, self._retries[0][0] - now)))
            return []
        if self.channels.fed_all.is_set() and inbox.empty():
            return None
        try:
            return [inbox.get(timeout=0.05)]
        except queue.Empty:
            return []

    def _fill(self, batch: list[Job], size: int) -> None:
        """Wait for more messages until the batch is full, all are fed, or fill_wait passes."""
        channels = self.channels
        deadline = time.monotonic() + self.fill_wait  # real time: inbox.get waits in real time
        while len(batch) < size and not channels.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or (channels.fed_all.is_set() and channels.inbox.empty()):
                return
            with contextlib.suppress(queue.Empty):
                batch.append(channels.inbox.get(timeout=min(0.05, left)))

    def _send(self, sender: Sender, batch: list[Job]) -> None:
        if self.bucket:
            self.bucket.acquire(len(batch))
        messages = [job.message for job in batch]
        sign = self.channels.sign
        if sign is not None:
            messages = [job.message.with_data(
                job.signed.result() if job.signed is not None
                else sign(job.message.data, body_hash=job.body_hash)) for job in batch]
        try:
            results = _counted(batch, sender.send_batch(messages))
        except Held:
            return  # not handed over: its row stays pending
        except SendAborted as exc:
            exc.results = tuple(_counted(batch, exc.results))
            raise
        # Raises before anything is recorded: the stalled messages stay pending.
        self.channels.stalls.observe(results)
        done = []
        for job, result in zip(batch, results, strict=True):
            if result.outcome == "temporary" and result.attempts < self.retry.max_attempts:
                due = self.monotonic() + self.retry.delay(result.attempts, self._rng)
                entry = (due, next(self._order), replace(job, attempts=result.attempts))
                heapq.heappush(self._retries, entry)
            else:
                done.append(result)
        # Only a message that went out is written meanwhile: any other result may stop the
        # send (refusals in a row), so it is in the ledger before the next message starts.
        early = self._gated and all(r.outcome == "sent" for r in done)
        self._ticket = self.channels.recorder.hand(done, wait=not early)


def _counted(batch: list[Job], results: Sequence[SendResult]) -> list[SendResult]:
    """Results carrying the attempts made in this run, earlier retries included."""
    return [replace(r, attempts=job.attempts + r.attempts) if job.attempts else r
            for job, r in zip(batch, results, strict=False)]
