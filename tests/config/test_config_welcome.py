"""The welcome: key of feeds.yaml: on by default, off with false, and every bad value named by
file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import load
from digest.errors import ConfigError

HEAD = """\
digest:
  title: Example Blog weekly
  from: "Example Blog <digest@example.org>"
  site_url: https://example.org/
feeds:
  - url: https://example.org/feed/
"""


def _write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(HEAD + extra, encoding="utf-8")
    return path


def test_welcome_is_on_by_default_and_off_with_false(tmp_path: Path) -> None:
    assert load(_write(tmp_path, ""), {}).welcome is True
    assert load(_write(tmp_path, "welcome: true\n"), {}).welcome is True
    assert load(_write(tmp_path, "welcome: false\n"), {}).welcome is False


@pytest.mark.parametrize(("value", "said"), [
    ('"no"', 'expected true or false, got the text "no" (write it without quotes)'),
    ("sometimes", "expected true or false, got"),
    ("1", "expected true or false, got"),
    ("[true]", "expected true or false, got"),
])
def test_a_bad_welcome_names_file_line_and_key(tmp_path: Path, value: str, said: str) -> None:
    path = _write(tmp_path, f"store: x.sqlite3\nwelcome: {value}\n")
    with pytest.raises(ConfigError) as caught:
        load(path, {})
    message = str(caught.value)
    assert f"{path}:8" in message and "welcome" in message and said in message, message
    assert not (tmp_path / "x.sqlite3").exists()
