"""The outbox sender: one .eml file per message in a folder.

Each file is written under a temporary name and renamed into place, so a crash never leaves half a
message under a ``.eml`` name. File names come from the Message-ID, which is the same every time a
copy is made for the same issue and subscriber: a message sent again after a crash replaces its file
instead of adding a second one.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path

from digest.errors import SendAborted
from digest.models import Outgoing, SendResult

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


def eml_name(message: Outgoing) -> str:
    """A file name that is stable for the message and unique among messages."""
    mid = message.message_id.strip().strip("<>")
    safe = _UNSAFE.sub("_", mid).lstrip(".")
    if not safe:
        return f"delivery-{message.delivery_id}.eml"
    if safe != mid:  # keep two ids that differ only in replaced characters apart
        safe += "-" + hashlib.sha256(mid.encode("utf-8")).hexdigest()[:8]
    return safe[:200] + ".eml"


class OutboxSender:
    """Writes each message as a file; ``fsync`` makes a recorded "sent" survive a power cut."""

    max_batch = 50

    def __init__(self, folder: Path, *, fsync: bool = True) -> None:
        self.folder = folder
        self.fsync = fsync

    def send_batch(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        results: list[SendResult] = []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for message in messages:
                path = self.folder / eml_name(message)
                self._write(path, message.data)
                results.append(SendResult(message.delivery_id, "sent", reply=f"written to {path}",
                                          message_id=message.message_id))
            if self.fsync and results:
                self._sync_folder()
        except OSError as exc:
            raise SendAborted(f"cannot write to the outbox folder {self.folder}: {exc}",
                              results) from exc
        return results

    def _write(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                if self.fsync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise

    def _sync_folder(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Nothing is held open between batches."""
