"""Real SMTP servers (aiosmtpd) on 127.0.0.1 for tests and benchmarks.

- ``CountingHandler``: accepts everything and counts copies per recipient.
- ``FaultyHandler``: refuses some addresses for good (550), answers 451/421 or drops the connection
  during DATA (before or after keeping the message) on chosen attempts for chosen addresses.
- ``ScriptedHandler``: answers MAIL FROM, RCPT TO or the end of DATA with a reply of your choice
  (a real relay's words: ``552 5.3.4 ...``, ``550 5.7.26 ...``), for every address or some.
- ``SmtpServer``: runs a handler on an ephemeral port in a thread; optional STARTTLS, implicit TLS
  and AUTH (``users``).
- ``SinkProcess``: a counting server in a separate process, so it does not share our GIL.
- ``make_certs``: a test CA and a certificate for localhost / 127.0.0.1 it signed (openssl CLI).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import ssl
import subprocess
import threading
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# aiosmtpd sets its own deprecated attribute on every successful login.
warnings.filterwarnings("ignore", "Session.login_data is deprecated")


class CountingHandler:
    """Accepts every message; counts copies per recipient, keeps them if asked."""

    def __init__(self, *, keep: bool = False) -> None:
        self.keep = keep
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.messages: list[tuple[str, bytes]] = []  # (recipient, content) when keep
        self.total = 0

    def accept(self, envelope: Any) -> None:
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.counts[rcpt] += 1
                self.total += 1
                if self.keep:
                    self.messages.append((rcpt, bytes(envelope.original_content)))

    def snapshot(self) -> Counter[str]:
        with self.lock:
            return Counter(self.counts)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accept(envelope)
        return "250 2.0.0 Ok: queued"


FAULTS = ("451", "421", "drop-before", "drop-after")


class FaultyHandler(CountingHandler):
    """Misbehaves on purpose.

    ``reject``: addresses always refused with ``550 5.1.1 No such user``. ``faults[address]``:
    what happens on that address's 1st, 2nd, ... attempt (one of FAULTS); later attempts succeed.
    ``drop-before`` closes the connection during DATA without keeping the message,
    ``drop-after`` keeps it and then closes without replying (so the sender cannot know).
    """

    def __init__(self, *, reject: Sequence[str] = (),
                 faults: Mapping[str, Sequence[str]] | None = None, keep: bool = False) -> None:
        super().__init__(keep=keep)
        self.reject = set(reject)
        self.faults = {addr: list(plan) for addr, plan in (faults or {}).items()}
        self.attempts: Counter[str] = Counter()
        self.dropped_after: Counter[str] = Counter()  # accepted, then the connection dropped

    def _fault(self, address: str) -> str | None:
        with self.lock:
            n = self.attempts[address]
            self.attempts[address] += 1
        plan = self.faults.get(address, [])
        return plan[n] if n < len(plan) else None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.reject:
            return "550 5.1.1 No such user"
        fault = self._fault(address)
        if fault == "451":
            return "451 4.3.0 Try again later"
        if fault == "421":
            asyncio.get_running_loop().call_soon(server.transport.close)
            return "421 4.7.0 Too busy, closing connection"
        envelope.rcpt_tos.append(address)
        session.digest_fault = fault
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fault = getattr(session, "digest_fault", None)
        session.digest_fault = None
        if fault == "drop-after":
            self.accept(envelope)
            with self.lock:
                for rcpt in envelope.rcpt_tos:
                    self.dropped_after[rcpt] += 1
        if fault in ("drop-before", "drop-after"):
            server.transport.abort()  # no reply reaches the client
            return "451 4.3.0 (never sent)"
        self.accept(envelope)
        return "250 2.0.0 Ok: queued"


class ScriptedHandler(CountingHandler):
    """Answers one stage ("mail", "rcpt" or "data") with ``reply`` (a full reply line such as
    ``"552 5.3.4 Message size exceeds fixed maximum message size"``), for the addresses in
    ``only`` (every address when empty); everything else is accepted and counted."""

    def __init__(self, stage: str, reply: str, *, only: Sequence[str] = ()) -> None:
        super().__init__()
        self.stage, self.reply, self.only = stage, reply, set(only)
        self.answered = 0  # times the scripted reply was given

    def _applies(self, address: str) -> bool:
        return not self.only or address in self.only

    def _answer(self) -> str:
        with self.lock:
            self.answered += 1
        return self.reply

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          mail_options: list[str]) -> str:
        if self.stage == "mail":
            return self._answer()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.stage == "rcpt" and self._applies(address):
            return self._answer()
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.stage == "data" and any(self._applies(a) for a in envelope.rcpt_tos):
            return self._answer()
        self.accept(envelope)
        return "250 2.0.0 Ok: queued"


class SmtpServer:
    """A handler served on 127.0.0.1:<ephemeral port> by a thread; use as a context manager."""

    def __init__(self, handler: Any, *, starttls: ssl.SSLContext | None = None,
                 require_starttls: bool = False, implicit_tls: ssl.SSLContext | None = None,
                 users: Mapping[str, str] | None = None, auth_require_tls: bool = True,
                 size_limit: int | None = 33554432) -> None:
        self.handler = handler
        self.host = "127.0.0.1"
        self.port = 0
        self._options: dict[str, Any] = {
            "tls_context": starttls, "require_starttls": require_starttls,
            "auth_required": bool(users), "auth_require_tls": auth_require_tls,
            "authenticator": _authenticator(users) if users else None,
            "hostname": "digest-test", "decode_data": False,
            # advertised as SIZE in EHLO (aiosmtpd's default); None: no SIZE at all
            "data_size_limit": size_limit,
        }
        self._implicit_tls = implicit_tls
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self.connections = 0  # connections accepted so far

    def stop_listening(self) -> None:
        """Refuse new connections from now on; open ones carry on. Callable from a handler."""
        def close() -> None:
            assert self._server is not None
            self._server.close()

        self._loop.call_soon_threadsafe(close)

    def __enter__(self) -> SmtpServer:
        def factory() -> SMTP:
            self.connections += 1
            with warnings.catch_warnings():  # tests of login failures skip TLS on purpose
                warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
                return SMTP(self.handler, loop=self._loop, **self._options)

        self._server = self._loop.run_until_complete(self._loop.create_server(
            factory, host=self.host, port=0, ssl=self._implicit_tls))
        self.port = self._server.sockets[0].getsockname()[1]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            current = asyncio.current_task()
            sessions = [t for t in asyncio.all_tasks() if t is not current]
            for task in sessions:
                task.cancel()
            await asyncio.gather(*sessions, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


def _authenticator(users: Mapping[str, str]) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str,
              auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            ok = users.get(login) == auth_data.password.decode("utf-8", "replace")
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)

    return check


def _sink_main(conn: Connection) -> None:
    handler = CountingHandler()
    with SmtpServer(handler) as server:
        conn.send(server.port)
        while True:
            request = conn.recv()
            if request == "counts":
                conn.send(dict(handler.snapshot()))
            elif request == "total":
                conn.send(handler.total)
            else:
                conn.send(None)
                return


class SinkProcess:
    """A counting SMTP server in its own process: ``port``, ``total()``, ``counts()``."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_sink_main, args=(child,), daemon=True)
        self.host = "127.0.0.1"
        self.port = 0

    def __enter__(self) -> SinkProcess:
        self._process.start()
        if not self._conn.poll(30):
            raise RuntimeError("the SMTP sink process did not start")
        self.port = self._conn.recv()
        return self

    def _ask(self, request: str) -> Any:
        self._conn.send(request)
        return self._conn.recv()

    def total(self) -> int:
        return int(self._ask("total"))

    def counts(self) -> Counter[str]:
        return Counter(self._ask("counts"))

    def __exit__(self, *exc: object) -> None:
        if self._process.is_alive():
            self._ask("stop")
        self._process.join(timeout=10)


@dataclass(frozen=True)
class Certs:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_certs(folder: Path, names: Sequence[str] = ("DNS:localhost", "IP:127.0.0.1")) -> Certs:
    """A throwaway CA, and a certificate it signed for ``names`` (subjectAltName entries)."""
    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    (folder / "leaf.ext").write_text(
        f"subjectAltName={','.join(names)}\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
            "ca.pem", "-days", "2", "-subj", "/CN=digest test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
            "-subj", "/CN=localhost")
    openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")
    return Certs(folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key")
