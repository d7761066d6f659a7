"""Bounce, complaint and unsubscribe events posted by the mail APIs, checked and normalised.

``parse_event`` is pure: it takes the request as received (headers and raw body) and the time,
checks that the post comes from the provider, and returns one ``WebhookEvent`` per event in it.
Nothing is written; ``webhook_apply.apply_events`` records what the events mean.

How each provider proves a post is its own, per its documentation:

- Mailgun signs every post: the JSON body carries ``signature: {timestamp, token, signature}``,
  where ``signature`` is the hex HMAC-SHA256 of ``timestamp + token`` keyed with the webhook
  signing key; the event itself is under ``event-data``. Mailgun advises refusing old timestamps.
  (documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks,
  .../webhooks/webhook-payloads)
- SendGrid's Signed Event Webhook signs with ECDSA (P-256, SHA-256) over the
  ``X-Twilio-Email-Event-Webhook-Timestamp`` header followed by the raw body; the base64 DER
  signature is in ``X-Twilio-Email-Event-Webhook-Signature`` and the verification key is shown,
  base64 DER, under Mail Settings. The body is a JSON array of events.
  (twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-
  features, .../tracking-events/event)
- Postmark does not sign posts. Its documented protection is HTTP basic auth credentials in the
  webhook URL (https://user:password@host/webhooks/postmark), optionally with an allowlist of its
  IP addresses; so a Postmark post is accepted only with the configured user and password. The
  allowlist belongs to the web server or firewall in front of digest.
  (postmarkapp.com/developer/webhooks/webhooks-overview, postmarkapp.com/email-webhooks,
  .../webhooks/bounce-webhook, .../spam-complaint-webhook, .../subscription-change-webhook)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from digest.errors import WebhookError
from digest.settings import Settings
from digest.subscribers.webhook_events import (
    WebhookEvent,
    mailgun_event,
    postmark_event,
    sendgrid_events,
)

__all__ = ["PROVIDERS", "WebhookEvent", "WebhookPost", "WebhookSecrets", "parse_event",
           "parse_post", "sendgrid_key"]

Provider = Literal["postmark", "sendgrid", "mailgun"]
PROVIDERS: tuple[Provider, ...] = ("postmark", "sendgrid", "mailgun")
SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_BODY = 5 * 1024 * 1024  # SendGrid batches up to a few MB of events; more is not a provider


@dataclass(frozen=True)
class WebhookSecrets:
    """What each provider's posts are checked with; None refuses that provider's posts."""

    mailgun_signing_key: str | None = field(default=None, repr=False)
    sendgrid_public_key: str | None = field(default=None, repr=False)  # base64 DER or PEM
    postmark_basic_auth: str | None = field(default=None, repr=False)  # "user:password"
    max_age: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookSecrets:
        hooks = settings.webhooks
        return cls(hooks.mailgun_signing_key, hooks.sendgrid_public_key,
                   hooks.postmark_basic_auth, timedelta(seconds=hooks.max_age))


@dataclass(frozen=True)
class WebhookPost:
    """One post's events, and the one-time token it was signed with (Mailgun's ``token``; None
    for providers that sign no such value): a token seen before marks the post a replay."""

    provider: str
    events: list[WebhookEvent]
    once: str | None = None


def parse_event(provider: str, headers: Mapping[str, str], body: bytes,
                secret: WebhookSecrets, *, now: datetime) -> list[WebhookEvent]:
    """The events of one post, once its origin is proven. Raises ``WebhookError`` otherwise."""
    return parse_post(provider, headers, body, secret, now=now).events


def parse_post(provider: str, headers: Mapping[str, str], body: bytes,
               secret: WebhookSecrets, *, now: datetime) -> WebhookPost:
    """``parse_event`` with the post's one-time token. Raises ``WebhookError``: 404 for an
    unknown provider, 401/403 for a post not proven to be the provider's, and 400 for any body
    that is not what the provider documents (deep nesting, numbers or dates out of range, wrong
    types): never anything else, so a hostile body cannot make the server fail (5xx), which
    providers answer by posting it again."""
    if provider not in PROVIDERS:
        raise WebhookError(provider, "unknown provider; expected one of " + ", ".join(PROVIDERS),
                           status=404)
    if len(body) > MAX_BODY:
        raise WebhookError(provider, f"body of {len(body)} bytes is over {MAX_BODY}")
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        if provider == "mailgun":
            return _mailgun(body, secret, now)
        if provider == "sendgrid":
            return WebhookPost(provider, _sendgrid(lowered, body, secret, now))
        return WebhookPost(provider, _postmark(lowered, body, secret, now))
    except WebhookError as exc:
        if exc.provider == provider:
            raise
        raise WebhookError(provider, exc.reason, status=exc.status) from exc
    except (RecursionError, ValueError, OverflowError, TypeError, AttributeError,
            KeyError) as exc:
        raise WebhookError(provider, f"malformed body ({type(exc).__name__}: "
                                     f"{str(exc)[:120]})") from exc


def _mailgun(body: bytes, secret: WebhookSecrets, now: datetime) -> WebhookPost:
    if not secret.mailgun_signing_key:
        raise _unconfigured("mailgun", "mailgun_signing_key_env")
    data = _json("mailgun", body)
    sig = data.get("signature") if isinstance(data, dict) else None
    if not isinstance(sig, dict) or not all(
            isinstance(sig.get(k), str | int) for k in ("timestamp", "token", "signature")):
        raise WebhookError("mailgun", "no signature {timestamp, token, signature} in the body",
                           status=401)
    stamp, token = str(sig["timestamp"]), str(sig["token"])
    expected = hmac.new(secret.mailgun_signing_key.encode(), (stamp + token).encode(),
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(sig["signature"]).lower()):
        raise WebhookError("mailgun", "signature does not match the signing key", status=401)
    _check_age("mailgun", stamp, secret.max_age, now)
    item = data.get("event-data")
    if not isinstance(item, dict):
        raise WebhookError("mailgun", "no event-data object in the body")
    # Mailgun signs only timestamp + token, not event-data: the token, used once, is what
    # keeps a captured signature from carrying other events.
    return WebhookPost("mailgun", [mailgun_event(item, now)], once=token)


def _sendgrid(headers: Mapping[str, str], body: bytes, secret: WebhookSecrets,
              now: datetime) -> list[WebhookEvent]:
    if not secret.sendgrid_public_key:
        raise _unconfigured("sendgrid", "sendgrid_public_key_env")
    signature = headers.get(SENDGRID_SIGNATURE.lower(), "")
    stamp = headers.get(SENDGRID_TIMESTAMP.lower(), "")
    if not signature or not stamp:
        raise WebhookError("sendgrid", f"unsigned: the {SENDGRID_SIGNATURE} and "
                                       f"{SENDGRID_TIMESTAMP} headers are required", status=401)
    public = _load_sendgrid_key(secret.sendgrid_public_key)
    try:
        raw = base64.b64decode(signature, validate=True)
        public.verify(raw, stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise WebhookError("sendgrid", "signature does not match the verification key",
                           status=401) from exc
    _check_age("sendgrid", stamp, secret.max_age, now)
    data = _json("sendgrid", body)
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise WebhookError("sendgrid", "expected a JSON array of event objects")
    return sendgrid_events(data, now)


def _postmark(headers: Mapping[str, str], body: bytes, secret: WebhookSecrets,
              now: datetime) -> list[WebhookEvent]:
    if not secret.postmark_basic_auth:
        raise _unconfigured("postmark", "postmark_basic_auth_env")
    given = _basic_credentials(headers.get("authorization", ""))
    if given is None or not hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                                                secret.postmark_basic_auth.encode()):
        raise WebhookError("postmark", "missing or wrong basic auth credentials (Postmark posts "
                                       "are not signed; the webhook URL must carry them)",
                           status=401)
    data = _json("postmark", body)
    if not isinstance(data, dict):
        raise WebhookError("postmark", "expected a JSON object with a RecordType")
    return [postmark_event(data, now)]


def sendgrid_key(text: str) -> ec.EllipticCurvePublicKey:
    """SendGrid's verification key as shown (base64 DER) or as PEM. Raises ValueError."""
    stripped = text.strip()
    try:
        if stripped.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(stripped.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(stripped, validate=True))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise ValueError("not a public key in base64 DER or PEM") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic curve (ECDSA) public key")
    return key


