"""Benchmark: what a user runs, `digest run`, end to end, against plain smtplib in the same run.

For each list size (default 10,000 then 100,000 readers) a fresh folder gets the bundled demo
feed, a subscribers CSV of that size and a config whose SMTP sender points at Debian's
`smtp-sink` (package postfix: `.ci/install-system-deps --bench`), a C sink fast enough not to
hide the sender's cost. Then, in this order:

1. baseline: plain smtplib over the same number of connections pushes the same bytes (the
   issue's own message, from `digest preview`) the same number of times;
2. `digest --config ... run` as a user runs it: CSV import, fetch, render, ledger, send; timed
   from start to exit, its peak RSS taken from the kernel (wait4);
3. the baseline again; the ratio is against the mean of both baselines.

Prints one line per size and, as the LAST line, the figures at the largest size:

    ratio=R rss_mb=M rss_small_mb=S

Goals: R >= 0.8 without DKIM, >= 0.6 with --dkim; M <= 100 and M close to S (flat). The machine
may be shared: run it several times and read the ratios, which are measured side by side.

    .venv/bin/python bench/run.py [--sizes 10000,100000] [--connections 4] [--dkim]
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    """smtp-sink on 127.0.0.1 for the length of a ``with``; ``port``."""

    def __enter__(self) -> Sink:
        if not os.access(SINK, os.X_OK):
            raise SystemExit(f"{SINK} is missing: run .ci/install-system-deps --bench (Debian's "
                             "postfix package ships it)")
        self.port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.proc = subprocess.Popen([SINK, *user, f"127.0.0.1:{self.port}", "256"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise SystemExit("smtp-sink did not start")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def write_folder(folder: Path, n: int, port: int, connections: int, dkim: bool) -> Path:
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "demo" / "feed.xml", folder / "feed.xml")
    with (folder / "subscribers.csv").open("w") as out:
        out.write("email,name\n")
        out.writelines(f"reader{i}@example.net,Reader N\u00f8 {i}\n" for i in range(n))
    text = (ROOT / "feeds.yaml").read_text().replace("demo/feed.xml", "feed.xml")
    text = text.replace("demo/subscribers.csv", "subscribers.csv").replace("demo.sqlite3",
                                                                          "digest.sqlite3")
    text = text.split("sender:")[0] + (
        "sender:\n  kind: smtp\n  smtp:\n    host: 127.0.0.1\n"
        f"    port: {port}\n    security: none\n    connections: {connections}\n")
    if dkim:
        subprocess.run(["openssl", "genrsa", "-out", str(folder / "dkim.pem"), "2048"],
                       check=True, capture_output=True)
        text += ("dkim:\n  domain: example.org\n  selector: bench\n"
                 "  private_key_file: dkim.pem\n")
    config = folder / "feeds.yaml"
    config.write_text(text)
    return config


def digest(config: Path, *args: str) -> tuple[float, float]:
    """Run the real command; (seconds from start to exit, peak RSS in MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "digest", "--config", str(config), *args],
                            cwd=config.parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"digest {' '.join(args)} failed ({proc.returncode}): {err}")
    return elapsed, usage.ru_maxrss / 1024


def baseline(port: int, data: bytes, count: int, connections: int) -> float:
    """Plain smtplib, one reused connection per thread: messages per second."""

    def push(worker: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as conn:
            for i in range(worker, count, connections):
                conn.sendmail("digest@example.org", [f"b{i}@baseline.example.net"], data)

    threads = [threading.Thread(target=push, args=(w,)) for w in range(connections)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return count / (time.perf_counter() - start)


def measure(tmp: Path, n: int, connections: int, dkim: bool) -> tuple[float, float, float]:
    """(digest run msg/s, baseline msg/s, peak RSS MB) for n readers."""
    with Sink() as sink:
        config = write_folder(tmp / f"n{n}", n, sink.port, connections, dkim)
        digest(config, "preview", "--out", "preview")
        data = (config.parent / "preview" / "digest.eml").read_bytes()
        if b"\r\n" not in data:
            data = data.replace(b"\n", b"\r\n")
        before = baseline(sink.port, data, n, connections)
        elapsed, rss = digest(config, "run")
        after = baseline(sink.port, data, n, connections)
    return n / elapsed, (before + after) / 2, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000",
                        help="list sizes, comma-separated (default: 10000,100000)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--dkim", action="store_true", help="sign with a 2048-bit key")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"digest run vs smtplib into smtp-sink, {args.connections} connections, "
          f"DKIM {'on' if args.dkim else 'off'}, {os.cpu_count()} cores")
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            ours, base, rss = measure(Path(tmp), n, args.connections, args.dkim)
            found.append((ours, base, rss))
            print(f"{n:>7} readers: digest run {ours:7.0f} msg/s, smtplib {base:7.0f} msg/s, "
                  f"ratio {ours / base:.2f}, peak RSS {rss:.0f} MB", flush=True)
    ours, base, rss = found[-1]
    print(f"ratio={ours / base:.2f} rss_mb={rss:.0f} rss_small_mb={found[0][2]:.0f}")


if __name__ == "__main__":
    main()
