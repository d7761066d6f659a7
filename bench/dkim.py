"""Benchmark: DKIM signing cost per message, digest's signer against dkimpy, in the same run.

Each message is a real rendered digest (tests/golden, about 18 KB as sent) personalised for one
recipient with a signed unsubscribe link, as the send loop makes it. Three figures per message:
personalising without signing (what signing adds to), digest's signer (canonicalisation in
Python, RSA in OpenSSL through ``cryptography``), and ``dkim.sign`` from dkimpy (pure-Python RSA)
over the same bytes with the same key, headers and canonicalisation. Before timing, both
signatures are checked with dkimpy's verifier. The LAST line is:

    sign_us=S dkimpy_us=D ratio=R

R = dkimpy time / digest time (higher is better for digest).

    .venv/bin/python bench/dkim.py [--messages 300] [--bits 2048]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and this file would shadow dkimpy.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import dkim  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from digest.mail.dkim import SIGNED_HEADERS, DkimSigner  # noqa: E402
from digest.mail.message import MessageTemplate, make_message_id  # noqa: E402
from digest.mail.tokens import unsubscribe_token  # noqa: E402
from digest.models import Recipient, RenderedIssue  # noqa: E402

ROOT = _HERE.parent
NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
FROM = "Feeling Again <digest@example.org>"
LIST_ID = "Feeling Again weekly <feeling-again-weekly.example.org>"
SECRET = b"bench-secret-0123456789abcdef"


def messages(count: int) -> tuple[list[bytes], float]:
    """The personalised messages, and what personalising cost per message (us)."""
    golden = ROOT / "tests" / "golden"
    rendered = RenderedIssue(subject="Feeling Again weekly: What emotional blunting feels like",
                             html=(golden / "digest.html").read_text(),
                             text=(golden / "digest.txt").read_text(), preheader="",
                             post_count=10)
    template = MessageTemplate.build(rendered, from_addr=FROM, list_id=LIST_ID, reply_to=None,
                                     date=NOW,
                                     list_unsubscribe_mailto="mailto:leave@example.org")
    out = []
    start = time.perf_counter()
    for i in range(count):
        email = f"reader{i}@example.net"
        token = unsubscribe_token(SECRET, i + 1, email, LIST_ID)
        recipient = Recipient(email, f"Reader Nø {i}",
                              f"https://feelingagain.example.org/unsubscribe?token={token}")
        out.append(template.personalize(recipient,
                                        message_id=make_message_id(1, i + 1, FROM, "bench0000")))
    return out, (time.perf_counter() - start) / count * 1e6


def per_message_us(fn: Callable[[bytes], object], batch: list[bytes], rounds: int = 3) -> float:
    """The best of a few rounds over the whole batch, in microseconds per message."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for raw in batch:
            fn(raw)
        times.append((time.perf_counter() - start) / len(batch) * 1e6)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--bits", type=int, default=2048)
    args = parser.parse_args()

    key = rsa.generate_private_key(public_exponent=65537, key_size=args.bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    signer = DkimSigner.from_pem("example.org", "bench", pem)
    headers = [name.encode("ascii") for name in SIGNED_HEADERS]

    def dkimpy_sign(raw: bytes) -> bytes:
        signature: bytes = dkim.sign(raw, b"bench", b"example.org", pem,
                                     canonicalize=(b"relaxed", b"relaxed"),
                                     include_headers=headers)
        return signature + raw

    batch, personalise = messages(args.messages)
    for fn in (signer.sign, dkimpy_sign):
        signed = fn(batch[0])
        if not dkim.verify(signed, dnsfunc=lambda name, timeout=5: record):
            raise SystemExit(f"{fn.__name__}: dkimpy does not verify the signature")

    size = statistics.mean(len(raw) for raw in batch)
    mine = per_message_us(signer.sign, batch)
    theirs = per_message_us(dkimpy_sign, batch[: max(20, args.messages // 5)])
    print(f"{args.messages} messages of {size / 1024:.1f} KB, RSA-{args.bits}, relaxed/relaxed")
    print(f"personalise, token, no DKIM:   {personalise:9.1f} us/message")
    print(f"digest DkimSigner (OpenSSL):   {mine:9.1f} us/message")
    print(f"dkimpy dkim.sign (pure Python):{theirs:9.1f} us/message")
    print(f"sign_us={mine:.0f} dkimpy_us={theirs:.0f} ratio={theirs / mine:.1f}")


if __name__ == "__main__":
    main()
