"""The ledger side of the send loop: one thread that writes every result as soon as it comes.

Each worker hands over the results of one batch (one SMTP message, or one mail API request) and
waits for the recorder's acknowledgement before it starts the next: so a result is in the ledger
before its connection sends anything else, and a crash (even SIGKILL) can repeat only what was
in flight, at most one batch per connection. Results that arrive together are written in one
transaction (a group commit), so the cost of a commit is shared when the workers are busy.

A commit in WAL mode with ``synchronous=NORMAL`` costs about 60 µs here (with ``FULL``, which
syncs the disk on every commit, about 1.6 ms): see ``Store.sending``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from digest.delivery.refusals import RefusalStreak
from digest.errors import RefusedError
from digest.models import SendResult

if TYPE_CHECKING:
    from digest.delivery.progress import Progress


class ResultLedger(Protocol):
    def record_results(self, results: Sequence[SendResult], *, now: datetime,
                       bounce_after: int) -> None: ...


@dataclass(frozen=True)
class Handed:
    """Results handed to the recorder; ``ack`` is set once they are in the ledger (or the
    ledger failed: then ``Recorder.error`` says why and the send is stopping)."""

    results: Sequence[SendResult]
    ack: threading.Event | None = None


@dataclass
class Recorder:
    """Writes results as they come; runs in its own thread (``run``) until ``close``."""

    ledger: ResultLedger
    clock: Callable[[], datetime]
    bounce_after: int
    stop: threading.Event  # set when the ledger fails: the workers stop after their batch
    progress: Progress | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: {"sent": 0, "temporary": 0, "permanent": 0})
    error: BaseException | None = None
    # Refusals not about the reader are held back here, and stop the send a few in a row
    # (digest.delivery.refusals): none of them is written, no reader is marked.
    refusals: RefusalStreak | None = None
    _inbox: queue.SimpleQueue[Handed | None] = field(default_factory=queue.SimpleQueue)

    def hand(self, results: Sequence[SendResult], *, wait: bool) -> None:
        """Give results to the recorder; with ``wait``, return once they are recorded."""
        if not results:
            return
        ack = threading.Event() if wait else None
        self._inbox.put(Handed(results, ack))
        if ack is not None:
            ack.wait()

    def close(self) -> None:
        """No more results will come: ``run`` returns once it has written those it has."""
        self._inbox.put(None)

    def run(self) -> None:
        closed = False
        while not closed:
            waiting = [self._inbox.get()]
            while True:  # take everything already there: one transaction for all of it
                try:
                    waiting.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            closed = None in waiting
            handed = [h for h in waiting if h is not None]
            try:
                self._write([r for h in handed for r in h.results], closing=closed)
            finally:
                for h in handed:
                    if h.ack is not None:
                        h.ack.set()

    @property
    def refused(self) -> RefusedError | None:
        """Why the server's refusals stopped the send, if they did."""
        return None if self.refusals is None else self.refusals.tripped

    def _write(self, results: list[SendResult], *, closing: bool = False) -> None:
        if self.refusals is not None:
            results, _ = self.refusals.admit(results)
            if closing:  # refusals that did not make a streak: temporary failures
                results += self.refusals.release()
            if self.refusals.tripped is not None:
                self.stop.set()
        if not results or self.error is not None:
            return
        try:
            self.ledger.record_results(results, now=self.clock(),
                                       bounce_after=self.bounce_after)
        except BaseException as exc:  # the send stops; the error reaches the caller
            self.error = exc
            self.stop.set()
            return
        for result in results:
            self.counts[result.outcome] += 1
        if self.progress:
            done = sum(self.counts.values())
            self.progress.update(done, done - self.counts["sent"])
