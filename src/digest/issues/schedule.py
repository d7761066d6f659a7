"""When issues are due: parse ``schedule:`` and decide, for a given instant, whether one is.

A schedule names one moment per period in a time zone: ``daily 07:00 UTC``, ``weekly monday
08:00 Europe/London``, ``monthly 1 09:00 America/New_York``. A period runs from one scheduled
moment to the next; at most one issue goes out per period, at the first run at or after its
scheduled moment. Pure: the caller passes the current instant and the previous issue's time, both
timezone-aware, so the machine's own time zone never matters.

Local times that a daylight-saving change skips (02:30 on the night the clocks go forward) fall
due at the first instant after the jump; local times that happen twice (the hour repeated when the
clocks go back) fall due at the first of the two.
"""

from __future__ import annotations

import calendar
import difflib
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from digest.errors import ScheduleSyntaxError as ScheduleSyntaxError  # raised here
from digest.models import WEEKDAYS, Schedule

EXAMPLE = '"weekly monday 08:00 Europe/London", "daily 07:00 UTC" or "monthly 1 09:00 UTC"'
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# A daily slot is at most a day apart, a monthly one at most 31 days: searching this many days
# either way always finds the neighbouring slots.
_SEARCH_DAYS = 64


@dataclass(frozen=True)
class Decision:
    due: bool
    period_start: datetime  # the latest scheduled moment at or before now (UTC)
    next_at: datetime  # the first scheduled moment after now (UTC)


def parse(text: str) -> Schedule:
    """``Schedule`` from its text; ``ScheduleSyntaxError`` naming the part that is wrong."""
    words = text.split()
    if not words:
        raise ScheduleSyntaxError(f"expected a schedule such as {EXAMPLE}, got nothing")
    every = words[0].lower()
    wanted = {"daily": 3, "weekly": 4, "monthly": 4}
    if every not in wanted:
        raise ScheduleSyntaxError(f'expected daily, weekly or monthly first, got "{words[0]}" '
                                  f"(a schedule looks like {EXAMPLE})")
    if len(words) != wanted[every]:
        shape = {"daily": "daily HH:MM ZONE", "weekly": "weekly WEEKDAY HH:MM ZONE",
                 "monthly": "monthly DAY HH:MM ZONE"}[every]
        raise ScheduleSyntaxError(f'expected "{shape}" ({wanted[every]} words), got '
                                  f'"{" ".join(words)}"')
    at, zone = _time(words[-2]), _zone(words[-1])
    if every == "weekly":
        return Schedule("weekly", at, zone, weekday=_weekday(words[1]))
    if every == "monthly":
        return Schedule("monthly", at, zone, day=_day(words[1]))
    return Schedule("daily", at, zone)


def decide(schedule: Schedule, now: datetime, previous: datetime | None) -> Decision:
    """Is an issue due at ``now``, given when the previous one was made (None: never)?

    Due when the previous issue is older than the period ``now`` is in, so the first run at or
    after the scheduled moment makes the issue and later runs in that period make none.
    """
    start = period_start(schedule, now)
    due = previous is None or _aware(previous, "previous") < start
    return Decision(due=due, period_start=start, next_at=next_after(schedule, now))


def period_start(schedule: Schedule, now: datetime) -> datetime:
    """The latest scheduled moment at or before ``now``."""
    now = _aware(now, "now")
    today = now.astimezone(schedule.zone).date()
    for back in range(_SEARCH_DAYS):
        slot = slot_on(schedule, today - timedelta(days=back))
        if slot is not None and slot <= now:
            return slot
    raise AssertionError(f"no slot of {schedule} within {_SEARCH_DAYS} days before {now}")


def next_after(schedule: Schedule, now: datetime) -> datetime:
    """The first scheduled moment after ``now``."""
    now = _aware(now, "now")
    today = now.astimezone(schedule.zone).date()
    for ahead in range(_SEARCH_DAYS):
        slot = slot_on(schedule, today + timedelta(days=ahead))
        if slot is not None and slot > now:
            return slot
    raise AssertionError(f"no slot of {schedule} within {_SEARCH_DAYS} days after {now}")


def slot_on(schedule: Schedule, day: date) -> datetime | None:
    """The scheduled moment (UTC) on local ``day``; None if the day has none."""
    if schedule.every == "weekly" and day.weekday() != schedule.weekday:
        return None
    if schedule.every == "monthly":
        last = calendar.monthrange(day.year, day.month)[1]
        if day.day != min(schedule.day or 1, last):
            return None
    return local_moment(datetime.combine(day, schedule.at), schedule.zone)


def local_moment(wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """The first instant (UTC) at which clocks in ``zone`` show ``wall`` (naive) or later.

    For a time that happens twice this is the first; for one skipped by a jump forward it is
    the instant of the jump. The result is in UTC: Python never finds an aware datetime inside
    a repeated hour equal to one in another zone, so comparing local ones would mislead.
    """
    first = wall.replace(tzinfo=zone, fold=0)
    if _wall(first, zone) == wall:
        return first.astimezone(UTC)
    # Skipped: the jump lies between the instant read with the offset after it and the one read
    # with the offset before it. Bisect down to the second on which the offset changes.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first.astimezone(UTC)
    low, high = min(low, high), max(low, high)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _wall(middle, zone) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def describe(moment: datetime, zone: zoneinfo.ZoneInfo) -> str:
    """``2026-11-30 08:00 Europe/London``: the moment as people in ``zone`` read it."""
    return f"{_aware(moment, 'moment').astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


def _wall(moment: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    return moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None, fold=0)


def _aware(moment: datetime, name: str) -> datetime:
    # A naive datetime would silently mean the machine's zone: refuse it rather than guess.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return moment


def _time(word: str) -> time:
    match = _TIME.match(word)
    if match is None:
        raise ScheduleSyntaxError(f'bad time "{word}"; expected HH:MM on a 24-hour clock, such '
                                  "as 08:00 or 18:30")
    return time(int(match[1]), int(match[2]))


def _weekday(word: str) -> int:
    name = word.lower()
    for index, day in enumerate(WEEKDAYS):
        if name in (day, day[:3]):
            return index
    close = difflib.get_close_matches(name, WEEKDAYS, n=1)
    hint = f' (did you mean "{close[0]}"?)' if close else ""
    raise ScheduleSyntaxError(f'unknown weekday "{word}"{hint}; expected monday, tuesday, '
                              "wednesday, thursday, friday, saturday or sunday")


def _day(word: str) -> int:
    if not word.isdigit() or not 1 <= int(word) <= 31:
        raise ScheduleSyntaxError(f'bad day of the month "{word}"; expected a number from 1 to '
                                  "31 (29, 30 and 31 mean the last day in shorter months)")
    return int(word)


def _zone(word: str) -> zoneinfo.ZoneInfo:
    if word.lower() == "localtime":
        # It follows whatever machine digest happens to run on: the point of a zone is not to.
        raise ScheduleSyntaxError('"localtime" is this machine\'s zone, which may change; name '
                                  "the zone itself, such as Europe/London or UTC")
    try:
        return zoneinfo.ZoneInfo(word)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        close = difflib.get_close_matches(word, sorted(zoneinfo.available_timezones()), n=1)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        raise ScheduleSyntaxError(f'unknown time zone "{word}"{hint}; expected an IANA time zone '
                                  "name such as Europe/London, America/New_York or UTC") from exc
