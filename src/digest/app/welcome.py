"""The welcome: one message to each reader who confirms a subscription, saying what they signed
up for, how often it comes and where the latest issue is, with the same unsubscribe link and
List-Unsubscribe headers as the issues (the same message path: ``message_template``).

Queued in the store with the confirmation itself; sent at once by the web app, and by each
`digest run` until it goes. Each welcome is claimed in the store before it is handed over, so it
is never sent twice: not by two processes at once, and not after a crash in the moment of
sending (that one welcome stays claimed and unsent). ``welcome: false`` turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr

from digest.app.deps import Deps
from digest.app.messages import message_template
from digest.delivery.senders.base import Sender
from digest.errors import DigestError, SendError
from digest.issues import welcome
from digest.issues.render import Renderer
from digest.mail import addressing
from digest.mail.message import MessageTemplate
from digest.models import Outgoing, Subscriber
from digest.settings import Settings
from digest.store import Store
from digest.store.welcomes import PendingWelcome, WelcomeStatus


@dataclass(frozen=True)
class WelcomeReport:
    """What a round of welcomes did: addresses welcomed, ``(address, why)`` given up on, how
    many wait for the next run, and why sending stopped (the sender could not be reached)."""

    sent: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    waiting: int = 0
    stopped: str = ""


def send_welcomes(settings: Settings, deps: Deps) -> WelcomeReport:
    """Send every pending welcome (the web app, after a confirmation)."""
    if not settings.welcome:
        return WelcomeReport()
    with Store.open(settings.store) as store:
        return welcome_pending(settings, store, deps)


def welcome_pending(settings: Settings, store: Store, deps: Deps) -> WelcomeReport:
    """Send the pending welcomes in ``store``, one claimed at a time (`digest run`). A refusal
    or a stopped sender is reported, never raised: a welcome never stops the issue."""
    todo = store.pending_welcomes() if settings.welcome else []
    if not todo:
        return WelcomeReport()
    try:
        template = welcome_template(settings, deps)
        sender = deps.sender_factory()
    except DigestError as exc:  # a broken template override, no DIGEST_SECRET, no sender
        return WelcomeReport(waiting=len(todo), stopped=str(exc))
    sent: list[str] = []
    failed: list[tuple[str, str]] = []
    store_id = store.store_id()
    try:
        for index, pending in enumerate(todo):
            if not store.claim_welcome(pending.subscriber.id, deps.clock()):
                continue  # another process has it
            try:
                status, reply = _hand_over(settings, sender, template, pending, store_id)
            except SendError as exc:
                store.record_welcome(pending.subscriber.id, "pending", str(exc), deps.clock())
                return WelcomeReport(tuple(sent), tuple(failed), len(todo) - index, str(exc))
            recorded = store.record_welcome(pending.subscriber.id, status, reply, deps.clock())
            if recorded == "sent":
                sent.append(pending.subscriber.email)
            elif recorded == "failed":
                failed.append((pending.subscriber.email, reply))
    finally:
        sender.close()
    return WelcomeReport(tuple(sent), tuple(failed), len(store.pending_welcomes()))


def welcome_template(settings: Settings, deps: Deps) -> MessageTemplate:
    """The welcome's MIME, rendered and built once for every reader; ``RenderError`` for a
    broken override of welcome.html.j2 or welcome.txt.j2."""
    digest = settings.digest
    html, text = Renderer(settings.templates).render_message(
        welcome.HTML_TEMPLATE, welcome.TEXT_TEMPLATE, welcome.context(digest, settings.schedule))
    return message_template(settings, welcome.subject(digest), html, text, deps.clock())


def _hand_over(settings: Settings, sender: Sender, template: MessageTemplate,
               pending: PendingWelcome, store_id: str) -> tuple[WelcomeStatus, str]:
    subscriber = pending.subscriber
    if subscriber.status != "active":
        return "skipped", f"the subscriber is {subscriber.status}"
    digest = settings.digest
    recipient = addressing.recipient_for(digest, subscriber, settings.secret)
    message_id = welcome_message_id(subscriber, digest.from_addr, store_id)
    outgoing = Outgoing(delivery_id=0, envelope_from=addressing.envelope_from(digest.from_addr),
                        recipient=subscriber.email, message_id=message_id,
                        data=template.personalize(recipient, message_id=message_id))
    [result] = sender.send_batch([outgoing])
    if result.outcome == "sent":
        return "sent", result.reply
    return ("pending" if result.outcome == "temporary" else "failed"), result.reply or "refused"


def welcome_message_id(subscriber: Subscriber, from_addr: str, store_id: str) -> str:
    """The same Message-ID on every attempt, so a mail program shows a repeat once; the store's
    id keeps it apart from another install's welcome to its subscriber of the same number."""
    domain = parseaddr(from_addr)[1].rpartition("@")[2].lower() or "localhost"
    return f"<welcome.{subscriber.id}.{store_id}@{domain}>"
