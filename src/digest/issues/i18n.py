"""The digest's words, dates and numbers in the reader's language, with Babel (CLDR data).

Each language has a catalogue, ``digest/locales/<language>.json``: message keys mapped to text
with ``{placeholders}``, or, for words that follow a number, to one text per CLDR plural category
(``zero one two few many other``, as ``Locale.plural_form`` names them) plus optional exact
matches such as ``"=0"``, which win over the category. A region variant (``fr_CA``) uses its
language's catalogue (``fr``) with the region's dates and numbers. JSON rather than gettext .po:
nothing to compile at build time, and a translator edits one plain file.

A key missing from a catalogue falls back to English, so a partial translation still renders.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib.resources import files
from typing import Literal

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.localedata import locale_identifiers
from babel.numbers import format_decimal

from digest.errors import ConfigError, RenderError
from digest.errors import LocaleProblem as LocaleProblem  # raised here

Direction = Literal["ltr", "rtl"]
Message = str | Mapping[str, str]
DEFAULT_LOCALE = "en"
# Used when Babel has no data for a language tag it is asked about (e.g. "arc", "ks").
RTL_LANGUAGES = frozenset(
    {"ar", "arc", "ckb", "dv", "fa", "he", "ks", "ps", "sd", "ug", "ur", "yi"}
)
PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")


@functools.cache
def available() -> tuple[str, ...]:
    """The languages that have a catalogue, e.g. ("ar", "de", "en", "fr")."""
    folder = files("digest.issues").joinpath("locales")
    return tuple(sorted(entry.name.removesuffix(".json") for entry in folder.iterdir()
                        if entry.name.endswith(".json")))


@functools.cache
def catalogue(language: str) -> Mapping[str, Message]:
    """The messages of one language's catalogue file."""
    resource = files("digest.issues").joinpath("locales", f"{language}.json")
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RenderError(f"the {language} catalogue {resource} cannot be read: {exc}") from exc
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, dict):
        raise RenderError(f"the {language} catalogue {resource} has no \"messages\" object")
    return messages


def parse_locale(value: str) -> str:
    """A locale as written ("de", "fr-CA", "fr_CA") -> Babel's identifier ("fr_CA").

    Raises ``LocaleProblem`` for a locale Babel does not know, or one without a catalogue.
    """
    text = value.strip()
    try:
        locale = Locale.parse(text.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError) as exc:
        hint = _suggestion(text)
        raise LocaleProblem(
            f'expected a locale such as "en", "de" or "fr_CA", got "{text}"'
            + (f'; did you mean "{hint}"?' if hint else "")
        ) from exc
    if locale.language not in available():
        raise LocaleProblem(
            f'no translations for "{text}" ({locale.get_display_name("en")}) yet; available: '
            f'{", ".join(available())} (a region such as de_AT uses the de words); '
            "add a catalogue to digest/locales to translate it")
    return str(locale)


def _suggestion(text: str) -> str | None:
    """What a mistyped locale probably meant: a language's name, or the closest identifier."""
    lowered = text.lower()
    for language in available():
        locale = Locale.parse(language)
        names = {locale.get_display_name("en"), locale.get_display_name(locale)}
        # "German", "Deutsch", "English (UK)": a language named rather than coded.
        if any(lowered.startswith(name.lower()) for name in names if name):
            return language
    wanted = text.replace("-", "_")
    for candidates in (available(), sorted(locale_identifiers())):
        close = difflib.get_close_matches(wanted, candidates, n=1, cutoff=0.6)
        if close:
            return close[0]
    return None


def text_direction(tag: str) -> Direction:
    """"rtl" for languages written right to left (ar, he, fa, ur...), from Babel's data."""
    try:
        direction = Locale.parse(tag.replace("-", "_")).text_direction
    except (UnknownLocaleError, ValueError, TypeError):
        return "rtl" if tag.split("-")[0].lower() in RTL_LANGUAGES else "ltr"
    return "rtl" if direction == "rtl" else "ltr"


@dataclass(frozen=True)
class Messages:
    """One locale's words, plural forms, dates and numbers. Call it as ``t(key, count=...)``."""

    locale: Locale
    messages: Mapping[str, Message]
    fallback: Mapping[str, Message]

    @property
    def identifier(self) -> str:
        return str(self.locale)

    @property
    def tag(self) -> str:
        """The BCP 47 tag for ``lang=""``: "fr-CA" for fr_CA."""
        return self.identifier.replace("_", "-")

    @property
    def direction(self) -> Direction:
        return text_direction(self.identifier)

    def __call__(self, key: str, count: int | None = None, **values: object) -> str:
        if count is None:
            return self.text(key, **values)
        return self.plural(key, count, **values)

    def text(self, key: str, **values: object) -> str:
        message = self._message(key)
        if not isinstance(message, str):
            raise RenderError(f"message {key!r} needs a count: t({key!r}, count=...)")
        return _fill(key, message, values)

    def plural(self, key: str, count: int, **values: object) -> str:
        """The form for ``count``: an exact "=N" entry, else its CLDR category, else "other"."""
        message = self._message(key)
        if isinstance(message, str):
            return _fill(key, message, {"count": self.number(count), **values})
        form = message.get(f"={count}") or message.get(self.locale.plural_form(abs(count)))
        form = form or message.get("other")
        if form is None:
            raise RenderError(f"message {key!r} of {self.identifier} has no \"other\" form")
        return _fill(key, form, {"count": self.number(count), **values})

    def number(self, value: int) -> str:
        return str(format_decimal(value, locale=self.locale))

    def date(self, moment: date | datetime) -> str:
        """The long date: "25 November 2026", "25. November 2026", "25 نوفمبر 2026"."""
        # Only a catalogue's own pattern: another language's would misplace the day or month.
        pattern = self.messages.get("date_format")
        if not isinstance(pattern, str) or not pattern:
            pattern = "long"
        day = moment.date() if isinstance(moment, datetime) else moment
        return str(format_date(day, format=pattern, locale=self.locale))

    def _message(self, key: str) -> Message:
        message = self.messages.get(key, self.fallback.get(key))
        if message is None:
            known = ", ".join(sorted(name for name in self.fallback if name != "date_format"))
            raise RenderError(f"unknown message {key!r}; the catalogues have: {known}")
        return message


def _fill(key: str, message: str, values: Mapping[str, object]) -> str:
    try:
        return message.format_map(values)
    except (KeyError, IndexError, ValueError) as exc:
        raise RenderError(f"message {key!r} ({message!r}) needs a value for {exc}") from exc


@functools.cache
def messages_for(identifier: str = DEFAULT_LOCALE) -> Messages:
    """The messages of a locale checked by ``parse_locale`` (a ConfigError for any other)."""
    try:
        locale = Locale.parse(parse_locale(identifier))
    except LocaleProblem as exc:
        raise ConfigError(str(exc), key="digest.locale") from exc
    return Messages(locale, catalogue(locale.language), catalogue(DEFAULT_LOCALE))


def effective_locale(locale: str | None, language: str) -> str:
    """The locale an issue is written in: ``locale`` when set; else the ``language`` tag's when
    there is a catalogue for it (old configs that set only ``language``); else English."""
    if locale:
        return locale
    if language:
        try:
            return parse_locale(language)
        except LocaleProblem:
            pass
    return DEFAULT_LOCALE


ENGLISH = messages_for(DEFAULT_LOCALE)


def for_digest(locale: str | None, language: str) -> Messages:
    """The messages of a digest: section's ``locale`` and ``language`` settings."""
    return messages_for(effective_locale(locale, language))
