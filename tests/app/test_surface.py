"""``digest.app``'s public surface: every name resolves to its use case, lazily."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import digest.app

INIT = Path(digest.app.__file__)


def _typed_imports() -> dict[str, str]:
    """Name -> module, as the ``if TYPE_CHECKING:`` block of app/__init__.py imports them."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If))
    return {alias.name: node.module.rpartition(".")[2]
            for node in block.body if isinstance(node, ast.ImportFrom) and node.module
            for alias in node.names}


def test_the_lazy_table_matches_what_mypy_sees() -> None:
    assert _typed_imports() == digest.app._WHERE
    assert sorted(digest.app.__all__) == sorted(digest.app._WHERE)


def test_every_public_name_resolves_to_its_module() -> None:
    for name, module in digest.app._WHERE.items():
        value = getattr(digest.app, name)
        assert value is getattr(importlib.import_module(f"digest.app.{module}"), name), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        digest.app.no_such_use_case  # noqa: B018
    except AttributeError as exc:
        assert "no_such_use_case" in str(exc)
    else:
        raise AssertionError("an unknown name resolved")


def test_importing_the_package_imports_no_use_case() -> None:
    code = ("import sys, digest.app; "
            "print(sorted(m for m in sys.modules if m.startswith('digest.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['digest.app']"
