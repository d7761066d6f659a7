"""A DKIM test key made on the spot, and a DNS stub publishing it, for dkimpy's verifier."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DOMAIN = "example.org"
SELECTOR = "test2024"


@dataclass(frozen=True)
class DkimKey:
    pem: bytes  # PKCS#8, unencrypted
    record: bytes  # the TXT record published at SELECTOR._domainkey.DOMAIN

    def dns(self, domain: str = DOMAIN, selector: str = SELECTOR) -> Callable[..., bytes | None]:
        """A dnsfunc for ``dkim.verify``: answers for this key's name only."""
        wanted = f"{selector}._domainkey.{domain}.".encode("ascii")

        def lookup(name: bytes, timeout: int = 5) -> bytes | None:
            return self.record if name == wanted else None

        return lookup


def make_key(bits: int = 2048) -> DkimKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return DkimKey(pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public))


def signature_tags(raw: bytes) -> dict[str, str]:
    """The tags of the first DKIM-Signature header of a message, whitespace removed."""
    head = raw.partition(b"\r\n\r\n")[0].decode("ascii")
    match = re.match(r"DKIM-Signature:(.*?)\r\n(?=\S)", head, re.S | re.I)
    assert match, "no DKIM-Signature header at the top of the message"
    value = re.sub(r"\s+", "", match.group(1))
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)
