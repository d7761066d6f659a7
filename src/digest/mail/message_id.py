"""Message-IDs (RFC 5322 3.6.4): unique across every install, stable when a delivery is retried.

A delivery's Message-ID is ``<digest.ISSUE.SUBSCRIBER.STORE@domain>``: STORE is a random id made
once per store (``Store.store_id``), so two installs, or one store rebuilt from scratch, never
give two different messages the same id (receivers that drop duplicate ids would drop them),
while re-sending one delivery after a crash gives it the id it had. Copies that are not
deliveries (test sends, editors' previews) get a random id each time.
"""

from __future__ import annotations

import functools
import re
import secrets
from email.utils import parseaddr

from digest.errors import ConfigError

_STORE_ID_RE = re.compile(r"[0-9a-z]{8,64}")
_DOMAIN_RE = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")


@functools.lru_cache(maxsize=16)  # called once a message with the same From
def _domain(from_addr: str) -> str:
    domain = parseaddr(from_addr)[1].rpartition("@")[2].lower()
    if not _DOMAIN_RE.fullmatch(domain):
        raise ConfigError(f"{from_addr!r} is not a valid email address", key="from")
    return domain


def make_message_id(issue_id: int, subscriber_id: int, from_addr: str, store_id: str) -> str:
    """The Message-ID of one issue to one subscriber from one store: the same every time this
    delivery is (re)sent. ``store_id``: lowercase letters and digits, 8 to 64 of them."""
    if not _STORE_ID_RE.fullmatch(store_id):
        raise ValueError(f"store id {store_id!r} is not 8-64 lowercase letters and digits")
    return f"<digest.{issue_id}.{subscriber_id}.{store_id}@{_domain(from_addr)}>"


def one_off_message_id(label: str, from_addr: str) -> str:
    """A fresh Message-ID for a copy that is not a delivery (``label``: a short ASCII word such
    as "test" or "draft-5" that names it in outbox file names)."""
    word = re.sub(r"[^A-Za-z0-9-]+", "-", label).strip("-") or "copy"
    return f"<digest.{word}.{secrets.token_hex(8)}@{_domain(from_addr)}>"
