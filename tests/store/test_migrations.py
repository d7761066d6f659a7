"""Opening the store: creating, migrating, refusing files it must not touch, and sharing (WAL)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.errors import StoreError, SubscriberError
from digest.store import Store, schema

NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
TABLES = {"feeds", "posts", "comment_counts", "subscribers", "issues", "deliveries"}


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _tables(path: Path) -> set[str]:
    conn = _raw(path)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def _user_version(path: Path) -> int:
    conn = _raw(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_a_new_file_gets_the_whole_schema_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "digest.sqlite3"
    with Store.open(path, clock=lambda: NOW) as store:
        assert store.subscriber_count() == 0
        assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert _user_version(path) == schema.SCHEMA_VERSION >= 1
    assert _tables(path) >= TABLES
    conn = _raw(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    with Store.open(tmp_path / "d.sqlite3") as store, pytest.raises(sqlite3.IntegrityError):
        store._conn.execute("INSERT INTO deliveries (issue_id, subscriber_id) VALUES (7, 7)")


def test_reopening_an_up_to_date_store_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite3"
    with Store.open(path, clock=lambda: NOW) as store:
        store.add_subscriber("ann@example.org", "Ann")
    before = path.read_bytes()
    for _ in range(2):
        with Store.open(path) as store:
            assert [s.email for s in store.subscribers()] == ["ann@example.org"]
    assert path.read_bytes() == before
    assert _user_version(path) == schema.SCHEMA_VERSION


def test_a_newer_schema_is_refused_and_the_file_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite3"
    conn = _raw(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 3}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    assert str(caught.value).startswith(
        f"{path} was written by a newer version of digest "
        f"(schema {schema.SCHEMA_VERSION + 3}, this version knows {schema.SCHEMA_VERSION})")
    assert path.read_bytes() == before
    assert _tables(path) == {"future"}


def test_a_file_that_is_not_a_database_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("email,name\n" * 200)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="notes.txt is not a digest store"):
        Store.open(path)
    assert path.read_bytes() == before


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    conn = _raw(path)
    conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not one digest made"):
        Store.open(path)
    assert path.read_bytes() == before
    assert _tables(path) == {"accounts"}


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        Store.open(tmp_path)


def test_a_failing_migration_step_leaves_the_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite3"
    Store.open(path).close()
    broken = (*schema.MIGRATIONS, ("CREATE TABLE extra (x)", "INSERT INTO missing VALUES (1)"))
    conn = _raw(path)
    with pytest.raises(sqlite3.OperationalError, match="missing"):
        schema.migrate(conn, path, broken)
    assert not conn.in_transaction
    conn.close()
    assert _user_version(path) == schema.SCHEMA_VERSION
    assert "extra" not in _tables(path)


def test_a_new_step_is_applied_once_to_an_existing_store(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite3"
    Store.open(path).close()
    grown = (*schema.MIGRATIONS, ("ALTER TABLE feeds ADD COLUMN colour TEXT",))
    conn = _raw(path)
    assert schema.migrate(conn, path, grown) == schema.SCHEMA_VERSION + 1
    assert schema.migrate(conn, path, grown) == schema.SCHEMA_VERSION + 1  # no second ALTER
    columns = {row[1] for row in conn.execute("PRAGMA table_info(feeds)")}
    conn.close()
    assert "colour" in columns
    assert _user_version(path) == schema.SCHEMA_VERSION + 1


def test_two_stores_on_one_file_see_each_others_commits(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite3"
    with Store.open(path, clock=lambda: NOW) as first, Store.open(path) as second:
        first.add_subscriber("ann@example.org")
        assert second.subscriber_count() == 1
        second.set_subscriber_status("ANN@example.org", "unsubscribed")
        assert first.subscriber_count() == 0
        assert first.subscriber_count("unsubscribed") == 1


def test_a_reader_does_not_block_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite3"
    with Store.open(path, clock=lambda: NOW, busy_timeout=0.2) as store:
        reader = _raw(path)
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM subscribers").fetchone()[0] == 0
        store.add_subscriber("ann@example.org")  # would time out without WAL
        assert reader.execute("SELECT count(*) FROM subscribers").fetchone()[0] == 0  # snapshot
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM subscribers").fetchone()[0] == 1
        reader.close()


def test_a_store_locked_by_another_writer_gives_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite3"
    with Store.open(path, clock=lambda: NOW, busy_timeout=0.1) as store:
        writer = _raw(path)
        writer.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match="is busy"):
            store.add_subscriber("ann@example.org")
        writer.execute("ROLLBACK")
        writer.close()
        assert store.subscriber_count() == 0
        store.add_subscriber("ann@example.org")
        assert store.subscriber_count() == 1


def test_naive_datetimes_are_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "d.sqlite3") as store, pytest.raises(ValueError, match="aware"):
        store.record_results([], now=datetime(2024, 1, 1), bounce_after=3)


def test_snapshot_copies_the_store(tmp_path: Path) -> None:
    with Store.open(tmp_path / "d.sqlite3", clock=lambda: NOW) as store:
        store.add_subscriber("ann@example.org", "Ann")
        store.snapshot(tmp_path / "copy.sqlite3")
    with Store.open(tmp_path / "copy.sqlite3") as copy:
        assert [(s.email, s.name) for s in copy.subscribers()] == [("ann@example.org", "Ann")]
        copy.add_subscriber("bob@example.org")
    with Store.open(tmp_path / "d.sqlite3") as store:
        assert store.subscriber_count() == 1


def test_an_unknown_subscriber_status_is_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "d.sqlite3", clock=lambda: NOW) as store:
        store.add_subscriber("ann@example.org")
        with pytest.raises(SubscriberError, match="unknown subscriber status 'gone'"):
            store.set_subscriber_status("ann@example.org", "gone")  # type: ignore[arg-type]
        assert [s.status for s in store.subscribers()] == ["active"]


def test_posts_stored_before_keys_were_kept_get_their_link_and_guid_keys(tmp_path: Path) -> None:
    """Schema 6 keeps each post's normalised link and guid; rows written by schema 5 get them
    from the same rules the program uses, so a rewritten feed still matches its old posts."""
    path = tmp_path / "d.sqlite3"
    conn = _raw(path)
    schema.migrate(conn, path, schema.MIGRATIONS[:5])
    stamp = "2024-02-01T08:00:00.000000+00:00"
    conn.executescript(f"""
        INSERT INTO feeds (url, name) VALUES ('https://blog.example.org/feed/', 'Blog');
        INSERT INTO posts (key, feed_url, title, link, guid, first_seen, updated_at)
            VALUES ('id:g1', 'https://blog.example.org/feed/', 'One',
                    'http://www.blog.example.org/one/?utm_source=rss', 'http://blog.example.org/?p=1',
                    '{stamp}', '{stamp}'),
                   ('sha256:ab', 'https://blog.example.org/feed/', 'Two', NULL, NULL,
                    '{stamp}', '{stamp}');
    """)
    conn.close()
    with Store.open(path) as store:
        rows = store._conn.execute("SELECT key, link_key, guid_key FROM posts ORDER BY key")
        assert [tuple(row) for row in rows] == [
            ("id:g1", "https://blog.example.org/one", "https://blog.example.org?p=1"),
            ("sha256:ab", None, None)]
    assert _user_version(path) == schema.SCHEMA_VERSION >= 6


def test_a_schema_6_store_gains_sessions_queue_tokens_and_issue_identity(tmp_path: Path) -> None:
    """Schema 7 adds tables and a column only: an issue stored before has no identity yet (its
    first send from now on fixes it), and nothing else changes."""
    path = tmp_path / "d.sqlite3"
    conn = _raw(path)
    schema.migrate(conn, path, schema.MIGRATIONS[:6])
    conn.execute("INSERT INTO issues (subject, html, text, created_at, status)"
                 " VALUES ('Old', '<p>x</p>', 'x', '2024-02-01T08:00:00.000000+00:00', 'sent')")
    conn.close()
    with Store.open(path) as store:
        tables = {row[0] for row in store._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        identity = store._conn.execute("SELECT identity FROM issues").fetchone()[0]
    assert {"editor_sessions", "mail_queue", "webhook_tokens", "list_labels"} <= tables
    assert identity is None
    assert _user_version(path) == schema.SCHEMA_VERSION >= 7


def test_a_store_from_before_featured_images_gains_the_column_and_keeps_its_posts(
        tmp_path: Path) -> None:
    from digest.models import Feed, FetchOutcome, Post

    path = tmp_path / "digest.sqlite3"
    conn = _raw(path)
    before = schema.MIGRATIONS[:schema.MIGRATIONS.index(schema.featured_images())]
    schema.migrate(conn, path, before)  # the schema before featured images
    conn.execute("INSERT INTO feeds (url) VALUES ('https://b.example/feed')")
    conn.execute("INSERT INTO posts (key, feed_url, title, first_seen, updated_at) VALUES "
                 "('old', 'https://b.example/feed', 'Old', ?, ?)", (NOW.isoformat(),) * 2)
    conn.close()
    with Store.open(path, clock=lambda: NOW) as store:
        (old,) = store.unissued_posts()
        assert old.post.title == "Old" and old.post.image is None
        feed = Feed(url="https://b.example/feed", name="B")
        store.record_fetch(FetchOutcome(feed=feed, status="ok", posts=(Post(
            key="old", feed_url=feed.url, title="Old", link=None, author="", published=None,
            summary_html="", comment_count=None),)), NOW)
    assert _user_version(path) == schema.SCHEMA_VERSION
    conn = _raw(path)
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(posts)")}
    finally:
        conn.close()
    assert "image" in columns
