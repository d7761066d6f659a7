"""feeds.yaml's digest.locale: read, checked with a suggestion, and used by the real command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.dates import get_month_names
from lxml import html as lxml_html

from digest.config import load
from digest.errors import ConfigError
from support.configs import DIGEST, FEEDS
from support.e2e import DATA, digest, parse, parts, write_config

HEAD = DIGEST


def write(folder: Path, digest_lines: str) -> Path:
    path = folder / "feeds.yaml"
    path.write_text(HEAD + digest_lines + FEEDS, encoding="utf-8")
    return path


def error_of(config: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load(config, {})
    return str(caught.value)


def test_default_is_unset_and_english(tmp_path: Path) -> None:
    settings = load(write(tmp_path, ""), {})
    assert (settings.digest.locale, settings.digest.language) == (None, "")


@pytest.mark.parametrize(("written", "stored"), [
    ("de", "de"), ("fr_CA", "fr_CA"), ("fr-CA", "fr_CA"), ("ar", "ar"), ("en_GB", "en_GB"),
    ("DE", "de"),
])
def test_locale_is_read_as_babel_identifier(tmp_path: Path, written: str, stored: str) -> None:
    settings = load(write(tmp_path, f"  locale: {written}\n"), {})
    assert settings.digest.locale == stored


def test_language_and_locale_together(tmp_path: Path) -> None:
    settings = load(write(tmp_path, "  language: de-AT\n  locale: de\n"), {})
    assert (settings.digest.language, settings.digest.locale) == ("de-AT", "de")


@pytest.mark.parametrize(("written", "expected"), [
    ("german", 'got "german"; did you mean "de"?'),
    ("Arabic", 'got "Arabic"; did you mean "ar"?'),
    ("dee", 'got "dee"; did you mean "de"?'),
    ("ja", 'no translations for "ja" (Japanese) yet; available: ar, de, en, fr'),
    ("[de, fr]", "expected a locale such as"),
    ("''", 'got ""'),
])
def test_bad_locale_names_line_and_key(tmp_path: Path, written: str, expected: str) -> None:
    message = error_of(write(tmp_path, f"  intro: hello\n  locale: {written}\n"))
    assert "feeds.yaml:6: digest.locale: " in message
    assert expected in message


def test_bad_locale_stops_preview_before_anything_is_written(tmp_path: Path) -> None:
    config = write_config(tmp_path, [str(DATA / "wordpress.rss")])
    config.write_text(config.read_text().replace("digest:\n", "digest:\n  locale: deutsch\n", 1))
    shown = digest(config, "preview", "--out", str(tmp_path / "p"))
    assert shown.code != 0
    assert 'digest.locale: expected a locale such as "en", "de" or "fr_CA", got "deutsch"; ' \
           'did you mean "de"?' in shown.err
    assert "feeds.yaml:2" in shown.err
    assert not (tmp_path / "p").exists() and not (tmp_path / "digest.sqlite3").exists()


def test_preview_in_german_through_the_cli(tmp_path: Path) -> None:
    config = write_config(tmp_path, [str(DATA / "wordpress.rss")])
    config.write_text(config.read_text().replace(
        "digest:\n", "digest:\n  locale: de\n  subject: \"{title} vom {date_long}\"\n", 1))
    shown = digest(config, "preview", "--out", str(tmp_path / "p"))
    assert shown.code == 0, shown.err
    page = (tmp_path / "p" / "digest.html").read_text(encoding="utf-8")
    text = (tmp_path / "p" / "digest.txt").read_text(encoding="utf-8")
    doc = lxml_html.document_fromstring(page)
    assert [p.text_content() for p in doc.find_class("byline")] == [
        "Von Maria Lopez, 14 Kommentare", "Von Sam O'Neil, noch keine Kommentare",
        "Von Maria Lopez"]
    assert "Von Sam O'Neil, noch keine Kommentare" in text and "Abbestellen: " in text
    assert '<html lang="de" dir="ltr"' in page and "Weiterlesen" in page
    assert "Posted by" not in page + text and "View more" not in page
    # The date is today's: whatever day this runs, it reads as a German long date.
    months = "|".join(get_month_names("wide", locale="de").values())
    long_date = rf"\d{{1,2}}\. (?:{months}) \d{{4}}"
    assert re.fullmatch(long_date, doc.find_class("kicker")[0].text_content())
    assert re.match(rf"Feeling Again weekly\n{long_date}\n", text)
    message = parse((tmp_path / "p" / "digest.eml").read_bytes())
    assert re.fullmatch(rf"Feeling Again weekly vom {long_date}", str(message["Subject"]))
    assert "Von Maria Lopez, 14 Kommentare" in parts(message)[0]
