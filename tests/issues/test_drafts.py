"""Drafts and approval: the library on real SQLite files and the real renderer, the migration from
the schema before drafts, and the whole flow through the real `digest` command and a real SMTP
server."""

from __future__ import annotations

import functools
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest import app as pipeline
from digest import config
from digest.delivery.senders import Sender
from digest.errors import StoreError
from digest.issues import drafts
from digest.issues.drafts import DraftError
from digest.issues.notice import DRAFT_PREFIX, editor_copy, editor_note
from digest.issues.render import Renderer
from digest.mail.addressing import recipient_for
from digest.mail.fill import personalize
from digest.models import (
    DiscussedPost,
    Feed,
    FetchOutcome,
    Issue,
    IssuePlan,
    Post,
    Section,
    Subscriber,
)
from digest.settings import DigestSettings, Settings
from digest.store import DraftContent, Store, schema
from digest.store.rows import plan_from_json, plan_to_json
from digest.subscribers import SubscriberRow
from support.e2e import digest, parse, parts, write_config
from support.feedserver import FeedServer, Route
from support.smtpserver import CountingHandler, SmtpServer

T0 = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
FEED = Feed(url="https://blog.example.org/feed.xml", name="Example Blog")
DIGEST = DigestSettings(title="Example weekly", from_addr="Example <digest@example.org>",
                        site_url="https://blog.example.org/", intro="Hello from the **config**.",
                        unsubscribe="mailto:leave@example.org")


def post(key: str, days_old: int = 1) -> Post:
    return Post(key=key, feed_url=FEED.url, title=f"Post {key}", link=f"https://blog.example.org/{key}",
                author="Ann", published=T0 - timedelta(days=days_old),
                summary_html=f"<p>About {key}.</p>", comment_count=2)


def settings_for(path: Path, **changes: object) -> Settings:
    base = Settings(path=path / "feeds.yaml", digest=DIGEST, feeds=(FEED,),
                    store=path / "digest.sqlite3")
    return replace(base, **changes)  # type: ignore[arg-type]


class Desk:
    """A store with posts and readers, and the draft functions bound to it."""

    def __init__(self, tmp_path: Path) -> None:
        self.settings = settings_for(tmp_path)
        self.store = Store.open(self.settings.store, clock=lambda: T0)
        self.renderer = Renderer()
        self.planner = functools.partial(pipeline.plan_next, self.settings)

    def fetch(self, *posts: Post, at: datetime = T0) -> None:
        self.store.record_fetch(FetchOutcome(feed=FEED, status="ok", posts=posts), at)

    def make(self, *, rebuild: bool = False, at: datetime = T0) -> drafts.DraftResult:
        result = drafts.make_draft(self.store, self.planner, self.renderer, DIGEST, at,
                                   rebuild=rebuild)
        assert result is not None
        return result

    def edit(self, issue: Issue, **changes: str) -> drafts.DraftResult:
        return drafts.edit_draft(self.store, issue.id, self.renderer, DIGEST, **changes)

    def deliveries(self, issue_id: int) -> list[tuple[str, str | None]]:
        rows = self.store._conn.execute(
            "SELECT s.email, d.content_hash FROM deliveries AS d JOIN subscribers AS s"
            " ON s.id = d.subscriber_id WHERE d.issue_id = ? ORDER BY s.email", (issue_id,))
        return [(row[0], row[1]) for row in rows]


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    made = Desk(tmp_path)
    made.store.import_subscribers(SubscriberRow(f"{n}@example.org", n) for n in ("ann", "bob"))
    made.fetch(post("a", 2), post("b", 1))
    yield made
    made.store.close()


# --- the library ---------------------------------------------------------------------------------


def test_a_draft_reserves_its_posts_and_a_second_draft_is_the_same_one(desk: Desk) -> None:
    first = desk.make()
    assert first.state == "made" and first.issue.status == "draft"
    assert sorted(first.issue.post_keys) == ["a", "b"]
    assert desk.store.unissued_posts() == []  # reserved: no other issue can take them
    assert first.issue.content_hash == drafts.hash_of(first.issue)
    assert desk.deliveries(first.issue.id) == []  # queued only when it starts sending

    desk.fetch(post("c", 0), at=T0 + timedelta(hours=1))
    again = desk.make(at=T0 + timedelta(hours=1))
    assert again.state == "existing" and again.issue == first.issue
    assert [s.id for s in desk.store.issue_summaries()] == [first.issue.id]
    assert [p.post.key for p in desk.store.unissued_posts()] == ["c"]


