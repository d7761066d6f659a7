"""What the store's method groups share: the file's path, the clock, one transaction at a time."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path

Clock = Callable[[], datetime]
PAGE = 1000  # rows read per transaction when a listing is paged


class StoreBase:
    """The part of ``Store`` its method groups (feeds, subscribers, issues) rely on."""

    path: Path
    _clock: Clock

    def _tx(self, *, write: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        """One transaction: committed if the block finishes, rolled back if it raises."""
        raise NotImplementedError
