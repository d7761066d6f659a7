"""Checks for single configuration values: each turns a YAML node into a value or says why not.

A check raises ``_Invalid`` with a message of the form "expected ..., got ..."; the caller adds
the file, line and key. Values are never echoed for keys that may hold secrets.
"""

from __future__ import annotations

import ipaddress
import math
import os.path
import re
import string
from email.errors import HeaderParseError
from email.headerregistry import Address, AddressHeader, HeaderRegistry
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from digest.config import yamlpos
from digest.config.walk import Check, Ctx, Where, _Invalid, _Reported, run_check
from digest.config.yamlpos import Node, ScalarNode
from digest.issues import i18n
from digest.issues import schedule as schedules
from digest.models import Schedule

SUBJECT_PLACEHOLDERS = ("title", "date", "date_long", "count", "first_post")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DOMAIN_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADERS = HeaderRegistry()


def _text(node: Node, expected: str) -> str:
    # Any plain scalar counts as text: `language: no` or `title: 1984` mean the words written.
    if not yamlpos.is_plain(node) or yamlpos.is_null(node):
        raise _Invalid(f"expected {expected}, got {yamlpos.describe(node)}")
    return str(node.value).strip()


def line_text(ctx: Ctx, node: Node, where: Where) -> str:
    """Non-empty text on one line: it may end up in a mail header."""
    value = _text(node, "text on one line")
    if not value:
        raise _Invalid("expected text on one line, got an empty value")
    if _CONTROL.search(value):
        raise _Invalid("expected text on one line, got line breaks or control characters")
    return value


def block_text(ctx: Ctx, node: Node, where: Where) -> str:
    """Free text, several lines allowed, empty allowed."""
    if yamlpos.is_null(node):
        return ""
    if not yamlpos.is_plain(node):
        raise _Invalid(f"expected text, got {yamlpos.describe(node)}")
    # Leading spaces are kept: in Markdown they can mean a code block.
    return str(node.value).lstrip("\n").rstrip()


def whole(minimum: int, maximum: int | None = None, unit: str = "") -> Check:
    expected = f"a whole number >= {minimum}" if maximum is None else (
        f"a whole number from {minimum} to {maximum}")
    expected += f" ({unit})" if unit else ""

    def check(ctx: Ctx, node: Node, where: Where) -> int:
        value = _number(node)
        if not isinstance(value, int) or value < minimum or (maximum and value > maximum):
            raise _Invalid(f"expected {expected}, got {yamlpos.describe(node)}")
        return value

    return check


def positive(unit: str) -> Check:
    def check(ctx: Ctx, node: Node, where: Where) -> float:
        value = _number(node)
        if value is None or not math.isfinite(value) or value <= 0:
            raise _Invalid(f"expected a number > 0 ({unit}), got {yamlpos.describe(node)}")
        return float(value)

    return check


def _number(node: Node) -> int | float | None:
    if isinstance(node, ScalarNode) and node.tag in (yamlpos.INT, yamlpos.FLOAT):
        value = yamlpos.scalar(node)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
    return None


def boolean(ctx: Ctx, node: Node, where: Where) -> bool:
    if isinstance(node, ScalarNode) and node.tag == yamlpos.BOOL:
        return bool(yamlpos.scalar(node))
    got = yamlpos.describe(node)
    if isinstance(node, ScalarNode) and node.tag == yamlpos.STR and str(node.value).lower() in (
            "true", "false", "yes", "no", "on", "off"):
        got = f"the text {got} (write it without quotes)"
    raise _Invalid(f"expected true or false, got {got}")


def choice(*options: str) -> Check:
    listed = " or ".join(options)

    def check(ctx: Ctx, node: Node, where: Where) -> str:
        if isinstance(node, ScalarNode) and node.tag == yamlpos.STR and node.value in options:
            return str(node.value)
        raise _Invalid(f"expected {listed}, got {yamlpos.describe(node)}")

    return check


def optional(check: Check) -> Check:
    """``check``, but an empty value (``key:`` or ``key: null``) means "not set"."""

    def wrapped(ctx: Ctx, node: Node, where: Where) -> Any:
        return None if yamlpos.is_null(node) else check(ctx, node, where)

    return wrapped


def split_url(value: str) -> SplitResult | None:
    """``urlsplit``, or None for text it cannot split (a bad port, a broken [IPv6] host)."""
    try:
        parts = urlsplit(value)
        if parts.port == 0:
            return None
    except ValueError:
        return None
    return parts


def is_http_url(value: str) -> bool:
    parts = split_url(value)
    if parts is None or parts.scheme not in ("http", "https") or re.search(r"\s", value):
        return False
    host = parts.hostname or ""
    return _valid_domain(host) or _is_ip(host)


def http_url(ctx: Ctx, node: Node, where: Where) -> str:
    value = _text(node, "an http(s) URL")
    if not is_http_url(value):
        raise _Invalid(f"expected an http:// or https:// URL, got {yamlpos.describe(node)}")
    return value


def parse_address(value: str) -> Address | None:
    """The single address in ``value`` ("Name <user@host>" or "user@host"), if it is valid."""
    if _CONTROL.search(value):
        return None
    try:
        header = _HEADERS("from", value)
    except (HeaderParseError, IndexError, ValueError):
        # The header parser raises IndexError on some truncated input, such as "user@".
        return None
    if not isinstance(header, AddressHeader) or header.defects or len(header.addresses) != 1:
        return None
    address = header.addresses[0]
    if not address.username or not _valid_domain(address.domain):
        return None
    return address