def test_no_news_makes_no_draft(tmp_path: Path) -> None:
    empty = Desk(tmp_path)
    assert drafts.make_draft(empty.store, empty.planner, empty.renderer, DIGEST, T0) is None
    assert empty.store.issue_summaries() == []
    empty.store.close()


def test_an_edit_renders_the_stored_plan_again_through_the_same_renderer(desk: Desk) -> None:
    made = desk.make().issue
    assert "Hello from the <strong>config</strong>." in made.html
    edited = desk.edit(made, intro="Spring is *here*.\r\n\r\nSecond paragraph.\n\n",
                       subject="Spring issue").issue
    assert edited.id == made.id and edited.status == "draft"
    assert edited.subject == "Spring issue" and edited.intro_edited and edited.subject_edited
    assert "Spring is <em>here</em>." in edited.html and "config" not in edited.html
    assert edited.content_hash == drafts.hash_of(edited) != made.content_hash
    assert made.plan is not None
    # What the editor previews is what a fresh rendering of the same plan gives.
    fresh = Renderer().render(replace(made.plan, intro_markdown="Spring is *here*.\n\nSecond "
                                      "paragraph.", subject="Spring issue"), DIGEST)
    assert (fresh.subject, fresh.html, fresh.text) == (edited.subject, edited.html, edited.text)
    assert desk.edit(edited, subject="Spring issue").state == "unchanged"


def test_approve_then_start_sending_queues_every_reader_with_the_approved_hash(
        desk: Desk) -> None:
    made = desk.make().issue
    desk.store.set_subscriber_status("bob@example.org", "unsubscribed")
    approved = drafts.approve(desk.store, made.id, T0, expected=drafts.hash_of(made)[:8].upper())
    assert approved.status == "approved" and approved.approved_at == T0
    assert approved.approved_hash == made.content_hash == drafts.hash_of(approved)
    sending = drafts.start_approved(desk.store)
    assert sending is not None and sending.status == "sending"
    assert desk.deliveries(made.id) == [("ann@example.org", made.content_hash)]
    assert drafts.start_approved(desk.store) is None
    assert desk.store.open_draft() is None


def test_editing_an_approved_draft_returns_it_to_draft(desk: Desk) -> None:
    made = desk.make().issue
    drafts.approve(desk.store, made.id, T0)
    edited = desk.edit(desk.store.get_issue(made.id), subject="Changed").issue
    assert edited.status == "draft" and edited.approved_hash is None
    assert drafts.start_approved(desk.store) is None
    assert desk.deliveries(made.id) == []
    again = drafts.approve(desk.store, made.id, T0)
    assert again.approved_hash == drafts.hash_of(edited) != made.content_hash


@pytest.mark.parametrize("issue_id, message", [(99, "no issue 99"),
                                               (1, "issue 1 is sending, not a draft")])
def test_approving_an_unknown_issue_or_one_not_a_draft_is_refused(
        desk: Desk, issue_id: int, message: str) -> None:
    drafts.approve(desk.store, desk.make().issue.id, T0)
    drafts.start_approved(desk.store)
    before = desk.store.get_issue(1)
    with pytest.raises(DraftError, match=message):
        drafts.approve(desk.store, issue_id, T0 + timedelta(days=1))
    assert desk.store.get_issue(1) == before


@pytest.mark.parametrize("expected, message", [("ffffff", "changed since it was reviewed"),
                                               ("12", "not a content hash"),
                                               ("xyz123", "not a content hash")])
def test_approving_a_hash_that_is_not_the_drafts_is_refused(desk: Desk, expected: str,
                                                           message: str) -> None:
    made = desk.make().issue
    if made.content_hash and made.content_hash.startswith(expected):
        expected = "000000"
    with pytest.raises(DraftError, match=message):
        drafts.approve(desk.store, made.id, T0, expected=expected)
    assert desk.store.get_issue(made.id) == made


