"""Leaving the list is one use case, whichever way the reader asks: their signed link (the
`digest unsubscribe` command and the web page's one-click POST both call it) or the editors'
`digest subscribers remove`. Real config files and SQLite stores; no mocks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest import app, config
from digest.errors import ConfigError, SubscriberError, TokenError
from digest.mail import addressing, tokens
from digest.settings import Settings
from digest.store import Store

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ENV = {"DIGEST_SECRET": "readers-test-secret-of-some-length"}


def _settings(folder: Path, env: dict[str, str] = ENV) -> Settings:
    """A config whose links are signed (or, without a secret, mailto only)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "feeds.yaml"
    page = ("  unsubscribe_url: https://example.org/unsubscribe\n" if env
            else "  unsubscribe: mailto:leave@example.org\n")
    path.write_text(
        "digest:\n  title: Weekly\n  from: \"Weekly <digest@example.org>\"\n"
        "  site_url: https://example.org/\n" + page +
        "feeds:\n  - url: https://example.org/feed\n"
        "store: digest.sqlite3\nsender:\n  kind: outbox\n  outbox: outbox/\n", encoding="utf-8")
    return config.load(path, env)


def _link(settings: Settings, email: str) -> str:
    with Store.open(settings.store) as store:
        subscriber = store.add_subscriber(email, "")
    assert settings.secret is not None
    token = tokens.unsubscribe_token(settings.secret, subscriber.id, subscriber.email,
                                     addressing.list_id(settings.digest))
    return f"https://example.org/unsubscribe?token={token}"


def _statuses(settings: Settings) -> dict[str, str]:
    return {s.email: s.status for s in app.list_subscribers(settings)}


def test_each_way_of_leaving_keeps_the_reader_out_once_and_for_all(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    link = _link(settings, "ann@example.org")
    first = app.unsubscribe(settings, link, NOW)
    assert (first.subscriber.email, first.was, first.changed) == ("ann@example.org", "active",
                                                                  True)
    again = app.unsubscribe(settings, link.partition("token=")[2], NOW)  # the bare token
    assert (again.was, again.changed) == ("unsubscribed", False)
    by_editor = app.remove_subscriber(settings, " ann@example.org ")
    assert (by_editor.was, by_editor.changed) == ("unsubscribed", False)
    csv = tmp_path / "people.csv"
    csv.write_text("email,name\nann@example.org,Ann\n", encoding="utf-8")
    imported = app.import_subscribers(settings, csv)
    assert imported.report is not None and imported.report.kept_out == 1
    assert _statuses(settings) == {"ann@example.org": "unsubscribed"}


def test_the_editors_remove_an_active_reader(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app.add_subscriber(settings, "bob@example.org", "Bob")
    left = app.remove_subscriber(settings, "BOB@example.org")
    assert (left.subscriber.email, left.was, left.changed) == ("bob@example.org", "active", True)
    assert _statuses(settings) == {"bob@example.org": "unsubscribed"}


def test_a_forged_or_foreign_link_changes_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    link = _link(settings, "ann@example.org")
    other = _settings(tmp_path / "other", {"DIGEST_SECRET": "another-secret-of-some-length"})
    with pytest.raises(TokenError):
        app.unsubscribe(settings, link[:-3] + "AAA", NOW)
    with pytest.raises(TokenError, match="has no token"):
        app.unsubscribe(settings, "https://example.org/unsubscribe?t=1", NOW)
    with pytest.raises(TokenError):  # the other list's store has no subscriber 1
        app.unsubscribe(other, link, NOW)
    assert _statuses(settings) == {"ann@example.org": "active"}


def test_without_the_secret_nothing_is_read_or_created(tmp_path: Path) -> None:
    settings = _settings(tmp_path, {})
    with pytest.raises(ConfigError, match="DIGEST_SECRET"):
        app.unsubscribe(settings, "anything", NOW)
    with pytest.raises(ConfigError, match="DIGEST_SECRET"):
        app.reader_of(settings, "anything", NOW)
    assert not settings.store.exists()


def test_removing_an_unknown_address_names_it_and_adds_nobody(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with pytest.raises(SubscriberError, match='no subscriber with the address "cy@example.org"'):
        app.remove_subscriber(settings, "cy@example.org")
    assert _statuses(settings) == {}
