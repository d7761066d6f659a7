"""Signed tokens for links in messages: unsubscribe links, and confirmation links that expire.

A token is ``BODY.MAC``, both unpadded base64url, so it sits in a URL, a mail header and a
quoted-printable line unchanged. BODY is compact JSON of the payload (and the expiry time, if any);
MAC is HMAC-SHA256, truncated to 128 bits, keyed by ``DIGEST_SECRET``. The MAC also covers the
token's purpose and a context the token does not carry (such as the subscriber's address, looked
up by the verifier), so a token made for one purpose or one address is worthless for another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from typing import Any

from digest.errors import TokenError
from digest.models import Subscriber
from digest.subscribers import email_key

__all__ = [
    "MIN_SECRET_BYTES",
    "UNSUBSCRIBE",
    "list_label",
    "read_unsubscribe_token",
    "sign",
    "unsubscribe_token",
    "unverified_payload",
    "verify",
]

MIN_SECRET_BYTES = 16
UNSUBSCRIBE = "unsubscribe"
_MAC_BYTES = 16
_MAX_TOKEN = 2048  # longer input is refused before any decoding work
_PART = re.compile(r"[A-Za-z0-9_-]+")
_VERSION = b"digest-token-1"

Payload = dict[str, str | int]


def sign(secret: bytes, purpose: str, payload: Mapping[str, str | int], *,
         expires_at: datetime | None = None, context: str = "") -> str:
    """A token carrying ``payload``, valid for ``purpose`` (and ``context``) until expires_at."""
    body: dict[str, Any] = {"d": _checked_payload(payload)}
    if expires_at is not None:
        body["x"] = int(expires_at.timestamp())
    encoded = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    return encoded + "." + _b64(_mac(secret, purpose, context, encoded))


def verify(secret: bytes, purpose: str, token: str, *, now: datetime,
           context: str = "") -> Payload:
    """The payload of a token made by ``sign`` with the same secret, purpose and context.

    Raises ``TokenError`` when the token is malformed, altered, signed with another secret, made
    for another purpose or context, or expired.
    """
    encoded, mac = _split(token)
    if not hmac.compare_digest(mac, _mac(secret, purpose, context, encoded)):
        raise TokenError("the signature does not match: the token was altered or cut short, "
                         f"signed with another DIGEST_SECRET, or made for something other than "
                         f"{purpose}")
    body = _body(encoded)
    expires = body.get("x")
    if expires is not None and now.timestamp() >= expires:
        raise TokenError(f"the token expired at {datetime.fromtimestamp(expires, now.tzinfo)}")
    return dict(body["d"])


def unverified_payload(token: str) -> Payload:
    """The payload as the token claims it, NOT verified: only for finding the verify context."""
    return dict(_body(_split(token)[0])["d"])


def list_label(list_id: str) -> str:
    """The RFC 2919 identifier of ``"Name <label>"`` or of a bare label."""
    return list_id.rpartition("<")[2].rstrip("> ").strip().lower()


def unsubscribe_token(secret: bytes, subscriber_id: int, email: str, list_id: str) -> str:
    """A link token naming the subscriber and the list; the address is bound but not carried."""
    return sign(secret, UNSUBSCRIBE, {"s": subscriber_id, "l": list_label(list_id)},
                context=email_key(email))


def read_unsubscribe_token(secret: bytes, token: str, *, list_id: str,
                           lookup: Callable[[int], Subscriber | None],
                           now: datetime, known_labels: Collection[str] = ()) -> Subscriber:
    """The subscriber a genuine unsubscribe token for this list names.

    ``lookup`` finds a subscriber by id; the token is only genuine if it was made for that
    subscriber's address, so a token cannot be edited to name someone else. The token's list is
    this list if it is ``list_id``'s label or one of ``known_labels`` (labels the store's issues
    were sent with: the digest was renamed or moved domain since).
    """
    claimed = unverified_payload(token)
    subscriber_id, label = claimed.get("s"), claimed.get("l")
    if not isinstance(subscriber_id, int) or not isinstance(label, str):
        raise TokenError("not an unsubscribe token (it names no subscriber and list)")
    subscriber = lookup(subscriber_id)
    if subscriber is None:
        # Without the address the signature cannot be checked at all.
        raise TokenError(f"the token names subscriber {subscriber_id}, who is not in this store "
                         "(a link from a preview or test copy, from another store, or forged)")
    verify(secret, UNSUBSCRIBE, token, now=now, context=email_key(subscriber.email))
    if label != list_label(list_id) and label not in known_labels:
        raise TokenError(f"the token is for the list {label}, not for this list "
                         f"({list_label(list_id)})")
    return subscriber


def _checked_payload(payload: Mapping[str, str | int]) -> Payload:
    for key, value in payload.items():
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, str | int):
            raise TypeError(f"token payload values must be text or whole numbers, got {key!r}")
    return dict(payload)


def _mac(secret: bytes, purpose: str, context: str, encoded: str) -> bytes:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes")
    if not purpose:
        raise ValueError("a token needs a purpose")
    mac = hmac.new(secret, _VERSION, hashlib.sha256)
    # Length-prefixed, so no choice of purpose and context can imitate another pair.
    for part in (purpose.encode("utf-8"), context.encode("utf-8"), encoded.encode("ascii")):
        mac.update(len(part).to_bytes(4, "big") + part)
    return mac.digest()[:_MAC_BYTES]


def _split(token: str) -> tuple[str, bytes]:
    token = token.strip()
    if len(token) > _MAX_TOKEN:
        raise TokenError(f"malformed token: longer than {_MAX_TOKEN} characters")
    encoded, dot, mac = token.partition(".")
    if not dot or not _PART.fullmatch(encoded) or not _PART.fullmatch(mac):
        raise TokenError("malformed token: expected two parts of letters, digits, - and _ "
                         "joined by a dot (was the link copied whole?)")
    raw_mac = _unb64(mac)
    if len(raw_mac) != _MAC_BYTES:
        raise TokenError("malformed token: the signature has the wrong length (cut short?)")
    return encoded, raw_mac


def _body(encoded: str) -> dict[str, Any]:
    try:
        body = json.loads(_unb64(encoded))
    except (ValueError, RecursionError) as exc:
        raise TokenError("malformed token: its contents cannot be read") from exc
    payload, expires = (body.get("d"), body.get("x")) if isinstance(body, dict) else (None, None)
    valid_payload = isinstance(payload, dict) and all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in payload.values())
    if not valid_payload or not (expires is None or type(expires) is int):
        raise TokenError("malformed token: its contents are not a digest token")
    return {"d": payload, "x": expires}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenError("malformed token: not base64url") from exc
