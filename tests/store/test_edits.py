"""Posts edited or removed before their issue is sent: the store's rule for a post that left its
feed, and the real command with local feed files and a local SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.models import Feed, FetchOutcome, Post
from digest.store import Store
from support.e2e import parse, parts, write_config
from support.rss import Item, run_cli, write_rss
from support.smtpserver import CountingHandler, SmtpServer

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
FEED = Feed("https://example.org/feed/", "Blog")
SUBSCRIBERS = {"ann@example.org", "bob@example.org", "cy@example.org"}
EDITOR = "ed@example.org"
REQUIRED = f"approval: required\neditors:\n  - Ed Itor <{EDITOR}>\n"


def post(key: str, hours_old: int, title: str = "") -> Post:
    return Post(key=key, feed_url=FEED.url, title=title or f"Post {key}",
                link=f"https://example.org/{key}", author="Ann",
                published=T0 - timedelta(hours=hours_old), summary_html="<p>Text.</p>",
                comment_count=None)


def fetched(*posts: Post) -> FetchOutcome:
    return FetchOutcome(FEED, "ok", posts=posts)


def gone(store: Store) -> list[str]:
    return [stored.post.key for stored in store.gone_posts()]


A, B, C, D = post("a", 30), post("b", 20), post("c", 10), post("d", 1)


# --- which posts left their feed -----------------------------------------------------------------


def test_a_post_missing_from_the_middle_of_a_later_fetch_has_left(store: Store) -> None:
    store.record_fetch(fetched(A, B, C), T0)
    assert gone(store) == []
    store.record_fetch(fetched(A, C), T0 + timedelta(hours=1))
    assert gone(store) == ["b"]
    assert "b" in store.posts_by_key(["b"])  # kept in the store
    store.record_fetch(fetched(A, B, C), T0 + timedelta(hours=2))
    assert gone(store) == []  # it came back


def test_the_oldest_post_falling_off_a_latest_n_feed_has_not_left(store: Store) -> None:
    store.record_fetch(fetched(A, B, C), T0)
    store.record_fetch(fetched(B, C, D), T0 + timedelta(hours=1))
    assert gone(store) == []


@pytest.mark.parametrize("outcome", [FetchOutcome(FEED, "error", error="HTTP 500"),
                                     FetchOutcome(FEED, "not_modified")])
def test_a_failed_or_unchanged_fetch_never_removes_anything(store: Store,
                                                            outcome: FetchOutcome) -> None:
    store.record_fetch(fetched(A, B, C), T0)
    store.record_fetch(outcome, T0 + timedelta(hours=1))
    assert gone(store) == []
    store.record_fetch(fetched(A, C), T0 + timedelta(hours=2))
    assert gone(store) == ["b"]  # the next full fetch decides


def test_an_empty_fetch_or_one_where_every_entry_is_new_removes_nothing(store: Store) -> None:
    store.record_fetch(fetched(A, B, C), T0)
    store.record_fetch(fetched(), T0 + timedelta(hours=1))
    assert gone(store) == []
    rewritten = tuple(post(f"new-{p.key}", 25 - i) for i, p in enumerate((A, B, C)))
    store.record_fetch(fetched(*rewritten), T0 + timedelta(hours=2))
    assert gone(store) == []


def test_posts_from_before_the_upgrade_are_not_judged_until_a_full_fetch(store: Store) -> None:
    store.record_fetch(fetched(A, B, C), T0)
    # As the upgrade to schema 3 left them: last seen when last changed.
    store._conn.execute("UPDATE posts SET last_seen_at = updated_at")
    store.record_fetch(fetched(A, C), T0 + timedelta(hours=1))
    assert gone(store) == ["b"]
    store._conn.execute("UPDATE posts SET updated_at = ?, last_seen_at = ? WHERE key = 'b'",
                        ((T0 + timedelta(hours=3)).isoformat(), (T0 + timedelta(hours=3))
                         .isoformat()))
    assert gone(store) == []


def test_a_sent_post_that_leaves_is_not_counted(store: Store) -> None:
    store.record_fetch(fetched(A, B, C), T0)
    store._conn.execute("INSERT INTO issues (subject, html, text, created_at, status, post_keys)"
                        " VALUES ('s', '', '', ?, 'sent', '[]')", (T0.isoformat(),))
    store._conn.execute("UPDATE posts SET issue_id = 1")
    store.record_fetch(fetched(A, C), T0 + timedelta(hours=1))
    assert gone(store) == []


# --- the real command ---------------------------------------------------------------------------


def items(*titles: str) -> list[Item]:
    return [Item(f"p{i}", title, f"https://example.org/p{i}", T0 - timedelta(hours=10 * i))
            for i, title in enumerate(titles) if title]


def delivered(handler: CountingHandler) -> list[str]:
    """The text part of each subscriber's copy."""
    return [parts(parse(raw))[0] for rcpt, raw in handler.messages if rcpt in SUBSCRIBERS]


