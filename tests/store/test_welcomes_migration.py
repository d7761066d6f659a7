"""The welcomes table arrives by its own migration: a store made before it keeps its subscribers,
gains the table, and nobody already subscribed is queued for a welcome."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from digest.store import Store, schema

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_a_store_from_before_welcomes_migrates_and_queues_nobody(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    before = schema.MIGRATIONS.index(schema._WELCOMES)
    assert schema.migrate(conn, path, schema.MIGRATIONS[:before]) == before
    conn.execute("INSERT INTO subscribers (email, email_norm, created_at, updated_at)"
                 " VALUES ('ann@example.org', 'ann@example.org', 'x', 'x')")
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        assert store.subscriber_count() == 1
        assert store.pending_welcomes() == []
        bob = store.confirm_subscriber("bob@example.org", "Bob", NOW, welcome=True)
        assert [p.subscriber.email for p in store.pending_welcomes()] == [bob.email]
        assert store.welcome_counts()["pending"] == 1
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == schema.SCHEMA_VERSION


def test_a_welcome_is_claimed_once_and_gives_up_after_the_attempts(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.sqlite3") as store:
        cy = store.confirm_subscriber("cy@example.org", "", NOW, welcome=True)
        for _ in range(4):
            assert store.claim_welcome(cy.id, NOW) and not store.claim_welcome(cy.id, NOW)
            assert store.record_welcome(cy.id, "pending", "451 later", NOW) == "pending"
        assert store.claim_welcome(cy.id, NOW)
        assert store.record_welcome(cy.id, "pending", "451 later", NOW) == "failed"
        assert not store.claim_welcome(cy.id, NOW) and store.pending_welcomes() == []
        again = store.confirm_subscriber("cy@example.org", "", NOW, welcome=True)
        assert again.id == cy.id and store.pending_welcomes() == []
