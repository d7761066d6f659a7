"""Subscriber input: address syntax and ``email,name`` CSV files. Pure: no I/O, no SQL.

Addresses are checked for syntax only (no DNS): the mail server has the last word, and a
rejected address is bounced by the send loop.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from digest.errors import SubscriberError
from digest.subscribers.records import records
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
    # True once ``check_row`` validated the address and cleaned the name, so that the store
    # need not do it again; not part of what the row is (ignored by ==).
    checked: bool = field(default=False, compare=False, repr=False)


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


def check_row(row: SubscriberRow) -> SubscriberRow:
    """``row`` with its address validated (``validate_email``), its name cleaned
    (``clean_name``) and ``checked`` set; SubscriberError (from ``validate_email``) when the
    address is not one. A row already checked is returned as it is."""
    if row.checked:
        return row
    return SubscriberRow(validate_email(row.email), clean_name(row.name), row.line, row.status,
                         checked=True)


def read_csv(lines: Iterable[str], *, source: str, errors: list[str],
             delimiter: str = ",") -> Iterator[SubscriberRow]:
    """Valid rows (checked: see ``check_row``) of ``email,name`` CSV lines, in file order,
    lazily: duplicates are not merged
    here (see ``merge_duplicates``) and one message per bad line is added to ``errors``
    ("source:line: why").

    ``lines`` as ``open(path, newline="")`` gives them (see ``records.records``). A header row
    naming the columns is optional (without one: email first, name second); a ``status`` column
    (as `digest subscribers export` writes) is read too; extra columns, a byte order mark and
    blank lines are ignored. Cells neutralised against spreadsheet formulas (``'=...``) are read
    back as they were.
    """
    columns: tuple[int, int | None, int | None] | None = None
    for line, cells in records(_without_bom(lines), source, errors, delimiter):
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
            yield check_row(SubscriberRow(email, name, line, status))
        except SubscriberError as exc:
            errors.append(f"{source}:{line}: {exc}")


def parse_csv(text: str, *, source: str,
              delimiter: str = ",") -> tuple[list[SubscriberRow], list[str]]:
    """``read_csv`` over a whole text: (valid rows, duplicates merged; one message per bad
    line). For a file, stream it instead: ``Store.import_subscribers(read_csv(...))``."""
    errors: list[str] = []
    rows = read_csv(io.StringIO(text, newline=""), source=source, errors=errors,
                    delimiter=delimiter)
    return merge_duplicates(rows), errors


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    first = True
    for line in lines:
        yield line.removeprefix("\ufeff") if first else line
        first = False


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
    """One row per address regardless of case: the first spelling, line and status, the last
    name given (a non-empty one). The store's import applies the same rule in SQL
    (``store.subscribers.import_rows``), so a file of any length is merged without holding it."""
    merged: dict[str, SubscriberRow] = {}
    for row in rows:
        key = email_key(row.email)
        earlier = merged.get(key)
        if earlier is None:
            merged[key] = row
        elif row.name:
            merged[key] = replace(earlier, name=row.name)
    return list(merged.values())