def editor_subjects(handler: CountingHandler) -> list[str]:
    return [str(parse(raw)["Subject"]) for rcpt, raw in handler.messages if rcpt == EDITOR]


def test_a_post_edited_before_approval_goes_out_with_its_latest_title(
        tmp_path: Path, smtp: SmtpServer) -> None:
    feed = write_rss(tmp_path / "blog.xml", "Blog", items("First", "Second", "Third"))
    config = write_config(tmp_path, [str(feed)], smtp_port=smtp.port, extra=REQUIRED)
    handler: CountingHandler = smtp.handler
    assert run_cli(config, "run", now=T0).code == 0
    write_rss(feed, "Blog", items("First", "Second, corrected", "Third"))
    rebuilt = run_cli(config, "run", now=T0 + timedelta(hours=1))
    assert rebuilt.code == 0, rebuilt.err
    assert "Issue 1 composed again from the latest posts" in rebuilt.out
    assert len(editor_subjects(handler)) == 2  # a fresh preview of what changed
    assert run_cli(config, "approve", "1", now=T0 + timedelta(hours=2)).code == 0
    assert run_cli(config, "run", now=T0 + timedelta(hours=3)).code == 0
    texts = delivered(handler)
    assert len(texts) == len(SUBSCRIBERS)
    assert all("Second, corrected" in text for text in texts)


def test_an_approved_draft_goes_out_as_approved_and_the_editors_hear_of_edits(
        tmp_path: Path, smtp: SmtpServer) -> None:
    feed = write_rss(tmp_path / "blog.xml", "Blog", items("First", "Second", "Third"))
    config = write_config(tmp_path, [str(feed)], smtp_port=smtp.port, extra=REQUIRED)
    handler: CountingHandler = smtp.handler
    assert run_cli(config, "run", now=T0).code == 0
    assert run_cli(config, "approve", "1", now=T0 + timedelta(hours=1)).code == 0
    write_rss(feed, "Blog", items("First", "Second, corrected", "Third"))
    sent = run_cli(config, "run", now=T0 + timedelta(hours=2))
    assert sent.code == 0, sent.err
    assert 'Edited after approval, sent as approved: "Second, corrected"' in sent.out
    texts = delivered(handler)
    assert len(texts) == len(SUBSCRIBERS)
    assert all("Second" in text and "corrected" not in text for text in texts)
    assert editor_subjects(handler)[-1] == "Posts edited after approval"


def test_a_removed_post_is_dropped_with_a_notice_and_never_sent(
        tmp_path: Path, smtp: SmtpServer) -> None:
    feed = write_rss(tmp_path / "blog.xml", "Blog", items("First", "Second", "Third"))
    config = write_config(tmp_path, [str(feed)], smtp_port=smtp.port, extra=REQUIRED)
    handler: CountingHandler = smtp.handler
    assert run_cli(config, "run", now=T0).code == 0
    write_rss(feed, "Blog", items("First", "", "Third"))
    dropped = run_cli(config, "run", now=T0 + timedelta(hours=1))
    assert dropped.code == 0, dropped.err
    assert 'Left its feed, will not be sent: "Second" (https://example.org/p1)' in dropped.out
    assert "Posts left their feed" in editor_subjects(handler)
    notice = next(parse(raw) for rcpt, raw in handler.messages
                  if rcpt == EDITOR and parse(raw)["Subject"] == "Posts left their feed")
    body = notice.get_body(("plain",))
    assert body is not None and '"Second" https://example.org/p1' in body.get_content()
    again = run_cli(config, "run", now=T0 + timedelta(hours=2))
    assert "Left its feed" not in again.out  # told once
    assert run_cli(config, "approve", "1", now=T0 + timedelta(hours=3)).code == 0
    assert run_cli(config, "run", now=T0 + timedelta(hours=4)).code == 0
    texts = delivered(handler)
    assert len(texts) == len(SUBSCRIBERS)
    assert all("First" in text and "Third" in text and "Second" not in text for text in texts)
    with Store.open(tmp_path / "digest.sqlite3") as store:
        kept = store.posts_by_key(["id:p1"])["id:p1"]
    assert kept.issue_id is None and kept.post.title == "Second"
