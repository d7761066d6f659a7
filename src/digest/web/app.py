"""The ASGI app: reader pages, editor pages and (when present) mail provider webhooks."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from digest.app import confirmations as app_confirmations
from digest.app import sessions as app_sessions
from digest.delivery.senders import SenderFactory
from digest.errors import ConfigError
from digest.settings import Settings
from digest.web import archive, editor, editor_draft, public
from digest.web.hooks import webhook_routes
from digest.web.mailworker import MailWorker, lifespan_with
from digest.web.pages import Limits, Web, site_css, unsubscribe_path, web_of
from digest.web.security import Guard, RateLimiter, security_headers


def create_app(settings: Settings, sender_factory: SenderFactory, *, editor_token: str | None,
               base_url: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
               limits: Limits | None = None,
               forwarded_allow_ips: Sequence[str] | None = None) -> Starlette:
    """The web app for ``settings``. ``base_url`` is where links in emails point (the
    configured digest.public_url, else the address the server listens on).

    ``forwarded_allow_ips``: the proxies (addresses or networks) whose X-Forwarded-For names the
    real client (uvicorn's ProxyHeadersMiddleware); None ignores that header from anyone.
    Raises ``ConfigError`` without DIGEST_SECRET or with an editor token too short to keep."""
    if settings.secret is None:
        raise ConfigError("set the environment variable DIGEST_SECRET: it signs unsubscribe "
                          "and confirmation links and editor sessions")
    limits = limits or Limits()
    guard = Guard(settings, editor_token or None, clock,
                  RateLimiter(limits.logins, limits.window))
    if guard.editor_token:
        app_sessions.end_sessions_of_other_tokens(settings, guard.mark)
    web = Web(settings=settings, guard=guard, sender_factory=sender_factory, clock=clock,
              base_url=base_url, limits=limits)
    web.mail_worker = MailWorker(functools.partial(
        app_confirmations.send_queued_confirmations, settings, web.deps))
    routes: list[BaseRoute] = [
        Route("/static/site.css", _css),
        *archive.routes(),
        *public.routes(unsubscribe_path(settings)),
        *editor.routes(),
        *editor_draft.routes(),
        *webhook_routes(settings),
    ]
    app = Starlette(routes=routes, lifespan=lifespan_with(web.mail_worker))
    app.state.web = web
    app.add_middleware(_Headers)
    if forwarded_allow_ips is not None:
        # Outermost: the client address is the real one before anything reads it.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(forwarded_allow_ips))
    return app


async def _css(request: Request) -> Response:
    return Response(site_css(web_of(request).settings), media_type="text/css",
                    headers={"Cache-Control": "max-age=3600"})


class _Headers:
    """Adds the security headers (security.security_headers) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                kind = next((v.decode("latin-1") for k, v in headers if k == b"content-type"), "")
                for name, value in security_headers(path, kind).items():
                    headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
                msg = {**msg, "headers": headers}
            await send(msg)

        await self.app(scope, receive, with_headers)
