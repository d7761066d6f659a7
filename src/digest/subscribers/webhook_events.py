"""What each provider's event objects mean for a subscriber, per the providers' documented shapes.

Only what changes who gets the digest is kept: bounces (permanent or not), spam complaints and
unsubscribes made at the provider. Deliveries, opens, clicks and the rest become "ignored" events,
so the caller can still count them. Sources: Mailgun "Webhook Payloads" and "Event Types"
(``failed`` with ``severity`` permanent/temporary, ``complained``, ``unsubscribed``); SendGrid
"Event Webhook Reference" (``bounce`` with ``type`` bounce/blocked, ``dropped`` with its reason,
``spamreport``, ``unsubscribe``, ``group_unsubscribe``); Postmark bounce, spam complaint and
subscription change webhooks (``RecordType``, ``Type``, ``Inactive``, ``SuppressSending``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from digest.errors import WebhookError

EventKind = Literal["bounce", "complaint", "unsubscribe", "ignored"]
_MAX_REASON = 200
_FRACTION = re.compile(r"(\.\d{1,6})\d*")  # at most microseconds

# Postmark bounce types that mean the address will never accept mail.
_POSTMARK_HARD = frozenset({"HardBounce", "BadEmailAddress"})
# SendGrid drops a message, without trying, for an address already on one of its lists.
_SENDGRID_DROPPED: dict[str, tuple[EventKind, bool]] = {
    "bounced address": ("bounce", True),
    "invalid": ("bounce", True),
    "spam reporting address": ("complaint", True),
    "unsubscribed address": ("unsubscribe", True),
}
# Mailgun refuses to send to its own suppression lists with these reasons.
_MAILGUN_SUPPRESSED: dict[str, EventKind] = {
    "suppress-bounce": "bounce",
    "suppress-complaint": "complaint",
    "suppress-unsubscribe": "unsubscribe",
}


@dataclass(frozen=True)
class WebhookEvent:
    """One provider event, normalised. ``permanent`` matters for bounces only."""

    provider: str
    kind: EventKind
    email: str  # as the provider wrote it; "" for an ignored event without an address
    reason: str  # short, for subscribers.status_reason: "mailgun bounce: 550 No such user"
    permanent: bool
    occurred_at: datetime


def mailgun_event(data: dict[str, Any], now: datetime) -> WebhookEvent:
    name = _text(data.get("event"))
    email = _text(data.get("recipient"))
    when = _unix(data.get("timestamp"), now)
    status = data.get("delivery-status")
    status = status if isinstance(status, dict) else {}
    detail = _text(status.get("description")) or _text(status.get("message")) or _text(
        data.get("reason"))
    code = _text(status.get("code"))
    if name == "failed":
        suppressed = _MAILGUN_SUPPRESSED.get(_text(data.get("reason")))
        if suppressed and suppressed != "bounce":
            return _event("mailgun", suppressed, email, f"{name}: {detail}", True, when)
        permanent = _text(data.get("severity")) == "permanent"
        return _event("mailgun", "bounce", email, " ".join(filter(None, (code, detail))),
                      permanent, when)
    if name == "complained":
        return _event("mailgun", "complaint", email, "marked as spam", True, when)
    if name == "unsubscribed":
        return _event("mailgun", "unsubscribe", email, "unsubscribed at mailgun", True, when)
    return _event("mailgun", "ignored", email, name, False, when)


def sendgrid_events(items: list[dict[str, Any]], now: datetime) -> list[WebhookEvent]:
    return [_sendgrid_event(item, now) for item in items]


def _sendgrid_event(data: dict[str, Any], now: datetime) -> WebhookEvent:
    name = _text(data.get("event"))
    email = _text(data.get("email"))
    when = _unix(data.get("timestamp"), now)
    reason = _text(data.get("reason"))
    if name == "bounce":
        # "blocked" is SendGrid's soft bounce: the receiving server refused for now.
        kind = _text(data.get("type")) or "bounce"
        status = _text(data.get("status"))
        return _event("sendgrid", "bounce", email, " ".join(filter(None, (status, reason))),
                      kind != "blocked", when)
    if name == "dropped":
        found = _SENDGRID_DROPPED.get(reason.lower())
        if found:
            return _event("sendgrid", found[0], email, f"dropped: {reason}", found[1], when)
        return _event("sendgrid", "ignored", email, f"dropped: {reason}", False, when)
    if name == "spamreport":
        return _event("sendgrid", "complaint", email, "marked as spam", True, when)
    if name in ("unsubscribe", "group_unsubscribe"):
        return _event("sendgrid", "unsubscribe", email, f"{name} at sendgrid", True, when)
    return _event("sendgrid", "ignored", email, name, False, when)


def postmark_event(data: dict[str, Any], now: datetime) -> WebhookEvent:
    record = _text(data.get("RecordType"))
    if record == "Bounce":
        return _postmark_bounce(data, now)
    if record == "SpamComplaint":
        email = _required(data, "Email")
        when = _iso(data.get("BouncedAt"), now)
        return _event("postmark", "complaint", email, "marked as spam", True, when)
    if record == "SubscriptionChange":
        return _postmark_subscription(data, now)
    if not record:
        raise WebhookError("postmark", "no RecordType in the body")
    email = _text(data.get("Email")) or _text(data.get("Recipient"))
    return _event("postmark", "ignored", email, record, False, now)


def _postmark_bounce(data: dict[str, Any], now: datetime) -> WebhookEvent:
    email = _required(data, "Email")
    kind = _text(data.get("Type"))
    when = _iso(data.get("BouncedAt"), now)
    detail = _text(data.get("Details")) or _text(data.get("Description"))
    if kind == "SpamComplaint":
        return _event("postmark", "complaint", email, "marked as spam", True, when)
    if kind == "Unsubscribe":
        return _event("postmark", "unsubscribe", email, f"Unsubscribe: {detail}", True, when)
    # Inactive: Postmark itself now refuses to send there, so the address is as good as gone.
    permanent = kind in _POSTMARK_HARD or data.get("Inactive") is True
    return _event("postmark", "bounce", email, f"{kind}: {detail}", permanent, when)


def _postmark_subscription(data: dict[str, Any], now: datetime) -> WebhookEvent:
    email = _required(data, "Recipient")
    when = _iso(data.get("ChangedAt"), now)
    why = _text(data.get("SuppressionReason"))
    if data.get("SuppressSending") is not True:
        # A reactivation: coming back is the reader's own explicit act, not a provider's.
        return _event("postmark", "ignored", email, f"reactivated ({why})", False, when)
    if why == "HardBounce":
        return _event("postmark", "bounce", email, "suppressed: HardBounce", True, when)
    if why == "SpamComplaint":
        return _event("postmark", "complaint", email, "suppressed: SpamComplaint", True, when)
    return _event("postmark", "unsubscribe", email, f"suppressed: {why}", True, when)


def _event(provider: str, kind: EventKind, email: str, reason: str, permanent: bool,
           when: datetime) -> WebhookEvent:
    if kind != "ignored" and not email:
        raise WebhookError(provider, f"a {kind} event without a recipient address")
    label = f"{provider} {kind}: {reason}" if reason else f"{provider} {kind}"
    return WebhookEvent(provider, kind, email.strip(), _clean(label), permanent, when)


def _required(data: dict[str, Any], key: str) -> str:
    value = _text(data.get(key))
    if not value:
        raise WebhookError("postmark", f"{data.get('RecordType')} without {key}")
    return value


def _text(value: Any) -> str:
    """A text field: "" when absent or null; ``WebhookError`` (400) for an object or array where
    the providers document text or a number."""
    if isinstance(value, dict | list):
        raise WebhookError("webhook", f"expected text, got a JSON {type(value).__name__}")
    return str(value).strip() if isinstance(value, str | int | float) else ""


def _clean(text: str) -> str:
    """One line, printable, short: it is shown to people in listings."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= _MAX_REASON else flat[: _MAX_REASON - 1] + "…"


def _unix(value: Any, fallback: datetime) -> datetime:
    """Seconds since 1970 as a time; ``fallback`` when absent or not a number (nan included),
    ``WebhookError`` (400) when it is a number no date can have."""
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError):
        return fallback
    except (OverflowError, OSError) as exc:
        raise WebhookError("webhook", f"timestamp {str(value)[:40]} is out of range") from exc


def _iso(value: Any, fallback: datetime) -> datetime:
    if not isinstance(value, str):
        return fallback
    try:
        # Postmark writes seven fractional digits (.2735393); Python reads at most six.
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.replace("Z", "+00:00")))
    except ValueError:
        return fallback
    try:
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+05:00: before the first representable time
        raise WebhookError("webhook", f"date {value[:40]} is out of range") from exc