def test_content_changed_after_approval_is_refused_and_nothing_is_queued(desk: Desk) -> None:
    made = desk.make().issue
    drafts.approve(desk.store, made.id, T0)
    desk.store._conn.execute("UPDATE issues SET html = html || '<p>extra</p>' WHERE id = ?",
                             (made.id,))
    with pytest.raises(StoreError, match=r"changed after it was approved \(approved "
                                         + drafts.hash_of(made)[:12]):
        drafts.start_approved(desk.store)
    assert desk.store.get_issue(made.id).status == "approved"
    assert desk.deliveries(made.id) == []


def test_a_sending_issue_whose_content_changed_is_not_delivered(desk: Desk) -> None:
    made = desk.make().issue
    drafts.approve(desk.store, made.id, T0)
    drafts.start_approved(desk.store)
    desk.store._conn.execute("UPDATE issues SET subject = 'Other' WHERE id = ?", (made.id,))
    with pytest.raises(StoreError, match="cannot be sent as it is now"):
        pipeline.deliver_issue(desk.settings, desk.store, desk.store.get_issue(made.id),
                               pipeline.Deps(clock=lambda: T0, sender_factory=_no_sender))
    assert {status for status in desk.store.delivery_counts(made.id) if
            desk.store.delivery_counts(made.id)[status]} == {"pending"}


def _no_sender() -> Sender:
    raise AssertionError("nothing may be sent")


@pytest.mark.parametrize("subject", ["", "   ", "two\nlines", "tab\there"])
def test_a_bad_subject_changes_nothing(desk: Desk, subject: str) -> None:
    made = desk.make().issue
    with pytest.raises(DraftError, match="subject"):
        desk.edit(made, subject=subject)
    assert desk.store.get_issue(made.id) == made


def test_rebuild_recomposes_from_current_posts_and_keeps_the_editors_intro(desk: Desk) -> None:
    made = desk.make().issue
    edited = desk.edit(made, intro="Written by an editor.").issue
    drafts.approve(desk.store, made.id, T0)
    later = T0 + timedelta(hours=2)
    desk.fetch(post("c", 0), at=later)
    rebuilt = desk.make(rebuild=True, at=later)
    issue = rebuilt.issue
    assert rebuilt.state == "rebuilt" and issue.id == made.id and issue.status == "draft"
    assert sorted(issue.post_keys) == ["a", "b", "c"] and "Post c" in issue.html
    assert "Written by an editor." in issue.html and issue.intro_edited
    assert issue.subject != edited.subject  # not edited: composed again ({first_post})
    assert desk.store.unissued_posts() == []


def test_rebuild_releases_posts_the_new_composition_leaves_out(desk: Desk) -> None:
    desk.make()

    def newest_only(store: Store, now: datetime) -> IssuePlan | None:
        plan = pipeline.plan_next(desk.settings, store, now)
        return None if plan is None else replace(plan, posts=plan.posts[:1],
                                                 covered_keys=(plan.posts[0].key,))

    result = drafts.make_draft(desk.store, newest_only, desk.renderer, DIGEST, T0, rebuild=True)
    assert result is not None and result.issue.post_keys == ("b",)
    assert [p.post.key for p in desk.store.unissued_posts()] == ["a"]


def test_there_is_at_most_one_open_draft(desk: Desk) -> None:
    made = desk.make().issue
    assert made.plan is not None
    content = DraftContent(plan=replace(made.plan, covered_keys=()),
                                  rendered=drafts.as_rendered(made), content_hash="0" * 64)
    with pytest.raises(StoreError, match="already an open draft"):
        desk.store.create_draft(content, T0)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        desk.store._conn.execute("INSERT INTO issues (subject, html, text, created_at, status)"
                                 " VALUES ('x', '', '', '2024', 'approved')")
    assert [s.id for s in desk.store.issue_summaries()] == [made.id]


def test_a_plan_survives_the_store_unchanged() -> None:
    shown = (post("a"), replace(post("b"), published=None, comment_count=None))
    plan = IssuePlan(posts=shown, covered_keys=("a", "b", "z"), more_count=1, since=T0,
                     subject="S", intro_markdown="I", created_at=T0 + timedelta(days=7),
                     sections=(Section("Blog", FEED.url, shown),),
                     discussed=(DiscussedPost(post("old"), 3),), discussed_heading="Most")
    assert plan_from_json(plan_to_json(plan)) == plan


