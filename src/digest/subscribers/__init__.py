"""Subscriber input: address syntax and ``email,name`` CSV files. Pure: no I/O, no SQL.

Addresses are checked for syntax only (no DNS): the mail server has the last word, and a
rejected address is bounced by the send loop.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from digest.errors import SubscriberError
from digest.subscribers.sheets import restore

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*\Z")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
# The shape nearly every real address has, checked in one match; the rest take the long way,
# which can also say what is wrong.
_COMMON = re.compile(
    rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})\Z"
)
_HEADERS_EMAIL = frozenset({"email", "e-mail", "email address", "address"})
_HEADERS_NAME = frozenset({"name", "full name"})
_HEADERS_STATUS = frozenset({"status"})


@dataclass(frozen=True)
class SubscriberRow:
    """One subscriber read from input. ``line``: where it came from (0 when not from a file)."""

    email: str
    name: str = ""
    line: int = 0
    status: str = "active"  # from a "status" column (an export read back); else active


def validate_email(address: str) -> str:
    """The address with its domain lower-cased, or SubscriberError saying what is wrong.

    The uniqueness key is the whole normalised address lower-cased (see ``email_key``); the
    local part keeps its case for display because a few servers still honour it.
    """
    candidate = address.strip()
    common = _COMMON.match(candidate)
    if (common and len(candidate) <= 254 and len(common["local"]) <= 64
            and "=?" not in candidate):
        return f"{common['local']}@{common['domain'].lower()}"
    problem, normalised = _check(candidate)
    if problem:
        raise SubscriberError(f"{_quoted(candidate)} is not a valid email address ({problem})")
    return normalised


def email_key(address: str) -> str:
    """The key under which two spellings of one address are the same subscriber."""
    return address.lower()


def clean_name(name: str) -> str:
    """A name fit for a greeting and a header: one line, no control characters."""
    if not name.isprintable():
        name = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in name)
    return " ".join(name.split())[:200]


def _check(address: str) -> tuple[str, str]:
    if not address:
        return "it is empty", ""
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in address):
        return "it contains spaces or control characters", ""
    if address.count("@") != 1:
        return "it must contain exactly one @", ""
    local, domain = address.split("@")
    if not local:
        return "nothing before the @", ""
    if len(local) > 64:
        return "the part before the @ is longer than 64 characters", ""
    if "=?" in local or not _LOCAL.match(local):
        return "the part before the @ has characters or dots that are not allowed", ""
    problem, ascii_domain = _check_domain(domain)
    if problem:
        return problem, ""
    normalised = f"{local}@{ascii_domain}"
    if len(normalised) > 254:
        return "it is longer than 254 characters", ""
    return "", normalised


def _check_domain(domain: str) -> tuple[str, str]:
    if not domain:
        return "no domain after the @", ""
    try:
        # Internationalised domains are stored in their ASCII (punycode) form, which every
        # mail server accepts.
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return f"the domain {domain!r} is not a valid domain name", ""
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        return "the domain has no dot", ""
    if len(ascii_domain) > 253 or not all(_LABEL.match(label) for label in labels):
        return f"the domain {ascii_domain!r} is not a valid domain name", ""
    if labels[-1].isdigit():
        return "the domain is an IP address, not a name", ""
    return "", ascii_domain


def _quoted(text: str, limit: int = 80) -> str:
    """Text safe to print in a message: control characters escaped, long input cut short."""
    shown = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                    for ch in text[:limit])
    return f'"{shown}{"..." if len(text) > limit else ""}"'


def parse_csv(text: str, *, source: str,
              delimiter: str = ",") -> tuple[list[SubscriberRow], list[str]]:
    """Read ``email,name`` rows. Returns (valid rows, duplicates merged; one message per bad line).

    A header row naming the columns is optional (without one: email first, name second); a
    ``status`` column (as `digest subscribers export` writes) is read too; extra columns, a byte
    order mark and blank lines are ignored. Cells neutralised against spreadsheet formulas
    (``'=...``) are read back as they were.
    """
    rows: list[SubscriberRow] = []
    errors: list[str] = []
    columns: tuple[int, int | None, int | None] | None = None
    for line, cells in _records(text.removeprefix("\ufeff"), source, errors, delimiter):
        if columns is None:
            header = _header(cells)
            columns = header or (0, 1, None)
            if header:
                continue
        email_at, name_at, status_at = columns
        email = restore(cells[email_at].strip()) if email_at < len(cells) else ""
        name = restore(cells[name_at]) if name_at is not None and name_at < len(cells) else ""
        status = (cells[status_at].strip().lower() or "active"
                  if status_at is not None and status_at < len(cells) else "active")
        if not email:
            errors.append(f"{source}:{line}: no email address in this row")
            continue
        try:
            rows.append(SubscriberRow(validate_email(email), clean_name(name), line, status))
        except SubscriberError as exc:
            errors.append(f"{source}:{line}: {exc}")
    return merge_duplicates(rows), errors


# A record (one row, possibly over several lines inside quotes) longer than this is refused
# before the csv module sees it; it stays below csv.field_size_limit()'s default of 128 KB,
# which is process-wide and so left alone.
MAX_RECORD_CHARS = 64 * 1024
MAX_RECORD_LINES = 20  # a quoted name spanning more lines is a stray quote, not a name
_INSIDE_QUOTES = "unexpected end of data"  # csv's strict mode: the text ended inside quotes
_STRAY_QUOTE = 'a quoted field is never closed: a stray " perhaps'


def _records(text: str, source: str, errors: list[str],
             delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV records (cells split at ``delimiter``) with the line each starts on; each
    bad line is reported (in ``errors``) and skipped, and reading goes on at the next line, so a
    stray quote or a huge field costs that line only."""
    lines = io.StringIO(text, newline="").readlines()  # \n, \r\n or \r, as csv reads them
    start = 0
    while start < len(lines):
        span, cells, problem = _record_at(lines, start, delimiter)
        if problem:
            errors.append(f"{source}:{start + 1}: this line is not valid CSV ({problem}); "
                          "skipped, the lines after it are read")
            start += 1
            continue
        if any(cell.strip() for cell in cells):
            yield start + 1, cells
        start += span


def _record_at(lines: list[str], start: int,
               delimiter: str = ",") -> tuple[int, list[str], str]:
    """(lines used, cells, "") for the record starting at ``lines[start]``, or (0, [], why).

    A record goes on to the next line only while the csv module says it ended inside a quoted
    field (a name with a line break in quotes); so a stray quote fails on its own line.
    """
    chunk = ""
    for span in range(1, MAX_RECORD_LINES + 1):
        chunk += lines[start + span - 1]
        if len(chunk) > MAX_RECORD_CHARS:
            return 0, [], f"longer than {MAX_RECORD_CHARS // 1024} KB"
        try:
            records = list(csv.reader(io.StringIO(chunk, newline=""), strict=True,
                                      delimiter=delimiter))
        except csv.Error as exc:
            if str(exc) == _INSIDE_QUOTES and start + span < len(lines):
                continue
            return 0, [], _STRAY_QUOTE if span > 1 or str(exc) == _INSIDE_QUOTES else str(exc)
        return span, records[0] if records else [], ""
    return 0, [], f"{_STRAY_QUOTE}; it would run over more than {MAX_RECORD_LINES} lines"


def _header(cells: list[str]) -> tuple[int, int | None, int | None] | None:
    """(email column, name column, status column) when the row is a header, else None."""
    names = [cell.strip().lower() for cell in cells]
    email_at = next((i for i, name in enumerate(names) if name in _HEADERS_EMAIL), None)
    if email_at is None:
        return None
    name_at = next((i for i, name in enumerate(names) if name in _HEADERS_NAME), None)
    status_at = next((i for i, name in enumerate(names) if name in _HEADERS_STATUS), None)
    return email_at, name_at, status_at


def merge_duplicates(rows: Iterable[SubscriberRow]) -> list[SubscriberRow]:
    """One row per address regardless of case: the first spelling and line, the last name given."""
    merged: dict[str, SubscriberRow] = {}
    for row in rows:
        key = email_key(row.email)
        earlier = merged.get(key)
        if earlier is None:
            merged[key] = row
        elif row.name:
            merged[key] = replace(earlier, name=row.name)
    return list(merged.values())
