"""DKIM signing (RFC 6376): relaxed/relaxed, rsa-sha256, over a message's final bytes.

Canonicalisation and hashing are done here; the RSA step is OpenSSL's, through ``cryptography``.
dkimpy signs the same way but does RSA in pure Python, several times slower per message (see
``bench/dkim.py``); its verifier is what the tests check these signatures with.

The signature covers the headers RFC 8058 and the mailbox providers ask for, and is "oversigned":
every signed name is listed once more than it occurs, so nobody can add a second From or a
List-Unsubscribe-Post to a signed message (RFC 6376 section 8.15) without breaking it.
"""

from __future__ import annotations

import base64
import functools
import re
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from digest.errors import KeyProblem as KeyProblem  # raised here
from digest.mail import canonical

__all__ = ["MIN_KEY_BITS", "SIGNED_HEADERS", "DkimSigner", "KeyProblem", "load_rsa_key"]

MIN_KEY_BITS = 1024  # receivers ignore shorter keys (RFC 8301)
# Signed when present; the absence of each is signed too, so none can be added later.
SIGNED_HEADERS = (
    "from", "to", "subject", "date", "message-id", "reply-to", "mime-version", "content-type",
    "list-id", "list-unsubscribe", "list-unsubscribe-post", "auto-submitted", "precedence",
)
_WSP_RUN = re.compile(rb"[ \t]+")
_FIELD_START = re.compile(rb"^(?=[^ \t])", re.MULTILINE)
_SELECTOR = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*")


def load_rsa_key(pem: bytes) -> rsa.RSAPrivateKey:
    """An unencrypted RSA private key from PEM (PKCS#1 or PKCS#8), at least MIN_KEY_BITS."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError as exc:  # raised for a key that needs a password
        raise KeyProblem("the key is encrypted; digest needs it without a passphrase "
                         "(openssl rsa -in KEY -out PLAIN)") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyProblem("not a PEM private key (expected a file starting with "
                         "-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyProblem("not an RSA key; DKIM rsa-sha256 needs one "
                         "(openssl genrsa -out dkim.pem 2048)")
    if key.key_size < MIN_KEY_BITS:
        raise KeyProblem(f"the RSA key has {key.key_size} bits; receivers ignore keys under "
                         f"{MIN_KEY_BITS} bits (2048 is usual)")
    return key


@dataclass(frozen=True)
class DkimSigner:
    domain: str  # d=
    selector: str  # s=: the key is published at SELECTOR._domainkey.DOMAIN
    key: rsa.RSAPrivateKey

    @classmethod
    def from_pem(cls, domain: str, selector: str, pem: bytes) -> DkimSigner:
        if not _SELECTOR.fullmatch(selector) or not _SELECTOR.fullmatch(domain):
            raise KeyProblem(f"{selector!r} / {domain!r} is not a DKIM selector and domain")
        return cls(domain.lower(), selector, load_rsa_key(pem))

    def __call__(self, message: bytes, *, body_hash: bytes | None = None) -> bytes:
        return self.sign(message, body_hash=body_hash)

    def sign(self, message: bytes, *, body_hash: bytes | None = None) -> bytes:
        """``message`` (CRLF line endings) with a DKIM-Signature header in front.
        ``body_hash``: ``digest.mail.canonical.body_hash`` of its body, if already known."""
        return self.header(message, body_hash=body_hash) + message

    def header(self, message: bytes, *, body_hash: bytes | None = None) -> bytes:
        """The DKIM-Signature header field (folded, ending in CRLF) for ``message``."""
        head, body = split_message(message)
        return self.header_for(head, body_hash or canonical.body_hash(body))

    def header_for(self, head: bytes, body_hash: bytes) -> bytes:
        """The DKIM-Signature header field for a message whose header block is ``head`` (its
        fields, CRLF between them, none after the last) and whose body hashes to
        ``body_hash`` (32 bytes, RFC 6376 3.7)."""
        fields = _fields(head + b"\r\n")
        names, signed = _select(fields)
        digest = body_hash
        tags = ("v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
                f"\td={self.domain};\r\n\ts={self.selector};\r\n"
                f"\th={_fold_names(names)};\r\n"
                f"\tbh={base64.b64encode(digest).decode('ascii')};\r\n\tb=")
        unsigned = b"DKIM-Signature: " + tags.encode("ascii")
        data = b"".join(signed) + _relaxed_header(unsigned)
        signature = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        b64 = base64.b64encode(signature)
        folded = b"\r\n\t".join(b64[i:i + 72] for i in range(0, len(b64), 72))
        return unsigned + folded + b"\r\n"


def split_message(message: bytes) -> tuple[bytes, bytes]:
    """(header block without its final CRLF, body) of a message with CRLF line endings."""
    head, separator, body = message.partition(b"\r\n\r\n")
    if not separator:  # no body at all: the header block ends the message
        return message.removesuffix(b"\r\n"), b""
    return head, body


def _fields(head: bytes) -> list[tuple[str, bytes]]:
    """(lowercased name, the whole field with its CRLF) for each header field, in order."""
    raw = [f for f in _FIELD_START.split(head) if f]
    return [(f.partition(b":")[0].strip().decode("ascii", "replace").lower(), f) for f in raw]


def _select(fields: list[tuple[str, bytes]]) -> tuple[tuple[str, ...], list[bytes]]:
    """The h= names and the canonical fields they stand for, each name found bottom-up."""
    by_name: dict[str, list[bytes]] = {}
    for found, field in fields:
        by_name.setdefault(found, []).append(field)
    names: list[str] = []
    signed: list[bytes] = []
    for name in SIGNED_HEADERS:
        # The verifier takes instances from the bottom; one name more than there are fields
        # signs the absence of any further one.
        for field in reversed(by_name.get(name, ())):
            names.append(name)
            signed.append(_relaxed_field(field))
        names.append(name)
    return tuple(names), signed


# Every copy of an issue shares most of its fields (From, Subject, Date, List-Id...): each is
# canonicalised once, not once a copy.
@functools.lru_cache(maxsize=128)
def _relaxed_field(field: bytes) -> bytes:
    return _relaxed_header(field) + b"\r\n"


def _relaxed_header(field: bytes) -> bytes:
    """RFC 6376 3.4.2, without the final CRLF."""
    name, _, value = field.partition(b":")
    value = _WSP_RUN.sub(b" ", value.replace(b"\r\n", b"")).strip(b" ")
    return name.strip(b" \t").lower() + b":" + value


@functools.lru_cache(maxsize=16)  # the same names for every copy of an issue
def _fold_names(names: tuple[str, ...]) -> str:
    lines, line = [], ""
    for name in names:
        if line and len(line) + len(name) > 66:
            lines.append(line)
            line = ""
        line += (":" if line else "") + name
    lines.append(line)
    return ":\r\n\t  ".join(lines)
