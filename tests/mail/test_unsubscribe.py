"""Signed one-click unsubscribe and DKIM, end to end through the real `digest` command: the links in
sent messages, `digest unsubscribe`, and no mail ever again for those who left or bounced."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dkim

from digest.store import Store
from support.dkimkeys import DOMAIN, SELECTOR, DkimKey
from support.e2e import Result, parse, parts, write_config
from support.smtpserver import CountingHandler, SmtpServer

SECRET = "e2e-secret-at-least-16-bytes"
PAGE = "https://feelingagain.example.org/unsubscribe"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _rss(count: int) -> str:
    items = "".join(
        f"<item><title>Post number {n}</title>"
        f"<link>https://feelingagain.example.org/p/{n}/</link>"
        f"<guid>https://feelingagain.example.org/?p={n}</guid>"
        f"<dc:creator>Maria Lopez</dc:creator><slash:comments>{n}</slash:comments>"
        f"<pubDate>{format_datetime(START + timedelta(days=n))}</pubDate>"
        f"<description>What happened in week {n}, told slowly.</description></item>"
        for n in range(count, 0, -1))
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:slash="http://purl.org/rss/1.0/modules/slash/"><channel>'
            "<title>Feeling Again</title><link>https://feelingagain.example.org</link>"
            f"<description>Blog</description>{items}</channel></rss>")


def _setup(folder: Path, key: DkimKey, *, smtp_port: int | None = None) -> Path:
    feed = folder / "feed.xml"
    folder.mkdir(parents=True, exist_ok=True)
    feed.write_text(_rss(2))
    (folder / "dkim.pem").write_bytes(key.pem)
    config = write_config(folder, [str(feed)], smtp_port=smtp_port,
                          extra=f"dkim:\n  domain: {DOMAIN}\n  selector: {SELECTOR}\n"
                                "  private_key_file: dkim.pem\n")
    text = config.read_text()
    config.write_text(text.replace("  unsubscribe: mailto:leave@example.org\n",
                                   "  unsubscribe: mailto:leave@example.org\n"
                                   f"  unsubscribe_url: {PAGE}\n"))
    return config


def _digest(config: Path, *args: str, secret: str | None = SECRET) -> Result:
    env = {k: v for k, v in os.environ.items() if k != "DIGEST_SECRET"}
    if secret is not None:
        env["DIGEST_SECRET"] = secret
    proc = subprocess.run([sys.executable, "-m", "digest", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120, cwd=config.parent, env=env)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _https_link(message: EmailMessage) -> str:
    uris: list[str] = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    [https] = [u for u in uris if u.startswith("https://")]
    return https


def _outbox(folder: Path) -> dict[str, list[EmailMessage]]:
    """Messages in the outbox by recipient."""
    found: dict[str, list[EmailMessage]] = {}
    for path in sorted((folder / "outbox").glob("*.eml")):
        message = parse(path.read_bytes())
        found.setdefault(str(message["To"].addresses[0].addr_spec), []).append(message)
    return found


def _listing(config: Path) -> dict[str, str]:
    listed = _digest(config, "subscribers", "list")
    assert listed.code == 0, listed.err
    return {line.split("\t")[0]: line.split("\t")[2] for line in listed.out.splitlines()}


def _check_message(raw: bytes, key: DkimKey) -> str:
    """The message's one-click link, after checking the signature and the visible links."""
    assert dkim.verify(raw, dnsfunc=key.dns()) is True
    message = parse(raw)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "<mailto:leave@example.org?subject=unsubscribe>" in str(message["List-Unsubscribe"])
    link = _https_link(message)
    assert link.startswith(PAGE + "?token=")
    text, page = parts(message)
    assert link in text and f'href="{link}"' in page
    return link


