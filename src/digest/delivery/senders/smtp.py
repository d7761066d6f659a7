"""The SMTP sender: one reused connection, reopened after a set number of messages or a drop.

Replies are sorted by what they are about (``digest.delivery.replies``, with the command they
answered): 4xx, timeouts and dropped connections are temporary (worth another attempt), a refusal
of the reader's address is permanent, a refusal of the message, the sender or by the relay is
``refused`` (the send loop stops after a few). A message larger than the server's advertised
``SIZE`` is refused here, before anything is sent. Trouble that would fail every message the same
way (the server unreachable, the login or the TLS certificate refused) raises ``SendError`` so
the send stops instead of marking the whole list as failed.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal

from digest.delivery.replies import Stage, Verdict, classify
from digest.delivery.senders.base import Held
from digest.errors import SendAborted, SendError
from digest.models import Outgoing, SendResult
from digest.settings import SmtpSettings


def tls_context(settings: SmtpSettings, cafile: str | None = None) -> ssl.SSLContext:
    """Certificates are checked unless the configuration explicitly turns that off."""
    context = ssl.create_default_context(cafile=cafile)
    if not settings.verify_certificates:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` is a read that timed out (smtplib reports it as a disconnection)."""
    return isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


class SmtpSender:
    """One SMTP connection (``GatedSender``: ``gate`` runs before each message's end of data)."""

    max_batch = 20

    def __init__(self, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None,
                 connect_attempts: int = 3, retry_delay: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep,
                 local_hostname: str | None = None) -> None:
        self.settings = settings
        self._context = ssl_context if ssl_context is not None else tls_context(settings)
        self._connect_attempts = max(1, connect_attempts)
        self._retry_delay = retry_delay
        self._sleep = sleep
        self._local_hostname = local_hostname
        self._conn: smtplib.SMTP | None = None
        self._used = 0  # messages sent over the current connection
        self.gate: Callable[[], None] | None = None

    @property
    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def send_batch(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        """One result per message, each attempted once (the send loop hands over one at a time
        and stops on a streak of refusals; see ``digest.delivery.refusals``)."""
        results: list[SendResult] = []
        for message in messages:
            try:
                results.append(self._send_one(self._connection(), message))
            except SendError as exc:
                raise SendAborted(exc.reason, results, code=exc.code) from exc
        return results

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None and self._used >= self.settings.messages_per_connection:
            self.close()
        if self._conn is None:
            self._conn = self._connect()
            self._used = 0
        return self._conn

    def _connect(self) -> smtplib.SMTP:
        for attempt in range(1, self._connect_attempts + 1):
            try:
                return self._open()
            except ssl.SSLCertVerificationError as exc:
                raise SendError(f"the TLS certificate of the mail server {self._where} was "
                                f"refused: {exc.verify_message or exc}") from exc
            except smtplib.SMTPAuthenticationError as exc:
                reply = _reply(exc.smtp_code, exc.smtp_error)
                raise SendError(f"the mail server {self._where} refused the login of "
                                f"{self.settings.username!r}: {reply}; check the username and "
                                "password", code=exc.smtp_code) from exc
            except smtplib.SMTPNotSupportedError as exc:
                raise SendError(f"the mail server {self._where} does not support "
                                f"{exc}; check the smtp security setting") from exc
            except (smtplib.SMTPException, OSError) as exc:
                if attempt == self._connect_attempts:
                    raise SendError(f"cannot connect to the mail server {self._where}: {exc} "
                                    f"(tried {attempt} times)") from exc
                self._sleep(self._retry_delay * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        conn: smtplib.SMTP
        if s.security == "ssl":
            conn = smtplib.SMTP_SSL(s.host, s.port, self._local_hostname, timeout=s.timeout,
                                    context=self._context)
        else:
            conn = smtplib.SMTP(s.host, s.port, self._local_hostname, timeout=s.timeout)
        try:
            conn.ehlo()
            if s.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError("STARTTLS")
                conn.starttls(context=self._context)
                conn.ehlo()
            if s.username:
                if not conn.has_extn("auth"):
                    raise smtplib.SMTPNotSupportedError("AUTH (login)")
                conn.login(s.username, s.password or "")
        except BaseException:
            conn.close()
            raise
        return conn

    def _send_one(self, conn: smtplib.SMTP, message: Outgoing) -> SendResult:
        """Hand over one message; a drop or timeout closes the connection for the next one."""
        limit = size_limit(conn)
        if limit and len(message.data) > limit:
            return self._result(message, Verdict("message", "5.3.4"),
                                too_big(len(message.data), limit, self._where))
        options = [f"SIZE={len(message.data)}"] if conn.has_extn("size") else []
        text: bytes | str
        stage: Stage = "mail"
        try:
            code, text = envelope(conn, "mail", message.envelope_from, options)
            if code == 530:
                self._reset(conn, code)
                raise SendError(f"the mail server {self._where} requires a login "
                                f"({_reply(code, text)}); set the smtp username and password",
                                code=code)
            if code < 400:
                stage = "rcpt"
                code, text = envelope(conn, "rcpt", message.recipient)
            if code < 400:
                stage = "data"
                code, text = send_data(conn, message.data, self.gate)
        except Held:  # the server cancels a transaction whose connection closes mid-data
            self._drop()
            raise
        except smtplib.SMTPResponseException as exc:  # data() raises when 354 does not come
            code, text = exc.smtp_code, exc.smtp_error
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            reason = str(exc) or type(exc).__name__
            if stage == "data" and _timed_out(exc):
                return replace(self._result(message, Verdict("temporary"), f"no answer after "
                                            f"the message text: {reason}"), stalled=True)
            return self._result(message, Verdict("temporary"), f"connection lost: {reason}")
        self._used += 1
        reply = _reply(code, text)
        if code >= 400:
            self._reset(conn, code)
        return self._result(message, classify(code, reply.partition(" ")[2], stage), reply)

    def _reset(self, conn: smtplib.SMTP, code: int) -> None:
        """Clear the refused transaction so the connection serves the next message."""
        if code == 421:  # the server is closing the connection
            self._drop()
            return
        try:
            rset_code, _ = conn.rset()
        except (smtplib.SMTPException, OSError):
            rset_code = 0
        if rset_code != 250:
            self._drop()

    @staticmethod
    def _result(message: Outgoing, verdict: Verdict, reply: str) -> SendResult:
        return SendResult(message.delivery_id, verdict.outcome, reply=reply,
                          message_id=message.message_id, kind=verdict.kind)


def size_limit(conn: smtplib.SMTP) -> int | None:
    """The largest message the server takes, in bytes, from its EHLO ``SIZE`` (RFC 1870; 0 or
    no number: no fixed limit)."""
    value = conn.esmtp_features.get("size", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def too_big(size: int, limit: int, where: str) -> str:
    """The plain sentence for a message over the server's SIZE, both sizes in KB."""
    return (f"the issue is {size / 1024:.1f} KB; the mail server {where} accepts at most "
            f"{limit / 1024:.1f} KB (its SIZE limit)")


_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+")


def envelope(conn: smtplib.SMTP, verb: Literal["mail", "rcpt"], address: str,
             options: Sequence[str] = ()) -> tuple[int, bytes]:
    """``MAIL FROM:<address>`` or ``RCPT TO:<address>`` (RFC 5321 4.1.1.2-3) with ESMTP
    ``options``: the server's (code, reply).

    What ``smtplib.SMTP.mail`` / ``rcpt`` send, without parsing an address that is already a
    plain addr-spec (the reader's, checked on import; the envelope sender, from the config):
    that parse (``email.utils.parseaddr``, twice a message) cost more than the exchange.
    Any other address takes smtplib's own way.
    """
    if not _PLAIN_ADDRESS.fullmatch(address):
        return conn.mail(address, options) if verb == "mail" else conn.rcpt(address, options)
    extra = "".join(f" {option}" for option in options) if conn.does_esmtp else ""
    conn.putcmd(verb, f"{'FROM' if verb == 'mail' else 'TO'}:<{address}>{extra}")
    return conn.getreply()


def send_data(conn: smtplib.SMTP, data: bytes,
              gate: Callable[[], None] | None = None) -> tuple[int, bytes]:
    """DATA with the message ``data`` (bytes, CRLF line endings): the server's final reply.

    What ``smtplib.SMTP.data`` does (dot-stuffing per RFC 5321 4.5.2, then CRLF.CRLF), without
    its regular expressions: over a digest of tens of KB they cost more than the whole SMTP
    exchange (``dot_stuffed``).
    ``gate``, if given, is called after the 354 and before the message and its end go out; it
    may raise ``Held`` (the caller then drops the connection).
    Raises ``smtplib.SMTPDataError`` when the server does not answer DATA with 354.
    """
    conn.putcmd("data")
    code, reply = conn.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    data = dot_stuffed(data)
    if gate is not None:
        gate()
    conn.send(data + (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"))
    return conn.getreply()


def dot_stuffed(data: bytes) -> bytes:
    """``data`` with a "." added before every line that starts with one (RFC 5321 4.5.2), so
    no line of the message can end its data early; ``data`` itself when no line does.

    The same as ``re.sub(rb"^\\.", b"..", data, flags=re.MULTILINE)`` (lines end at LF), found
    with ``bytes.find``: the regular expression tries every position of the message.
    """
    pieces = [b"."] if data.startswith(b".") else []
    at = data.find(b"\n.")
    if at < 0 and not pieces:
        return data
    start = 0
    while at >= 0:
        pieces += [data[start:at + 1], b"."]
        start = at + 1
        at = data.find(b"\n.", at + 2)
    pieces.append(data[start:])
    return b"".join(pieces)
