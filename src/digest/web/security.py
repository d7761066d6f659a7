"""What keeps the web pages safe: editor sessions, CSRF tokens, local-only redirects, rate limits
and the response headers every page carries.

- An editor proves themselves with ``DIGEST_EDITOR_TOKEN`` (at least 32 characters, refused at
  start otherwise): typed into the login form (which opens a session kept in the store and sets
  a signed, expiring, HttpOnly, SameSite=Strict cookie naming it) or sent as
  ``Authorization: Bearer TOKEN`` by a script. Wrong tokens, however presented, count in one
  limiter per client; right ones never do. Logout and a new editor token end sessions.
- Every editor form carries a CSRF token: an HMAC of the session's random id, so a page on another
  site can neither read nor forge it. Bearer requests need none: a browser never adds that header
  on its own.
- Rate limits are counted in memory, per process: a restart forgets them, which is fine for
  throttling a form. They key on the client's address: behind a proxy, on the address the
  proxy names in X-Forwarded-For, and only when the request comes from a trusted proxy
  (``digest serve --proxy-headers --forwarded-allow-ips``); otherwise that header is ignored.
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from urllib.parse import urlsplit

from starlette.requests import Request

from digest.app import sessions
from digest.config.signing import EDITOR_TOKEN_ENV, editor_token_problem
from digest.errors import ConfigError, TokenError
from digest.mail import tokens
from digest.settings import Settings

SESSION_COOKIE = "digest_editor"
SESSION_PURPOSE = "editor-session"
CSRF_PURPOSE = "editor-csrf"
SESSION_HOURS = 12
__all__ = ["EDITOR_TOKEN_ENV", "Guard", "RateLimiter", "Refused", "Session", "client_ip",
           "is_loopback", "safe_next", "security_headers", "trusted_proxies"]

# The email and its preview are the only foreign HTML served; everything else is our own markup.
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'")
# Email HTML: inline styles and remote images, never scripts, forms or plugins; in a sandbox.
EMAIL_CSP = ("sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
             "style-src 'unsafe-inline'; img-src https: http: data:; font-src https:; "
             "form-action 'none'; base-uri 'none'")


@dataclass(frozen=True)
class Session:
    nonce: str  # random per login (the session id); the CSRF token is derived from it
    bearer: bool = False  # authorised by an Authorization header: no CSRF needed


class Refused(Enum):
    """Why credentials were refused: none given or wrong (401), or too many wrong ones (429)."""

    MISSING = "missing"
    WRONG = "wrong"
    LIMITED = "limited"


class Guard:
    """Checks editor credentials and CSRF tokens with the server's secrets.

    Every way of presenting the token (the login form, ``Authorization: Bearer``) goes through
    ``present``, which counts wrong tokens per client in one limiter: a client past the limit is
    refused without the token being compared, and a right token never counts, so guessing
    cannot lock the real editor out once they are logged in, and a login never locks them out.
    Sessions live in the store (``digest.app.sessions``)."""

    def __init__(self, settings: Settings, editor_token: str | None,
                 clock: Callable[[], datetime], failures: RateLimiter) -> None:
        if settings.secret is None:
            raise ConfigError("set the environment variable DIGEST_SECRET: it signs unsubscribe "
                              "and confirmation links and editor sessions")
        problem = editor_token_problem(editor_token)
        if problem:
            raise ConfigError(problem)
        self.settings = settings
        self.secret: bytes = settings.secret
        self.editor_token = editor_token or None
        self.clock = clock
        self.failures = failures
        self.mark = (sessions.token_mark(self.secret, self.editor_token)
                     if self.editor_token else "")

    def present(self, client: str, given: str) -> Refused | None:
        """Check a presented token for ``client``: None when it is the editor token."""
        if not self.editor_token:
            return Refused.MISSING
        if self.failures.full(client):
            return Refused.LIMITED
        if hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                               self.editor_token.encode("utf-8", "surrogateescape")):
            return None
        self.failures.allow(client)
        return Refused.WRONG

    def new_session(self) -> tuple[Session, str]:
        """A fresh session, remembered in the store, and the signed cookie value carrying it."""
        expires = timedelta(hours=SESSION_HOURS)
        nonce = sessions.open_editor_session(self.settings, self.mark, self.clock(), expires)
        value = tokens.sign(self.secret, SESSION_PURPOSE, {"n": nonce},
                            expires_at=self.clock() + expires)
        return Session(nonce), value

    def end(self, session: Session) -> None:
        """Logout: the session is forgotten by the store, so its cookie opens nothing more."""
        if not session.bearer:
            sessions.end_editor_session(self.settings, session.nonce)

    def session(self, request: Request) -> Session | Refused:
        """The editor's session: a matching bearer token, or a signed cookie naming a live
        session opened with the current token; else why not."""
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and given.strip():
            refused = self.present(client_ip(request), given.strip())
            return Session("bearer", bearer=True) if refused is None else refused
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie or not self.editor_token:
            return Refused.MISSING
        try:
            payload = tokens.verify(self.secret, SESSION_PURPOSE, cookie, now=self.clock())
        except TokenError:
            return Refused.MISSING
        nonce = payload.get("n")
        if not isinstance(nonce, str) or not sessions.editor_session_open(
                self.settings, nonce, self.mark, self.clock()):
            return Refused.MISSING
        return Session(nonce)

    def csrf_token(self, session: Session) -> str:
        return tokens.sign(self.secret, CSRF_PURPOSE, {}, context=session.nonce)

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        if session.bearer:
            return True
        if not given:
            return False
        try:
            tokens.verify(self.secret, CSRF_PURPOSE, given, now=self.clock(),
                          context=session.nonce)
        except TokenError:
            return False
        return True


def safe_next(value: str | None, default: str = "/editor/") -> str:
    """A redirect target only if it is a path on this site: never another host, scheme, or a
    protocol-relative ``//host`` (which browsers treat as another site)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ch in value for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


