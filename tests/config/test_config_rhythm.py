"""feeds.yaml keys for the rhythm of issues: schedule, min_posts, layout, most_discussed."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.config import load
from digest.errors import ConfigError
from digest.models import Schedule
from digest.settings import MostDiscussedSettings
from support.configs import DIGEST, FEEDS
from support.e2e import digest, write_config

HEAD = DIGEST


def write(folder: Path, digest_lines: str = "", top: str = "") -> Path:
    path = folder / "feeds.yaml"
    path.write_text(HEAD + digest_lines + FEEDS + top, encoding="utf-8")
    return path


def error_of(config: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(config, {})
    return caught.value


def test_defaults_keep_todays_behaviour(tmp_path: Path) -> None:
    settings = load(write(tmp_path), {})
    assert settings.schedule is None
    assert settings.digest.min_posts == 1
    assert settings.digest.layout == "merged"
    assert settings.digest.images == "featured"
    assert settings.digest.most_discussed == MostDiscussedSettings(enabled=False, size=3)


def test_every_rhythm_key_is_read(tmp_path: Path) -> None:
    config = write(tmp_path,
                   "  min_posts: 3\n  layout: sections\n  images: none\n"
                   "  most_discussed: {enabled: true, size: 5}\n",
                   "schedule: weekly monday 08:00 Europe/London\n")
    settings = load(config, {})
    assert settings.schedule == Schedule("weekly", time(8, 0), ZoneInfo("Europe/London"),
                                         weekday=0)
    assert settings.digest.min_posts == 3
    assert settings.digest.layout == "sections"
    assert settings.digest.images == "none"
    assert settings.digest.most_discussed == MostDiscussedSettings(enabled=True, size=5)


def test_an_empty_schedule_means_none(tmp_path: Path) -> None:
    assert load(write(tmp_path, top="schedule:\n"), {}).schedule is None


@pytest.mark.parametrize(("top", "message"), [
    ("schedule: weekly mondy 08:00 Europe/London\n",
     'schedule: unknown weekday "mondy" (did you mean "monday"?)'),
    ("schedule: daily 25:00 UTC\n", 'schedule: bad time "25:00"; expected HH:MM'),
    ("schedule: daily 07:00 Europe/Londn\n", 'schedule: unknown time zone "Europe/Londn"'),
    ("schedule: monthly 0 09:00 UTC\n", 'schedule: bad day of the month "0"'),
    ("schedule: hourly\n", 'schedule: expected daily, weekly or monthly first, got "hourly"'),
    ("schedule: [weekly, monday]\n", "schedule: expected a schedule such as"),
])
def test_bad_schedule_names_file_line_and_expectation(tmp_path: Path, top: str,
                                                      message: str) -> None:
    config = write(tmp_path, top=top)
    error = error_of(config)
    line = (HEAD + FEEDS).count("\n") + 1
    assert str(error).startswith(f"{config}:{line}: {message}"), str(error)


@pytest.mark.parametrize(("lines", "message"), [
    ("  min_posts: 0\n", "digest.min_posts: expected a whole number >= 1, got 0"),
    ("  min_posts: few\n", 'digest.min_posts: expected a whole number >= 1, got "few"'),
    ("  layout: grid\n", 'digest.layout: expected merged or sections, got "grid"'),
    ("  images: thumbnails\n", 'digest.images: expected featured or none, got "thumbnails"'),
    ("  images: off\n", "digest.images: expected featured or none, got off (read as false)"),
    ("  images: [featured]\n", "digest.images: expected featured or none"),
    ("  most_discussed: yes\n", "digest.most_discussed: expected a section of key: value"),
    ("  most_discussed: {enabled: \"true\"}\n",
     "digest.most_discussed.enabled: expected true or false"),
    ("  most_discussed: {enabled: true, size: 0}\n",
     "digest.most_discussed.size: expected a whole number >= 1, got 0"),
    ("  most_discussed: {enabled: true, count: 3}\n",
     "digest.most_discussed.count: unknown key; expected one of: enabled, size"),
])
def test_bad_digest_keys_name_line_and_expectation(tmp_path: Path, lines: str,
                                                   message: str) -> None:
    config = write(tmp_path, lines)
    error = error_of(config)
    assert str(error).startswith(f"{config}:5: {message}"), str(error)


def test_misplaced_keys_say_where_they_belong(tmp_path: Path) -> None:
    config = write(tmp_path, "  schedule: daily 07:00 UTC\n", "min_posts: 2\n")
    lines = str(error_of(config)).splitlines()
    assert lines[0].endswith("digest.schedule: unknown key here; it belongs under the top level")
    assert lines[1].endswith("min_posts: unknown key here; it belongs under digest")


def test_a_bad_schedule_stops_the_run_before_anything_is_written(tmp_path: Path) -> None:
    feed = tmp_path / "feed.xml"
    feed.write_text("<rss version='2.0'><channel><title>t</title></channel></rss>")
    config = write_config(tmp_path / "site", [str(feed)],
                          extra="schedule: weekly funday 08:00 UTC\n")
    before = sorted(p.name for p in (tmp_path / "site").iterdir())
    result = digest(config, "run")
    assert result.code == 2
    assert 'schedule: unknown weekday "funday"' in result.err
    assert result.out == ""
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == before
