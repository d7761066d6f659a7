"""Pages for readers: unsubscribe (GET asks, POST acts, RFC 8058 one-click), subscribe with double
opt-in, and the web version of each sent issue.

Mail scanners fetch every link in a message, so no GET here changes anything: following an
unsubscribe or confirmation link shows a button, and only the button's POST acts. The signed
token in the link is what authorises the POST, so it needs no cookie, login or CSRF token.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from digest.errors import SendError, SubscriberError, TokenError
from digest.issues.drafts import as_rendered
from digest.mail import addressing, fill, tokens
from digest.models import Recipient, Subscriber
from digest.subscribers import clean_name, email_key, validate_email
from digest.web.confirmation import confirmation_message, send_one
from digest.web.pages import form_of, message, page, unsubscribe_path, web_of
from digest.web.security import client_ip

SUBSCRIBE = "subscribe"
CONFIRM_HOURS = 48
ONE_CLICK = "One-Click"
_SAME_ANSWER = ("If that address can subscribe, a message with a confirmation link is on its way "
                "to it. Open the link within 48 hours to start receiving the digest.")
# What the web version of an issue shows where a reader's own values would be.
NEUTRAL_EMAIL = "your address"


def routes(unsubscribe_at: str) -> list[BaseRoute]:
    return [
        Route("/", lambda request: RedirectResponse("/subscribe", 303)),
        Route(unsubscribe_at, unsubscribe_page, methods=["GET"]),
        Route(unsubscribe_at, unsubscribe_post, methods=["POST"]),
        Route("/subscribe", subscribe_page, methods=["GET"]),
        Route("/subscribe", subscribe_post, methods=["POST"]),
        Route("/subscribe/confirm", confirm_page, methods=["GET"]),
        Route("/subscribe/confirm", confirm_post, methods=["POST"]),
        Route("/issues/{issue_id:int}", issue_page, methods=["GET"]),
        Route("/issues/{content:str}", issue_page, methods=["GET"]),
    ]


def _reader(request: Request, token: str) -> Subscriber:
    web = web_of(request)
    with web.store() as store:
        return tokens.read_unsubscribe_token(
            web.secret, token, list_id=addressing.list_id(web.settings.digest),
            lookup=store.subscriber, now=web.clock())


async def unsubscribe_page(request: Request) -> Response:
    token = request.query_params.get("token", "")
    if not token:
        return message(request, "Unsubscribe",
                       "To leave the list, follow the unsubscribe link at the bottom of any "
                       "message from us: it names your subscription.")
    try:
        reader = _reader(request, token)
    except TokenError:
        return _bad_link(request)
    return page(request, "unsubscribe.html", {"token": token, "email": reader.email,
                                              "already": reader.status == "unsubscribed"})


async def unsubscribe_post(request: Request) -> Response:
    form = await form_of(request)
    one_click = form.get("List-Unsubscribe") == ONE_CLICK
    token = request.query_params.get("token") or form.get("token", "")
    try:
        reader = _reader(request, token)
    except TokenError:
        if one_click:
            return PlainTextResponse("This unsubscribe link is not valid.", status_code=400)
        return _bad_link(request)
    if reader.status != "unsubscribed":
        with web_of(request).store() as store:
            store.set_subscriber_status(reader.email, "unsubscribed")
    if one_click:
        return PlainTextResponse(f"{reader.email} is unsubscribed.")
    return page(request, "unsubscribed.html", {"email": reader.email})


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
    with web.store() as store:
        current = store.subscriber_by_email(address)
    if current is None or current.status != "active":
        # The token remembers the status it was made for: after any later change it is stale.
        status = current.status if current else "new"
        token = tokens.sign(web.secret, SUBSCRIBE, {"n": name, "st": status},
                            expires_at=web.clock() + timedelta(hours=CONFIRM_HOURS),
                            context=email_key(address))
        link = web.link("/subscribe/confirm?" + urlencode({"e": address, "token": token}))
        outgoing = confirmation_message(web.settings, address, link, web.clock())
        try:
            await run_in_threadpool(send_one, web.sender_factory, outgoing)
        except SendError:
            return message(request, "Please try again later",
                           "The confirmation message could not be sent just now.", status=503)
    # The same answer whether the address is new, active or gone: nobody learns who is listed.
    return message(request, "Check your inbox", _SAME_ANSWER)


async def confirm_page(request: Request) -> Response:
    email, token = request.query_params.get("e", ""), request.query_params.get("token", "")
    try:
        _confirmed(request, email, token)
    except TokenError:
        return _expired(request)
    return page(request, "confirm.html", {"email": email, "token": token})


async def confirm_post(request: Request) -> Response:
    form = await form_of(request)
    email, token = form.get("e", ""), form.get("token", "")
    try:
        name, status = _confirmed(request, email, token)
    except TokenError:
        return _expired(request)
    web = web_of(request)
    with web.store() as store:
        current = store.subscriber_by_email(email)
        now_status = current.status if current else "new"
        if now_status == "active":
            return page(request, "subscribed.html", {"email": email})
        if now_status != status:
            return _expired(request)
        store.add_subscriber(email, name)
    return page(request, "subscribed.html", {"email": email})


def _confirmed(request: Request, email: str, token: str) -> tuple[str, str]:
    """The name and status a genuine, unexpired subscribe token for ``email`` carries."""
    web = web_of(request)
    try:
        key = email_key(validate_email(email))
    except SubscriberError as exc:
        raise TokenError("the link names no valid address") from exc
    payload = tokens.verify(web.secret, SUBSCRIBE, token, now=web.clock(), context=key)
    name, status = payload.get("n", ""), payload.get("st", "")
    return str(name), str(status)


def _expired(request: Request) -> Response:
    return message(request, "This confirmation link is not valid",
                   "It is incomplete, expired or already used, so nothing was changed. "
                   "Subscribe again to get a fresh link.", status=400)


async def issue_page(request: Request) -> Response:
    web = web_of(request)
    with web.store() as store:
        if "issue_id" in request.path_params:
            issue = store.find_issue(int(request.path_params["issue_id"]))
        else:  # the "view in browser" link names the issue by its content hash
            issue = store.find_issue_by_hash(str(request.path_params["content"]))
    if issue is None or issue.status not in ("sending", "sent"):
        return message(request, "No such issue", "There is no published issue with this number.",
                       status=404)
    neutral = Recipient(email=NEUTRAL_EMAIL, name="",
                                   unsubscribe_url=web.link(unsubscribe_path(web.settings)))
    html, _ = fill.filled(as_rendered(issue), fill.IssueValues(web_version_url=str(request.url)),
                          neutral)
    return Response(html, media_type="text/html; charset=utf-8")
