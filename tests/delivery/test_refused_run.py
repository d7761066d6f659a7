"""A relay that refuses the issue itself, through the real `digest` command: nobody is marked, the
run says the way out, later runs still fetch, and `digest issues cancel` frees the posts."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from support.e2e import DATA, digest, write_config
from support.smtpserver import CountingHandler, FaultyHandler, ScriptedHandler, SmtpServer

TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size"
NEW_ITEM = """<item>
		<title>A post written after the refusal</title>
		<link>https://feelingagain.example.org/2024/03/after/</link>
		<guid isPermaLink="false">https://feelingagain.example.org/?p=999</guid>
		<pubDate>Wed, 06 Mar 2024 09:00:00 +0000</pubDate>
		<description>Later.</description>
	</item>
	<item>"""


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def _setup(tmp_path: Path, port: int) -> Path:
    feed = tmp_path / "wordpress.rss"
    shutil.copy(DATA / "wordpress.rss", feed)
    return write_config(tmp_path, [str(feed)], smtp_port=port)


def _point_at(config: Path, old: int, new: int) -> None:
    config.write_text(config.read_text().replace(f"port: {old}\n", f"port: {new}\n"))


def test_a_refused_issue_marks_nobody_and_names_the_way_out(tmp_path: Path) -> None:
    handler = ScriptedHandler("data", TOO_BIG)
    with SmtpServer(handler) as relay:
        config = _setup(tmp_path, relay.port)
        first = digest(config, "run")
        assert first.code == 4, first.err
        assert TOO_BIG in first.err and "not the reader" in first.err
        assert "Nobody was marked" in first.err and "digest issues cancel 1" in first.err
        db = tmp_path / "digest.sqlite3"
        assert _rows(db, "SELECT status, count(*) FROM deliveries GROUP BY status") == [
            ("pending", 3)]
        assert _rows(db, "SELECT DISTINCT status, consecutive_rejections FROM subscribers") == [
            ("active", 0)]

        # A later run still fetches (and keeps) new posts; the refused issue is tried again.
        feed = tmp_path / "wordpress.rss"
        feed.write_text(feed.read_text().replace("<item>", NEW_ITEM, 1))
        second = digest(config, "run")
        assert second.code == 4
        assert "1 new post" in second.out
        assert _rows(db, "SELECT count(*) FROM posts WHERE key LIKE '%p=999%'") == [(1,)]
        assert _rows(db, "SELECT DISTINCT status FROM subscribers") == [("active",)]
        issues = digest(config, "issues")
        assert "#1" in issues.out and "pending" in issues.out

    for issue_id in (2, 1):  # the second run made issue 2 of the new post: refused alike
        cancelled = digest(config, "issues", "cancel", str(issue_id))
        assert cancelled.code == 0, cancelled.err
        assert f"Issue {issue_id} cancelled: 3 unsent deliveries closed" in cancelled.out
    assert _rows(db, "SELECT count(*) FROM posts WHERE issue_id IS NOT NULL") == [(0,)]
    listed = digest(config, "issues")
    assert listed.out.count("cancelled") == 2

    accepting = CountingHandler(keep=True)
    with SmtpServer(accepting) as good:
        _point_at(config, relay.port, good.port)
        third = digest(config, "run")
    assert third.code == 0, third.err
    assert "Issue 3" in third.out and "(4 posts)" in third.out
    assert set(accepting.snapshot().values()) == {1} and accepting.total == 3


def test_cancel_refuses_what_is_not_being_sent(tmp_path: Path) -> None:
    with SmtpServer(CountingHandler()) as relay:
        config = _setup(tmp_path, relay.port)
        assert digest(config, "run").code == 0
    done = digest(config, "issues", "cancel", "1")
    assert done.code == 4 and "already delivered" in done.err
    missing = digest(config, "issues", "cancel", "7")
    assert missing.code == 4 and "no issue 7" in missing.err
    assert _rows(tmp_path / "digest.sqlite3", "SELECT status, count(*) FROM deliveries"
                 " GROUP BY status") == [("sent", 3)]


def test_the_run_says_which_failures_come_back_and_which_are_for_good(tmp_path: Path) -> None:
    # ann's address is refused for good (550 5.1.1); bob's server answers 451 on every try.
    handler = FaultyHandler(reject=["ann@example.org"],
                            faults={"bob@example.org": ["451"] * 10})
    with SmtpServer(handler) as relay:
        config = _setup(tmp_path, relay.port)
        result = digest(config, "run")
    assert result.code == 1, result.err
    assert "1 sent, 1 failed, 1 rejected" in result.out
    lines = result.err.splitlines()
    assert ("digest: 1 delivery failed for now (temporary trouble); the next run tries again; "
            "`digest issues` shows them") in lines
    assert ("digest: 1 delivery rejected for good by the mail server; `digest issues` shows "
            "them") in lines
