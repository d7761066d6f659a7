"""Subscribing by double opt-in: a request queues a message with a signed confirmation link
(sent outside the request by ``digest.app.confirmations``); only confirming it adds the address.

The link's token remembers the status the address had when it was made (new, unsubscribed,
bounced...): after any later change it is stale, so an old link cannot undo a newer choice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from typing import Literal
from urllib.parse import urlencode

from digest.app.messages import dkim_signer
from digest.errors import ConfigError, SubscriberError, TokenError
from digest.mail import addressing, tokens
from digest.models import Outgoing, Recipient
from digest.settings import Settings
from digest.store import Store, mailqueue
from digest.subscribers import email_key, validate_email

SUBSCRIBE = "subscribe"  # the tokens' purpose
CONFIRM_HOURS = 48
CONFIRM_PATH = "/subscribe/confirm"

Confirmed = Literal["subscribed", "already"]


def _secret(settings: Settings) -> bytes:
    if settings.secret is None:
        raise ConfigError("set the environment variable DIGEST_SECRET: it signs confirmation "
                          "links")
    return settings.secret


def request_subscription(settings: Settings, email: str, name: str, base_url: str,
                         now: datetime) -> None:
    """Queue a confirmation message for ``email`` (its link under ``base_url``), to be sent
    outside the request by ``send_queued_confirmations``.

    The same work for every address, listed or not, so neither the answer nor its timing tells
    who is subscribed: the address is checked and one row is written. Whether a message is due
    (an active reader gets none) is decided when the queue is sent.

    Raises ``SubscriberError`` for an address that is not one."""
    address = validate_email(email)
    with Store.open(settings.store) as store:
        mailqueue.queue_confirmation(store, address, name, base_url, now)


def prepare_confirmation(settings: Settings, store: Store, address: str, name: str,
                         base_url: str, now: datetime) -> Outgoing | None:
    """The confirmation message for ``address``, or None when it is already active. The link's
    token remembers the address's status now, so a later change makes it stale."""
    current = store.subscriber_by_email(address)
    if current is not None and current.status == "active":
        return None
    status = current.status if current else "new"
    token = tokens.sign(_secret(settings), SUBSCRIBE, {"n": name, "st": status},
                        expires_at=now + timedelta(hours=CONFIRM_HOURS),
                        context=email_key(address))
    link = (base_url.rstrip("/") + CONFIRM_PATH + "?"
            + urlencode({"e": address, "token": token}))
    return confirmation_message(settings, address, link, now)


def check_confirmation(settings: Settings, email: str, token: str,
                       now: datetime) -> tuple[str, str]:
    """The name and status a genuine, unexpired subscribe token for ``email`` carries;
    ``TokenError`` otherwise."""
    try:
        key = email_key(validate_email(email))
    except SubscriberError as exc:
        raise TokenError("the link names no valid address") from exc
    payload = tokens.verify(_secret(settings), SUBSCRIBE, token, now=now, context=key)
    return str(payload.get("n", "")), str(payload.get("st", ""))


def confirm_subscription(settings: Settings, email: str, token: str,
                         now: datetime) -> Confirmed:
    """Subscribe ``email`` as its confirmation link asks, and queue its welcome (unless
    ``welcome: false``). ``TokenError`` when the link is not
    genuine, has expired, or the address changed status since it was made (nothing changed)."""
    name, status = check_confirmation(settings, email, token, now)
    with Store.open(settings.store) as store:
        current = store.subscriber_by_email(email)
        now_status = current.status if current else "new"
        if now_status == "active":
            return "already"
        if now_status != status:
            raise TokenError("the address changed status since the link was made")
        # The welcome is queued with the subscription itself: sent at once by the web app,
        # else by the next run (digest.app.welcome).
        store.confirm_subscriber(email, name, now, welcome=settings.welcome)
    return "subscribed"


def confirmation_message(settings: Settings, address: str, link: str,
                         now: datetime) -> Outgoing:
    """The message asking ``address`` to confirm. Nothing typed into the form but the address
    goes into it: a name field echoed into mail to a stranger's address would let anyone send
    their own text through the list's good name."""
    digest = settings.digest
    bare = addressing.envelope_from(digest.from_addr)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = digest.from_addr
    msg["To"] = Address(addr_spec=address)
    msg["Subject"] = f"Confirm your subscription to {digest.title}"
    msg["Date"] = now
    message_id = make_msgid("confirm", domain=addressing.from_domain(digest.from_addr))
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(
        f"Hello,\n\nsomeone, hopefully you, asked to receive {digest.title} at this address."
        f"\nTo confirm, open this link within {CONFIRM_HOURS} hours and press the button:\n\n"
        f"{link}\n\nIf you did not ask for it, ignore this message: nothing happens without "
        "your confirmation.\n", cte="quoted-printable")
    data = msg.as_bytes(policy=SMTP)
    signer = dkim_signer(settings)
    if signer is not None:
        data = signer(data)
    return Outgoing(delivery_id=0, envelope_from=bare, recipient=address, data=data,
                    message_id=message_id,
                    recipient_values=Recipient(email=address, name="", unsubscribe_url=""))
