"""Feed health: when the editors are alerted and told of recovery, flood detection, and the
`digest feeds` listing; through the real CLI with local feed files and a local SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.app.watch import feed_alerts
from digest.feeds.health import (
    FeedAlert,
    FeedState,
    FetchCount,
    alert_for,
    alert_text,
    flood_reason,
    is_flood,
)
from digest.issues.notice import Notice
from digest.models import Feed, FetchOutcome
from digest.settings import DigestSettings, HealthSettings, Settings
from digest.store import Store
from support.e2e import parse, parts, write_config
from support.rss import Item, run_cli, write_rss
from support.smtpserver import CountingHandler, SmtpServer

RULES = HealthSettings()
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SUBSCRIBERS = {"ann@example.org", "bob@example.org", "cy@example.org"}
EDITOR = "ed@example.org"
EDITORS = f"editors:\n  - Ed Itor <{EDITOR}>\n"


def state(failures: int, alerted: datetime | None = None) -> FeedState:
    return FeedState("https://example.org/feed/", "Blog", failures, "HTTP 500", alerted)


# --- pure decisions ------------------------------------------------------------------------------


@pytest.mark.parametrize(("failures", "alerted", "expected"), [
    (0, None, None),
    (2, None, None),  # not yet: a blog down for an hour is no news
    (3, None, "alert"),
    (7, None, "alert"),  # the threshold was passed while no editor was configured, say
    (4, T0, None),  # alerted already: once only
    (0, T0, "recovered"),
    (1, T0, None),  # still failing after an alert: nothing new to say
])
def test_alert_decision(failures: int, alerted: datetime | None, expected: str | None) -> None:
    decision = alert_for(state(failures, alerted), RULES)
    assert (decision.kind if decision else None) == expected


def test_the_threshold_comes_from_the_config() -> None:
    assert alert_for(state(1), HealthSettings(feed_alert_after=1)) is not None
    assert alert_for(state(4), HealthSettings(feed_alert_after=5)) is None


def test_the_alert_names_the_feed_and_its_last_error() -> None:
    subject, lines = alert_text(FeedAlert("alert", state(3)), RULES)
    assert subject == "Feed failing: Blog"
    assert "https://example.org/feed/" in lines[0] and "3 fetches" in lines[0]
    assert "Last error: HTTP 500" in lines


@pytest.mark.parametrize(("entries", "new", "known", "flood"), [
    (10, 5, 10, True),  # exactly half
    (10, 4, 10, False),
    (10, 10, 0, False),  # a first fetch is all new
    (4, 4, 4, False),  # too small to tell
    (5, 3, 5, True),
    (5, 2, 5, False),
    (20, 1, 100, False),  # a normal week
])
def test_flood_thresholds(entries: int, new: int, known: int, flood: bool) -> None:
    assert is_flood(FetchCount("Blog", "u", entries, new, known), RULES) is flood


def test_flood_thresholds_come_from_the_config() -> None:
    count = FetchCount("Blog", "u", 4, 2, 8)
    assert not is_flood(count, RULES)
    assert is_flood(count, HealthSettings(flood_min_entries=4))
    assert not is_flood(count, HealthSettings(flood_min_entries=4, flood_percent=60))


def test_the_flood_reason_names_each_flooded_feed() -> None:
    reason = flood_reason([FetchCount("Blog", "u1", 6, 6, 6), FetchCount("News", "u2", 6, 1, 6)],
                          RULES)
    assert reason is not None and "Blog (u1): 6 of its 6 entries are new" in reason
    assert "News" not in reason
    assert flood_reason([FetchCount("News", "u2", 6, 1, 6)], RULES) is None


# --- the real command ---------------------------------------------------------------------------


def items(prefix: str, n: int, *, at: datetime = T0, path: str = "posts") -> list[Item]:
    return [Item(f"{prefix}-{i}", f"{prefix.title()} post {i}",
                 f"https://example.org/{path}/{prefix}-{i}", at - timedelta(hours=i), comments=i)
            for i in range(n)]


def to(handler: CountingHandler, address: str) -> list[tuple[str, str]]:
    """(subject, text) of every message to ``address``, in order."""
    found = []
    for rcpt, raw in handler.messages:
        if rcpt == address:
            message = parse(raw)
            body = message.get_body(("plain",))
            assert body is not None
            found.append((str(message["Subject"]), body.get_content()))
    return found


def test_a_feed_failing_three_runs_gets_one_alert_and_one_recovery_note(
        tmp_path: Path, smtp: SmtpServer) -> None:
    feed = write_rss(tmp_path / "blog.xml", "Blog", items("a", 2))
    config = write_config(tmp_path, [str(feed)], smtp_port=smtp.port, extra=EDITORS)
    handler: CountingHandler = smtp.handler
    assert run_cli(config, "run", now=T0).code == 0
    assert to(handler, EDITOR) == []
    feed.rename(tmp_path / "away.xml")
    codes, outs = [], []
    for hour in range(1, 6):  # five failing runs
        result = run_cli(config, "run", now=T0 + timedelta(hours=hour))
        codes.append(result.code)
        outs.append(result.out)
        assert len(to(handler, EDITOR)) == (0 if hour < 3 else 1), hour
    assert codes == [1] * 5
    assert "Editors alerted: blog.xml has failed 3 fetches in a row" in outs[2]
    assert not any("Editors alerted" in out for out in outs[3:])
    [(subject, text)] = to(handler, EDITOR)
    assert subject == "Feed failing: blog.xml"
    assert str(feed) in text and "Last error:" in text
    listing = run_cli(config, "feeds", now=T0 + timedelta(hours=6))
    assert listing.code == 1 and "5 in a row (editors alerted" in listing.out

    (tmp_path / "away.xml").rename(feed)
    back = run_cli(config, "run", now=T0 + timedelta(hours=7))
    assert back.code == 0 and "Editors told: blog.xml works again" in back.out
    assert run_cli(config, "run", now=T0 + timedelta(hours=8)).code == 0
    subjects = [subject for subject, _ in to(handler, EDITOR)]
    assert subjects == ["Feed failing: blog.xml", "Feed working again: blog.xml"]
    assert sum(1 for rcpt, _ in handler.messages if rcpt in SUBSCRIBERS) == len(SUBSCRIBERS)


def test_an_alert_not_handed_over_is_tried_again_by_the_next_run(tmp_path: Path) -> None:
    with SmtpServer(CountingHandler(keep=True)) as server:
        config = write_config(tmp_path, [str(tmp_path / "missing.xml")], smtp_port=server.port,
                              extra=EDITORS + "health:\n  feed_alert_after: 1\n")
        port = server.port
    # The mail server is gone: the alert cannot be handed over and is not recorded as sent.
    failed = run_cli(config, "run", now=T0)
    assert failed.code == 1 and "email to editor not sent" in failed.err
    listing = run_cli(config, "feeds", now=T0)
    assert "1 in a row" in listing.out and "editors alerted" not in listing.out
    with SmtpServer(CountingHandler(keep=True)) as again:
        config.write_text(config.read_text().replace(f"port: {port}", f"port: {again.port}"))
        assert run_cli(config, "run", now=T0 + timedelta(hours=1)).code == 1
        assert run_cli(config, "run", now=T0 + timedelta(hours=2)).code == 1
        assert [s for s, _ in to(again.handler, EDITOR)] == ["Feed failing: missing.xml"]


def test_feeds_lists_each_feed_with_its_figures(tmp_path: Path) -> None:
    blog = write_rss(tmp_path / "blog.xml", "Blog", items("a", 3))  # 0, 1 and 2 comments
    config = write_config(tmp_path, [str(blog), str(tmp_path / "gone.xml")])
    assert run_cli(config, "fetch", now=T0).code == 1
    listing = run_cli(config, "feeds", now=T0)
    assert listing.code == 0, listing.err  # one failure is below the alert threshold
    lines = listing.out.splitlines()
    blog_at = lines.index("blog.xml")
    assert lines[blog_at + 1].split() == ["url:", str(blog)]
    assert lines[blog_at + 2].endswith("2026-11-02 08:00 UTC")
    assert lines[blog_at + 3].split() == ["last", "error:", "-"]
    assert lines[blog_at + 4].split()[:2] == ["failures:", "0"]
    assert lines[blog_at + 5].split() == ["posts:", "3"]
    assert lines[blog_at + 6].split() == ["avg", "comments:", "1.0"]
    gone_at = lines.index("gone.xml")
    assert lines[gone_at + 2].endswith("never") and "1 in a row" in lines[gone_at + 4]
    assert "No such file" in lines[gone_at + 3] or "gone.xml" in lines[gone_at + 3]


def test_a_rewritten_feed_holds_the_issue_until_an_editor_approves_it(
        tmp_path: Path, smtp: SmtpServer) -> None:
    feed = write_rss(tmp_path / "blog.xml", "Blog", items("a", 6))
    config = write_config(tmp_path, [str(feed)], smtp_port=smtp.port, extra=EDITORS)
    handler: CountingHandler = smtp.handler
    assert run_cli(config, "run", now=T0).code == 0
    sent_first = len(handler.messages)
    assert sent_first == len(SUBSCRIBERS)
    # The blog moved: every post has a new id and a new link.
    write_rss(feed, "Blog", items("b", 6, path="2026"))
    held = run_cli(config, "run", now=T0 + timedelta(days=7))
    assert held.code == 0, held.err
    assert "Issue 2 held for approval" in held.out and "6 of its 6 entries are new" in held.out
    [(subject, text)] = to(handler, EDITOR)
    assert subject.startswith("[DRAFT] ") and "held for approval" in text
    assert "approve 2" in text.replace("=\n", "")
    again = run_cli(config, "run", now=T0 + timedelta(days=7, hours=1))
    assert again.code == 0 and "awaiting approval" in again.out
    assert run_cli(config, "send", now=T0 + timedelta(days=7, hours=2)).code == 0
    assert len(handler.messages) == sent_first + 1  # the editor's copy, nothing to subscribers

    assert run_cli(config, "approve", "2", now=T0 + timedelta(days=7, hours=3)).code == 0
    released = run_cli(config, "run", now=T0 + timedelta(days=7, hours=4))
    assert released.code == 0, released.err
    second = [parse(raw) for rcpt, raw in handler.messages[sent_first + 1:]]
    assert {rcpt for rcpt, _ in handler.messages[sent_first + 1:]} == SUBSCRIBERS
    text, _ = parts(second[0])
    assert "B post 0" in text


class CrashAfterSending(Store):
    """A store that dies when it is to record that an alert went out."""

    def set_feed_alerted(self, url: str, at: datetime | None) -> None:
        raise KeyboardInterrupt("killed between sending and recording")


def test_a_crash_between_sending_and_recording_sends_at_most_one_more(tmp_path: Path) -> None:
    missing = Feed(str(tmp_path / "missing.xml"), "Blog")
    settings = Settings(path=tmp_path / "feeds.yaml", digest=DigestSettings(
        title="T", from_addr="d@example.org", site_url="https://example.org/"),
        feeds=(missing,), store=tmp_path / "digest.sqlite3", editors=(EDITOR,),
        health=HealthSettings(feed_alert_after=1))
    told: list[str] = []

    def tell(subject: str, lines: tuple[str, ...], label: str) -> Notice:
        told.append(subject)
        return Notice(0, emailed=(EDITOR,))

    with Store.open(settings.store) as store:
        store.record_fetch(FetchOutcome(missing, "error", error="no such file"), T0)
    with CrashAfterSending.open(settings.store) as crashing, pytest.raises(KeyboardInterrupt):
        feed_alerts(settings, crashing, tell, T0, "1")
    for run in range(3):
        with Store.open(settings.store) as store:
            feed_alerts(settings, store, tell, T0 + timedelta(hours=run), str(run))
    assert told == ["Feed failing: Blog", "Feed failing: Blog"]


def test_a_rewritten_feed_between_scheduled_issues_is_held_at_once(
        tmp_path: Path, smtp: SmtpServer) -> None:
    feed = write_rss(tmp_path / "blog.xml", "Blog", items("a", 6))
    config = write_config(tmp_path, [str(feed)], smtp_port=smtp.port,
                          extra=EDITORS + "schedule: weekly monday 08:00 UTC\n")
    handler: CountingHandler = smtp.handler
    assert run_cli(config, "run", now=T0).code == 0  # a Monday: the first issue goes out
    write_rss(feed, "Blog", items("b", 6, path="2026"))
    midweek = run_cli(config, "run", now=T0 + timedelta(days=2))
    assert midweek.code == 0 and "Issue 2 held for approval" in midweek.out
    due = run_cli(config, "run", now=T0 + timedelta(days=7))
    assert due.code == 0 and "awaiting approval" in due.out
    assert [rcpt for rcpt, _ in handler.messages].count(EDITOR) == 1
    assert len(handler.messages) == len(SUBSCRIBERS) + 1
