"""One encoder for every header that carries text from feeds or people (Subject, display names in
From, Reply-To and To, the name in List-Id).

Why not the standard library's folder: ``email.policy`` folds a long non-ASCII Subject into
several encoded-words and sometimes puts the space between two words *between* two encoded-words,
as folding whitespace. RFC 2047 6.2 says whitespace between adjacent encoded-words is ignored, so
every reader (the standard library's own parser included) shows "을사용할" for "을 사용할". The
legacy ``email.header.Header`` splits words mid-character run the same way.

The rule here: text that is plain ASCII (and holds no ``=?``) is written as it is, folded at its
spaces; any other text becomes base64 encoded-words (RFC 2047 ``=?utf-8?b?...?=``), each holding
whole characters, each ending just after a space where it can, so every space sits *inside* an
encoded-word and survives. Lines are folded before a word that would pass 78 characters (RFC 5322
2.2.3), and an encoded-word is never longer than 75 characters (RFC 2047 2).
"""

from __future__ import annotations

import base64
import re

from digest.feeds.sanitize import clean_header_text

FOLD_AT = 78  # RFC 5322 2.1.1: lines SHOULD be at most 78 characters
_EW_PREFIX, _EW_SUFFIX = "=?utf-8?b?", "?="
_EW_BYTES = 45  # 45 bytes -> 60 base64 characters -> a 72-character encoded-word
_ATOMS_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")


def needs_encoding(text: str) -> bool:
    """True when the text cannot be written as it is: non-ASCII, or ``=?`` (read as an
    encoded-word by receivers)."""
    return not text.isascii() or "=?" in text


def encoded_words(text: str, first_budget: int = _EW_BYTES) -> list[str]:
    """RFC 2047 base64 encoded-words for ``text``, whole characters each, every space inside a
    word (a chunk ends just after a space when the next word does not fit). ``first_budget``:
    bytes the first word may hold (less when it shares the first line with the header name)."""
    chunks: list[bytes] = [b""]
    budget = max(3, min(first_budget, _EW_BYTES))
    pieces = text.split(" ")
    for piece in [p + " " for p in pieces[:-1]] + pieces[-1:]:
        raw = piece.encode("utf-8")
        if len(chunks[-1]) + len(raw) <= budget:
            chunks[-1] += raw
            continue
        if chunks[-1]:
            chunks.append(b"")
            budget = _EW_BYTES
        if len(raw) <= budget:
            chunks[-1] += raw
            continue
        for char in piece:  # a word longer than an encoded-word: split between characters
            data = char.encode("utf-8")
            if len(chunks[-1]) + len(data) > budget:
                chunks.append(b"")
                budget = _EW_BYTES
            chunks[-1] += data
    return [_EW_PREFIX + base64.b64encode(c).decode("ascii") + _EW_SUFFIX for c in chunks if c]


def fold(name: str, words: list[str]) -> str:
    """``name: w1 w2 ...`` with CRLF SP folds before a word that would pass 78 columns (never
    inside a word). No final CRLF. Between two encoded-words the space (or fold) only separates
    them, as RFC 2047 requires: readers ignore it, which is why their own spaces are inside."""
    out, width = f"{name}:", len(name) + 1
    for i, word in enumerate(words):
        if i and width + 1 + len(word) > FOLD_AT:
            out += "\r\n " + word
            width = 1 + len(word)
        else:
            out += " " + word
            width += 1 + len(word)
    return out


def _first_budget(name: str) -> int:
    """Bytes the first encoded-word may hold to share the first line with ``Name: ``."""
    room = FOLD_AT - len(name) - 2 - len(_EW_PREFIX) - len(_EW_SUFFIX)
    return room // 4 * 3


def text_header(name: str, value: str, *, limit: int = 998) -> bytes:
    """An unstructured header (Subject, say) for text from feeds or people: cleaned of control
    characters, folded, encoded when not plain ASCII; CRLF at the end."""
    text = clean_header_text(value, limit=limit)
    if not needs_encoding(text):
        return (fold(name, text.split(" ")) + "\r\n").encode("ascii")
    words = encoded_words(text, _first_budget(name))
    return (fold(name, words) + "\r\n").encode("ascii")


def phrase_words(name: str, *, header: str = "") -> list[str]:
    """A display name (RFC 5322 phrase) as the words of a header: atoms as they are, other ASCII
    as one quoted-string, anything else as encoded-words (RFC 2047 5(3)). ``header``: the header
    it starts, so the first encoded-word fits on its line."""
    if not needs_encoding(name):
        if _ATOMS_RE.fullmatch(name):
            return name.split(" ") if name else []
        # A quoted-string may hold folding whitespace (RFC 5322 3.2.4): split it at its spaces
        # so a long name folds like any other.
        return ('"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"').split(" ")
    return encoded_words(name, _first_budget(header) if header else _EW_BYTES)


def address_header(name: str, display: str, addr_spec: str) -> bytes:
    """``Name: display <addr@example.org>`` folded, the display name cleaned and encoded as
    ``phrase_words`` says; just the address when there is no display name. CRLF at the end."""
    words = phrase_words(clean_header_text(display, limit=200), header=name)
    line = fold(name, [*words, f"<{addr_spec}>"]) if words else f"{name}: {addr_spec}"
    return (line + "\r\n").encode("ascii")
