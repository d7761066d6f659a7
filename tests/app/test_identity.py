"""An issue keeps the identity it was made with (From, Reply-To, List-Id, Message-ID domain,
unsubscribe list label) when the config changes after drafting or before a resumed send, and
says so; and
unsubscribe links stay valid after the digest is renamed or moves domain. Through the real
`digest` command, a real feed server and a real SMTP server."""

from __future__ import annotations

import email
import re
from email.policy import default
from pathlib import Path

import pytest

from support.browser import free_port
from support.e2e import DATA, digest, write_config
from support.feedserver import FeedServer, Route
from support.smtpserver import CountingHandler, SmtpServer

OLD_FROM = "Feeling Again <digest@example.org>"
NEW_FROM = "Feeling Again <news@moved.example.net>"


def test_a_resumed_send_keeps_the_issue_identity_and_links_survive_a_rename(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", "identity-test-secret-0123456789ab")
    with FeedServer() as feeds, SmtpServer(CountingHandler(keep=True)) as smtp:
        feeds.route("/wp.rss", Route(body=(DATA / "wordpress.rss").read_bytes()))
        dead = free_port()
        config = write_config(tmp_path, [feeds.url("/wp.rss")], smtp_port=dead)
        text = config.read_text().replace(
            "  unsubscribe: mailto:leave@example.org",
            "  unsubscribe_url: https://news.example.org/unsubscribe")
        config.write_text(text)
        first = digest(config, "run")
        assert first.code == 4, first.err  # the relay is down: every row stays pending

        config.write_text(text.replace(OLD_FROM, NEW_FROM)
                          .replace("title: Feeling Again weekly", "title: Feeling Again")
                          .replace(f"port: {dead}", f"port: {smtp.port}"))
        resumed = digest(config, "send")
        assert resumed.code == 0, resumed.err
        assert "config changed since" in resumed.out
        assert f"From: kept '{OLD_FROM}' (config now '{NEW_FROM}')" in resumed.out
        assert "List-Id: kept" in resumed.out and "Message-ID domain: kept" in resumed.out
        received = [email.message_from_bytes(data, policy=default)
                    for _, data in smtp.handler.messages]
    assert len(received) == 3
    for msg in received:
        assert msg["From"] == OLD_FROM
        assert msg["List-Id"].endswith("<feeling-again-weekly.example.org>")
        assert msg["Message-ID"].endswith("@example.org>")
    link = re.search(r"<(https://[^>]+)>", received[0]["List-Unsubscribe"])
    assert link is not None
    left = digest(config, "unsubscribe", link.group(1))  # under the new name and domain
    assert left.code == 0, left.err
    assert digest(config, "unsubscribe", link.group(1)).code == 0  # twice changes nothing


def test_a_draft_keeps_the_identity_it_was_made_with_through_approval_and_sending(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", "identity-test-secret-0123456789ab")
    with FeedServer() as feeds, SmtpServer(CountingHandler(keep=True)) as smtp:
        feeds.route("/wp.rss", Route(body=(DATA / "wordpress.rss").read_bytes()))
        config = write_config(tmp_path, [feeds.url("/wp.rss")], smtp_port=smtp.port)
        text = config.read_text().replace(
            "  unsubscribe: mailto:leave@example.org",
            "  unsubscribe_url: https://news.example.org/unsubscribe\n"
            "  reply_to: editors@example.org")
        config.write_text(text)
        assert digest(config, "subscribers", "import", "subscribers.csv").code == 0
        made = digest(config, "draft")
        assert made.code == 0 and "Issue 1: draft made" in made.out, made.err

        config.write_text(text.replace(OLD_FROM, NEW_FROM)
                          .replace("editors@example.org", "desk@moved.example.net")
                          .replace("title: Feeling Again weekly", "title: Feeling Again"))
        approved = digest(config, "approve", "1")
        assert approved.code == 0, approved.err
        sent = digest(config, "send")
        assert sent.code == 0, sent.err
        assert "issue 1 is sent as it was made; the config changed since" in sent.out
        assert f"From: kept '{OLD_FROM}' (config now '{NEW_FROM}')" in sent.out
        assert "Reply-To: kept 'editors@example.org'" in sent.out
        assert "List-Id: kept" in sent.out and "Message-ID domain: kept" in sent.out
        received = [email.message_from_bytes(data, policy=default)
                    for _, data in smtp.handler.messages]
    assert len(received) == 3
    for msg in received:
        assert msg["From"] == OLD_FROM and msg["Reply-To"] == "editors@example.org"
        assert msg["List-Id"].endswith("<feeling-again-weekly.example.org>")
        assert msg["Message-ID"].endswith("@example.org>")
    link = re.search(r"<(https://[^>]+)>", received[0]["List-Unsubscribe"])
    assert link is not None
    assert digest(config, "unsubscribe", link.group(1)).code == 0
    # The next issue is made under the config as it is now, with nothing to say about it.
    assert "config changed" not in digest(config, "send").out


def test_a_link_for_a_list_this_store_never_sent_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digest.mail import tokens

    secret = "identity-test-secret-0123456789ab"
    monkeypatch.setenv("DIGEST_SECRET", secret)
    config = write_config(tmp_path, ["https://blog.example.org/feed.xml"])
    config.write_text(config.read_text().replace(
        "  unsubscribe: mailto:leave@example.org",
        "  unsubscribe_url: https://news.example.org/unsubscribe"))
    assert digest(config, "subscribers", "add", "ann@example.org").code == 0
    foreign = tokens.unsubscribe_token(secret.encode(), 1, "ann@example.org",
                                       "Other <other-list.example.com>")
    result = digest(config, "unsubscribe", foreign)
    assert result.code == 2 and "not for this list" in result.err
