"""The background thread of `digest serve` that sends queued confirmation messages.

A subscribe request only queues its message (``digest.app.request_subscription``) and wakes this
thread, so the request does the same work, in the same time, whoever the address belongs to.
The thread also looks at the queue every ``interval`` seconds, for requests a stopped sender left
waiting. It runs while the app's lifespan does (uvicorn starts and stops it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from digest.errors import DigestError

_log = logging.getLogger("digest.web")


class MailWorker:
    """Calls ``send`` (one pass over the queue) when woken, and every ``interval`` seconds."""

    def __init__(self, send: Callable[[], Any], interval: float = 60.0) -> None:
        self.send = send
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        """Ask for a pass soon (a request was just queued)."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="digest-mail", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish the pass under way (if any) and end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                report = self.send()
            except DigestError as exc:  # the store or the config: said, and tried again later
                _log.warning("digest: queued confirmations not sent: %s", exc)
                continue
            stopped = getattr(report, "stopped", None)
            if stopped:
                _log.warning("digest: queued confirmations wait: %s", stopped)


def lifespan_with(worker: MailWorker | None) -> Callable[[Any], Any]:
    """A Starlette lifespan that runs ``worker`` while the server does."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()

    return lifespan
