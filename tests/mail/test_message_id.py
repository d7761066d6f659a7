"""Message-IDs: different for two stores sending to one reader, the same when a delivery is retried,
random for copies that are not deliveries."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime
from email.policy import default
from pathlib import Path

from digest.delivery.loop import DeliveryOptions, deliver
from digest.delivery.senders import make_sender
from digest.mail.message import MessageTemplate
from digest.mail.message_id import one_off_message_id
from digest.models import TOKEN_UNSUBSCRIBE, Delivery, Recipient, RenderedIssue
from digest.settings import SmtpSettings
from digest.store import Store
from digest.subscribers import SubscriberRow
from support.smtpserver import CountingHandler, FaultyHandler, SmtpServer

NOW = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
READER = "ann@example.com"
RENDERED = RenderedIssue("Weekly", f"<a href=\"{TOKEN_UNSUBSCRIBE}\">x</a>",
                         f"Leave: {TOKEN_UNSUBSCRIBE}\n", "", 1)


def _deliver(db: Path, server: SmtpServer, *, include_failed: bool = False) -> None:
    with Store.open(db) as store:
        if store.last_issue() is None:
            store.import_subscribers([SubscriberRow(READER, "Ann")])
            store.create_issue([], RENDERED, NOW)
        issue = store.last_issue()
        assert issue is not None
        template = MessageTemplate.build(RENDERED, from_addr="Blog <digest@example.org>",
                                         list_id="blog.example.org", reply_to=None, date=NOW,
                                         list_unsubscribe_mailto=None)
        smtp = SmtpSettings(host=server.host, port=server.port, security="none")

        def recipient(row: Delivery) -> Recipient:
            return Recipient(row.email, row.name, "https://example.org/u")

        deliver(store, issue, template, make_sender("smtp", smtp=smtp),
                options=DeliveryOptions(connections=1, max_attempts=1,
                                        include_failed=include_failed),
                recipient_for=recipient, envelope_from="bounces@example.org", clock=lambda: NOW)


def _ids(handler: CountingHandler) -> list[str]:
    return [str(email.message_from_bytes(data, policy=default)["Message-ID"])
            for _, data in handler.messages]


def test_two_stores_sending_to_one_reader_give_different_message_ids(tmp_path: Path) -> None:
    handler = CountingHandler(keep=True)
    with SmtpServer(handler) as server:
        _deliver(tmp_path / "one.sqlite3", server)
        _deliver(tmp_path / "two.sqlite3", server)  # issue 1 to subscriber 1 again, elsewhere
    first, second = _ids(handler)
    assert first != second
    for mid in (first, second):
        assert re.fullmatch(r"<digest\.1\.1\.[0-9a-f]{24}@example\.org>", mid)


def test_a_retried_delivery_keeps_its_message_id(tmp_path: Path) -> None:
    # The server keeps the first copy, then drops the line before answering: the sender cannot
    # know, the row stays failed, and the next run sends it again.
    handler = FaultyHandler(faults={READER: ["drop-after"]}, keep=True)
    db = tmp_path / "digest.sqlite3"
    with SmtpServer(handler) as server:
        _deliver(db, server)
        _deliver(db, server, include_failed=True)
    first, second = _ids(handler)
    assert first == second
    with Store.open(db) as store:
        assert store.store_id() in first
        [row] = store._conn.execute("SELECT message_id FROM deliveries").fetchall()
        assert row[0] == first


def test_the_store_id_is_made_once_and_kept(tmp_path: Path) -> None:
    with Store.open(tmp_path / "digest.sqlite3") as store:
        made = store.store_id()
    with Store.open(tmp_path / "digest.sqlite3") as store:
        assert store.store_id() == made
    with Store.open(tmp_path / "other.sqlite3") as other:
        assert other.store_id() != made


def test_copies_that_are_not_deliveries_get_a_fresh_id_each_time() -> None:
    ids = {one_off_message_id("draft-3-0", "Blog <digest@example.org>") for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"<digest\.draft-3-0\.[0-9a-f]{16}@example\.org>", i) for i in ids)


def test_a_store_made_before_store_ids_gets_one_when_migrated(tmp_path: Path) -> None:
    """A store at schema 7 (the last without store ids) gets one, made once, when opened."""
    import sqlite3

    from digest.store import schema

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    schema.migrate(conn, path, schema.MIGRATIONS[:7])
    conn.close()
    with Store.open(path) as store:
        made = store.store_id()
        assert re.fullmatch(r"[0-9a-f]{24}", made)
    with Store.open(path) as store:
        assert store.store_id() == made
