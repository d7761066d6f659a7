"""Per-recipient and per-list values derived from the configuration. Pure."""

from __future__ import annotations

import re
from email.utils import parseaddr
from urllib.parse import quote

from digest.models import Recipient, Subscriber
from digest.settings import DigestSettings


def from_domain(from_addr: str) -> str:
    address = parseaddr(from_addr)[1]
    return address.rpartition("@")[2].lower() or "localhost"


def envelope_from(from_addr: str) -> str:
    return parseaddr(from_addr)[1]


def list_id(digest: DigestSettings) -> str:
    """RFC 2919 List-Id: a readable name and a label under the sending domain."""
    label = re.sub(r"[^a-z0-9]+", "-", digest.title.lower()).strip("-") or "digest"
    return f"{digest.title} <{label}.{from_domain(digest.from_addr)}>"


def unsubscribe_mailto(digest: DigestSettings) -> str | None:
    return digest.unsubscribe if digest.unsubscribe.startswith("mailto:") else None


def unsubscribe_url(digest: DigestSettings, email: str) -> str:
    """The address a reader follows to leave.

    A mailto: address gets a subject naming the subscriber, so whoever reads that mailbox (or a
    script) knows who is leaving.
    """
    target = digest.unsubscribe
    if target.startswith("mailto:"):
        separator = "&" if "?" in target else "?"
        return f"{target}{separator}subject={quote('unsubscribe ' + email)}"
    return target


def recipient_for(digest: DigestSettings, subscriber: Subscriber) -> Recipient:
    return Recipient(
        email=subscriber.email,
        name=subscriber.name,
        unsubscribe_url=unsubscribe_url(digest, subscriber.email),
    )
