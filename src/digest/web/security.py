"""What keeps the web pages safe: editor sessions, CSRF tokens, local-only redirects, rate limits
and the response headers every page carries.

- An editor proves themselves with ``DIGEST_EDITOR_TOKEN``: typed into the login form (which sets
  a signed, expiring, HttpOnly, SameSite=Strict session cookie) or sent as
  ``Authorization: Bearer TOKEN`` by a script.
- Every editor form carries a CSRF token: an HMAC of the session's random id, so a page on another
  site can neither read nor forge it. Bearer requests need none: a browser never adds that header
  on its own.
- Rate limits are counted in memory, per process: a restart forgets them, which is fine for
  throttling a form.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from starlette.requests import Request

from digest.errors import TokenError
from digest.mail import tokens

SESSION_COOKIE = "digest_editor"
SESSION_PURPOSE = "editor-session"
CSRF_PURPOSE = "editor-csrf"
SESSION_HOURS = 12
EDITOR_TOKEN_ENV = "DIGEST_EDITOR_TOKEN"

# The email and its preview are the only foreign HTML served; everything else is our own markup.
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'")
# Email HTML: inline styles and remote images, never scripts, forms or plugins; in a sandbox.
EMAIL_CSP = ("sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
             "style-src 'unsafe-inline'; img-src https: http: data:; font-src https:; "
             "form-action 'none'; base-uri 'none'")


@dataclass(frozen=True)
class Session:
    nonce: str  # random per login; the CSRF token is derived from it
    bearer: bool = False  # authorised by an Authorization header: no CSRF needed


class Guard:
    """Checks editor credentials and CSRF tokens with the server's secrets."""

    def __init__(self, secret: bytes, editor_token: str | None,
                 clock: Callable[[], datetime]) -> None:
        self.secret = secret
        self.editor_token = editor_token
        self.clock = clock

    def token_matches(self, given: str) -> bool:
        if not self.editor_token:
            return False
        return hmac.compare_digest(given.encode("utf-8"), self.editor_token.encode("utf-8"))

    def new_session(self) -> tuple[Session, str]:
        """A fresh session and the signed cookie value carrying it."""
        nonce = secrets.token_urlsafe(18)
        value = tokens.sign(self.secret, SESSION_PURPOSE, {"n": nonce},
                            expires_at=self.clock() + timedelta(hours=SESSION_HOURS))
        return Session(nonce), value

    def session(self, request: Request) -> Session | None:
        """The editor's session: a valid cookie or a matching bearer token; None otherwise."""
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and given:
            return Session("bearer", bearer=True) if self.token_matches(given.strip()) else None
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie or not self.editor_token:
            return None
        try:
            payload = tokens.verify(self.secret, SESSION_PURPOSE, cookie, now=self.clock())
        except TokenError:
            return None
        nonce = payload.get("n")
        return Session(nonce) if isinstance(nonce, str) else None

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
    return request.client.host if request.client else "unknown"


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
