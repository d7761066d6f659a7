"""One run at a time: an advisory lock beside the store.

``flock`` is released by the kernel when the process dies, however it dies, so a crashed run never
leaves a lock that needs a human to remove it.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.errors import LockError, StoreError


def lock_path(store: Path) -> Path:
    return store.with_name(store.name + ".lock")


@contextmanager
def run_lock(store: Path) -> Iterator[None]:
    """Hold the run lock for ``store``; LockError at once if another process holds it, and
    StoreError if the lock file cannot be opened for writing (a read-only folder or disk)."""
    path = lock_path(store)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"the store {store} cannot be written: its run lock {path} cannot be "
                         f"opened ({exc.strerror or exc}); check the permissions of the folder, "
                         "or that the disk is not mounted read-only") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            raise LockError(
                f"another digest run holds the lock {path}{holder}; it will be released when that "
                "run ends (a crashed run releases it automatically)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _read_holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (process {pid})" if pid.isdigit() else ""
