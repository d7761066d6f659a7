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
and the header, or ``-`` and why it could not sign. A child that fails, ends or gives no answer in
``ANSWER_TIMEOUT`` seconds is retired, and its thread here signs in-process from then on:
nothing goes out unsigned, only slower, and a stuck child never holds the send up. A child reads
until its stdin closes, so it ends with the pool, or with the parent if that is killed.
"""

from __future__ import annotations

import contextlib
import queue
import select
import struct
import subprocess
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import IO

from cryptography.hazmat.primitives import serialization

from digest.mail.dkim import DkimSigner, split_message

_LENGTH = struct.Struct(">I")
# Seconds a signing process may take to answer one request (it takes about a millisecond): one
# that says nothing for this long (stopped, swapped out, stuck) is retired like one that ended,
# so a send never waits on it for ever.
ANSWER_TIMEOUT = 10.0


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

    def __init__(self, signer: DkimSigner, pem: bytes, timeout: float = ANSWER_TIMEOUT) -> None:
        self.timeout = timeout
        self.proc = subprocess.Popen(
            # -P: the current folder is not put on the child's path, so a folder there named
            # like a module (a user's own "digest", say) cannot stand in for ours.
            [sys.executable, "-P", "-m", "digest.mail.dkim_pool"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[bytes] = self.proc.stdin
        self.stdout: IO[bytes] = self.proc.stdout
        for part in (pem, signer.domain.encode("ascii"), signer.selector.encode("ascii")):
            write_frame(self.stdin, part)

    def header(self, request: bytes) -> bytes:
        """The DKIM-Signature header for a request (see the module doc); raises
        SigningFailed, also when no answer starts within ``timeout`` seconds."""
        try:
            write_frame(self.stdin, request)
            ready, _, _ = select.select([self.stdout], [], [], self.timeout)
            if not ready:
                self.proc.kill()
                raise SigningFailed(f"the signing process gave no answer in {self.timeout:g} s")
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
    """``signer`` run in ``processes`` child processes.

    ``submit`` queues a message and returns a future of its signed bytes, so signing runs
    ahead of the sending (the send loop submits each message as it queues it); calling the
    pool signs one message and waits for it, like ``DkimSigner.sign``. Each child has a
    thread here that takes the next message, writes it to the child and reads the answer; a
    child that gives no answer within ``timeout`` seconds is killed and retired.
    Use it as a context manager, or ``close`` it: the children end when their stdin closes.
    """

    def __init__(self, signer: DkimSigner, processes: int,
                 timeout: float = ANSWER_TIMEOUT) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, got {processes}")
        self.signer = signer
        pem = signer.key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
        self._requests: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self.processes: list[subprocess.Popen[bytes]] = []  # the children, as started
        self.failures: list[str] = []  # why children were retired, in order
        for number in range(processes):
            child: _Child | None = None
            try:
                child = _Child(signer, pem, timeout)
                self.processes.append(child.proc)
            except OSError as exc:  # cannot start a process here: sign in-process
                self.failures.append(f"cannot start a signing process: {exc}")
            thread = threading.Thread(target=self._serve, args=(child,), daemon=True,
                                      name=f"digest-dkim-{number}")
            thread.start()
            self._threads.append(thread)

    def submit(self, message: bytes, *, body_hash: bytes | None = None) -> Future[bytes]:
        """A future of ``message`` (CRLF line endings) with a DKIM-Signature header in front;
        ``body_hash``: ``digest.mail.canonical.body_hash`` of its body, if already known."""
        future: Future[bytes] = Future()
        self._requests.put(_Request(message, body_hash, future))
        return future

    def __call__(self, message: bytes, *, body_hash: bytes | None = None) -> bytes:
        """``message`` signed, as ``submit`` signs it, waiting for it."""
        return self.submit(message, body_hash=body_hash).result()

    def _serve(self, child: _Child | None) -> None:
        """One child's thread: requests until ``close``; a failed child is retired and its
        thread signs in-process from then on."""
        while (request := self._requests.get()) is not None:
            try:
                if child is not None:
                    try:
                        header = child.header(request.encoded())
                    except SigningFailed as exc:
                        self.failures.append(str(exc))
                        child.close()
                        child = None
                if child is None:
                    header = self.signer.header(request.message, body_hash=request.body_hash)
                request.future.set_result(header + request.message)
            except BaseException as exc:  # noqa: BLE001 (the caller gets it from the future)
                request.future.set_exception(exc)
        if child is not None:
            child.close()

    def close(self) -> None:
        """Sign what was submitted, then end every child."""
        for _ in self._threads:
            self._requests.put(None)
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def __enter__(self) -> SigningPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class _Request:
    message: bytes
    body_hash: bytes | None
    future: Future[bytes]

    def encoded(self) -> bytes:
        """The request's frame payload (see the module doc)."""
        if self.body_hash is None:
            return b"M" + self.message
        return b"H" + self.body_hash + split_message(self.message)[0]


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
