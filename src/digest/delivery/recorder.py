"""The ledger side of the send loop: results are written in the thread that hands them over.

Each worker hands over the results of one batch (one SMTP message, or one mail API request) and
returns only once they are in the ledger, before it starts the next: so a result is in the ledger
before its connection sends anything else, and a crash (even SIGKILL) can repeat only what was
in flight, at most one batch per connection.

The write is a group commit without a thread of its own: the first worker to take the write
lock writes everything handed over so far, its own and the others', in one transaction; a worker
that was waiting for the lock finds its results already written and goes on. Handing results to
another thread instead costs two thread wake-ups a message (and, with the GIL, often a wait for
a busy thread's switch interval), more than the commit itself: in WAL mode with
``synchronous=NORMAL`` a commit costs about 60 µs here (with ``FULL``, which syncs the disk on
every commit, about 1.6 ms): see ``Store.sending``.
"""

from __future__ import annotations

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

    def hand(self, results: Sequence[SendResult], *, wait: bool) -> None:
        """Give results to the recorder; with ``wait``, return once they are recorded (or the
        ledger failed: then ``error`` says why and ``stop`` is set). Without it they are
        written with the next results handed over with ``wait``, or by ``close``."""
        if not results:
            return
        with self._handed_lock:
            self._handed.extend(results)
            self._taken += len(results)
            mine = self._taken
        if wait:
            self._write_until(mine)

    def close(self) -> None:
        """No more results will come: writes those not written yet."""
        with self._handed_lock:
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
