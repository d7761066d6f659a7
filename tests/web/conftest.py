"""Fixtures of the web tests: a real SMTP server on 127.0.0.1 and a site (config, store, feed)
that sends through it. A module that needs another shape defines its own, which pytest prefers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.browser import Site, make_site
from support.smtpserver import CountingHandler, SmtpServer


@pytest.fixture
def smtp() -> Iterator[tuple[SmtpServer, CountingHandler]]:
    """The server and its handler, which keeps a copy of every message."""
    handler = CountingHandler(keep=True)
    with SmtpServer(handler) as server:
        yield server, handler


@pytest.fixture
def site(tmp_path: Path, smtp: tuple[SmtpServer, CountingHandler]) -> Site:
    return make_site(tmp_path, smtp[0].port)
