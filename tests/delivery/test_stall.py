"""A relay that takes the message text and then never answers (or a mail API silent on its
requests): after three such messages (requests) in a row the send stops (exit status 4) with
every row still pending, instead of waiting the timeout for each attempt of each message.
Through the real `digest` command."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.delivery.stall import STALLS_IN_A_ROW, RelayStalled, StallWatch
from digest.models import SendResult
from support.e2e import DATA, digest, write_config
from support.feedserver import FeedServer, Route
from support.smtpserver import CountingHandler, SmtpServer


class StallingHandler(CountingHandler):
    """Reads each message, then answers nothing until released (the client times out)."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled = 0
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.stalled += 1
        while not self.release.is_set():
            await asyncio.sleep(0.05)
        return "250 2.0.0 Ok: too late"


@pytest.fixture
def stalling() -> Iterator[tuple[SmtpServer, StallingHandler]]:
    handler = StallingHandler()
    with SmtpServer(handler) as server:
        try:
            yield server, handler
        finally:
            handler.release.set()


def test_a_relay_silent_after_data_stops_the_send_with_rows_pending(
        tmp_path: Path, stalling: tuple[SmtpServer, StallingHandler]) -> None:
    server, handler = stalling
    with FeedServer() as feeds:
        feeds.route("/wp.rss", Route(body=(DATA / "wordpress.rss").read_bytes()))
        config = write_config(tmp_path, [feeds.url("/wp.rss")], smtp_port=server.port)
        config.write_text(config.read_text().replace("timeout: 5", "timeout: 1"))
        result = digest(config, "run")
    assert result.code == 4, result.err
    assert "no answer after the message text of 3 messages in a row" in result.err
    # Without the rule: 3 readers x 3 attempts, each waiting out the timeout.
    assert handler.stalled < 3 * 3
    with sqlite3.connect(tmp_path / "digest.sqlite3") as conn:
        statuses = conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status")
        assert dict(statuses.fetchall()) == {"pending": 3}


def _result(stalled: bool) -> SendResult:
    return SendResult(1, "temporary", reply="timed out", stalled=stalled)


def test_an_answered_message_in_between_resets_the_count() -> None:
    watch = StallWatch()
    for _ in range(5):
        watch.observe([_result(True)] * (STALLS_IN_A_ROW - 1) + [_result(False)])
    with pytest.raises(RelayStalled):
        watch.observe([_result(True)] * STALLS_IN_A_ROW)


def test_the_messages_of_one_silent_api_request_count_as_one_stall() -> None:
    def request(n: int, size: int) -> list[SendResult]:
        return [SendResult(i, "temporary", "no answer", stalled=True, exchange=f"request {n}")
                for i in range(size)]

    watch = StallWatch()
    watch.observe(request(1, 50))
    watch.observe(request(2, 50))  # two requests of fifty messages: two stalls, not a hundred
    with pytest.raises(RelayStalled, match="no answer to 3 requests in a row"):
        watch.observe(request(3, 1))
