"""The approval: and editors: keys of feeds.yaml: defaults, good values, and every bad one named by
file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import load
from digest.errors import ConfigError
from digest.settings import Settings
from support.configs import HEAD


def _load(tmp_path: Path, extra: str = "") -> Settings:
    path = tmp_path / "feeds.yaml"
    path.write_text(HEAD + extra, encoding="utf-8")
    return load(path, {})


def _error(tmp_path: Path, extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, extra)
    return str(caught.value)


def test_approval_is_auto_with_no_editors_by_default(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert settings.approval == "auto" and settings.editors == ()


def test_required_approval_with_editors(tmp_path: Path) -> None:
    settings = _load(tmp_path, "approval: required\neditors:\n  - Ed Itor <ed@example.org>\n"
                               "  - eve@example.org\n")
    assert settings.approval == "required"
    assert settings.editors == ("Ed Itor <ed@example.org>",
                                "eve@example.org")


def test_one_editor_may_be_written_without_a_list(tmp_path: Path) -> None:
    settings = _load(tmp_path, "approval: required\neditors: ed@example.org\n")
    assert settings.editors == ("ed@example.org",)


def test_auto_approval_may_still_name_editors(tmp_path: Path) -> None:
    settings = _load(tmp_path, "approval: auto\neditors: [ed@example.org]\n")
    assert settings.approval == "auto"
    assert settings.editors == ("ed@example.org",)


@pytest.mark.parametrize("extra, expected", [
    ("approval: required\n", "feeds.yaml:7: editors: required when approval is required"),
    ("approval: required\neditors: []\n",
     "feeds.yaml:8: editors: required when approval is required"),
    ("approval: manual\n", "feeds.yaml:7: approval: expected required or auto, got"),
    ("approval: yes\n", "feeds.yaml:7: approval: expected required or auto, got"),
    ("approval: required\neditors:\n  - ed@example.org\n  - not-an-address\n",
     "feeds.yaml:10: editors[1]: expected one email address"),
    ("approval: required\neditors:\n  - ed@example.org\n  - ED@example.org\n",
     "feeds.yaml:10: editors[1]: the same address as editors[0] on line 9"),
    ("editors:\n  ed: ed@example.org\n", "feeds.yaml:7: editors: expected a list of email"),
    ("editors:\n", "feeds.yaml:7: editors: expected a list of email addresses"),
])
def test_bad_approval_settings_are_named_by_line_and_key(tmp_path: Path, extra: str,
                                                         expected: str) -> None:
    message = _error(tmp_path, extra)
    assert message.startswith(f"{tmp_path}/{expected}"), message


def test_every_bad_editor_is_reported_at_once(tmp_path: Path) -> None:
    message = _error(tmp_path, "approval: required\neditors:\n  - a@@example.org\n"
                               "  - ok@example.org\n  - b example.org\n")
    assert "feeds.yaml:9: editors[0]" in message and "feeds.yaml:11: editors[2]" in message
    assert "editors[1]" not in message