def test_unsubscribe_links_work_once_and_for_all(tmp_path: Path, key: DkimKey) -> None:
    config = _setup(tmp_path, key)
    first = _digest(config, "run")
    assert first.code == 0, first.err
    links = {}
    for path in (tmp_path / "outbox").glob("*.eml"):
        raw = path.read_bytes()
        links[str(parse(raw)["To"].addresses[0].addr_spec)] = _check_message(raw, key)
    assert set(links) == {"ann@example.org", "bob@example.org", "cy@example.org"}
    assert len(set(links.values())) == 3
    token = parse_qs(urlsplit(links["ann@example.org"]).query)["token"][0]
    before = _listing(config)
    assert before == dict.fromkeys(links, "active")

    # Forged, foreign or unverifiable tokens: a clear error, exit 2, nothing changed.
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for args, secret, says in [
        ((forged,), SECRET, "the signature does not match"),
        ((token,), "another-secret-of-16-bytes", "the signature does not match"),
        (("not-a-token",), SECRET, "malformed token"),
        ((PAGE + "?page=2",), SECRET, "the link has no token"),
        ((token,), None, "DIGEST_SECRET"),
    ]:
        refused = _digest(config, "unsubscribe", *args, secret=secret)
        assert refused.code == 2, (args, refused.out, refused.err)
        assert says in refused.err and refused.out == ""
        assert _listing(config) == before

    # The whole link works as well as the token; a second time changes nothing.
    done = _digest(config, "unsubscribe", links["ann@example.org"])
    assert done.code == 0, done.err
    assert done.out.strip() == "ann@example.org is unsubscribed from Feeling Again weekly"
    again = _digest(config, "unsubscribe", token)
    assert again.code == 0 and "ann@example.org was already unsubscribed" in again.out
    with Store.open(tmp_path / "digest.sqlite3") as store:  # as the bounce counter would
        store.set_subscriber_status("bob@example.org", "bounced")

    # The CSV still lists ann and bob: importing it again and a new post change nothing for them.
    imported = _digest(config, "subscribers", "import", "subscribers.csv")
    assert imported.code == 0, imported.err
    (tmp_path / "feed.xml").write_text(_rss(3))
    second = _digest(config, "run")
    assert second.code == 0, second.err
    after = _outbox(tmp_path)
    assert {to: len(msgs) for to, msgs in after.items()} == {
        "ann@example.org": 1, "bob@example.org": 1, "cy@example.org": 2}
    assert _listing(config) == {"ann@example.org": "unsubscribed",
                                "bob@example.org": "bounced", "cy@example.org": "active"}


def test_preview_is_signed_and_its_link_unsubscribes_nobody(tmp_path: Path,
                                                            key: DkimKey) -> None:
    config = _setup(tmp_path, key)
    assert _digest(config, "subscribers", "import", "subscribers.csv").code == 0
    preview = _digest(config, "preview", "--out", "preview")
    assert preview.code == 0, preview.err
    link = _check_message((tmp_path / "preview" / "digest.eml").read_bytes(), key)
    refused = _digest(config, "unsubscribe", link)
    assert refused.code == 2 and "who is not in this store" in refused.err
    assert set(_listing(config).values()) == {"active"}


def test_smtp_sends_are_signed_and_each_link_is_its_readers(tmp_path: Path,
                                                           key: DkimKey) -> None:
    with SmtpServer(CountingHandler(keep=True)) as smtp:
        config = _setup(tmp_path, key, smtp_port=smtp.port)
        run = _digest(config, "run")
        assert run.code == 0, run.err
        received = dict(smtp.handler.messages)
    assert set(received) == {"ann@example.org", "bob@example.org", "cy@example.org"}
    links = {to: _check_message(raw, key) for to, raw in received.items()}
    done = _digest(config, "unsubscribe", links["bob@example.org"])
    assert done.code == 0 and done.out.startswith("bob@example.org is unsubscribed")
    assert _listing(config) == {"ann@example.org": "active", "bob@example.org": "unsubscribed",
                                "cy@example.org": "active"}


def test_an_unusable_dkim_key_stops_before_anything_happens(tmp_path: Path,
                                                             key: DkimKey) -> None:
    config = _setup(tmp_path, key)
    (tmp_path / "dkim.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot really\n"
                                       "-----END PRIVATE KEY-----\n")
    run = _digest(config, "run")
    assert run.code == 2
    assert "dkim.private_key_file" in run.err and "not a PEM private key" in run.err
    assert "not really" not in run.err
    assert not (tmp_path / "digest.sqlite3").exists()
    assert not list(tmp_path.glob("outbox/*.eml"))
