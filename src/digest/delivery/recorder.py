"""The ledger side of the send loop: results are written in the thread that hands them over.

Each worker hands over the results of one batch (one SMTP message, or one mail API request) and
returns only once they are in the ledger, before it starts the next: so a result is in the ledger
before its connection sends anything else, and a crash (even SIGKILL) can repeat only what was
in flight, at most one batch per connection.

The write is a group commit: whoever takes the write lock first writes everything handed over
so far, its own results and the others', in one transaction; a thread that was waiting for the
lock finds its results already written and goes on. A worker whose sender can hold back each
message's point of no return (``GatedSender``: SMTP's end of data) hands its results over
without waiting, and makes sure they are written (``wait_for``) only before that message's end
of data; so the bound stays one message per connection. By then the other connections have
usually handed theirs over too, and one commit takes them all: no thread hand-off per message
(a thread writing each result as it came cost a tenth of the send's speed, in thread switches).
Results that wait longer than ``linger`` (a connection waiting for its rate, or for a retry)
are written by ``run``'s thread. In WAL mode with
``synchronous=NORMAL`` a commit costs about 60 µs here (with ``FULL``, which syncs the disk on
every commit, about 1.6 ms): see ``Store.sending``.
"""

from __future__ import annotations

import threading
import time
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


@dataclass
class Recorder:
    """Writes results as they are handed over, in the caller's thread (see the module doc).

    ``hand`` may be called from any number of threads; ``close`` writes what is left.
    """

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
    _handed: list[SendResult] = field(default_factory=list)  # not yet written
    _handed_lock: threading.Lock = field(default_factory=threading.Lock)
    _written: int = 0  # results handed over and written (or dropped: the ledger failed)
    _taken: int = 0  # results handed over so far, written or not
    _write_lock: threading.Lock = field(default_factory=threading.Lock)
    linger: float = 0.25  # seconds a result handed over without waiting may wait for a commit
    _since: float = 0.0  # time.monotonic() when the oldest unwritten result was handed over

    def __post_init__(self) -> None:
        self._arrived = threading.Condition(self._handed_lock)
        self._closed = False

    def hand(self, results: Sequence[SendResult], *, wait: bool) -> int:
        """Give results to the recorder; returns a ticket for ``wait_for``.

        With ``wait``, returns once they are recorded (or the ledger failed: then ``error``
        says why and ``stop`` is set). Without it ``run``'s thread writes them as soon as it
        can, or the next caller that waits, or ``close``.
        """
        with self._handed_lock:
            if results:
                if not self._handed:
                    self._since = time.monotonic()
                self._handed.extend(results)
                self._taken += len(results)
            mine = self._taken
        if wait and results:
            self._write_until(mine)
        return mine

    def wait_for(self, ticket: int) -> None:
        """Return once the results handed over up to ``ticket`` are recorded (or the ledger
        failed), writing them in this thread if nobody has yet."""
        if self._written < ticket:
            self._write_until(ticket)

    def run(self) -> None:
        """Write results handed over without waiting once they are ``linger`` seconds old
        (nobody's end of data took them meanwhile), until ``close``."""
        while True:
            with self._handed_lock:
                self._arrived.wait(self.linger)
                if self._closed:
                    return
                due = bool(self._handed) and time.monotonic() - self._since >= self.linger
                mine = self._taken
            if due:
                self._write_until(mine)

    def close(self) -> None:
        """No more results will come: writes those not written yet; ``run`` returns."""
        with self._handed_lock:
            self._closed = True
            self._arrived.notify_all()
            mine = self._taken
        self._write_until(mine, closing=True)

    def _write_until(self, mine: int, *, closing: bool = False) -> None:
        """Write everything handed over so far, unless another thread already wrote the
        results up to the ``mine``-th while this one waited for the lock."""
        with self._write_lock:
            if self._written >= mine and not closing:
                return
            with self._handed_lock:
                results, self._handed = self._handed, []
                taken = self._taken
            try:
                self._write(results, closing=closing)
            finally:
                self._written = taken

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
