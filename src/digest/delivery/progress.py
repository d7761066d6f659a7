"""Progress of a send on stderr: a live bar on a terminal, plain log lines under cron."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from digest.delivery.report import DeliveryReport


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def summary_line(report: DeliveryReport) -> str:
    line = (f"issue {report.issue_id}: {report.sent} sent, {report.failed} failed, "
            f"{report.rejected} rejected, {report.skipped} skipped in "
            f"{_duration(report.elapsed)} ({report.rate:.0f} msg/s)")
    return line + (f"; stopped: {report.stopped_reason}" if report.stopped_reason else "")


class Progress:
    """Reports a send as it goes.

    On a terminal: one line redrawn in place (``\\r``) with count, rate and time left. Otherwise
    (cron, a log file): a plain line every ``every_seconds`` or every ``every_percent`` percent,
    whichever comes first, so a log shows a long send moving without filling up. ``summary``:
    end with the result line (False when the command prints the result itself, once).
    """

    def __init__(self, stream: TextIO, *, every_seconds: float = 30.0, every_percent: int = 10,
                 clock: Callable[[], float] = time.monotonic, tty: bool | None = None,
                 summary: bool = True) -> None:
        self.stream = stream
        self.summary = summary
        self.tty = stream.isatty() if tty is None else tty
        self.every_seconds = every_seconds
        self.every_percent = every_percent
        self._clock = clock
        self._start = self._last = clock()
        self._total: int | None = None
        self._issue = 0
        self._next_percent = every_percent
        self._drawn = False

    def start(self, issue_id: int, total: int | None) -> None:
        self._start = self._last = self._clock()
        self._total = total
        self._issue = issue_id
        if not self.tty:
            count = ("pending messages" if total is None
                     else f"{total} message{'' if total == 1 else 's'}")
            self._write(f"issue {issue_id}: sending {count}\n")

    def update(self, done: int, failed: int) -> None:
        now = self._clock()
        if self.tty:
            if now - self._last >= 0.1:
                self._last = now
                self._write("\r" + self._status(done, failed, now) + "\x1b[K")
                self._drawn = True
            return
        percent = 100 * done // self._total if self._total else 0
        due = bool(self._total) and percent >= self._next_percent
        if due or now - self._last >= self.every_seconds:
            self._last = now
            while self._next_percent <= percent:
                self._next_percent += self.every_percent
            self._write(self._status(done, failed, now) + "\n")

    def finish(self, report: DeliveryReport) -> None:
        if self._drawn:
            self._write("\r\x1b[K")
        if self.summary:
            self._write(summary_line(report) + "\n")

    def _status(self, done: int, failed: int, now: float) -> str:
        elapsed = now - self._start
        rate = done / elapsed if elapsed > 0 else 0.0
        total = self._total
        line = f"issue {self._issue}: {done}" + (f"/{total}" if total is not None else "")
        if total:
            width = 24
            filled = min(width, width * done // total)
            bar = "#" * filled + "-" * (width - filled)
            line = f"[{bar}] {line} ({100 * done // total}%)"
        line += f" {rate:.0f} msg/s"
        if failed:
            line += f", {failed} not sent"
        if total is not None and rate > 0:
            line += f", {_duration((total - done) / rate)} left"
        return line

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
