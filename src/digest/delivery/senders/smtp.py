"""The SMTP sender: one reused connection, reopened after a set number of messages or a drop.

Replies are sorted the way the ledger needs them: 4xx, timeouts and dropped connections are
temporary (worth another attempt), 5xx to a recipient or to the message is permanent. Trouble that
would fail every message the same way (the server unreachable, the login or the TLS certificate
refused, the sender address refused) raises ``SendError`` so the send stops instead of marking the
whole list as failed.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from digest.errors import SendAborted, SendError
from digest.models import Outgoing, SendOutcome, SendResult
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

    @property
    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def send_batch(self, messages: Sequence[Outgoing]) -> list[SendResult]:
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
        options = [f"SIZE={len(message.data)}"] if conn.has_extn("size") else []
        text: bytes | str
        in_data = False
        try:
            code, text = conn.mail(message.envelope_from, options)
            if code >= 500:
                self._reset(conn, code)
                raise SendError(self._sender_refused(message, code, text), code=code)
            if code < 400:
                code, text = conn.rcpt(message.recipient)
            if code < 400:
                in_data = True
                code, text = conn.data(message.data)
        except smtplib.SMTPResponseException as exc:  # data() raises when 354 does not come
            code, text = exc.smtp_code, exc.smtp_error
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            reason = str(exc) or type(exc).__name__
            if in_data and _timed_out(exc):
                return replace(self._result(message, "temporary", f"no answer after the "
                                            f"message text: {reason}"), stalled=True)
            return self._result(message, "temporary", f"connection lost: {reason}")
        self._used += 1
        if code < 400:
            return self._result(message, "sent", _reply(code, text))
        self._reset(conn, code)
        outcome: SendOutcome = "permanent" if code >= 500 else "temporary"
        return self._result(message, outcome, _reply(code, text))

    def _sender_refused(self, message: Outgoing, code: int, text: bytes | str) -> str:
        if code == 530:
            return (f"the mail server {self._where} requires a login ({_reply(code, text)}); "
                    "set the smtp username and password")
        return (f"the mail server {self._where} refused the sender address "
                f"{message.envelope_from}: {_reply(code, text)}")

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
    def _result(message: Outgoing, outcome: SendOutcome, reply: str) -> SendResult:
        return SendResult(message.delivery_id, outcome, reply=reply,
                          message_id=message.message_id)
