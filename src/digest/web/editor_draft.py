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

from digest import app
from digest.errors import ConfigError, LockError, SendError, SubscriberError
from digest.issues.drafts import short_hash
from digest.issues.resent import Action
from digest.web.editor import checked_form, editor_session
from digest.web.pages import GMAIL_CLIP_BYTES, dark_variant, message, page, web_of

DONE = {
    "made": "Draft made from the stored posts.",
    "edited": "Draft changed and rendered again: it needs approving again.",
    "unchanged": "Nothing changed: the intro and subject were already those.",
    "approved": "Approved: `digest send` or the next `digest run` sends it.",
    "tested": "Test copy handed to the mail server.",
    "drop": "Posts that looked already sent were dropped for good; the draft was composed again.",
    "sent": "Posts that looked already sent were marked as sent in the issues that had them; "
            "the draft was composed again.",
    "delivered": "Sent, by the same rules as `digest send`.",
}


def routes() -> list[BaseRoute]:
    return [
        Route("/editor/draft", draft_page, methods=["GET"]),
        Route("/editor/preview/{issue_id:rowid}", preview, methods=["GET"]),
        Route("/editor/draft/make", make_post, methods=["POST"]),
        Route("/editor/draft/edit", edit_post, methods=["POST"]),
        Route("/editor/draft/approve", approve_post, methods=["POST"]),
        Route("/editor/draft/test", test_post, methods=["POST"]),
        Route("/editor/draft/already-sent", already_sent_post, methods=["POST"]),
        Route("/editor/draft/send", send_post, methods=["POST"]),
    ]


def _back(done: str, **extra: str) -> Response:
    return RedirectResponse("/editor/draft?" + urlencode({"done": done, **extra}), 303)


def _refused(request: Request, exc: Exception, status: int = 409) -> Response:
    return message(request, "Not done", f"{exc}. Nothing was changed.", status=status)


async def draft_page(request: Request) -> Response:
    session = editor_session(request)
    if isinstance(session, Response):
        return session
    web = web_of(request)
    issue = app.open_draft(web.settings)
    dark = request.query_params.get("dark") == "1"
    context: dict[str, Any] = {"issue": issue, "dark": dark, "csrf": web.guard.csrf_token(session),
               "done": DONE.get(request.query_params.get("done", ""), ""),
               "to": request.query_params.get("to", "")}
    if issue is not None:
        html, text = app.stored_preview(web.settings, issue)
        size = len(html.encode("utf-8"))
        context.update(text=text, size_kb=round(size / 1024, 1),
                       clip_kb=GMAIL_CLIP_BYTES // 1024, clipped=size > GMAIL_CLIP_BYTES,
                       intro=issue.plan.intro_markdown if issue.plan else "",
                       short=short_hash(issue.content_hash),
                       approved=issue.status == "approved",
                       twins=app.looks_already_sent(web.settings, issue))
    return page(request, "draft.html", context)


async def preview(request: Request) -> Response:
    """The stored issue's HTML as the preview recipient gets it, in a sandbox (see EMAIL_CSP)."""
    session = editor_session(request)
    if isinstance(session, Response):
        return session
    web = web_of(request)
    try:
        issue = app.stored_issue(web.settings, int(request.path_params["issue_id"]))
    except ConfigError:
        return message(request, "No such issue", "Pick one from the list.", status=404)
    html, _ = app.stored_preview(web.settings, issue)
    if request.query_params.get("dark") == "1":
        html = dark_variant(html)
    return Response(html, media_type="text/html; charset=utf-8")


async def make_post(request: Request) -> Response:
    checked = await checked_form(request)
    if isinstance(checked, Response):
        return checked
    web = web_of(request)
    try:
        # A draft from the posts already stored (no fetch: `digest draft` fetches first).
        made = await run_in_threadpool(functools.partial(app.draft, web.settings, web.deps,
                                                         fetch=False))
    except LockError as exc:
        return _refused(request, exc)
    if made.result is None:
        return message(request, "No draft", "There are no new posts for an issue yet.")
    return _back("made")


def _issue_id(form: dict[str, str]) -> int:
    try:
        return int(form.get("issue_id", ""))
    except ValueError as exc:
        raise ConfigError("the form names no issue") from exc


async def edit_post(request: Request) -> Response:
    checked = await checked_form(request)
    if isinstance(checked, Response):
        return checked
    _, form = checked
    web = web_of(request)
    try:
        result = app.edit(web.settings, _issue_id(form), intro=form.get("intro"),
                          subject=form.get("subject"))
    except ConfigError as exc:
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
            raise ConfigError("the form carries no content hash to approve")
        app.approve(web.settings, _issue_id(form), web.clock(), expected=form["hash"])
    except ConfigError as exc:
        return _refused(request, exc)
    return _back("approved")


async def test_post(request: Request) -> Response:
    checked = await checked_form(request)
    if isinstance(checked, Response):
        return checked
    _, form = checked
    web = web_of(request)
    try:
        sent = await run_in_threadpool(functools.partial(
            app.send_test, web.settings, web.deps, form.get("to", "").strip(),
            issue_id=_issue_id(form)))
    except (SubscriberError, ConfigError) as exc:
        return _refused(request, exc, 400)
    except SendError as exc:
        return _refused(request, exc, 502)
    if isinstance(sent, app.Next) or not sent.sent:
        reply = sent.why if isinstance(sent, app.Next) else sent.reply
        return _refused(request, SendError(f"the test copy was not accepted: {reply}"), 502)
    return _back("tested", to=sent.address)


_ACTIONS: dict[str, Action] = {"drop": "drop", "sent": "sent"}


async def already_sent_post(request: Request) -> Response:
    """Drop the draft's posts that look already sent, or mark them as sent: one step, the same
    use case as `digest draft --already-sent`."""
    checked = await checked_form(request)
    if isinstance(checked, Response):
        return checked
    _, form = checked
    web = web_of(request)
    action = _ACTIONS.get(form.get("action", ""))
    try:
        if action is None:
            raise ConfigError("the form says neither drop nor sent")
        issue_id = _issue_id(form)
    except ConfigError as exc:
        return _refused(request, exc, 400)
    try:
        settled = await run_in_threadpool(functools.partial(
            app.settle_already_sent, web.settings, web.deps, issue_id, action))
    except (ConfigError, LockError) as exc:  # the draft changed, or a run is composing
        return _refused(request, exc)
    if settled.result is None:
        return message(request, "No draft", "Nothing is left for an issue: "
                       f"{settled.nothing_new}.")
    return _back(action)


async def send_post(request: Request) -> Response:
    """"Send now": the approved draft, exactly as approved (its hash is in the form), through
    the same use case as `digest send`."""
    checked = await checked_form(request)
    if isinstance(checked, Response):
        return checked
    _, form = checked
    web = web_of(request)
    try:
        report = await run_in_threadpool(functools.partial(
            app.send, web.settings, web.deps, retry_failed=False,
            approved=(_issue_id(form), form.get("hash", ""))))
    except (ConfigError, LockError) as exc:
        return _refused(request, exc)
    except SendError as exc:
        return _refused(request, SendError(f"sending stopped: {exc}; unsent messages stay "
                                           "pending for `digest send` or the next run"), 502)
    sent = sum(d.sent for d in report.deliveries)
    failed = sum(d.failed + d.rejected for d in report.deliveries)
    return _back("delivered", to=f"{sent} sent, {failed} not sent")
