"""Preconditions checked before anything is marked, through the real `digest` command: no readers
means no issue (the posts wait), and a real send needs an unsubscribe that says who is leaving."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from support.e2e import DATA, digest, write_config
from support.smtpserver import CountingHandler, SmtpServer

SUBSCRIBERS = "email,name\nann@example.org,Ann\nbob@example.org,Bob\n"


def _feed(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "wordpress.rss"
    shutil.copy(DATA / "wordpress.rss", path)
    return str(path)


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_a_missing_subscribers_file_makes_no_issue_and_the_posts_wait(tmp_path: Path) -> None:
    config = write_config(tmp_path, [_feed(tmp_path)], subscribers=SUBSCRIBERS)
    (tmp_path / "subscribers.csv").rename(tmp_path / "later.csv")
    first = digest(config, "run")
    assert first.code == 1
    assert "subscribers.csv: no such file" in first.err
    assert "no issue made: the subscribers file cannot be read" in first.out
    assert "posts wait" in first.out
    db = tmp_path / "digest.sqlite3"
    assert _rows(db, "SELECT count(*) FROM issues") == [(0,)]
    waiting = _rows(db, "SELECT count(*) FROM posts WHERE issue_id IS NULL")[0][0]
    assert isinstance(waiting, int) and waiting > 0
    assert not list(tmp_path.glob("outbox/*.eml"))

    (tmp_path / "later.csv").rename(tmp_path / "subscribers.csv")
    second = digest(config, "run")
    assert second.code == 0, second.err
    assert "Issue 1" in second.out
    assert _rows(db, "SELECT count(*) FROM posts WHERE issue_id IS NULL") == [(0,)]
    assert len(list(tmp_path.glob("outbox/*.eml"))) == 2


def test_no_active_subscriber_makes_no_issue(tmp_path: Path) -> None:
    config = write_config(tmp_path, [_feed(tmp_path)], subscribers="email,name\n")
    result = digest(config, "run")
    assert result.code == 1
    assert "no issue made: there are no active subscribers" in result.out
    assert _rows(tmp_path / "digest.sqlite3", "SELECT count(*) FROM issues") == [(0,)]


def _without_unsubscribe(config: Path, replacement: str | None) -> None:
    text = config.read_text()
    line = "  unsubscribe: mailto:leave@example.org\n"
    assert line in text
    config.write_text(text.replace(line, f"  unsubscribe: {replacement}\n" if replacement
                                   else ""))


@pytest.mark.parametrize("unsubscribe", [None, "https://example.org/unsubscribe"],
                         ids=["none", "bare-https"])
def test_a_real_send_without_a_working_unsubscribe_is_refused(tmp_path: Path,
                                                              unsubscribe: str | None) -> None:
    handler = CountingHandler()
    with SmtpServer(handler) as smtp:
        config = write_config(tmp_path, [_feed(tmp_path)], smtp_port=smtp.port)
        _without_unsubscribe(config, unsubscribe)
        result = digest(config, "run")
        sent = digest(config, "send")
    for outcome in (result, sent):
        assert outcome.code == 2
        assert "digest.unsubscribe_url" in outcome.err and "unsubscribe_mailto" in outcome.err
        assert "feeds.yaml" in outcome.err
    if unsubscribe:
        assert "cannot tell who is leaving" in result.err
    assert handler.total == 0
    assert not (tmp_path / "digest.sqlite3").exists()  # nothing was touched

    preview = digest(config, "preview", "--out", "p")
    assert preview.code == 0, preview.err
    check = digest(config, "check")
    assert check.code == 1
    assert "Unsubscribe:" in check.out and "digest.unsubscribe_url" in check.out


def test_the_outbox_still_runs_without_an_unsubscribe(tmp_path: Path) -> None:
    config = write_config(tmp_path, [_feed(tmp_path)])
    _without_unsubscribe(config, None)
    result = digest(config, "run")
    assert result.code == 0, result.err
    assert "Issue 1" in result.out and len(list(tmp_path.glob("outbox/*.eml"))) == 3