def test_the_editors_copy_says_how_to_approve_it(desk: Desk) -> None:
    issue = desk.make().issue
    note = editor_note(desk.settings, issue, "https://digest.example.org/drafts/1?approve")
    copy = editor_copy(drafts.as_rendered(issue), note)
    assert copy.subject == DRAFT_PREFIX + issue.subject
    assert copy.text.startswith(f"DRAFT of issue {issue.id}")
    assert f"feeds.yaml approve {issue.id}" in copy.text.split("-----")[0]
    assert copy.text.endswith(issue.text)
    body_at = copy.html.index("<body")
    assert copy.html.index("DRAFT of issue") > body_at
    assert copy.html.index("DRAFT of issue") < copy.html.index('href="https://blog.example.org/b"')
    assert '<a href="https://digest.example.org/drafts/1?approve">' in copy.html
    assert "approve it here" not in "\n".join(editor_note(desk.settings, issue, None))


# --- the migration from the schema before drafts -------------------------------------------------


def _v1_store(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    schema.migrate(conn, path, schema.MIGRATIONS[:1])
    stamp = "2024-02-01T08:00:00.000000+00:00"
    conn.executescript(f"""
        INSERT INTO feeds (url, name) VALUES ('{FEED.url}', 'Blog');
        INSERT INTO issues (id, subject, html, text, created_at, status, sent_at, post_keys)
            VALUES (1, 'First', '<p>one</p>', 'one', '{stamp}', 'sent', '{stamp}', '["p1"]'),
                   (2, 'Second', '<p>two</p>', 'two', '{stamp}', 'sending', NULL, '["p2"]');
        INSERT INTO posts (key, feed_url, title, first_seen, updated_at, issue_id)
            VALUES ('p1', '{FEED.url}', 'P1', '{stamp}', '{stamp}', 1),
                   ('p2', '{FEED.url}', 'P2', '{stamp}', '{stamp}', 2),
                   ('p3', '{FEED.url}', 'P3', '{stamp}', '{stamp}', NULL);
        INSERT INTO subscribers (id, email, email_norm, name, created_at, updated_at)
            VALUES (1, 'ann@example.org', 'ann@example.org', 'Ann', '{stamp}', '{stamp}');
        INSERT INTO deliveries (issue_id, subscriber_id, status, sent_at)
            VALUES (1, 1, 'sent', '{stamp}'), (2, 1, 'pending', NULL);
    """)
    conn.close()


def test_a_store_from_before_drafts_is_upgraded_without_losing_anything(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _v1_store(path)
    with Store.open(path) as store:
        first, second = store.get_issue(1), store.get_issue(2)
        assert (first.subject, first.html, first.text, first.status, first.post_keys) == (
            "First", "<p>one</p>", "one", "sent", ("p1",))
        assert first.sent_at == datetime(2024, 2, 1, 8, tzinfo=UTC)
        assert first.plan is None and first.content_hash is None and first.approved_hash is None
        assert [i.id for i in store.unfinished_issues()] == [2]
        drafts.check_unchanged(second)  # no approved hash: sent as before
        assert store.delivery_counts(1)["sent"] == 1 and store.delivery_counts(2)["pending"] == 1
        assert [p.post.key for p in store.unissued_posts()] == ["p3"]
        assert store._conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        with pytest.raises(sqlite3.IntegrityError):
            store._conn.execute("INSERT INTO posts (key, feed_url, first_seen, updated_at,"
                                " issue_id) VALUES ('x', ?, 'a', 'a', 42)", (FEED.url,))
        assert store.open_draft() is None
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    conn.close()


def test_an_upgraded_store_takes_drafts(tmp_path: Path) -> None:
    _v1_store(tmp_path / "digest.sqlite3")
    desk = Desk(tmp_path)
    desk.fetch(post("new", 0))
    made = desk.make().issue
    assert made.id == 3 and sorted(made.post_keys) == ["new", "p3"]
    drafts.approve(desk.store, made.id, T0)
    assert drafts.start_approved(desk.store) is not None
    assert desk.deliveries(3) == [("ann@example.org", made.content_hash)]
    desk.store.close()


def test_a_migration_that_would_leave_broken_references_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _v1_store(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO deliveries (issue_id, subscriber_id) VALUES (77, 1)")
    before = _dump(conn)
    conn.close()
    with pytest.raises(StoreError, match="rows pointing at rows that do not exist"):
        Store.open(path)
    conn = sqlite3.connect(path)
    assert _dump(conn) == before
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


def _dump(conn: sqlite3.Connection) -> list[str]:
    return [line for line in conn.iterdump() if "journal_mode" not in line]


# --- the real command, a real SMTP server --------------------------------------------------------

SUBSCRIBERS = {"ann@example.org", "bob@example.org", "cy@example.org"}
EDITORS = {"ed@example.org", "eve@example.org"}
REQUIRED = "approval: required\neditors:\n  - Ed Itor <ed@example.org>\n  - eve@example.org\n"


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.route("/t.atom", Route(body=(Path(__file__).parents[1] / "data" /
                                            "thread-prefix.atom").read_bytes(),
                                      content_type="application/atom+xml"))
        yield server


def _hash_in(text: str, length: int = 64) -> str:
    found = re.search(rf"(?:content|Content:) +([0-9a-f]{{{length}}})\b", text)
    assert found, text
    return found.group(1)


def _check_delivered(config_file: Path, handler: CountingHandler, approved_hash: str) -> Issue:
    """Every subscriber got the stored issue byte for byte (but for their own tokens), and every
    delivery row holds the hash that was approved."""
    settings = config.load(config_file, os.environ)
    with Store.open(settings.store) as store:
        issue = store.get_issue(1)
        readers = {s.email: s for s in store.subscribers()}
        hashes = {row[0] for row in store._conn.execute(
            "SELECT content_hash FROM deliveries WHERE issue_id = ?", (issue.id,))}
    assert issue.approved_hash == approved_hash == drafts.hash_of(issue)
    assert hashes == {approved_hash}
    got = {rcpt: raw for rcpt, raw in handler.messages if rcpt in SUBSCRIBERS}
    assert set(got) == SUBSCRIBERS
    for address, raw in got.items():
        message = parse(raw)
        assert message["Subject"] == issue.subject
        reader = readers[address]
        recipient = recipient_for(settings.digest, Subscriber(reader.id, reader.email,
                                                              reader.name), settings.secret)
        html, text = personalize(drafts.as_rendered(issue), recipient)
        got_text, got_html = parts(message)
        assert got_text.replace("\r\n", "\n") == text
        assert got_html.replace("\r\n", "\n") == html
    return issue


def test_with_approval_required_editors_are_emailed_once_and_it_sends_once_approved(
        tmp_path: Path, feeds: FeedServer, smtp: SmtpServer) -> None:
    config_file = write_config(tmp_path, [feeds.url("/t.atom")], smtp_port=smtp.port,
                               extra=REQUIRED)
    handler: CountingHandler = smtp.handler
    first = digest(config_file, "run")
    assert first.code == 0, first.err
    assert "Issue 1 is a draft awaiting approval" in first.out
    assert dict(handler.snapshot()) == dict.fromkeys(EDITORS, 1)
    preview = parse(handler.messages[0][1])
    assert preview["Subject"].startswith("[DRAFT] Feeling Again weekly: ")
    text, page = parts(preview)
    note = text.split("-----")[0]
    assert note.startswith("DRAFT of issue 1") and "approve 1" in note.replace("=\n", "")
    assert "DRAFT of issue 1" in page
    listing = digest(config_file, "issues").out
    assert "draft" in listing and "no deliveries" in listing
    shown = _hash_in(listing, 12)

    second = digest(config_file, "run")
    assert second.code == 0, second.err
    assert "were emailed a preview" in second.out and handler.total == len(EDITORS)

    approved = digest(config_file, "approve", "1")
    assert approved.code == 0, approved.err
    approved_hash = _hash_in(approved.out)
    assert approved_hash.startswith(shown)
    third = digest(config_file, "run")
    assert third.code == 0, third.err
    assert dict(handler.snapshot()) == dict.fromkeys(EDITORS | SUBSCRIBERS, 1)
    _check_delivered(config_file, handler, approved_hash)
    assert digest(config_file, "run").code == 0
    assert handler.total == len(EDITORS | SUBSCRIBERS)


def test_draft_edit_approve_send_delivers_what_was_approved(
        tmp_path: Path, feeds: FeedServer, smtp: SmtpServer) -> None:
    config_file = write_config(tmp_path, [feeds.url("/t.atom")], smtp_port=smtp.port)
    handler: CountingHandler = smtp.handler
    assert digest(config_file, "subscribers", "import", "subscribers.csv").code == 0
    made = digest(config_file, "draft")
    assert made.code == 0 and "Issue 1: draft made (draft)" in made.out, made.err
    (tmp_path / "intro.md").write_text("The editors’ **spring** note.\n", encoding="utf-8")
    edited = digest(config_file, "draft", "--intro-file", "intro.md", "--show", "--out", "p")
    assert edited.code == 0 and "rendered again (draft)" in edited.out, edited.err
    shown = (tmp_path / "p" / "digest.html").read_text(encoding="utf-8")
    assert "The editors’ <strong>spring</strong> note." in shown
    edited_hash = _hash_in(edited.out, 12)
    assert edited_hash != _hash_in(made.out, 12)
    assert digest(config_file, "approve", "1", "--hash", edited_hash).code == 0

    changed = digest(config_file, "draft", "--subject", "Spring issue")
    assert changed.code == 0 and "(draft)" in changed.out, changed.err
    waiting = digest(config_file, "send")
    assert waiting.code == 0 and "awaiting approval" in waiting.out
    assert handler.total == 0
    stale = digest(config_file, "approve", "1", "--hash", edited_hash)
    assert stale.code == 2 and "changed since it was reviewed" in stale.err

    approved = digest(config_file, "approve", "1")
    assert approved.code == 0, approved.err
    sent = digest(config_file, "send")
    assert sent.code == 0, sent.err
    assert dict(handler.snapshot()) == dict.fromkeys(SUBSCRIBERS, 1)
    issue = _check_delivered(config_file, handler, _hash_in(approved.out))
    assert issue.subject == "Spring issue" and "spring</strong> note." in issue.html
    assert _hash_in(approved.out)[:12] in digest(config_file, "issues").out
    again = digest(config_file, "preview", "--issue", "1", "--out", "q")
    assert again.code == 0, again.err
    assert "Issue 1 (sent)" in again.out and (tmp_path / "q" / "digest.eml").exists()


def test_approving_an_unknown_issue_or_a_sent_one_is_refused(tmp_path: Path,
                                                             feeds: FeedServer) -> None:
    config_file = write_config(tmp_path, [feeds.url("/t.atom")])
    missing = digest(config_file, "approve", "1")
    assert missing.code == 2 and "no issue 1" in missing.err
    assert not (tmp_path / "digest.sqlite3").exists()
    assert digest(config_file, "run").code == 0
    before = digest(config_file, "issues").out
    for issue_id, message in (("1", "issue 1 is sent, not a draft"), ("7", "no issue 7")):
        refused = digest(config_file, "approve", issue_id)
        assert refused.code == 2 and message in refused.err and "Traceback" not in refused.err
    assert digest(config_file, "issues").out == before


def test_content_changed_after_approval_is_not_sent(tmp_path: Path, feeds: FeedServer,
                                                    smtp: SmtpServer) -> None:
    config_file = write_config(tmp_path, [feeds.url("/t.atom")], smtp_port=smtp.port)
    assert digest(config_file, "draft").code == 0
    assert digest(config_file, "approve", "1").code == 0
    conn = sqlite3.connect(tmp_path / "digest.sqlite3")
    with conn:
        conn.execute("UPDATE issues SET text = text || 'one more line' WHERE id = 1")
    conn.close()
    refused = digest(config_file, "send")
    assert refused.code == 4 and "changed after it was approved" in refused.err
    handler: CountingHandler = smtp.handler
    assert handler.total == 0
    assert "approved" in digest(config_file, "issues").out.split("[")[0]


@pytest.mark.parametrize("args, message", [
    (("--subject", " "), "subject is empty"),
    (("--intro", "x", "--intro-file", "intro.md"), "not both"),
    (("--intro-file", "missing.md"), "cannot read missing.md"),
])
def test_bad_draft_input_changes_nothing(tmp_path: Path, feeds: FeedServer,
                                         args: tuple[str, ...], message: str) -> None:
    config_file = write_config(tmp_path, [feeds.url("/t.atom")])
    (tmp_path / "intro.md").write_text("intro")
    result = digest(config_file, "draft", *args)
    assert result.code == 2 and message in result.err and "Traceback" not in result.err
    assert not (tmp_path / "digest.sqlite3").exists()
    assert feeds.requests_to("/t.atom") == []
