"""The layers of digest, kept honest: every import of every module, read with ``ast``.

    cli, web, __main__   adapters: may import anything below; nothing but adapters imports them
    app                  the use cases: imported by the adapters only
    config feeds store issues mail subscribers delivery   the parts: never app, cli or web
    models errors settings (and the package root)         the base: only each other

Imports inside functions and under ``if TYPE_CHECKING:`` count like any other: a lazy import is
still a dependency, and a cycle through one is still a cycle. ``from package import name`` is an
import of the submodule when ``name`` is one, else of the package itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "digest"

ADAPTERS = {"cli", "web", "__main__"}
APP = {"app"}
PARTS = {"config", "feeds", "store", "issues", "mail", "subscribers", "delivery"}
BASE = {"", "models", "errors", "settings"}  # "": the package root (its version)


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} imports {self.imported} (line {self.line})"


def modules(root: Path) -> dict[str, Path]:
    """Every module under the package folder ``root``, by dotted name."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(root: Path) -> list[Import]:
    """Every import of one of the package's own modules, anywhere in any of its modules."""
    known = modules(root)
    found: list[Import] = []
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in _targets(node, name, is_package, known):
                if target != name:
                    found.append(Import(name, target, node.lineno))
    return found


def _targets(node: ast.Import | ast.ImportFrom, name: str, is_package: bool,
             known: dict[str, Path]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield from _nearest(alias.name, known)
    else:
        base = node.module or ""
        if node.level:
            here = name.split(".") if is_package else name.split(".")[:-1]
            here = here[:len(here) - (node.level - 1)]
            base = ".".join([*here, base] if base else here)
        for alias in node.names:
            full = f"{base}.{alias.name}"
            yield from [full] if full in known else _nearest(base, known)


def _nearest(dotted: str, known: dict[str, Path]) -> Iterator[str]:
    while dotted and dotted not in known:
        dotted = dotted.rpartition(".")[0]
    if dotted:
        yield dotted


def layer(module: str, package: str) -> str:
    """The layer a module of ``package`` belongs to; an unknown top-level name fails the test,
    so a new package has to be given its place."""
    top = module.removeprefix(package).lstrip(".").partition(".")[0]
    for layer_name, members in (("adapter", ADAPTERS), ("app", APP), ("part", PARTS),
                                ("base", BASE)):
        if top in members:
            return layer_name
    raise AssertionError(f"{module}: {package}.{top} belongs to no layer; add {top!r} to "
                         "ADAPTERS, APP, PARTS or BASE in tests/test_layers.py")


def layer_problems(found: list[Import], package: str) -> list[str]:
    """Each import that points the wrong way, with the rule it breaks."""
    problems = []
    for imp in found:
        source, target = layer(imp.importer, package), layer(imp.imported, package)
        if target == "adapter" and source != "adapter":
            problems.append(f"{imp}: only cli, web and __main__ may import cli or web")
        elif target == "app" and source not in ("adapter", "app"):
            problems.append(f"{imp}: a {source} must not import the application layer")
        elif source == "base" and target != "base":
            problems.append(f"{imp}: models, errors and settings import nothing of "
                            f"{package} but each other")
    return problems


def cycles(found: list[Import]) -> list[list[str]]:
    """One cycle (a path back to its start) for each group of modules that import each other."""
    graph: dict[str, set[str]] = {}
    for imp in found:
        graph.setdefault(imp.importer, set()).add(imp.imported)
        graph.setdefault(imp.imported, set())
    return [_cycle_in(group, graph) for group in _strongly_connected(graph) if len(group) > 1]


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (a deep package must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    groups.append(group)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return groups


def _cycle_in(group: set[str], graph: dict[str, set[str]]) -> list[str]:
    """The shortest way from the group's first module back to itself, within the group."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & group):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError(f"no cycle through {start}")


def check(root: Path) -> list[str]:
    """Every layer problem and every cycle of the package at ``root``, as messages."""
    found = imports(root)
    problems = layer_problems(found, root.name)
    problems += [f"import cycle: {' -> '.join(cycle)}" for cycle in cycles(found)]
    return problems


def test_digest_keeps_its_layers_and_has_no_import_cycles() -> None:
    problems = check(SRC)
    assert not problems, "\n".join(problems)


def test_the_walk_sees_the_whole_package() -> None:
    found = imports(SRC)
    assert len(modules(SRC)) > 80
    # A function-level import (the registry loading a sender by kind) and a TYPE_CHECKING one.
    assert any(i.importer == "digest.delivery.senders" and
               i.imported == "digest.delivery.senders.postmark" for i in found)
    assert any(i.importer == "digest.cli.output" and i.imported == "digest.app" for i in found)


# --- the checker itself fails when it should -------------------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_cycle_through_a_function_level_import_is_reported(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "store/__init__.py": "from pkg.store import rows\n",
        "store/rows.py": "def f():\n    from pkg.store.cells import g\n",
        "store/cells.py": "from pkg.store import rows\n",
        "feeds/__init__.py": "from pkg.store import rows\n",
    })
    assert check(root) == ["import cycle: pkg.store.cells -> pkg.store.rows -> pkg.store.cells"]


def test_a_relative_import_cycle_is_reported(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "cli/__init__.py": "from .main import group\n",
        "cli/main.py": "from . import run\n",
        "cli/run.py": "from ..cli import main\n",
    })
    assert check(root) == ["import cycle: pkg.cli.main -> pkg.cli.run -> pkg.cli.main"]


@pytest.mark.parametrize(("files", "problem"), [
    ({"mail/__init__.py": "from pkg.app import run\n", "app/__init__.py": ""},
     "pkg.mail imports pkg.app (line 1): a part must not import the application layer"),
    ({"store/x.py": "import typing\nif typing.TYPE_CHECKING:\n    import pkg.cli.out\n",
      "cli/__init__.py": "", "cli/out.py": ""},
     "pkg.store.x imports pkg.cli.out (line 3): only cli, web and __main__ may import cli or web"),
    ({"app/__init__.py": "def f():\n    from pkg.web import page\n", "web/__init__.py": ""},
     "pkg.app imports pkg.web (line 2): only cli, web and __main__ may import cli or web"),
    ({"models.py": "from pkg.issues import schedule\n", "issues/__init__.py": "",
      "issues/schedule.py": ""},
     "pkg.models imports pkg.issues.schedule (line 1): models, errors and settings import "
     "nothing of pkg but each other"),
])
def test_an_import_against_the_layers_is_named(tmp_path: Path, files: dict[str, str],
                                               problem: str) -> None:
    assert check(_package(tmp_path, files)) == [problem]


def test_the_allowed_directions_pass(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "__main__.py": "from pkg.cli import main\n",
        "cli/__init__.py": "from pkg.app import run\nfrom pkg.web import page\n",
        "web/__init__.py": "from pkg import app\n",
        "app/__init__.py": "from pkg.store import Store\nfrom pkg import models\n",
        "store/__init__.py": "from pkg.models import Feed\nfrom pkg.errors import E\n",
        "models.py": "from pkg.errors import E\n",
        "errors.py": "",
    })
    assert check(root) == []


def test_a_package_outside_the_layers_must_be_placed(tmp_path: Path) -> None:
    root = _package(tmp_path, {"plugins/__init__.py": "from pkg.models import Feed\n",
                               "models.py": ""})
    with pytest.raises(AssertionError, match="pkg.plugins belongs to no layer"):
        check(root)
