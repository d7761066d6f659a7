"""Fixtures shared by the whole suite: a real SQLite store, a real SMTP server on 127.0.0.1 and a
DKIM key. A test module that needs another shape (a clock, a handler of its own, a wider scope)
defines a fixture of the same name, which pytest prefers to these."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.store import Store
from support.dkimkeys import DkimKey, make_key
from support.smtpserver import CountingHandler, SmtpServer


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty store in ``tmp_path/digest.sqlite3``, on the real clock; closed after the test."""
    with Store.open(tmp_path / "digest.sqlite3") as opened:
        yield opened


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """An SMTP server on 127.0.0.1 that accepts every message and keeps a copy of each
    (``smtp.handler`` is its CountingHandler); stopped after the test."""
    with SmtpServer(CountingHandler(keep=True)) as server:
        yield server


@pytest.fixture(scope="module")
def key() -> DkimKey:
    """A fresh RSA DKIM key with its DNS record, one per test module (making one takes time)."""
    return make_key()
