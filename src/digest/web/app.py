"""The ASGI app: reader pages, editor pages and (when present) mail provider webhooks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digest.delivery.senders import SenderFactory
from digest.errors import ConfigError
from digest.settings import Settings
from digest.web import editor, editor_draft, public
from digest.web.hooks import webhook_routes
from digest.web.pages import STATIC, Limits, Web, unsubscribe_path
from digest.web.security import Guard, security_headers


def create_app(settings: Settings, sender_factory: SenderFactory, *, editor_token: str | None,
               base_url: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
               limits: Limits | None = None) -> Starlette:
    """The web app for ``settings``. ``base_url`` is where links in emails point (the
    configured digest.public_url, else the address the server listens on)."""
    if settings.secret is None:
        raise ConfigError("set the environment variable DIGEST_SECRET: it signs unsubscribe "
                          "and confirmation links and editor sessions")
    web = Web(settings=settings, guard=Guard(settings.secret, editor_token or None, clock),
              sender_factory=sender_factory, clock=clock, base_url=base_url,
              limits=limits or Limits())
    routes: list[BaseRoute] = [
        Route("/static/site.css", _css),
        *public.routes(unsubscribe_path(settings)),
        *editor.routes(),
        *editor_draft.routes(),
        *webhook_routes(settings),
    ]
    app = Starlette(routes=routes)
    app.state.web = web
    app.add_middleware(_Headers)
    return app


async def _css(request: Request) -> Response:
    return Response((STATIC / "site.css").read_text(encoding="utf-8"), media_type="text/css",
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
