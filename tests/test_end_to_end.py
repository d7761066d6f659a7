"""From feed files on a real HTTP server to messages received by a real SMTP server, through the
real `digest` command in its own process."""

from __future__ import annotations

import hashlib
import html
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import html as lxml_html

from digest.issues.render import byline
from support.e2e import DATA, digest, expected_posts, parse, parts, write_config
from support.feedserver import FeedServer, Route
from support.smtpserver import CountingHandler, SmtpServer

SUBSCRIBERS = {"ann@example.org", "bob@example.org", "cy@example.org"}


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.route("/wp.rss", Route(body=(DATA / "wordpress.rss").read_bytes(), etag='"w1"'))
        server.route("/t.atom", Route(body=(DATA / "thread-prefix.atom").read_bytes(),
                                      content_type="application/atom+xml"))
        server.route("/hostile.rss", Route(body=(DATA / "hostile.rss").read_bytes()))
        server.route("/broken.rss", Route(status=500, body=b"oops"))
        yield server


def test_run_delivers_the_digest_once_to_every_subscriber(tmp_path: Path, feeds: FeedServer,
                                                          smtp: SmtpServer) -> None:
    config = write_config(tmp_path, [feeds.url("/wp.rss"), feeds.url("/t.atom")],
                          smtp_port=smtp.port)
    first = digest(config, "run")
    assert first.code == 0, first.err
    assert "Issue 1" in first.out
    handler: CountingHandler = smtp.handler
    assert dict(handler.snapshot()) == {address: 1 for address in SUBSCRIBERS}

    posts = expected_posts("wordpress") + expected_posts("thread-prefix")
    for recipient, raw in handler.messages:
        message = parse(raw)
        assert recipient in message["To"]
        text, page = parts(message)
        doc = lxml_html.fromstring(page)
        links = set(doc.xpath("//a/@href"))
        body_text = " ".join(doc.text_content().split())
        for post in posts:
            assert post["link"] in links, post["title"]
            assert post["link"] in text
            assert " ".join(post["title"].split()) in body_text
            assert byline(post["author"], post["comment_count"]) in body_text
        assert "Posted by Jonas Berg with 3 comments" in body_text
        assert "Posted by Sam O'Neil with no comments yet" in body_text
        assert "Posted by Guest: Aino K." in body_text and "Aino K. with" not in body_text
        assert "mailto:leave@example.org" in message["List-Unsubscribe"]
        assert message["List-Id"] == "Feeling Again weekly <feeling-again-weekly.example.org>"
        assert message["Message-ID"].endswith("@example.org>")
        assert message["Date"] and message["Auto-Submitted"] == "auto-generated"
        assert message["Subject"].startswith("Feeling Again weekly: ")
    bob = next(parse(raw) for rcpt, raw in handler.messages if rcpt == "bob@example.org")
    assert bob["To"].addresses[0].display_name == "Bob Ørsted"

    second = digest(config, "run")
    assert second.code == 0, second.err
    assert "nothing new since" in second.out
    assert handler.total == len(SUBSCRIBERS)
    assert feeds.requests_to("/wp.rss")[-1].headers.get("If-None-Match") == '"w1"'


def test_a_broken_feed_is_named_and_the_others_still_make_the_issue(
        tmp_path: Path, feeds: FeedServer, smtp: SmtpServer) -> None:
    broken = feeds.url("/broken.rss")
    config = write_config(tmp_path, [broken, feeds.url("/t.atom")], smtp_port=smtp.port)
    result = digest(config, "run")
    assert result.code == 1
    assert broken in result.err and "500" in result.err
    handler: CountingHandler = smtp.handler
    assert dict(handler.snapshot()) == {address: 1 for address in SUBSCRIBERS}
    text, _ = parts(parse(handler.messages[0][1]))
    assert "Week six: colour came back first" in text