def _valid_domain(domain: str) -> bool:
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return all(_DOMAIN_LABEL.match(label) for label in ascii_domain.split("."))


def address(ctx: Ctx, node: Node, where: Where) -> str:
    value = _text(node, "an email address")
    if parse_address(value) is None:
        raise _Invalid('expected one email address such as "Blog <digest@example.org>" or '
                      f'"digest@example.org", got {yamlpos.describe(node)}')
    return value


def unsubscribe(ctx: Ctx, node: Node, where: Where) -> str:
    value = _text(node, "a mailto: or https: address")
    parts = split_url(value)
    if parts and parts.scheme == "mailto" and parse_address(parts.path) is not None:
        return value
    if parts and parts.scheme == "https" and is_http_url(value):
        return value
    raise _Invalid("expected mailto:ADDRESS or an https:// URL, got "
                  f"{yamlpos.describe(node)}")


def subject(ctx: Ctx, node: Node, where: Where) -> str:
    value = line_text(ctx, node, where)
    known = ", ".join("{" + name + "}" for name in SUBJECT_PLACEHOLDERS)
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(value)
                  if name is not None]
    except ValueError as exc:
        raise _Invalid(f"not a valid subject template ({exc}); write {{{{ and }}}} for "
                      "a literal brace") from exc
    for name, spec, conv in fields:
        if name not in SUBJECT_PLACEHOLDERS:
            raise _Invalid(f"unknown placeholder {{{name}}}; the subject may use {known}")
        if spec or conv:
            raise _Invalid(f"placeholder {{{name}}} takes no format or conversion; "
                          f"write {{{name}}}")
    return value


def language(ctx: Ctx, node: Node, where: Where) -> str:
    value = _text(node, "a language tag")
    if not _LANGUAGE.match(value):
        raise _Invalid(f'expected a language tag such as "en" or "pt-BR", got '
                      f"{yamlpos.describe(node)}")
    return value


def locale_name(ctx: Ctx, node: Node, where: Where) -> str:
    """A locale with a catalogue ("de", "fr_CA", "ar"), as Babel's identifier."""
    value = _text(node, 'a locale such as "en", "de" or "fr_CA"')
    try:
        return i18n.parse_locale(value)
    except i18n.LocaleProblem as exc:
        raise _Invalid(str(exc)) from exc


def env_name(ctx: Ctx, node: Node, where: Where) -> str:
    value = _text(node, "the name of an environment variable")
    if not _ENV_NAME.match(value):
        # Not echoed: a value that is no variable name may well be the password itself.
        raise _Invalid("expected the NAME of an environment variable (letters, digits and _, "
                      "such as SMTP_PASSWORD) that holds the password")
    return value


def hostname(ctx: Ctx, node: Node, where: Where) -> str:
    value = _text(node, "a host name")
    if not _valid_domain(value) and not _is_ip(value):
        raise _Invalid(f'expected a host name such as "smtp.example.org" (no scheme, no port), '
                      f"got {yamlpos.describe(node)}")
    return value


def path(ctx: Ctx, node: Node, where: Where) -> Path:
    """A path; relative ones start at the config file's folder, never the working directory."""
    value = _text(node, "a path")
    if not value or _CONTROL.search(value):
        raise _Invalid(f"expected a path, got {yamlpos.describe(node)}")
    return resolve(ctx, value)


def resolve(ctx: Ctx, value: str) -> Path:
    home = ctx.env.get("HOME")
    if home and (value == "~" or value.startswith("~/")):
        value = home + value[1:]
    # Lexical normalisation only: a symlinked folder keeps the name the user gave it.
    return Path(os.path.normpath(ctx.base / value))


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def schedule(ctx: Ctx, node: Node, where: Where) -> Schedule:
    """When issues go out, e.g. "weekly monday 08:00 Europe/London"."""
    value = _text(node, f"a schedule such as {schedules.EXAMPLE}")
    try:
        return schedules.parse(value)
    except schedules.ScheduleSyntaxError as exc:
        raise _Invalid(str(exc)) from exc


def address_list(ctx: Ctx, node: Node, where: Where) -> tuple[str, ...]:
    """Email addresses, one per "- " line (a single address alone is a list of one)."""
    if isinstance(node, ScalarNode) and not yamlpos.is_null(node):
        return (address(ctx, node, where),)
    if not isinstance(node, yamlpos.SequenceNode):
        raise _Invalid('expected a list of email addresses, each line starting with "- ", got '
                      f"{yamlpos.describe(node)}")
    result: list[str] = []
    seen: dict[str, Where] = {}
    for index, item in enumerate(node.value):
        item_where = Where(f"{where.key}[{index}]", yamlpos.line(item))
        ok, value = run_check(ctx, address, item, item_where)
        if not ok:
            continue
        parsed = parse_address(value)
        bare = parsed.addr_spec.lower() if parsed is not None else value.lower()
        first = seen.setdefault(bare, item_where)
        if first is not item_where:
            ctx.report(item_where.line, item_where.key,
                       f"the same address as {first.key} on line {first.line}; list it once")
        result.append(value)
    if len(result) < len(node.value) or len(seen) < len(result):
        raise _Reported
    return tuple(result)
