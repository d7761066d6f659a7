"""The health: section of feeds.yaml: defaults, good values, and every bad one named by file,
line and key, with nothing done."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import load
from digest.errors import ConfigError
from digest.settings import HealthSettings, Settings
from support.configs import HEAD
from support.e2e import digest, write_config


def _load(tmp_path: Path, extra: str = "") -> Settings:
    path = tmp_path / "feeds.yaml"
    path.write_text(HEAD + extra, encoding="utf-8")
    return load(path, {})


def test_defaults(tmp_path: Path) -> None:
    health = _load(tmp_path).health
    assert health == HealthSettings()
    assert (health.feed_alert_after, health.flood_min_entries, health.flood_percent) == (3, 5, 50)


def test_values(tmp_path: Path) -> None:
    health = _load(tmp_path, "health:\n  feed_alert_after: 5\n  flood_min_entries: 10\n"
                             "  flood_percent: 80\n").health
    assert health == HealthSettings(feed_alert_after=5, flood_min_entries=10, flood_percent=80)


@pytest.mark.parametrize(("extra", "expected"), [
    ("health:\n  feed_alert_after: 0\n",
     "feeds.yaml:8: health.feed_alert_after: expected a whole number >= 1"),
    ("health:\n  feed_alert_after: three\n",
     "feeds.yaml:8: health.feed_alert_after: expected a whole number >= 1"),
    ("health:\n  flood_percent: 101\n",
     "feeds.yaml:8: health.flood_percent: expected a whole number from 1 to 100"),
    ("health:\n  flood_percent: 0.5\n",
     "feeds.yaml:8: health.flood_percent: expected a whole number from 1 to 100"),
    ("health:\n  flood_min_entries: -1\n",
     "feeds.yaml:8: health.flood_min_entries: expected a whole number >= 1"),
    ("health:\n  alert_after: 3\n", "health.alert_after"),
    ("health: 3\n", "feeds.yaml:7: health"),
])
def test_bad_values_are_named(tmp_path: Path, extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, extra)
    assert expected in str(caught.value)


def test_a_bad_value_stops_the_run_before_anything_is_done(tmp_path: Path) -> None:
    config = write_config(tmp_path, [str(tmp_path / "blog.xml")],
                          extra="health:\n  feed_alert_after: 0\n")
    result = digest(config, "run")
    assert result.code == 2 and "health.feed_alert_after" in result.err
    assert "Traceback" not in result.err
    assert not (tmp_path / "digest.sqlite3").exists() and not (tmp_path / "outbox").exists()
