"""Benchmark: deliver an issue to N subscribers through each mail API sender (Postmark, SendGrid,
Mailgun) against a local fake of the provider running in its own process.

Each provider gets a copy of the same store (N subscribers, one issue of about 18 KB of HTML) and
the real send loop, in a process of its own (so its peak RSS is its own). In the same run, a
baseline posts the same requests (one full batch, built once) with plain httpx over as many
connections, to a fresh fake: the rate of the HTTP exchange and the fake alone. Prints per
provider the requests made against the ideal ceil(N / batch limit) (goal: within 1%), messages
per second, the ratio to the baseline, peak RSS, and duplicates/missing from the fake's counts.

    .venv/bin/python bench/api.py [--subscribers 100000] [--connections 2] [--providers ...]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import resource
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "tests"))  # the fake APIs live with the tests
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

if TYPE_CHECKING:  # mypy reads this folder as the package `bench` (bench/dkim.py is not dkimpy)
    from bench.send import FROM, NOW, rendered, template
else:  # run as a script, send.py sits beside this file: the same 18 KB digest
    from send import FROM, NOW, rendered, template

from digest.app import delivery_options  # noqa: E402
from digest.delivery.loop import deliver  # noqa: E402
from digest.delivery.senders import make_sender  # noqa: E402
from digest.delivery.senders.api import ApiSender  # noqa: E402
from digest.delivery.senders.api_content import copy_of  # noqa: E402
from digest.mail.message import make_message_id  # noqa: E402
from digest.models import Delivery, Issue, Outgoing, Recipient  # noqa: E402
from digest.settings import (  # noqa: E402
    API_BATCH_LIMITS,
    ApiSettings,
    DigestSettings,
    SenderSettings,
    Settings,
)
from digest.store import Store  # noqa: E402
from digest.subscribers import SubscriberRow  # noqa: E402
from support.fakeapis import FakeApiProcess, api_kind  # noqa: E402

TOKEN = "bench-token"
DOMAIN = "mg.example.org"


def address(i: int) -> str:
    return f"reader{i}@example.com"


def recipient_for(row: Delivery) -> Recipient:
    return Recipient(row.email, row.name, f"https://blog.example.org/u/{row.subscriber_id}")


def api_settings(kind: str, base_url: str, connections: int) -> ApiSettings:
    return ApiSettings(api_kind(kind), TOKEN, base_url,
                       domain=DOMAIN if kind == "mailgun" else None,
                       batch_size=API_BATCH_LIMITS[kind], connections=connections,
                       token_env="BENCH_TOKEN")


def setup(db: Path, n: int) -> int:
    with Store.open(db) as store:
        store.import_subscribers(SubscriberRow(address(i), f"Reader {i} & Co") for i in range(n))
        return store.create_issue([], rendered(), NOW).id


def tool(db: Path, issue_id: int, settings: ApiSettings) -> tuple[float, int, int, float]:
    """The real loop: (messages per second, sent, failed, peak RSS in MB)."""
    config = Settings(Path("feeds.yaml"), DigestSettings("Blog", FROM, "https://blog.example.org"),
                      (), db, sender=SenderSettings(kind=settings.kind, api=settings))
    with Store.open(db) as store:
        report = deliver(store, store.get_issue(issue_id), template(),
                         make_sender(settings.kind, api=settings),
                         options=delivery_options(config), recipient_for=recipient_for,
                         envelope_from="digest@example.org", clock=lambda: datetime.now(UTC))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report.rate, report.sent, report.failed + report.rejected, rss_mb


def baseline(settings: ApiSettings, requests: int) -> float:
    """Plain httpx posting one prebuilt full batch ``requests`` times: messages per second."""
    sender = make_sender(settings.kind, api=settings)()
    assert isinstance(sender, ApiSender)
    body = rendered()
    sender.prepare(Issue(1, body.subject, body.html, body.text, NOW, "sending", ()), template())
    assert sender.content is not None
    copies = [copy_of(Outgoing(i, "digest@example.org", address(i), b"",
                               make_message_id(1, i, FROM, "bench0000"),
                               recipient_values=Recipient(address(i), f"Reader {i}",
                                                          f"https://blog.example.org/u/{i}")),
                      sender.unsubscribe_mailto)
              for i in range(sender.max_batch)]
    request = sender.build(sender.content, copies)
    sender.close()
    auth = request.auth or httpx.USE_CLIENT_DEFAULT
    done = iter(range(requests))
    lock = threading.Lock()

    def push() -> None:
        with httpx.Client(timeout=60) as client:
            while True:
                with lock:
                    if next(done, None) is None:
                        return
                client.post(request.url, content=request.body, headers=request.headers,
                            auth=auth).raise_for_status()

    threads = [threading.Thread(target=push) for _ in range(settings.connections)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return requests * sender.max_batch / (time.perf_counter() - start)


def in_child(target: Any, *args: Any) -> Any:
    """Run target(*args) in a fresh process and return its result."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(target, args)


def bench(kind: str, master: Path, tmp: Path, issue_id: int, n: int,
          connections: int) -> dict[str, Any]:
    db = tmp / f"{kind}.sqlite3"
    with Store.open(master) as store:
        store.snapshot(db)
    limit = API_BATCH_LIMITS[kind]
    ideal = math.ceil(n / limit)
    with FakeApiProcess(kind, TOKEN, DOMAIN) as fake:
        rate, sent, failed, rss = in_child(tool, db, issue_id,
                                           api_settings(kind, fake.base_url, connections))
        stats = fake.stats()
    with FakeApiProcess(kind, TOKEN, DOMAIN) as fake:
        base = in_child(baseline, api_settings(kind, fake.base_url, connections), ideal)
    counts = stats["counts"]
    ours = [counts.get(address(i), 0) for i in range(n)]
    return {"kind": kind, "limit": limit, "ideal": ideal, "requests": stats["requests"],
            "max_size": max(stats["sizes"], default=0), "rate": rate, "sent": sent,
            "failed": failed, "rss": rss, "baseline": base,
            "duplicates": sum(c - 1 for c in ours if c > 1),
            "missing": sum(1 for c in ours if c == 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--providers", nargs="+", default=["postmark", "sendgrid", "mailgun"],
                        choices=["postmark", "sendgrid", "mailgun"])
    args = parser.parse_args()
    n = args.subscribers
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        master = tmp / "master.sqlite3"
        issue_id = in_child(setup, master, n)
        print(f"subscribers: {n}, connections: {args.connections}, "
              f"html: {len(rendered().html)} bytes")
        for kind in args.providers:
            r = bench(kind, master, tmp, issue_id, n, args.connections)
            extra = 100 * (r["requests"] - r["ideal"]) / r["ideal"]
            print(f"{kind:9} requests={r['requests']} ideal={r['ideal']} (+{extra:.2f}%) "
                  f"largest={r['max_size']}/{r['limit']} sent={r['sent']} failed={r['failed']} "
                  f"rate={r['rate']:.0f} msg/s baseline={r['baseline']:.0f} msg/s "
                  f"ratio={r['rate'] / r['baseline']:.2f} rss_mb={r['rss']:.0f} "
                  f"duplicates={r['duplicates']} missing={r['missing']}")


if __name__ == "__main__":
    main()
