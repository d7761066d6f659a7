"""Which SQLite errors are the store's trouble, and what to tell the person running digest.

SQLite says what went wrong in its result code (sqlite.org/rescode.html), which Python 3.11 gives
as ``sqlite_errorcode``; the exception class alone does not: ``OperationalError`` covers both a
locked file and a typo in a statement, and ``DatabaseError`` both a damaged file and the parent
of ``IntegrityError``. So the primary result code (the low byte of an extended code) decides:

- SQLITE_BUSY, SQLITE_LOCKED: another process held the file for longer than the store waits.
- SQLITE_FULL: the disk (or the file-size limit) is full.
- SQLITE_READONLY, SQLITE_PERM, SQLITE_CANTOPEN: the file, its folder or the disk cannot be
  written or opened.
- SQLITE_CORRUPT, SQLITE_NOTADB: the file is damaged or is no database at all.
- SQLITE_IOERR: the disk failed a read or a write; on a full disk SQLite often says this (it
  cannot grow the WAL index, SQLITE_IOERR_SHMSIZE) rather than SQLITE_FULL, so the free space
  of the store's folder is looked at before saying which.

Every other code (SQLITE_CONSTRAINT, SQLITE_ERROR for a bad statement, SQLITE_MISUSE, ...) is a
bug in digest, not a state of the file, and is not wrapped.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from digest.errors import StoreError

_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_READONLY = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN}
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_NEARLY_FULL = 1024 * 1024  # bytes free below which an I/O error is taken for a full disk


def store_error(exc: sqlite3.Error, path: Path, busy_timeout: float) -> StoreError | None:
    """A StoreError naming ``path`` and what to do, when ``exc`` is the file's trouble; else None.

    ``busy_timeout`` (seconds) is how long the store waited for another process's lock.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(code, int):
        return None
    primary, text = code & 0xFF, str(exc)
    if primary in _BUSY:
        return StoreError(f"the store {path} is busy: another process kept it locked for longer "
                          f"than {busy_timeout:g} s ({text}); run again when it has finished")
    if primary == sqlite3.SQLITE_FULL or (primary == sqlite3.SQLITE_IOERR and _full(path)):
        return StoreError(f"the disk holding the store {path} is full ({text}); free some space "
                          "and run again")
    if primary in _READONLY:
        return StoreError(f"the store {path} cannot be written ({text}): check the permissions "
                          "of the file and its folder, or that the disk is not mounted read-only")
    if primary in _DAMAGED:
        return StoreError(f"{path} is not a digest store, or it is damaged ({text}); restore it "
                          "from a backup, or point store: in feeds.yaml at another file")
    if primary == sqlite3.SQLITE_IOERR:
        return StoreError(f"the disk failed reading or writing the store {path} ({text}); check "
                          "the disk and that it has free space")
    return None


def _full(path: Path) -> bool:
    try:
        return shutil.disk_usage(path.parent).free < _NEARLY_FULL
    except OSError:
        return False
