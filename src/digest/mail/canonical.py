"""DKIM's relaxed body canonicalisation (RFC 6376 3.4.4) and body hash, also for a body made of
pieces. Pure: no keys, no cryptography (``digest.mail.dkim`` signs).

An issue's messages differ only in a few short values (the reader's name, address, unsubscribe
link) between long pieces that every copy shares. The relaxed rules work within a line (runs of
whitespace to one space, none at a line's end) plus one rule at the end of the body (no empty
lines), so the canonical form of the shared pieces can be made once per issue and each copy's
hash taken over those and its own values, canonicalised alone: the same bytes as canonicalising
the whole body, as long as no piece boundary falls inside a run of whitespace or a CRLF (checked
for every copy; where one does, the whole body is canonicalised).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

_CR, _LF, _SP, _TAB = 13, 10, 32, 9


class Signer(Protocol):
    """Signs a finished message: ``message`` (CRLF line endings) with a header in front.

    ``body_hash``, when given, is ``body_hash(body)`` of the message's body, already known (so
    the body need not be canonicalised again)."""

    def __call__(self, message: bytes, *, body_hash: bytes | None = None) -> bytes: ...


def relaxed_lines(piece: bytes) -> bytes:
    """RFC 6376 3.4.4 rules a and b (within lines) on ``piece``: tabs and runs of spaces to one
    space, none before a CRLF. Rule c (empty lines at the end) is ``relaxed_body``'s."""
    # bytes.replace, not a regular expression: a pattern tried at every space of a digest's
    # indented HTML costs about half a millisecond, these a few microseconds each.
    piece = piece.replace(b"\t", b" ")
    while b"  " in piece:
        piece = piece.replace(b"  ", b" ")
    return piece.replace(b" \r\n", b"\r\n")  # trailing whitespace is now one space


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 3.4.4: runs of whitespace to one space, none at line ends, no empty end lines."""
    return _without_empty_end(relaxed_lines(body))


def _without_empty_end(body: bytes) -> bytes:
    # A last line without CRLF keeps its trailing space, as dkimpy and OpenDKIM read the RFC.
    end = len(body)
    while body.endswith(b"\r\n", 0, end):
        end -= 2
    return body[:end] + b"\r\n" if end else b""


def body_hash(body: bytes) -> bytes:
    """The 32-byte SHA-256 of the relaxed canonical ``body`` (the bh= of RFC 6376 3.7)."""
    return hashlib.sha256(relaxed_body(body)).digest()


def joined_body_hash(pieces: Sequence[bytes], canonical: Sequence[bytes]) -> bytes:
    """``body_hash(b"".join(pieces))``, from each piece's ``relaxed_lines`` form ``canonical``
    (same length and order as ``pieces``).

    Used as it is unless a boundary between two non-empty pieces falls inside a run of
    whitespace (space or tab on both sides), between whitespace and the CR that ends its line,
    or inside a CRLF: then the whole body is canonicalised.
    """
    last = -1
    for piece in pieces:
        if not piece:
            continue
        first = piece[0]
        if (last in (_SP, _TAB) and first in (_SP, _TAB, _CR)) or (last == _CR
                                                                   and first == _LF):
            return body_hash(b"".join(pieces))
        last = piece[-1]
    return hashlib.sha256(_without_empty_end(b"".join(canonical))).digest()
