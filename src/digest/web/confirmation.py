"""The double opt-in message: one plain text email with the confirmation link, sent through the
configured sender (and DKIM-signed like every other message)."""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid

from digest import app as pipeline
from digest.delivery.senders import SenderFactory
from digest.errors import SendError
from digest.mail import addressing
from digest.models import Outgoing, Recipient
from digest.settings import Settings


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
        f"\nTo confirm, open this link within 48 hours and press the button:\n\n{link}\n\n"
        "If you did not ask for it, ignore this message: nothing happens without your "
        "confirmation.\n", cte="quoted-printable")
    data = msg.as_bytes(policy=SMTP)
    signer = pipeline.dkim_signer(settings)
    if signer is not None:
        data = signer(data)
    return Outgoing(delivery_id=0, envelope_from=bare, recipient=address, data=data,
                    message_id=message_id,
                    recipient_values=Recipient(email=address, name="", unsubscribe_url=""))


def send_one(factory: SenderFactory, outgoing: Outgoing) -> None:
    """Send one message now; raises SendError when it was not accepted."""
    sender = factory()
    try:
        [result] = sender.send_batch([outgoing])
    finally:
        sender.close()
    if result.outcome != "sent":
        raise SendError(f"the message to {outgoing.recipient} was not accepted: "
                        f"{result.reply or result.outcome}")
