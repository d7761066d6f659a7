"""Editor pages: login and logout, and the list of issues with their delivery counts. The draft's
own pages are in ``editor_draft``. Everything under /editor/ needs the editor's credentials."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from digest import app
from digest.web.pages import form_of, message, page, web_of
from digest.web.security import (
    SESSION_COOKIE,
    SESSION_HOURS,
    Refused,
    Session,
    client_ip,
    safe_next,
)


def routes() -> list[BaseRoute]:
    return [
        Route("/editor/login", login_page, methods=["GET"]),
        Route("/editor/login", login_post, methods=["POST"]),
        Route("/editor/logout", logout_post, methods=["POST"]),
        Route("/editor/", issues_page, methods=["GET"]),
        Route("/editor", lambda request: RedirectResponse("/editor/", 307)),
    ]


def editor_session(request: Request) -> Session | Response:
    """The editor's session, or the response refusing the request: a browser is sent to the
    login page, anything else (a script, a form POST) gets 401, and a client with too many
    wrong tokens 429."""
    session = web_of(request).guard.session(request)
    if isinstance(session, Session):
        return session
    if session is Refused.LIMITED:
        return _too_many(request)
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        target = "/editor/login?" + urlencode({"next": request.url.path})
        return RedirectResponse(target, 303)
    return message(request, "Log in first", "These pages are for the editors.", status=401)


def _too_many(request: Request) -> Response:
    return message(request, "Too many attempts",
                   "Too many wrong editor tokens came from here. Try again in an hour.",
                   status=429)


async def checked_form(request: Request) -> tuple[Session, dict[str, str]] | Response:
    """An editor's POST: credentials first, then the form's CSRF token (403 when wrong)."""
    session = editor_session(request)
    if isinstance(session, Response):
        return session
    form = await form_of(request)
    if not web_of(request).guard.csrf_ok(session, form.get("csrf")):
        return message(request, "Form expired",
                       "This form is out of date or did not come from these pages; nothing "
                       "was changed. Go back, reload the page and try again.", status=403)
    return session, form


async def login_page(request: Request) -> Response:
    web = web_of(request)
    if not web.guard.editor_token:
        return _no_token(request)
    return page(request, "login.html", {"next": safe_next(request.query_params.get("next")),
                                        "error": ""})


async def login_post(request: Request) -> Response:
    web = web_of(request)
    if not web.guard.editor_token:
        return _no_token(request)
    form = await form_of(request)
    target = safe_next(form.get("next"))
    refused = await run_in_threadpool(web.guard.present, client_ip(request),
                                      form.get("token", ""))
    if refused is Refused.LIMITED:
        return _too_many(request)
    if refused is not None:
        return page(request, "login.html", {"next": target, "error": "That is not the editor "
                                            "token."}, status=401)
    _, cookie = await run_in_threadpool(web.guard.new_session)
    response = RedirectResponse(target, 303)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=SESSION_HOURS * 3600, httponly=True,
                        samesite="strict", secure=web.base_url.startswith("https:"),
                        path="/editor")
    return response


async def logout_post(request: Request) -> Response:
    checked = await checked_form(request)
    if isinstance(checked, Response):
        return checked
    await run_in_threadpool(web_of(request).guard.end, checked[0])
    response = RedirectResponse("/editor/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/editor")
    return response


def _no_token(request: Request) -> Response:
    return message(request, "Editor pages are off",
                   "Set the environment variable DIGEST_EDITOR_TOKEN for `digest serve` to use "
                   "them.", status=403)


async def issues_page(request: Request) -> Response:
    session = editor_session(request)
    if isinstance(session, Response):
        return session
    web = web_of(request)
    summaries = app.issue_summaries(web.settings)[::-1]  # newest first, as the page says
    draft = app.open_draft(web.settings)
    return page(request, "issues.html", {"issues": summaries, "draft": draft,
                                         "csrf": web.guard.csrf_token(session)})
