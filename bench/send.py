"""Benchmark: deliver an issue to N subscribers through the real send loop and ledger.

A counting aiosmtpd server runs in its own process (so it does not share our GIL). In the same run
a baseline pushes the same message through plain smtplib over one reused connection (and, for
reference, over as many connections as the tool uses). The tool runs in a process of its own, so
its peak RSS is its own. Prints both rates, then a ``crash`` line: a second list is sent by a
process killed with SIGKILL three times at random moments, then re-run to the end; the server's
per-recipient counts give the duplicates, against the bound (one message per connection per
kill). As the LAST line:

    ratio=R rss_mb=M duplicates=D missing=K

R = tool rate / one-connection baseline rate, M = the tool process's peak RSS in MB, D and K from
the server's per-recipient counts. Goals: R >= 0.8, M <= 150 at 100,000 subscribers, D = K = 0.

    .venv/bin/python bench/send.py [--subscribers 100000] [--connections 4] [--crash-size 3000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import smtplib
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the test SMTP servers live with the tests

from digest.delivery.loop import DeliveryOptions, deliver  # noqa: E402
from digest.delivery.senders.smtp import SmtpSender  # noqa: E402
from digest.mail.message import MessageTemplate, make_message_id  # noqa: E402
from digest.models import (  # noqa: E402
    TOKEN_EMAIL,
    TOKEN_NAME,
    TOKEN_UNSUBSCRIBE,
    Delivery,
    Recipient,
    RenderedIssue,
)
from digest.settings import SmtpSettings  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.subscribers import SubscriberRow  # noqa: E402
from support.smtpserver import SinkProcess  # noqa: E402

NOW = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
FROM = "Example Blog <digest@example.org>"
BASELINE_DOMAIN = "baseline.example.net"


def rendered() -> RenderedIssue:
    """About 18 KB of HTML, like a ten-post digest with its CSS inlined."""
    post = ('<tr><td style="padding:16px 24px;font-family:Arial,Helvetica,sans-serif;color:#222">'
            '<h2 style="margin:0 0 8px;font-size:20px"><a href="https://blog.example.org/p/{i}" '
            'style="color:#0b57d0;text-decoration:none">Post number {i}: caf\u00e9 notes</a></h2>'
            '<p style="margin:0 0 8px;color:#555;font-size:13px">Posted by Jane Doe with {i} '
            'comments</p><p style="margin:0 0 12px;font-size:15px;line-height:1.5">'
            + "A summary sentence about the post, long enough to wrap a few times. " * 10
            + '</p><a href="https://blog.example.org/p/{i}" style="background:#0b57d0;color:#fff;'
            'padding:10px 18px;border-radius:4px;text-decoration:none">view more</a></td></tr>')
    html = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Digest</title>'
            f'</head><body><p>Hello {TOKEN_NAME},</p><table role="presentation">'
            + "".join(post.format(i=i) for i in range(10))
            + f'</table><p>Sent to {TOKEN_EMAIL}. <a href="{TOKEN_UNSUBSCRIBE}">Unsubscribe</a>'
            '</p></body></html>')
    text = (f"Hello {TOKEN_NAME},\n\n"
            + "".join(f"Post number {i}\nhttps://blog.example.org/p/{i}\n\n" for i in range(10))
            + f"Unsubscribe: {TOKEN_UNSUBSCRIBE}\n")
    return RenderedIssue("Weekly digest", html, text, "", 10)


def template() -> MessageTemplate:
    return MessageTemplate.build(rendered(), from_addr=FROM, list_id="blog.example.org",
                                 reply_to=None, date=NOW,
                                 list_unsubscribe_mailto="mailto:leave@example.org")


def recipient_for(row: Delivery) -> Recipient:
    return Recipient(row.email, row.name, f"https://blog.example.org/u/{row.subscriber_id}")


def address(i: int) -> str:
    return f"reader{i}@example.com"


def setup(db: Path, n: int) -> int:
    with Store.open(db) as store:
        store.import_subscribers(SubscriberRow(address(i), f"Reader {i}") for i in range(n))
        return store.create_issue([], rendered(), NOW).id


def baseline(port: int, count: int, connections: int) -> float:
    """Plain smtplib, each thread one reused connection: messages per second."""
    data = template().personalize(Recipient("x@example.com", "Reader", "https://e.org/u/1"),
                                  message_id=make_message_id(0, 0, FROM, "bench0000"))

    def push(worker: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as conn:
            for i in range(worker, count, connections):
                conn.sendmail("bounces@example.org", [f"b{i}@{BASELINE_DOMAIN}"], data)

    threads = [threading.Thread(target=push, args=(w,)) for w in range(connections)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count / (time.perf_counter() - start)


def tool(db: Path, issue_id: int, port: int, connections: int) -> tuple[float, int, float]:
    """The real loop: (messages per second, messages sent, peak RSS in MB)."""
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none")
    with Store.open(db) as store:
        report = deliver(store, store.get_issue(issue_id), template(),
                         lambda: SmtpSender(settings),
                         options=DeliveryOptions(connections=connections),
                         recipient_for=recipient_for, envelope_from="bounces@example.org",
                         clock=lambda: datetime.now(UTC))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report.rate, report.sent, rss_mb


def in_child(target: Any, *args: Any) -> Any:
    """Run target(*args) in a fresh process and return its result."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(target, args)


