"""YAML kept as nodes with positions, so every configuration message can name its line.

``yaml.safe_load`` throws positions away and silently keeps the last of two equal keys; composing
to nodes keeps both the line of every key and value and every duplicate, and constructs nothing
but plain scalars.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from digest.errors import ConfigError

__all__ = [
    "Entry", "MappingNode", "Node", "ScalarNode", "SequenceNode", "compose", "describe",
    "entries", "is_null", "is_plain", "line", "scalar",
]

NULL = "tag:yaml.org,2002:null"
BOOL = "tag:yaml.org,2002:bool"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
STR = "tag:yaml.org,2002:str"
TIMESTAMP = "tag:yaml.org,2002:timestamp"
MERGE = "tag:yaml.org,2002:merge"
MAP = "tag:yaml.org,2002:map"
_PLAIN_TAGS = (NULL, BOOL, INT, FLOAT, STR)

# Parser messages that have a usual cause worth naming.
_HINTS = {
    "found character '\\t' that cannot start any token": "indent with spaces, not tabs",
    "mapping values are not allowed here": 'a value containing ": " needs quotes',
    "but found another document": 'a config file holds one document: remove this "---"',
    "found undefined alias": "an *alias needs its &anchor earlier in the file",
}


@dataclass(frozen=True)
class Entry:
    """One ``key: value`` pair of a mapping."""

    key: str
    key_node: Node
    value: Node


def line(node: Node) -> int:
    """The 1-based line where ``node`` starts."""
    return int(node.start_mark.line) + 1


def compose(text: str, label: str) -> Node | None:
    """Parse ``text`` into nodes; ``None`` for a file holding no document at all."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, label) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", path=label) from exc
    except RecursionError as exc:
        raise ConfigError("not usable YAML: nested too deeply", path=label) from exc


def _syntax_error(exc: yaml.MarkedYAMLError, label: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "unreadable"
    where = f" at column {mark.column + 1}" if mark is not None else ""
    message = f"YAML syntax error{where}: {problem}"
    if exc.context and exc.problem and exc.context_mark is not None:
        message += f" ({exc.context} on line {exc.context_mark.line + 1})"
    for pattern, hint in _HINTS.items():
        if problem.startswith(pattern):
            message += f"; {hint}"
    return ConfigError(message, path=label, line=mark.line + 1 if mark else None)


def entries(node: MappingNode) -> list[Entry]:
    """The pairs of a mapping in file order, with ``<<: *anchor`` merges flattened in.

    Keys written in the mapping itself come first, so a later check for repeated keys sees
    them; merged keys that the mapping overrides are dropped, as YAML specifies.
    """
    own: list[Entry] = []
    merged: list[Entry] = []
    for key_node, value in node.value:
        if key_node.tag == MERGE:
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if isinstance(source, MappingNode):
                    merged.extend(entries(source))
            continue
        name = key_node.value if isinstance(key_node, ScalarNode) else ""
        own.append(Entry(name, key_node, value))
    seen = {entry.key for entry in own}
    for entry in merged:
        if entry.key not in seen:
            seen.add(entry.key)
            own.append(entry)
    return own


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == NULL


def is_plain(node: Node) -> bool:
    """A scalar without an explicit tag such as ``!!binary`` (dates are plain: just text)."""
    return isinstance(node, ScalarNode) and node.tag in (*_PLAIN_TAGS, TIMESTAMP)


def scalar(node: ScalarNode) -> object:
    """The plain value of a scalar: None, bool, int, float or str (other tags: their text)."""
    if node.tag not in _PLAIN_TAGS:
        return str(node.value)
    return SafeConstructor().construct_object(node)


def describe(node: Node) -> str:
    """What the file holds at ``node``, for "expected ..., got ..." messages."""
    if isinstance(node, MappingNode):
        return "a section of key: value pairs"
    if isinstance(node, SequenceNode):
        return "a list"
    assert isinstance(node, ScalarNode)
    raw = str(node.value)
    if not is_plain(node):
        return f"a value tagged {node.tag.replace('tag:yaml.org,2002:', '!!')}"
    if node.tag == NULL:
        return "nothing"
    if len(raw) > 60:
        raw = raw[:57] + "..."
    if node.tag == BOOL:
        value = scalar(node)
        return raw if raw.lower() in ("true", "false") else f"{raw} (read as {str(value).lower()})"
    if node.tag in (INT, FLOAT):
        value = scalar(node)
        if isinstance(value, float) and not math.isfinite(value):
            return f"{raw} (not a finite number)"
        return raw
    return json.dumps(raw, ensure_ascii=False)