def test_hostile_feed_adds_no_header_and_no_markup(tmp_path: Path, feeds: FeedServer,
                                                   smtp: SmtpServer) -> None:
    config = write_config(tmp_path, [feeds.url("/hostile.rss")], smtp_port=smtp.port)
    result = digest(config, "run")
    assert result.code == 0, result.err
    handler: CountingHandler = smtp.handler
    for _, raw in handler.messages:
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert head.isascii()
        message = parse(raw)
        assert message["Bcc"] is None and message["Cc"] is None
        assert len(message["To"].addresses) == 1
        _, page = parts(message)
        doc = lxml_html.fromstring(page)
        assert not doc.xpath("//script|//iframe|//form|//input|//object|//svg|//@onclick")
        hrefs = doc.xpath("//a/@href")
        assert hrefs and all(h.startswith(("https://", "http://", "mailto:")) for h in hrefs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_smtp_leaves_everything_pending_then_send_finishes(
        tmp_path: Path, feeds: FeedServer) -> None:
    config = write_config(tmp_path, [feeds.url("/t.atom")], smtp_port=_free_port())
    result = digest(config, "run")
    assert result.code == 4
    assert "127.0.0.1" in result.err and "pending" in result.err
    listing = digest(config, "issues")
    assert "3 pending" in listing.out and "sent " not in listing.out.split("]")[0].split("[")[1]

    with SmtpServer(CountingHandler()) as server:
        text = config.read_text()
        port_line = next(line for line in text.splitlines() if "port:" in line)
        config.write_text(text.replace(port_line, f"    port: {server.port}"))
        resumed = digest(config, "send")
        assert resumed.code == 0, resumed.err
        handler: CountingHandler = server.handler
        assert dict(handler.snapshot()) == {address: 1 for address in SUBSCRIBERS}
    assert "3 sent" in digest(config, "issues").out


def test_two_runs_at_once_send_one_copy_each(tmp_path: Path, feeds: FeedServer,
                                             smtp: SmtpServer) -> None:
    many = "email,name\n" + "".join(f"p{i}@example.org,P {i}\n" for i in range(300))
    config = write_config(tmp_path, [feeds.url("/wp.rss")], smtp_port=smtp.port,
                          subscribers=many)
    command = [sys.executable, "-m", "digest", "--config", str(config), "run"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outcomes = [(run.wait(timeout=120), run.stderr.read() if run.stderr else "") for run in runs]
    assert sorted(code for code, _ in outcomes) in ([0, 0], [0, 3]), outcomes
    handler: CountingHandler = smtp.handler
    counts = handler.snapshot()
    assert len(counts) == 300 and set(counts.values()) == {1}


def test_bad_csv_rows_are_reported_by_line_and_valid_rows_still_get_mail(
        tmp_path: Path, feeds: FeedServer, smtp: SmtpServer) -> None:
    csv = "email,name\nann@example.org,Ann\nbob@@example.org,Bob\n\ncy@example,Cy\n"
    config = write_config(tmp_path, [feeds.url("/t.atom")], smtp_port=smtp.port, subscribers=csv)
    result = digest(config, "run")
    assert result.code == 1
    assert "subscribers.csv:3:" in result.err and "bob@@example.org" in result.err
    assert "subscribers.csv:5:" in result.err
    handler: CountingHandler = smtp.handler
    assert dict(handler.snapshot()) == {"ann@example.org": 1}


def test_bad_config_changes_nothing(tmp_path: Path, feeds: FeedServer) -> None:
    config = write_config(tmp_path, [feeds.url("/t.atom")], extra="")
    config.write_text(config.read_text().replace("max_posts: 10", "max_posts: ten"))
    result = digest(config, "run")
    assert result.code == 2
    assert "feeds.yaml:" in result.err and "digest.max_posts" in result.err
    assert "Traceback" not in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml", "subscribers.csv"]
    assert feeds.requests_to("/t.atom") == []


def _digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_preview_and_test_send_change_nothing(tmp_path: Path, feeds: FeedServer,
                                               smtp: SmtpServer) -> None:
    config = write_config(tmp_path, [feeds.url("/wp.rss")], smtp_port=smtp.port)
    assert digest(config, "subscribers", "add", "dee@example.org").code == 0
    store = tmp_path / "digest.sqlite3"
    before = _digest_of(store)

    shown = digest(config, "preview", "--out", str(tmp_path / "p"))
    assert shown.code == 0, shown.err
    written = [Path(line) for line in shown.out.splitlines() if line.endswith((".html", ".txt",
                                                                              ".eml"))]
    assert sorted(p.name for p in written) == ["digest.eml", "digest.html", "digest.txt"]
    page = (tmp_path / "p" / "digest.html").read_text()
    assert html.escape("What “blunting” feels like from the inside", quote=False) in page
    assert "%%DIGEST_" not in page

    sent = digest(config, "send", "--to", "editor@example.org")
    assert sent.code == 0, sent.err
    handler: CountingHandler = smtp.handler
    assert dict(handler.snapshot()) == {"editor@example.org": 1}
    assert parse(handler.messages[0][1])["Subject"].startswith("[TEST] ")

    assert _digest_of(store) == before
    assert "No issues yet" in digest(config, "issues").out
    run = digest(config, "run")
    assert run.code == 0 and "Issue 1" in run.out


def test_bundled_demo_runs_and_a_second_run_sends_nothing(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    (tmp_path / "demo").mkdir()
    for name in ("feed.xml", "subscribers.csv"):
        (tmp_path / "demo" / name).write_bytes((root / "demo" / name).read_bytes())
    config = tmp_path / "feeds.yaml"
    config.write_bytes((root / "feeds.yaml").read_bytes())
    first = digest(config, "run")
    assert first.code == 0, first.err
    outbox = sorted((tmp_path / "outbox").glob("*.eml"))
    csv_rows = (root / "demo" / "subscribers.csv").read_text().strip().splitlines()[1:]
    assert len(outbox) == len(csv_rows) >= 3
    assert str(tmp_path / "outbox") in first.out
    text, page = parts(parse(outbox[0].read_bytes()))
    assert "Posted by" in text and "view more" in page.lower()
    second = digest(config, "run")
    assert second.code == 0
    assert "nothing new since" in second.out and "Nothing was sent" in second.out
    assert sorted((tmp_path / "outbox").glob("*.eml")) == outbox
