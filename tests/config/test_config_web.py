"""Config for the web pages: digest.public_url, and the editors' approve link built from it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.config import load
from digest.errors import ConfigError
from digest.issues.notice import approve_link
from digest.models import Issue
from support.configs import DIGEST, FEEDS

HEAD = DIGEST + "{digest}" + FEEDS
ISSUE = Issue(id=3, subject="s", html="", text="", created_at=datetime(2026, 1, 1, tzinfo=UTC),
              status="draft", post_keys=())


def _write(folder: Path, digest: str) -> Path:
    path = folder / "feeds.yaml"
    path.write_text(HEAD.format(digest=digest), encoding="utf-8")
    return path


def test_public_url_gives_the_editors_an_approve_link(tmp_path: Path) -> None:
    settings = load(_write(tmp_path, "  public_url: https://news.example.org/\n"), {})
    assert settings.digest.public_url == "https://news.example.org/"
    assert approve_link(settings, ISSUE) == "https://news.example.org/editor/draft"


def test_without_public_url_there_is_no_approve_link(tmp_path: Path) -> None:
    settings = load(_write(tmp_path, ""), {})
    assert settings.digest.public_url is None
    assert approve_link(settings, ISSUE) is None


@pytest.mark.parametrize("value", ["news.example.org", "ftp://news.example.org", "[1, 2]"])
def test_a_bad_public_url_is_refused_by_line_and_key(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, f"  public_url: {value}\n")
    with pytest.raises(ConfigError) as info:
        load(path, {})
    assert "feeds.yaml:5" in str(info.value) and "public_url" in str(info.value)
