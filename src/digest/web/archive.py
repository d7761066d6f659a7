"""The archive for readers: /issues (every sent issue, newest first), /issues/latest and
/issues.atom (an Atom feed of the sent issues). Each issue's own page is in ``public``."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from digest import app
from digest.web.pages import message, page, web_of

ATOM = "application/atom+xml; charset=utf-8"


def routes() -> list[BaseRoute]:
    """Before ``public``'s /issues/{content}, which would take "latest" for a content hash."""
    return [
        Route("/issues", archive_page, methods=["GET"]),
        Route("/issues/latest", latest_issue, methods=["GET"]),
        Route("/issues.atom", atom_feed, methods=["GET"]),
    ]


async def archive_page(request: Request) -> Response:
    web = web_of(request)
    issues = await run_in_threadpool(app.archive, web.settings)
    return page(request, "archive.html", {"issues": issues, "feed_url": web.link("/issues.atom")})


async def latest_issue(request: Request) -> Response:
    """A redirect to the newest issue's page, so the address a reader keeps stays current."""
    web = web_of(request)
    newest = await run_in_threadpool(app.latest, web.settings)
    if newest is None:
        return message(request, "No issues yet", "The first issue has not been sent yet.",
                       status=404)
    return RedirectResponse(f"/issues/{newest.id}", 307, headers={"Cache-Control": "no-cache"})


async def atom_feed(request: Request) -> Response:
    web = web_of(request)
    issues = await run_in_threadpool(app.archive, web.settings)
    xml = app.atom_feed(web.settings, issues, web.base_url, web.clock())
    return Response(xml, media_type=ATOM, headers={"Cache-Control": "max-age=600"})
