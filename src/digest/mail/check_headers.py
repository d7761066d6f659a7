"""What is wrong with a message's header block. Pure: raw header lines in, sentences out."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

MAX_LINE = 998  # RFC 5322 2.1.1: MUST
FOLD_AT = 78  # RFC 5322 2.1.1: SHOULD
ONE_CLICK = "List-Unsubscribe=One-Click"
REQUIRED = ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "List-Id",
            "List-Unsubscribe")
# At most once each (RFC 5322 3.6, RFC 2369, RFC 2919, RFC 8058).
SINGLE = ("From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID",
          "MIME-Version", "Content-Type", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post")
# RFC 6376 requires From in the signature; RFC 8058 both unsubscribe headers when present.
DKIM_MUST_SIGN = ("from", "list-unsubscribe", "list-unsubscribe-post")

_MESSAGE_ID_RE = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_LIST_ID_RE = re.compile(r"(?:.*\s)?<[^<>\s]+\.[^<>\s]+>")
_URI_RE = re.compile(r"<([^<>]*)>")

Field = tuple[str, str, list[bytes]]  # name, unfolded value, the physical lines


def header_block(raw: bytes) -> list[bytes]:
    """The header lines (line ends removed) before the first empty line."""
    lines = []
    for line in raw.split(b"\n"):
        line = line.removesuffix(b"\r")
        if not line:
            break
        lines.append(line)
    return lines


def fields(lines: list[bytes]) -> list[Field]:
    """Header fields with continuation lines joined; a line that is neither is named ``""``."""
    out: list[Field] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and out:
            name, value, physical = out[-1]
            out[-1] = (name, value + " " + _text(line).strip(), [*physical, line])
        else:
            name, colon, value = _text(line).partition(":")
            out.append((name.strip() if colon else "", value.strip(), [line]))
    return out


def get(parsed: list[Field], name: str) -> list[str]:
    return [value for n, value, _ in parsed if n.lower() == name.lower()]


def list_unsubscribe_uris(value: str) -> list[str]:
    return [uri.strip() for uri in _URI_RE.findall(value)]


def check_headers(lines: list[bytes]) -> list[str]:
    """Problems with the header block: encoding, line lengths, missing or malformed headers."""
    parsed = fields(lines)
    found = []
    for name, _, physical in parsed:
        found += _line_problems(name, physical)
    counts: dict[str, int] = {}
    for name, _, _ in parsed:
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    found += [f"{name}: missing" for name in REQUIRED if name.lower() not in counts]
    found += [f"{name}: appears {counts[name.lower()]} times; at most once"
              for name in SINGLE if counts.get(name.lower(), 0) > 1]
    if "bcc" in counts:
        found.append("Bcc: a bulk message must not carry one (a sign of header injection)")
    found += _value_problems(parsed)
    found += _unsubscribe_problems(parsed)
    found += _dkim_problems(parsed)
    return found


def header_warnings(lines: list[bytes]) -> list[str]:
    """Not wrong, but worth knowing before a large send."""
    uris = [u for v in get(fields(lines), "List-Unsubscribe") for u in list_unsubscribe_uris(v)]
    if uris and not any(u.lower().startswith("https://") for u in uris):
        return ["List-Unsubscribe has no https URI, so no one-click unsubscribe (RFC 8058): "
                "Gmail and Yahoo ask it of senders of 5,000+ messages a day; set "
                "digest.unsubscribe_url (a signed one-click link per reader)"]
    return []


def _text(line: bytes) -> str:
    return line.decode("ascii", "replace")


def _line_problems(name: str, physical: list[bytes]) -> list[str]:
    label = name or _text(physical[0])[:40]
    found = []
    if not name:
        found.append(f"{label!r}: not a header field (no name and colon)")
    if any(b > 127 for line in physical for b in line):
        found.append(f"{label}: raw non-ASCII bytes; headers must be ASCII "
                     "(RFC 2047 encoded-words for other text)")
    if any(b < 32 and b != 9 or b == 127 for line in physical for b in line):
        found.append(f"{label}: control characters in the header")
    for i, line in enumerate(physical, 1):
        where = f"{label} (line {i} of the field)" if len(physical) > 1 else label
        if len(line) > MAX_LINE:
            found.append(f"{where}: {len(line)} characters; lines must not pass {MAX_LINE}")
        elif len(line) > FOLD_AT and _could_fold(line, len(name) + 1 if i == 1 else 0):
            found.append(f"{where}: {len(line)} characters; fold it at {FOLD_AT}")
    return found


def _could_fold(line: bytes, start: int) -> bool:
    """A space or tab after some text, within the first 78 columns, where a fold could go."""
    head = line[:FOLD_AT + 1]
    body_start = start + len(head[start:]) - len(head[start:].lstrip(b" \t"))
    return any(c in b" \t" for c in head[body_start + 1:])


def _value_problems(parsed: list[Field]) -> list[str]:
    found = []
    for value in get(parsed, "Date"):
        try:
            parsedate_to_datetime(value)
        except (TypeError, ValueError):
            found.append(f"Date: {value!r} is not an RFC 5322 date")
    found += [f"Message-ID: {v!r} is not of the form <unique@domain>"
              for v in get(parsed, "Message-ID") if not _MESSAGE_ID_RE.fullmatch(v)]
    found += [f"List-Id: {v!r} is not of the form 'Name <label.example.org>' (RFC 2919)"
              for v in get(parsed, "List-Id") if not _LIST_ID_RE.fullmatch(v)]
    found += [f"MIME-Version: {v!r}; it must be 1.0"
              for v in get(parsed, "MIME-Version") if v.split("(")[0].strip() != "1.0"]
    return found


def _unsubscribe_problems(parsed: list[Field]) -> list[str]:
    found = []
    https = False
    for value in get(parsed, "List-Unsubscribe"):
        uris = list_unsubscribe_uris(value)
        if not uris or _URI_RE.sub("", value).replace(",", "").strip():
            found.append(f"List-Unsubscribe: {value!r}; each URI must be in <angle brackets>, "
                         "separated by commas (RFC 2369)")
        for uri in uris:
            scheme = uri.partition(":")[0].lower()
            if scheme not in ("https", "mailto"):
                found.append(f"List-Unsubscribe: {uri!r} is neither https: nor mailto:")
        https = https or any(u.lower().startswith("https://") for u in uris)
    posts = get(parsed, "List-Unsubscribe-Post")
    if https and not posts:
        found.append(f"List-Unsubscribe-Post: missing; with an https List-Unsubscribe URI it "
                     f"must say {ONE_CLICK!r} for one-click unsubscribe (RFC 8058)")
    found += [f"List-Unsubscribe-Post: {v!r}; it must be exactly {ONE_CLICK!r}"
              for v in posts if v != ONE_CLICK]
    if posts and not https:
        found.append("List-Unsubscribe-Post: present, but List-Unsubscribe has no https URI "
                     "to POST to")
    return found


def _dkim_problems(parsed: list[Field]) -> list[str]:
    present = {name.lower() for name, _, _ in parsed}
    found = []
    for value in get(parsed, "DKIM-Signature"):
        tags = dict(_tag(t) for t in value.split(";") if "=" in t)
        signed = {h.strip().lower() for h in re.sub(r"\s", "", tags.get("h", "")).split(":")}
        missing = [h for h in DKIM_MUST_SIGN if h in present and h not in signed]
        if missing:
            found.append(f"DKIM-Signature: h= does not cover {', '.join(missing)}; receivers "
                         "ignore unsigned unsubscribe headers (RFC 8058) and From (RFC 6376)")
    return found


def _tag(text: str) -> tuple[str, str]:
    key, _, value = text.partition("=")
    return key.strip().lower(), value.strip()
