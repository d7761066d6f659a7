"""DKIM signing spread over the machine's cores: a few signing processes beside the send loop.

Signing a digest costs about 0.8 ms (canonicalising tens of KB in Python, then OpenSSL's RSA),
more than handing it to the relay; in the send loop's threads it would all wait for one
interpreter. A ``SigningPool`` starts ``processes`` children (``python -m digest.mail.dkim_pool``),
gives each the key over its stdin (never on a command line), and then sends each message to an
idle child, which answers with the DKIM-Signature header; the message is that header in front of
the bytes, exactly what ``DkimSigner.sign`` makes in-process. When the body hash is known
(``digest.mail.canonical``: the send loop has it from the issue's shared pieces), only the header
block and the hash go, and the child does just the RSA step.

Frames on the pipes: a 4-byte big-endian length, then that many bytes. A request is ``M`` and
the whole message, or ``H``, the 32-byte body hash and the header block; a child answers ``+``
and the header, or ``-`` and why it could not sign. A child that fails or ends is retired, and the
message is signed in the calling thread instead: nothing goes out unsigned, only slower. A child
reads until its stdin closes, so it ends with the pool, or with the parent if that is killed.
"""

from __future__ import annotations

import contextlib
import queue
import struct
import subprocess
import sys
import threading
from typing import IO

from cryptography.hazmat.primitives import serialization

from digest.mail.dkim import DkimSigner, split_message

_LENGTH = struct.Struct(">I")


class SigningFailed(Exception):
    """A signing process could not answer (it ended, or said why it could not sign)."""


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame's payload; None when the stream ends cleanly before a frame."""
    head = stream.read(_LENGTH.size)
    if not head:
        return None
    if len(head) < _LENGTH.size:
        raise EOFError("the stream ended inside a frame's length")
    (size,) = _LENGTH.unpack(head)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("the stream ended inside a frame")
    return payload


class _Child:
    """One signing process and its pipes."""

    def __init__(self, signer: DkimSigner, pem: bytes) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "digest.mail.dkim_pool"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout
        for part in (pem, signer.domain.encode("ascii"), signer.selector.encode("ascii")):
            write_frame(self.stdin, part)

    def header(self, request: bytes) -> bytes:
        """The DKIM-Signature header for a request (see the module doc); raises
        SigningFailed."""
        try:
            write_frame(self.stdin, request)
            answer = read_frame(self.stdout)
        except (OSError, EOFError) as exc:
            raise SigningFailed(f"the signing process ended ({exc})") from exc
        if answer is None:
            raise SigningFailed(f"the signing process ended (exit code {self.proc.poll()})")
        if answer[:1] != b"+":
            raise SigningFailed(answer[1:].decode("utf-8", "replace"))
        return answer[1:]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            self.stdout.close()


class SigningPool:
    """``signer`` run in ``processes`` child processes; call it like ``DkimSigner.sign``.

    Thread-safe: each call takes an idle child (waiting for one if all are busy), so up to
    ``processes`` messages are signed at once. Use it as a context manager, or ``close`` it:
    the children end when their stdin closes.
    """

    def __init__(self, signer: DkimSigner, processes: int) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self.signer = signer
        pem = signer.key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
        self._idle: queue.Queue[_Child] = queue.Queue()
        self._lock = threading.Lock()
        self._live = 0
        self._children: list[_Child] = []
        self.failures: list[str] = []  # why children were retired, in order
        for _ in range(processes):
            try:
                child = _Child(signer, pem)
            except OSError as exc:  # cannot start a process here: sign in-process
                self.failures.append(f"cannot start a signing process: {exc}")
                break
            self._children.append(child)
            self._idle.put(child)
            self._live += 1

    def __call__(self, message: bytes, *, body_hash: bytes | None = None) -> bytes:
        """``message`` (CRLF line endings) with a DKIM-Signature header in front;
        ``body_hash``: ``digest.mail.canonical.body_hash`` of its body, if already known."""
        child = self._take()
        if child is None:
            return self.signer.sign(message, body_hash=body_hash)
        if body_hash is None:
            request = b"M" + message
        else:
            request = b"H" + body_hash + split_message(message)[0]
        try:
            header = child.header(request)
        except SigningFailed as exc:
            with self._lock:
                self._live -= 1
                self.failures.append(str(exc))
            child.close()
            return self.signer.sign(message, body_hash=body_hash)
        self._idle.put(child)
        return header + message

    def _take(self) -> _Child | None:
        """An idle child, or None when none is left alive."""
        while True:
            try:
                return self._idle.get(timeout=0.1)
            except queue.Empty:
                with self._lock:
                    if self._live == 0:
                        return None

    def close(self) -> None:
        """End every child (each finishes the message it signs, if any)."""
        for child in self._children:
            child.close()
        self._children.clear()

    def __enter__(self) -> SigningPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """A signing process: the key's PEM, domain and selector, then messages until EOF."""
    pem, domain, selector = (read_frame(stdin) for _ in range(3))
    if pem is None or domain is None or selector is None:
        return
    try:
        signer: DkimSigner | None = DkimSigner.from_pem(domain.decode(), selector.decode(), pem)
        problem = ""
    except Exception as exc:  # noqa: BLE001 (every message is then answered with why)
        signer, problem = None, f"the key cannot be used: {exc}"
    while (request := read_frame(stdin)) is not None:
        if signer is None:
            write_frame(stdout, b"-" + problem.encode())
            continue
        try:
            if request[:1] == b"H":
                header = signer.header_for(request[33:], request[1:33])
            elif request[:1] == b"M":
                header = signer.header(request[1:])
            else:
                raise ValueError(f"unknown request {request[:1]!r}")
            write_frame(stdout, b"+" + header)
        except Exception as exc:  # noqa: BLE001 (the parent signs this one itself)
            write_frame(stdout, b"-" + f"{type(exc).__name__}: {exc}".encode())


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
