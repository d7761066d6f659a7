"""Pages for readers: unsubscribe (GET asks, POST acts, RFC 8058 one-click), subscribe with double
opt-in, and the web version of each sent issue.

Mail scanners fetch every link in a message, so no GET here changes anything: following an
unsubscribe or confirmation link shows a button, and only the button's POST acts. The signed
token in the link is what authorises the POST, so it needs no cookie, login or CSRF token.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from digest import app
from digest.errors import SubscriberError, TokenError
from digest.subscribers import clean_name, email_key, validate_email
from digest.web.pages import form_of, message, page, unsubscribe_path, web_of
from digest.web.security import client_ip

ONE_CLICK = "One-Click"
_SAME_ANSWER = ("If that address can subscribe, a message with a confirmation link is on its way "
                "to it. Open the link within 48 hours to start receiving the digest.")


def routes(unsubscribe_at: str) -> list[BaseRoute]:
    return [
        Route("/", lambda request: RedirectResponse("/subscribe", 303)),
        Route(unsubscribe_at, unsubscribe_page, methods=["GET"]),
        Route(unsubscribe_at, unsubscribe_post, methods=["POST"]),
        Route("/subscribe", subscribe_page, methods=["GET"]),
        Route("/subscribe", subscribe_post, methods=["POST"]),
        Route("/subscribe/confirm", confirm_page, methods=["GET"]),
        Route("/subscribe/confirm", confirm_post, methods=["POST"]),
        Route("/issues/{issue_id:rowid}", issue_page, methods=["GET"]),
        Route("/issues/{content:str}", issue_page, methods=["GET"]),
    ]


async def unsubscribe_page(request: Request) -> Response:
    token = request.query_params.get("token", "")
    if not token:
        return message(request, "Unsubscribe",
                       "To leave the list, follow the unsubscribe link at the bottom of any "
                       "message from us: it names your subscription.")
    web = web_of(request)
    try:
        reader = app.reader_of(web.settings, token, web.clock())
    except TokenError:
        return _bad_link(request)
    return page(request, "unsubscribe.html", {"token": token, "email": reader.email,
                                              "already": reader.status == "unsubscribed"})


async def unsubscribe_post(request: Request) -> Response:
    form = await form_of(request)
    one_click = form.get("List-Unsubscribe") == ONE_CLICK
    token = request.query_params.get("token") or form.get("token", "")
    web = web_of(request)
    try:
        left = app.unsubscribe(web.settings, token, web.clock())
    except TokenError:
        if one_click:
            return PlainTextResponse("This unsubscribe link is not valid.", status_code=400)
        return _bad_link(request)
    if one_click:
        return PlainTextResponse(f"{left.subscriber.email} is unsubscribed.")
    return page(request, "unsubscribed.html", {"email": left.subscriber.email})


def _bad_link(request: Request) -> Response:
    return message(request, "This link is not valid",
                   "The link is incomplete, altered or from another list, so nothing was "
                   "changed. Copy the whole link from the message, or reply to the message and "
                   "ask to be removed.", status=400)


async def subscribe_page(request: Request) -> Response:
    return page(request, "subscribe.html", {"email": "", "name": "", "error": ""})


async def subscribe_post(request: Request) -> Response:
    web = web_of(request)
    form = await form_of(request)
    email, name = form.get("email", "").strip(), clean_name(form.get("name", ""))
    try:
        address = validate_email(email)
    except SubscriberError as exc:
        return page(request, "subscribe.html", {"email": email, "name": name, "error": str(exc)},
                    status=400)
    if not web.subscribe_ip.allow(client_ip(request)) or not web.subscribe_address.allow(
            email_key(address)):
        return message(request, "Too many requests",
                       "Too many subscription requests came from here or for this address. "
                       "Please try again in an hour.", status=429)
    # Queued, whoever the address belongs to: the mail goes out from the worker thread, so
    # the answer and its timing are the same for every address.
    await run_in_threadpool(app.request_subscription, web.settings, address, name,
                            web.base_url, web.clock())
    if web.mail_worker is not None:
        web.mail_worker.wake()
    # The same answer whether the address is new, active or gone: nobody learns who is listed.
    return message(request, "Check your inbox", _SAME_ANSWER)


async def confirm_page(request: Request) -> Response:
    web = web_of(request)
    email, token = request.query_params.get("e", ""), request.query_params.get("token", "")
    try:
        app.check_confirmation(web.settings, email, token, web.clock())
    except TokenError:
        return _expired(request)
    return page(request, "confirm.html", {"email": email, "token": token})


async def confirm_post(request: Request) -> Response:
    web = web_of(request)
    form = await form_of(request)
    email, token = form.get("e", ""), form.get("token", "")
    try:
        confirmed = app.confirm_subscription(web.settings, email, token, web.clock())
    except TokenError:
        return _expired(request)
    if confirmed == "subscribed":
        # A welcome that cannot go now waits in the store for the next run.
        await run_in_threadpool(app.send_welcomes, web.settings, web.deps)
    return page(request, "subscribed.html", {"email": email})


def _expired(request: Request) -> Response:
    return message(request, "This confirmation link is not valid",
                   "It is incomplete, expired or already used, so nothing was changed. "
                   "Subscribe again to get a fresh link.", status=400)


async def issue_page(request: Request) -> Response:
    web = web_of(request)
    if "issue_id" in request.path_params:
        issue = app.published_issue(web.settings, issue_id=int(request.path_params["issue_id"]))
    else:  # the "view in browser" link names the issue by its content hash
        issue = app.published_issue(web.settings, content=str(request.path_params["content"]))
    if issue is None:
        return message(request, "No such issue", "There is no published issue with this number.",
                       status=404)
    # Links come from the configured address, never from the request: its Host header and
    # query are the visitor's to choose.
    canonical = web.link(f"/issues/{issue.content_hash[:12]}" if issue.content_hash
                         else f"/issues/{issue.id}")
    html = app.web_version(web.settings, issue, web.link(unsubscribe_path(web.settings)),
                           canonical)
    return Response(html, media_type="text/html; charset=utf-8")
