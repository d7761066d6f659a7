"""POST /webhooks/{provider}: mail providers report bounces, complaints and unsubscribes here.

``digest.subscribers.webhooks.parse_post`` proves the post came from the provider and reads its
events; ``digest.app.apply_provider_events`` records them. This module only reads the request
(with a size cap, before anything is parsed) and answers with the status the checks call for:
providers retry on 5xx, so a refused post gets 4xx.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from digest import app
from digest.errors import WebhookError
from digest.settings import Settings
from digest.subscribers.webhooks import MAX_BODY, WebhookSecrets, parse_post
from digest.web.pages import web_of


def webhook_routes(settings: Settings) -> list[BaseRoute]:
    secrets = WebhookSecrets.from_settings(settings)

    async def receive(request: Request) -> Response:
        provider = str(request.path_params["provider"])
        body = await _capped_body(request)
        if body is None:
            return PlainTextResponse(f"body over {MAX_BODY} bytes", status_code=413)
        web = web_of(request)
        try:
            post = parse_post(provider, request.headers, body, secrets, now=web.clock())
            report = await run_in_threadpool(app.apply_provider_events, web.settings, post,
                                             web.clock())
        except WebhookError as exc:
            return PlainTextResponse(exc.reason, status_code=exc.status)
        return PlainTextResponse(f"{len(report.changed)} changed, {report.unchanged} unchanged, "
                                 f"{report.unknown} unknown")

    return [Route("/webhooks/{provider}", receive, methods=["POST"])]


async def _capped_body(request: Request) -> bytes | None:
    """The body, or None once it grows past MAX_BODY (read no further than that)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
