"""What `digest check` would find in every reader's copy stops a real send before its first
message: HTML over Gmail's clip, a required header missing, an empty link."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.app import Deps, deliver_issue
from digest.delivery.senders import make_sender
from digest.models import TOKEN_UNSUBSCRIBE, RenderedIssue
from digest.settings import DigestSettings, SenderSettings, Settings, SmtpSettings
from digest.store import Store
from digest.subscribers import SubscriberRow
from support.smtpserver import CountingHandler, SmtpServer

NOW = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
LEAVE = f'<p><a href="{TOKEN_UNSUBSCRIBE}">Unsubscribe</a></p>'
GOOD = f'<p><a href="https://blog.example.org/a">A post</a></p>{LEAVE}'


def _settings(tmp_path: Path, port: int, kind: str, unsubscribe: str) -> Settings:
    digest = DigestSettings("Blog", "Blog <digest@example.org>", "https://blog.example.org",
                            unsubscribe=unsubscribe)
    smtp = SmtpSettings(host="127.0.0.1", port=port, security="none")
    return Settings(tmp_path / "feeds.yaml", digest, (), tmp_path / "digest.sqlite3",
                    sender=SenderSettings(kind=kind, outbox=tmp_path / "outbox",  # type: ignore
                                          smtp=smtp))


def _try(tmp_path: Path, html: str, *, kind: str = "smtp",
         unsubscribe: str = "mailto:leave@example.org") -> tuple[str | None, int, int]:
    """(why it stopped, messages the server got, rows still pending)."""
    handler = CountingHandler()
    with SmtpServer(handler) as server:
        settings = _settings(tmp_path, server.port, kind, unsubscribe)
        factory = make_sender(kind, outbox_dir=settings.sender.outbox,
                              smtp=settings.sender.smtp)
        with Store.open(settings.store) as store:
            store.import_subscribers(SubscriberRow(f"r{i}@example.com", "") for i in range(3))
            issue = store.create_issue([], RenderedIssue("Weekly", html, "Hi\n", "", 1), NOW)
            report = deliver_issue(settings, store, issue, Deps(lambda: NOW, factory))
            pending = store.delivery_counts(issue.id)["pending"]
    assert report.refused == (report.stopped_reason is not None)
    return report.stopped_reason, handler.total, pending


def test_a_sound_issue_goes_out(tmp_path: Path) -> None:
    assert _try(tmp_path, GOOD) == (None, 3, 0)


@pytest.mark.parametrize(("html", "says"), [
    ('<p><a href="">A post</a></p>' + LEAVE, "'': empty link"),
    ("<p>" + "word " * 22_000 + "</p>" + LEAVE, "Gmail clips it"),
    ("<p>No way out</p>", "no unsubscribe link in the HTML body"),
])
def test_a_problem_every_reader_would_get_stops_the_send_first(tmp_path: Path, html: str,
                                                               says: str) -> None:
    why, received, pending = _try(tmp_path, html)
    assert (received, pending) == (0, 3)
    assert why is not None and says in why
    assert "Nobody was marked" in why and "digest issues cancel 1" in why


def test_a_missing_header_stops_the_send(tmp_path: Path) -> None:
    # An https unsubscribe that is not a page digest signs: still written, but the check sees the
    # message; here the mailto is gone and the URL is not https, so List-Unsubscribe is missing.
    why, received, pending = _try(tmp_path, GOOD, unsubscribe="")
    assert (received, pending) == (0, 3)
    assert why is not None and "List-Unsubscribe: missing" in why


def test_the_outbox_is_not_stopped(tmp_path: Path) -> None:
    why, _, pending = _try(tmp_path, '<p><a href="">x</a></p>', kind="outbox")
    assert why is None and pending == 0
