"""Benchmark: fetch 20 feeds that each take 200 ms to answer.

Runs fetch_feeds (one client, concurrent) and, in the same run, a sequential baseline (one plain
httpx.Client fetching the feeds one after another), then prints both times and the ratio.
Goal: all 20 feeds in under 400 ms.

    .venv/bin/python bench/fetch.py
"""

from __future__ import annotations

import multiprocessing
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test feed server lives with the tests

from digest.feeds import fetch_feeds  # noqa: E402
from digest.models import Feed  # noqa: E402
from digest.settings import FetchSettings  # noqa: E402
from support.feedserver import FeedServer, Route  # noqa: E402

FEEDS = 20
DELAY = 0.2  # seconds each feed takes to answer
ROUNDS = 5
GOAL = 0.4
SAMPLE = (ROOT / "tests" / "data" / "wordpress.rss").read_bytes()


def _ours(feeds: list[Feed], settings: FetchSettings) -> float:
    start = time.perf_counter()
    outcomes = fetch_feeds(feeds, {}, settings)
    elapsed = time.perf_counter() - start
    bad = [o.error for o in outcomes if o.status != "ok" or len(o.posts) != 3]
    if bad:
        raise SystemExit(f"fetch_feeds failed: {bad[:3]}")
    return elapsed


def _sequential(feeds: list[Feed]) -> float:
    start = time.perf_counter()
    with httpx.Client(timeout=20.0) as client:
        for feed in feeds:
            client.get(feed.url).raise_for_status()
    return time.perf_counter() - start


def _serve(conn: Connection) -> None:
    """The feed server, in its own process: real feeds are not served from our interpreter."""
    with FeedServer() as server:
        for i in range(FEEDS):
            server.route(f"/feed{i}.xml", Route(body=SAMPLE, delay=DELAY))
        conn.send(server.base)
        conn.recv()  # serve until told to stop


def main() -> int:
    ours_end, server_end = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(server_end,))
    process.start()
    try:
        base = ours_end.recv()
        feeds = [Feed(f"{base}/feed{i}.xml", f"Feed {i}") for i in range(FEEDS)]
        wide = FetchSettings(concurrency=FEEDS)
        default = FetchSettings()
        runs = [_ours(feeds, wide) for _ in range(ROUNDS)]
        ours, best = statistics.median(runs), min(runs)
        ours_default = statistics.median(_ours(feeds, default) for _ in range(ROUNDS))
        baseline = _sequential(feeds)
    finally:
        ours_end.send("stop")
        process.join(timeout=10)
    print(f"{FEEDS} feeds, each answering after {DELAY * 1000:.0f} ms "
          f"(median of {ROUNDS} runs for fetch_feeds)")
    print(f"  sequential baseline (one httpx.Client): {baseline * 1000:7.0f} ms")
    print(f"  fetch_feeds, concurrency {FEEDS:<2}           : {ours * 1000:7.0f} ms   "
          f"{baseline / ours:5.1f}x faster   goal < {GOAL * 1000:.0f} ms: "
          f"{'met' if ours < GOAL else 'MISSED'} (best run {best * 1000:.0f} ms)")
    print(f"  fetch_feeds, default concurrency {default.concurrency:<2}   : "
          f"{ours_default * 1000:7.0f} ms   {baseline / ours_default:5.1f}x faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
