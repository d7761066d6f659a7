"""Per-recipient and per-list values derived from the configuration. Pure."""

from __future__ import annotations

import hashlib
import re
from email.utils import parseaddr
from urllib.parse import quote

from digest.errors import ConfigError
from digest.mail import tokens
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
    """unsubscribe_mailto, else a mailto: given as the older ``unsubscribe`` key."""
    if digest.unsubscribe_mailto:
        return digest.unsubscribe_mailto
    return digest.unsubscribe if digest.unsubscribe.startswith("mailto:") else None


def list_unsubscribe_mailto(digest: DigestSettings) -> str | None:
    """The mailto: of List-Unsubscribe, with subject=unsubscribe unless it has a query of its
    own (RFC 2369's example), so the mailbox can sort the requests out."""
    target = unsubscribe_mailto(digest)
    if target is None or "?" in target:
        return target
    return target + "?subject=unsubscribe"


def unsubscribe_url(digest: DigestSettings, email: str, token: str | None = None) -> str:
    """The address a reader follows to leave.

    With ``unsubscribe_url`` it is that page with the reader's signed token as the query
    parameter ``token``. Otherwise a mailto: address gets a subject naming the subscriber, so
    whoever reads that mailbox (or a script) knows who is leaving.
    """
    if digest.unsubscribe_url and token:
        separator = "&" if "?" in digest.unsubscribe_url else "?"
        return f"{digest.unsubscribe_url}{separator}token={token}"
    target = digest.unsubscribe
    if target.startswith("https:"):
        return target
    mailto = unsubscribe_mailto(digest)
    if mailto:
        separator = "&" if "?" in mailto else "?"
        return f"{mailto}{separator}subject={quote('unsubscribe ' + email)}"
    return target


def recipient_for(digest: DigestSettings, subscriber: Subscriber,
                  secret: bytes | None = None, *, list_id_value: str | None = None) -> Recipient:
    """The values filled into one subscriber's copy; ``secret`` signs the unsubscribe link for
    the list ``list_id_value`` (the issue's own, else the config's now)."""
    token = None
    if digest.unsubscribe_url:
        if secret is None:
            raise ConfigError("set the environment variable DIGEST_SECRET: it signs each "
                              "reader's unsubscribe link", key="digest.unsubscribe_url")
        token = tokens.unsubscribe_token(secret, subscriber.id, subscriber.email,
                                         list_id_value or list_id(digest))
    return Recipient(
        email=subscriber.email,
        name=subscriber.name,
        unsubscribe_url=unsubscribe_url(digest, subscriber.email, token),
    )


def content_hash(subject: str, html: str, text: str) -> str:
    """sha256 of subject, HTML and text, each followed by a NUL so no two splits collide."""
    return hashlib.sha256(f"{subject}\0{html}\0{text}\0".encode()).hexdigest()


def web_version_url(public_url: str | None, subject: str, html: str, text: str) -> str | None:
    """Where the issue with this content is on the web ("view in browser"), named by its content
    hash so the address is known before the issue has a number; None without digest.public_url."""
    if not public_url:
        return None
    return f"{public_url.rstrip('/')}/issues/{content_hash(subject, html, text)[:12]}"
