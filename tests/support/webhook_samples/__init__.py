"""The sample webhook posts beside this file, and signing them the way each provider does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

HERE = Path(__file__).resolve().parent
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"  # a made-up webhook signing key
POSTMARK_AUTH = "digest-hooks:s3cret pass:word"  # user:password; the password may hold a colon
# The time of the samples: every signed timestamp is this, so tests pass it as ``now``.
SIGNED_AT = 1795420800
NOW = datetime.fromtimestamp(SIGNED_AT, UTC)


def sample(name: str) -> Any:
    return json.loads((HERE / name).read_text(encoding="utf-8"))


def mailgun_body(name: str, *, key: str = MAILGUN_KEY, timestamp: int = SIGNED_AT,
                 token: str = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123",
                 **event_data: Any) -> bytes:
    """A Mailgun sample with ``event-data`` fields replaced and a fresh signature object."""
    data = sample(name)
    data["event-data"].update(event_data)
    digest = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    data["signature"] = {"timestamp": str(timestamp), "token": token, "signature": digest}
    return json.dumps(data).encode()


def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key pair; the public half as SendGrid shows it (base64 DER, no PEM armour)."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(der).decode()


def sendgrid_headers(private: ec.EllipticCurvePrivateKey, body: bytes,
                     timestamp: int = SIGNED_AT) -> dict[str, str]:
    """The two headers of a Signed Event Webhook post: ECDSA over timestamp + raw body."""
    signature = private.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": str(timestamp),
            "Content-Type": "application/json"}


def basic_auth(credentials: str = POSTMARK_AUTH) -> dict[str, str]:
    token = base64.b64encode(credentials.encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}


def body(name: str) -> bytes:
    return (HERE / name).read_bytes()