def crash(db: Path, issue_id: int, port: int, connections: int, kills: int = 3,
          rng: random.Random | None = None) -> None:
    """Send, killed with SIGKILL ``kills`` times at random moments, then to the end."""
    rng = rng or random.Random()
    ctx = multiprocessing.get_context("spawn")
    for _ in range(kills):
        child = ctx.Process(target=tool, args=(db, issue_id, port, connections))
        child.start()
        time.sleep(rng.uniform(0.5, 2.0))  # start-up is about 0.3 s: the kill lands mid-send
        child.kill()
        child.join()
    in_child(tool, db, issue_id, port, connections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--crash-size", type=int, default=3000,
                        help="subscribers in the kill-and-resume run (0: skip it)")
    parser.add_argument("--baseline-messages", type=int, default=None,
                        help="messages per baseline (default: min(subscribers, 10000))")
    args = parser.parse_args()
    n = args.subscribers
    base_count = args.baseline_messages or min(n, 10_000)
    with tempfile.TemporaryDirectory() as tmp, SinkProcess() as sink:
        db = Path(tmp) / "bench.sqlite3"
        issue_id = in_child(setup, db, n)
        base_one = in_child(baseline, sink.port, base_count, 1)
        base_many = in_child(baseline, sink.port, base_count, args.connections)
        rate, sent, rss_mb = in_child(tool, db, issue_id, sink.port, args.connections)
        counts = sink.counts()
    crashed = ""
    if args.crash_size:
        with tempfile.TemporaryDirectory() as tmp, SinkProcess() as sink:
            db = Path(tmp) / "crash.sqlite3"
            crash(db, in_child(setup, db, args.crash_size), sink.port, args.connections)
            after = sink.counts()
        got = [after.get(address(i), 0) for i in range(args.crash_size)]
        crashed = (f"crash: {sum(c - 1 for c in got if c > 1)} duplicates after 3 SIGKILLs "
                   f"(bound {3 * args.connections}: one per connection per kill), "
                   f"{sum(1 for c in got if c == 0)} missing, {args.crash_size} subscribers")
    ours = [counts.get(address(i), 0) for i in range(n)]
    duplicates = sum(c - 1 for c in ours if c > 1)
    missing = sum(1 for c in ours if c == 0)
    size = len(template().personalize(Recipient(address(1), "Reader 1", "https://e.org/u/1"),
                                      message_id="<digest.1.1@example.org>"))
    print(f"subscribers: {n}, connections: {args.connections}, message: {size} bytes")
    print(f"baseline smtplib, 1 connection:  {base_one:8.0f} msg/s ({base_count} messages)")
    print(f"baseline smtplib, {args.connections} connections: {base_many:8.0f} msg/s")
    print(f"digest send loop with ledger:    {rate:8.0f} msg/s ({sent} sent)")
    if crashed:
        print(crashed)
    print(f"ratio={rate / base_one:.2f} rss_mb={rss_mb:.0f} duplicates={duplicates} "
          f"missing={missing}")


if __name__ == "__main__":
    main()
