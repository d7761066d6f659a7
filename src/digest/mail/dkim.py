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
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from digest.errors import KeyProblem as KeyProblem  # raised here

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

    def __call__(self, message: bytes) -> bytes:
        return self.sign(message)

    def sign(self, message: bytes) -> bytes:
        """``message`` (CRLF line endings) with a DKIM-Signature header in front."""
        head, separator, body = message.partition(b"\r\n\r\n")
        if not separator:  # no body at all: the header block ends the message
            head, body = message.removesuffix(b"\r\n"), b""
        fields = _fields(head + b"\r\n")
        names, signed = _select(fields)
        digest = hashlib.sha256(_relaxed_body(body)).digest()
        tags = ("v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
                f"\td={self.domain};\r\n\ts={self.selector};\r\n"
                f"\th={_fold_names(names)};\r\n"
                f"\tbh={base64.b64encode(digest).decode('ascii')};\r\n\tb=")
        unsigned = b"DKIM-Signature: " + tags.encode("ascii")
        data = b"".join(signed) + _relaxed_header(unsigned)
        signature = self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        b64 = base64.b64encode(signature)
        folded = b"\r\n\t".join(b64[i:i + 72] for i in range(0, len(b64), 72))
        return unsigned + folded + b"\r\n" + message


def _fields(head: bytes) -> list[tuple[str, bytes]]:
    """(lowercased name, the whole field with its CRLF) for each header field, in order."""
    raw = [f for f in _FIELD_START.split(head) if f]
    return [(f.partition(b":")[0].strip().decode("ascii", "replace").lower(), f) for f in raw]


def _select(fields: list[tuple[str, bytes]]) -> tuple[list[str], list[bytes]]:
    """The h= names and the canonical fields they stand for, each name found bottom-up."""
    names: list[str] = []
    signed: list[bytes] = []
    for name in SIGNED_HEADERS:
        present = [field for found, field in fields if found == name]
        # The verifier takes instances from the bottom; one name more than there are fields
        # signs the absence of any further one.
        for field in reversed(present):
            names.append(name)
            signed.append(_relaxed_header(field) + b"\r\n")
        names.append(name)
    return names, signed


def _relaxed_header(field: bytes) -> bytes:
    """RFC 6376 3.4.2, without the final CRLF."""
    name, _, value = field.partition(b":")
    value = _WSP_RUN.sub(b" ", value.replace(b"\r\n", b"")).strip(b" ")
    return name.strip(b" \t").lower() + b":" + value


def _relaxed_body(body: bytes) -> bytes:
    """RFC 6376 3.4.4: runs of whitespace to one space, none at line ends, no empty end lines."""
    # bytes.replace, not a regular expression: a pattern tried at every space of a digest's
    # indented HTML costs about half a millisecond, these a few microseconds each.
    body = body.replace(b"\t", b" ")
    while b"  " in body:
        body = body.replace(b"  ", b" ")
    body = body.replace(b" \r\n", b"\r\n")  # trailing whitespace is now one space
    # A last line without CRLF keeps its trailing space, as dkimpy and OpenDKIM read the RFC.
    end = len(body)
    while body.endswith(b"\r\n", 0, end):
        end -= 2
    return body[:end] + b"\r\n" if end else b""


def _fold_names(names: list[str]) -> str:
    lines, line = [], ""
    for name in names:
        if line and len(line) + len(name) > 66:
            lines.append(line)
            line = ""
        line += (":" if line else "") + name
    lines.append(line)
    return ":\r\n\t  ".join(lines)
