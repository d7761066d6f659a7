"""A way out of a held issue: posts that look already sent are shown, and dropped or marked as
sent in one step; the pure rule first, then the whole path through the CLI and a real store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.issues.resent import SentPost, looks_sent
from digest.models import Post
from digest.store import Store
from support.e2e import write_config
from support.rss import Item, run_cli, write_rss
from support.smtpserver import CountingHandler, SmtpServer

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
EDITORS = "editors:\n  - Ed Itor <ed@example.org>\n"


def _post(key: str, title: str, link: str | None) -> Post:
    return Post(key=key, feed_url="f", title=title, link=link, author="", published=None,
                summary_html="", comment_count=None)


def test_look_alikes_share_a_normalised_link_or_a_title() -> None:
    sent = [SentPost("id:1", "Leeks", "http://www.x.example/leeks", 3),
            SentPost("id:2", "Beans", "https://x.example/beans", 3)]
    twins = looks_sent([_post("id:9", "Leeks, again", "https://x.example/leeks/"),
                        _post("id:8", "  BEANS ", "https://x.example/2026/beans"),
                        _post("id:7", "Peas", "https://x.example/peas")], sent)
    assert [(t.post.key, t.sent.key, t.why) for t in twins] == [
        ("id:9", "id:1", "same link"), ("id:8", "id:2", "same title")]


def _items(prefix: str, *, shift: timedelta = timedelta(0)) -> list[Item]:
    return [Item(f"{prefix}-{i}", f"Post {i}", f"https://example.org/{prefix}/{i}",
                 T0 - timedelta(hours=i) + shift) for i in range(6)]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(CountingHandler()) as server:
        yield server


@pytest.mark.parametrize("action", ["sent", "drop"])
def test_a_held_issue_of_look_alikes_is_settled_in_one_step(
        tmp_path: Path, smtp: SmtpServer, action: str) -> None:
    feed = write_rss(tmp_path / "blog.xml", "Blog", _items("old"))
    config = write_config(tmp_path, [str(feed)], smtp_port=smtp.port, extra=EDITORS)
    assert run_cli(config, "run", now=T0).code == 0
    sent_before = len(smtp.handler.messages)
    # A migration rewrote every id and link and re-dated the posts: the titles stay.
    write_rss(feed, "Blog", _items("new", shift=timedelta(days=1)))
    held = run_cli(config, "run", now=T0 + timedelta(days=7))
    assert "held for approval" in held.out

    shown = run_cli(config, "draft", now=T0 + timedelta(days=7, hours=1))
    assert shown.code == 0, shown.err
    assert shown.out.count("Looks already sent: ") == 6
    assert "\"Post 0\" https://example.org/new/0: same title as a post of issue 1" in shown.out

    settled = run_cli(config, "draft", "--already-sent", action,
                      now=T0 + timedelta(days=7, hours=2))
    assert settled.code == 0, settled.err
    verb = "Marked as sent" if action == "sent" else "Dropped"
    assert settled.out.count(f"{verb}: ") == 6
    assert "No draft: nothing new since 2026-11-02." in settled.out
    # never offered again, by a rebuild or by the next run; nothing more went out
    rebuilt = run_cli(config, "draft", "--rebuild", now=T0 + timedelta(days=7, hours=3))
    assert "No draft" in rebuilt.out
    later = run_cli(config, "run", "--force", now=T0 + timedelta(days=8))
    assert "No new issue" in later.out
    handler: CountingHandler = smtp.handler
    editors_only = {rcpt for rcpt, _ in handler.messages[sent_before:]}
    assert editors_only <= {"ed@example.org"}
    with Store.open(tmp_path / "digest.sqlite3") as store:
        assert store.unissued_posts() == []
