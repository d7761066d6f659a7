"""The recorder: results handed over without waiting reach the ledger, by a gate or on their own."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from digest.delivery.recorder import Recorder
from digest.models import SendResult

NOW = datetime(2026, 12, 1, tzinfo=UTC)


class ListLedger:
    """Keeps every write: one list of results per commit."""

    def __init__(self) -> None:
        self.commits: list[list[int]] = []

    def record_results(self, results: Sequence[SendResult], *, now: datetime,
                       bounce_after: int) -> None:
        self.commits.append([r.delivery_id for r in results])


def sent(delivery_id: int) -> SendResult:
    return SendResult(delivery_id, "sent", reply="250 ok", message_id=f"<m{delivery_id}@x>")


def recorder(ledger: ListLedger, linger: float) -> Recorder:
    return Recorder(ledger, lambda: NOW, 3, threading.Event(), linger=linger)


def test_the_gate_writes_every_connections_results_in_one_commit() -> None:
    ledger = ListLedger()
    rec = recorder(ledger, linger=3600)  # run's thread would not write them in this test
    tickets = [rec.hand([sent(i)], wait=False) for i in range(1, 5)]
    assert ledger.commits == []  # handed over, not yet written: nobody needed them
    rec.wait_for(tickets[0])  # the first connection's end of data
    assert ledger.commits == [[1, 2, 3, 4]]
    for ticket in tickets:
        rec.wait_for(ticket)  # already written: no more commits
    assert ledger.commits == [[1, 2, 3, 4]]
    assert rec.counts["sent"] == 4


def test_results_nobody_waits_for_are_written_by_the_recorders_thread() -> None:
    # A connection waiting for its rate, or with nothing more to send: its last result is
    # written once it is `linger` old, without any other write to carry it.
    ledger = ListLedger()
    rec = recorder(ledger, linger=0.05)
    thread = threading.Thread(target=rec.run, daemon=True)
    thread.start()
    rec.hand([sent(7)], wait=False)
    deadline = time.monotonic() + 10
    while not ledger.commits and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ledger.commits == [[7]]
    rec.close()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert ledger.commits == [[7]]  # close found nothing more to write


def test_close_writes_what_is_left() -> None:
    ledger = ListLedger()
    rec = recorder(ledger, linger=3600)
    thread = threading.Thread(target=rec.run, daemon=True)
    thread.start()
    rec.hand([sent(1), sent(2)], wait=False)
    rec.close()
    thread.join(timeout=10)
    assert ledger.commits == [[1, 2]] and not thread.is_alive()