def _load_sendgrid_key(text: str) -> ec.EllipticCurvePublicKey:
    try:
        return sendgrid_key(text)
    except ValueError as exc:
        raise WebhookError("sendgrid", f"the configured verification key is unusable: {exc}",
                           status=500) from exc


def _basic_credentials(header: str) -> str | None:
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        return base64.b64decode(value.strip(), validate=True).decode("utf-8", "surrogateescape")
    except (binascii.Error, ValueError):
        return None


def _check_age(provider: str, stamp: str, max_age: timedelta, now: datetime) -> None:
    try:
        signed = datetime.fromtimestamp(float(stamp), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise WebhookError(provider, "signed timestamp is not a number of seconds",
                           status=401) from exc
    if abs(now - signed) > max_age:
        raise WebhookError(provider, f"signed at {signed:%Y-%m-%d %H:%M:%S} UTC, more than "
                                     f"{int(max_age.total_seconds())} s from now: refused as a "
                                     "replay (or the clocks disagree)", status=401)


def _json(provider: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WebhookError(provider, f"body is not JSON: {exc}") from exc


def _unconfigured(provider: str, key: str) -> WebhookError:
    return WebhookError(provider, f"not configured: set webhooks.{key} in the config to accept "
                                  f"{provider} events", status=403)
