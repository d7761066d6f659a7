"""Benchmark: matching a fetch of a big feed against the posts the store already has from it.

A feed of 5,000 stored posts rewrites the guids of its 100 newest entries (WordPress ``?p=N``
becoming the permalink), so every entry is matched by its normalised link. The store keeps each
row's ``link_key`` and ``guid_key`` (schema 6); the old way normalised every stored link and guid
again on each fetch. Both run here on the same rows, alternately, ROUNDS times each, and the
medians are compared; the last line is the ratio (old / new). A full ``record_fetch`` of the
rewritten entries through the real store is timed too.

    .venv/bin/python bench/identity.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.feeds import identity
from digest.models import Feed, FetchOutcome, Post
from digest.store import Store

STORED = 5_000
REWRITTEN = 100
ROUNDS = 15
START = datetime(2020, 1, 1, tzinfo=UTC)
FEED = Feed(url="https://blog.example.org/feed/", name="Blog")


def _post(index: int, guid: str) -> Post:
    return Post(key="id:" + guid, guid=guid, feed_url=FEED.url, title=f"Post number {index}",
                link=f"https://blog.example.org/{2020 + index // 1000}/{index % 12 + 1:02d}/"
                     f"post-{index}/?utm_source=rss&utm_medium=rss",
                author="Ann", published=START + timedelta(hours=index),
                summary_html="<p>Words.</p>", comment_count=None, comments_url=None,
                comments_feed=None)


def _median_ms(work: Callable[[], object]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, Store.open(Path(folder) / "b.sqlite3") as store:
        store.record_fetch(FetchOutcome(feed=FEED, status="ok", posts=tuple(
            _post(i, f"https://blog.example.org/?p={i}") for i in range(STORED))), START)
        rewritten = tuple(_post(i, f"https://blog.example.org/{i}/")
                          for i in range(STORED - REWRITTEN, STORED))
        incoming = [identity.Incoming(p.key, p.guid, p.link, p.title, p.published)
                    for p in rewritten]
        rows = store._conn.execute(
            "SELECT key, guid, link, title, published, link_key, guid_key FROM posts").fetchall()
        stamps = {row["key"]: datetime.fromisoformat(row["published"]) for row in rows}

        def old() -> list[str]:  # every stored link and guid normalised again
            return identity.match(incoming, [identity.Known(
                r["key"], r["guid"], r["link"], r["title"], stamps[r["key"]]) for r in rows])

        def new() -> list[str]:  # the keys the store kept
            return identity.match(incoming, [identity.Known(
                r["key"], r["guid"], r["link"], r["title"], stamps[r["key"]], r["link_key"],
                r["guid_key"]) for r in rows])

        assert old() == new() and all("?p=" in key for key in new())
        old_ms, new_ms = [], []
        for _ in range(3):  # alternate, so load on the machine hits both alike
            old_ms.append(_median_ms(old))
            new_ms.append(_median_ms(new))
        later = START + timedelta(days=400)
        fetch_ms = _median_ms(lambda: store.record_fetch(
            FetchOutcome(feed=FEED, status="ok", posts=rewritten), later))
    before, after = statistics.median(old_ms), statistics.median(new_ms)
    print(f"match {REWRITTEN} rewritten entries against {STORED:,} stored posts:")
    print(f"  old way (normalise every stored link): {before:7.1f} ms")
    print(f"  kept keys (schema 6):                  {after:7.1f} ms")
    print(f"  record_fetch through the store:        {fetch_ms:7.1f} ms")
    print(f"ratio old/new: {before / after:.1f}x")


if __name__ == "__main__":
    main()
