"""Walking feeds.yaml section by section: unknown, repeated and secret keys, missing required
keys, and each value handed to its check, with every problem recorded rather than raised at once.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digest.config import yamlpos
from digest.config.yamlpos import Node

_SECRETS = ("password", "passwd", "pass", "smtp_password", "secret")
_SECRET_MESSAGE = ("a password does not belong in the config file: put it in an environment "
                   "variable and name that variable with sender.smtp.password_env "
                   "(e.g. password_env: SMTP_PASSWORD)")
_TITLES = {"": "the top level", "feeds[]": "each item of feeds"}


# _Invalid and _Reported are private control flow of the config package: checks raise them, the
# walk collects them into problems, and ``config.load`` turns those into one ConfigError. They
# never leave the package, so they are not part of digest.errors.


class _Invalid(Exception):
    """A value is wrong; reported on the line of its key, under the key's dotted path."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Reported(Exception):
    """A nested section failed; its problems are already recorded."""


@dataclass(frozen=True)
class Problem:
    line: int | None
    key: str | None
    message: str


@dataclass
class Ctx:
    """What checks need to know: where the file is, the environment, the problems so far."""

    label: str  # the config path as the user named it, for messages
    base: Path  # the config file's folder (absolute): relative paths start here
    env: Mapping[str, str]
    schema: Mapping[str, Mapping[str, Field]]  # the keys of each section, by section name
    problems: list[Problem] = field(default_factory=list)

    def report(self, line: int | None, key: str | None, message: str) -> None:
        self.problems.append(Problem(line, key, message))


@dataclass(frozen=True)
class Where:
    key: str  # dotted path, e.g. "sender.smtp.port"
    line: int  # line of the key


Check = Callable[[Ctx, Node, Where], Any]


@dataclass(frozen=True)
class Field:
    check: Check
    required: bool = False
    attr: str | None = None  # the Settings attribute, where it differs from the key


@dataclass(frozen=True)
class Taken:
    """The checked values of one section, by attribute, and the line of each key present."""

    values: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, name: str, default: int) -> int:
        return self.lines.get(name, default)


def run_check(ctx: Ctx, check: Check, node: yamlpos.Node, where: Where) -> tuple[bool, Any]:
    """Run ``check``, recording its complaint; (False, None) when it failed."""
    try:
        return True, check(ctx, node, where)
    except _Invalid as exc:
        ctx.report(where.line, where.key or None, exc.message)
    except _Reported:
        pass
    return False, None


def take(ctx: Ctx, node: yamlpos.Node, where: Where, section: str) -> Taken:
    """Check every key of a section; raises ``_Reported`` if anything in it was wrong."""
    if not isinstance(node, yamlpos.MappingNode):
        raise _Invalid(f"expected a section of key: value pairs, got {yamlpos.describe(node)}")
    spec = ctx.schema[section]
    before = len(ctx.problems)
    found = _known_entries(ctx, node, where, section)
    taken = Taken({})
    for name, fld in spec.items():
        key = f"{where.key}.{name}" if where.key else name
        entry = found.get(name)
        if entry is None:
            if fld.required:
                ctx.report(where.line, key, "required key is missing" + (
                    f" from the {where.key} section" if where.key else ""))
            continue
        taken.lines[name] = yamlpos.line(entry.key_node)
        ok, value = run_check(ctx, fld.check, entry.value, Where(key, taken.lines[name]))
        if ok and value is not None:
            taken.values[fld.attr or name] = value
    if len(ctx.problems) > before:
        raise _Reported
    return taken


def _known_entries(ctx: Ctx, node: yamlpos.MappingNode, where: Where,
                   section: str) -> dict[str, yamlpos.Entry]:
    found: dict[str, yamlpos.Entry] = {}
    for entry in yamlpos.entries(node):
        key = f"{where.key}.{entry.key}" if where.key else entry.key
        at = yamlpos.line(entry.key_node)
        if not isinstance(entry.key_node, yamlpos.ScalarNode) or not entry.key:
            ctx.report(at, where.key or None, "keys must be plain names, such as title:")
        elif entry.key in found:
            first = yamlpos.line(found[entry.key].key_node)
            ctx.report(at, key, f"appears twice, on lines {first} and {at}; YAML would silently "
                                "keep only the last one, so remove one")
        elif entry.key.lower() in _SECRETS:
            ctx.report(at, key, _SECRET_MESSAGE)
        elif entry.key not in ctx.schema[section]:
            ctx.report(at, key, _unknown(ctx, entry.key, section))
        else:
            found[entry.key] = entry
    return found


def _unknown(ctx: Ctx, name: str, section: str) -> str:
    # A key that exists in another section is more likely misplaced than misspelt.
    homes = [_TITLES.get(home, home) for home, spec in ctx.schema.items()
             if name in spec and home != section]
    if homes:
        return f"unknown key here; it belongs under {' or '.join(homes)}"
    known = list(ctx.schema[section])
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f'unknown key (did you mean "{close[0]}"?)'
    return "unknown key; expected one of: " + ", ".join(known)
