"""Every command documents itself, with an example, and the README lists every command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from digest.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            yield from _commands(command, path)
        else:
            yield path


COMMANDS = list(_commands(main))


def test_there_are_commands() -> None:
    assert {("run",), ("preview",), ("send",), ("subscribers", "import")} <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    summary = result.output.split("\n\n")[1].strip()
    assert len(summary) > 15


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_readme_mentions_command(path: tuple[str, ...]) -> None:
    assert f"digest {' '.join(path)}" in README
