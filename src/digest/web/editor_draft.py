"""The draft for editors: previews at 600 and 375 pixels, light and dark, and as text; make,
edit, send a test copy, approve. The same functions as `digest draft` and `digest approve`."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from digest import app as pipeline
from digest.errors import LockError, SendError, SubscriberError
from digest.issues import drafts
from digest.issues.drafts import DraftError
from digest.issues.render import Renderer
from digest.models import Issue, Recipient
from digest.settings import Settings
from digest.store.lock import run_lock
from digest.subscribers import validate_email
from digest.web.confirmation import send_one
from digest.web.editor import checked_form, editor_session
from digest.web.pages import GMAIL_CLIP_BYTES, Web, dark_variant, message, page, web_of

DONE = {
    "made": "Draft made from the stored posts.",
    "edited": "Draft changed and rendered again: it needs approving again.",
    "unchanged": "Nothing changed: the intro and subject were already those.",
    "approved": "Approved: `digest send` or the next `digest run` sends it.",
    "tested": "Test copy handed to the mail server.",
}


def routes() -> list[BaseRoute]:
    return [
        Route("/editor/draft", draft_page, methods=["GET"]),
        Route("/editor/preview/{issue_id:int}", preview, methods=["GET"]),
        Route("/editor/draft/make", make_post, methods=["POST"]),
        Route("/editor/draft/edit", edit_post, methods=["POST"]),
        Route("/editor/draft/approve", approve_post, methods=["POST"]),
        Route("/editor/draft/test", test_post, methods=["POST"]),
    ]


def as_draft(settings: Settings, issue: Issue, recipient: Recipient) -> pipeline.Draft:
    """The stored issue as previews and test copies take it: its stored bytes, unchanged."""
    return pipeline.Draft(drafts.as_rendered(issue), (), recipient)


def _back(done: str, **extra: str) -> Response:
    return RedirectResponse("/editor/draft?" + urlencode({"done": done, **extra}), 303)


def _refused(request: Request, exc: Exception, status: int = 409) -> Response:
    return message(request, "Not done", f"{exc}. Nothing was changed.", status=status)


async def draft_page(request: Request) -> Response:
    session = editor_session(request)
    if isinstance(session, Response):
        return session
    web = web_of(request)
    with web.store() as store:
        issue = store.open_draft()
    dark = request.query_params.get("dark") == "1"
    context: dict[str, Any] = {"issue": issue, "dark": dark, "csrf": web.guard.csrf_token(session),
               "done": DONE.get(request.query_params.get("done", ""), ""),
               "to": request.query_params.get("to", "")}
    if issue is not None:
        draft = as_draft(web.settings, issue, pipeline.preview_recipient(web.settings))
        html, text = draft.personalised(web.settings.digest.public_url)
        size = len(html.encode("utf-8"))
        context.update(text=text, size_kb=round(size / 1024, 1),
                       clip_kb=GMAIL_CLIP_BYTES // 1024, clipped=size > GMAIL_CLIP_BYTES,
                       intro=issue.plan.intro_markdown if issue.plan else "",
                       short=drafts.short_hash(issue.content_hash),
                       approved=issue.status == "approved")
    return page(request, "draft.html", context)


async def preview(request: Request) -> Response:
    """The stored issue's HTML as the preview recipient gets it, in a sandbox (see EMAIL_CSP)."""
    session = editor_session(request)
    if isinstance(session, Response):
        return session
    web = web_of(request)
    with web.store() as store:
        issue = store.find_issue(int(request.path_params["issue_id"]))
    if issue is None:
        return message(request, "No such issue", "Pick one from the list.", status=404)
    draft = as_draft(web.settings, issue, pipeline.preview_recipient(web.settings))
    html, _ = draft.personalised(web.settings.digest.public_url)
    if request.query_params.get("dark") == "1":
        html = dark_variant(html)
    return Response(html, media_type="text/html; charset=utf-8")


async def make_post(request: Request) -> Response:
    checked = await checked_form(request)
    if isinstance(checked, Response):
        return checked
    web = web_of(request)
    try:
        made = await run_in_threadpool(_make, web)
    except LockError as exc:
        return _refused(request, exc)
    if made is None:
        return message(request, "No draft", "There are no new posts for an issue yet.")
    return _back("made")


def _make(web: Web) -> Issue | None:
    """A draft from the posts already stored (no fetch: `digest draft` fetches first)."""
    settings = web.settings
    with run_lock(settings.store), web.store() as store:
        result = drafts.make_draft(store, functools.partial(pipeline.plan_next, settings),
                                   Renderer(settings.templates), settings.digest, web.clock())
    return None if result is None else result.issue


def _issue_id(form: dict[str, str]) -> int:
    try:
        return int(form.get("issue_id", ""))
    except ValueError as exc:
        raise DraftError("the form names no issue") from exc


async def edit_post(request: Request) -> Response:
    checked = await checked_form(request)
    if isinstance(checked, Response):
        return checked
    _, form = checked
    web = web_of(request)
    try:
        with web.store() as store:
            result = drafts.edit_draft(store, _issue_id(form), Renderer(web.settings.templates),
                                       web.settings.digest, intro=form.get("intro"),
                                       subject=form.get("subject"))
    except DraftError as exc:
        return _refused(request, exc, 400)
    return _back(result.state if result.state in DONE else "edited")


async def approve_post(request: Request) -> Response:
    checked = await checked_form(request)
    if isinstance(checked, Response):
        return checked
    _, form = checked
    web = web_of(request)
    try:
        if not form.get("hash"):
            raise DraftError("the form carries no content hash to approve")
        with web.store() as store:
            drafts.approve(store, _issue_id(form), web.clock(), expected=form["hash"])
    except DraftError as exc:
        return _refused(request, exc)
    return _back("approved")


async def test_post(request: Request) -> Response:
    checked = await checked_form(request)
    if isinstance(checked, Response):
        return checked
    _, form = checked
    web = web_of(request)
    try:
        address = validate_email(form.get("to", "").strip())
        with web.store() as store:
            issue = store.find_issue(_issue_id(form))
        if issue is None:
            raise DraftError("no such issue")
    except (SubscriberError, DraftError) as exc:
        return _refused(request, exc, 400)
    draft = as_draft(web.settings, issue, pipeline.preview_recipient(web.settings, address))
    outgoing = pipeline.test_message(web.settings, draft, web.clock())
    try:
        await run_in_threadpool(send_one, web.sender_factory, outgoing)
    except SendError as exc:
        return _refused(request, exc, 502)
    return _back("tested", to=address)