class RateLimiter:
    """At most ``limit`` events per key within ``window`` seconds (a sliding window)."""

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def full(self, key: str) -> bool:
        """Whether ``key`` is at its limit now (nothing is counted)."""
        now = self.clock()
        with self._lock:
            events = self._events.get(key)
            while events and events[0] <= now - self.window:
                events.popleft()
            return events is not None and len(events) >= self.limit

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; False when the key is over its limit (not counted)."""
        now = self.clock()
        with self._lock:
            events = self._events.setdefault(key, deque())
            while events and events[0] <= now - self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            if len(self._events) > 10_000:
                self._forget_idle(now)
            return True

    def _forget_idle(self, now: float) -> None:
        """Bound memory under a flood of distinct keys: drop keys with no recent events."""
        for key in [k for k, v in self._events.items() if not v or v[-1] <= now - self.window]:
            del self._events[key]


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the server reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_ip(request: Request) -> str:
    """The client's address (the real one behind a trusted proxy: see ``trusted_proxies``)."""
    return request.client.host if request.client else "unknown"


def trusted_proxies(value: str) -> list[str]:
    """The comma-separated addresses or networks of ``--forwarded-allow-ips``, checked.

    Raises ``ConfigError`` for an entry that is neither, and for ``*``: trusting every client
    lets anyone choose the address their attempts are counted under."""
    entries = [item.strip() for item in value.split(",") if item.strip()]
    if not entries:
        raise ConfigError("--forwarded-allow-ips names no address; give the proxy's, such as "
                          "127.0.0.1")
    for entry in entries:
        if entry == "*":
            raise ConfigError("--forwarded-allow-ips '*' would trust every client's "
                              "X-Forwarded-For, so anyone could choose the address their "
                              "attempts are counted under; name the proxy's addresses")
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise ConfigError(f"--forwarded-allow-ips: {entry!r} is not an IP address or "
                              "network (such as 127.0.0.1 or 10.0.0.0/8)") from exc
    return entries


def security_headers(path: str, content_type: str) -> dict[str, str]:
    """Headers for every response; email HTML gets its sandbox CSP and may sit in our frames."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        # Unsubscribe and confirmation URLs carry tokens: never leak them to linked sites.
        "Referrer-Policy": "no-referrer",
    }
    if path.startswith("/editor/"):
        headers["Cache-Control"] = "no-store"
    email_html = path.startswith(("/issues/", "/editor/preview"))
    if content_type.startswith("text/html"):
        headers["Content-Security-Policy"] = EMAIL_CSP if email_html else PAGE_CSP
        headers["X-Frame-Options"] = "SAMEORIGIN" if email_html else "DENY"
    return headers
