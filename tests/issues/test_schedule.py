"""Schedules: parsing, period boundaries, daylight-saving changes, and the zone of the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.issues.schedule import (
    ScheduleSyntaxError,
    decide,
    describe,
    local_moment,
    next_after,
    parse,
    period_start,
    slot_on,
)
from digest.models import TOKEN_UNSUBSCRIBE, RenderedIssue, Schedule
from digest.store import Store
from support.e2e import digest, parts, write_config
from support.e2e import parse as parse_eml
from support.rss import Item, run_cli, write_rss

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("weekly monday 08:00 Europe/London", Schedule("weekly", time(8, 0), LONDON, weekday=0)),
    ("Weekly SUN 8:05 Europe/London", Schedule("weekly", time(8, 5), LONDON, weekday=6)),
    ("daily 07:00 UTC", Schedule("daily", time(7, 0), ZoneInfo("UTC"))),
    ("  daily   23:59   Asia/Tokyo ", Schedule("daily", time(23, 59), TOKYO)),
    ("monthly 1 09:00 America/New_York", Schedule("monthly", time(9, 0), NEW_YORK, day=1)),
    ("monthly 31 00:00 UTC", Schedule("monthly", time(0, 0), ZoneInfo("UTC"), day=31)),
])
def test_parse_accepts_the_documented_forms(text: str, expected: Schedule) -> None:
    assert parse(text) == expected
    assert parse(str(parse(text))) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", "expected a schedule such as"),
    ("fortnightly monday 08:00 UTC", 'expected daily, weekly or monthly first, got "fortnightly"'),
    ("weekly 08:00 UTC", 'expected "weekly WEEKDAY HH:MM ZONE" (4 words)'),
    ("daily 07:00", 'expected "daily HH:MM ZONE" (3 words)'),
    ("weekly mondy 08:00 UTC", 'unknown weekday "mondy" (did you mean "monday"?)'),
    ("weekly whenever 08:00 UTC", 'unknown weekday "whenever"; expected monday, tuesday'),
    ("daily 24:00 UTC", 'bad time "24:00"; expected HH:MM on a 24-hour clock'),
    ("daily 8am UTC", 'bad time "8am"'),
    ("daily 08:60 UTC", 'bad time "08:60"'),
    ("monthly 0 08:00 UTC", 'bad day of the month "0"; expected a number from 1 to 31'),
    ("monthly 32 08:00 UTC", 'bad day of the month "32"'),
    ("monthly first 08:00 UTC", 'bad day of the month "first"'),
    ("daily 08:00 Europe/Londn",
     'unknown time zone "Europe/Londn" (did you mean "Europe/London"?)'),
    ("daily 08:00 Mars/Olympus", 'unknown time zone "Mars/Olympus"'),
    ("daily 08:00 ../../etc/passwd", 'unknown time zone "../../etc/passwd"'),
    ("daily 08:00 localtime", '"localtime" is this machine\'s zone'),
])
def test_parse_names_what_is_wrong_and_what_is_expected(text: str, message: str) -> None:
    with pytest.raises(ScheduleSyntaxError) as caught:
        parse(text)
    assert message in str(caught.value)


# --- periods ---------------------------------------------------------------------------------

WEEKLY = parse("weekly monday 08:00 Europe/London")
MONDAY = utc(2026, 11, 23, 8, 0)  # 08:00 GMT is 08:00 UTC in November


def test_a_run_exactly_at_the_scheduled_moment_is_due() -> None:
    decision = decide(WEEKLY, MONDAY, previous=utc(2026, 11, 16, 8, 5))
    assert decision.due
    assert decision.period_start == MONDAY
    assert decision.next_at == MONDAY + timedelta(days=7)


def test_a_run_just_before_the_scheduled_moment_is_not_due() -> None:
    decision = decide(WEEKLY, MONDAY - timedelta(microseconds=1),
                      previous=utc(2026, 11, 16, 8, 5))
    assert not decision.due
    assert decision.next_at == MONDAY
    assert describe(decision.next_at, LONDON) == "2026-11-23 08:00 Europe/London"


def test_an_issue_made_at_the_scheduled_moment_belongs_to_that_period() -> None:
    assert not decide(WEEKLY, MONDAY + timedelta(days=6, hours=23), previous=MONDAY).due
    assert decide(WEEKLY, MONDAY, previous=MONDAY - timedelta(microseconds=1)).due


def test_runs_through_a_week_send_once_at_the_first_run_after_the_moment() -> None:
    previous = utc(2026, 11, 16, 9, 0)
    sent = []
    moment = utc(2026, 11, 20, 0, 0)
    while moment < utc(2026, 12, 3, 0, 0):
        if decide(WEEKLY, moment, previous).due:
            sent.append(moment)
            previous = moment
        moment += timedelta(minutes=35)
    # Runs every 35 minutes from midnight on the 20th: ... 07:55, 08:30 on both Mondays. The
    # first at or after 08:00 each Monday sends; none of the runs in between does.
    assert sent == [utc(2026, 11, 23, 8, 30), utc(2026, 11, 30, 8, 30)]


def test_first_issue_is_due_at_once() -> None:
    assert decide(WEEKLY, utc(2026, 11, 25, 12, 0), previous=None).due


def test_weekly_moment_follows_local_time_across_the_clock_change() -> None:
    # Monday 23 March 2026 08:00 is GMT (UTC+0); Monday 30 March is BST (UTC+1).
    assert next_after(WEEKLY, utc(2026, 3, 20, 12, 0)) == utc(2026, 3, 23, 8, 0)
    after = next_after(WEEKLY, utc(2026, 3, 25, 12, 0))
    assert after == utc(2026, 3, 30, 7, 0)
    assert describe(after, LONDON) == "2026-03-30 08:00 Europe/London"


@pytest.mark.parametrize(("day", "month", "expected"), [
    (31, date(2027, 2, 1), date(2027, 2, 28)),
    (31, date(2028, 2, 1), date(2028, 2, 29)),
    (30, date(2027, 2, 1), date(2027, 2, 28)),
    (29, date(2028, 2, 1), date(2028, 2, 29)),
    (31, date(2026, 4, 1), date(2026, 4, 30)),
    (31, date(2026, 5, 1), date(2026, 5, 31)),
    (15, date(2026, 6, 1), date(2026, 6, 15)),
])
def test_monthly_days_past_the_end_mean_the_last_day(day: int, month: date,
                                                     expected: date) -> None:
    schedule = parse(f"monthly {day} 09:00 America/New_York")
    start = datetime.combine(month, time(0, 0), NEW_YORK)
    slot = next_after(schedule, start)
    assert slot.astimezone(NEW_YORK).date() == expected
    assert slot.astimezone(NEW_YORK).time() == time(9, 0)
    # exactly one slot in the month
    days = [month + timedelta(days=n) for n in range(31) if (month + timedelta(days=n)).month
            == month.month]
    assert [d for d in days if slot_on(schedule, d) is not None] == [expected]


def test_monthly_period_spans_the_whole_month() -> None:
    schedule = parse("monthly 1 09:00 UTC")
    assert period_start(schedule, utc(2026, 12, 31, 23, 0)) == utc(2026, 12, 1, 9, 0)
    assert period_start(schedule, utc(2027, 1, 1, 8, 59)) == utc(2026, 12, 1, 9, 0)
    assert decide(schedule, utc(2027, 1, 1, 9, 0), previous=utc(2026, 12, 1, 9, 0)).due


# --- daylight saving -------------------------------------------------------------------------


def first_wall_reading(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Oracle: scan the day minute by minute for the first instant the clocks show ``at``."""
    wall = datetime.combine(day, at)
    moment = datetime.combine(day, at, UTC) - timedelta(hours=15)
    while moment.astimezone(zone).replace(tzinfo=None) < wall:
        moment += timedelta(minutes=1)
    return moment


@pytest.mark.parametrize(("zone", "day", "at"), [
    (LONDON, date(2026, 3, 29), time(1, 30)),  # skipped: 01:00 GMT -> 02:00 BST
    (LONDON, date(2026, 3, 29), time(1, 0)),  # the first skipped minute
    (LONDON, date(2026, 10, 25), time(1, 30)),  # repeated: 01:00-02:00 happens twice
    (NEW_YORK, date(2026, 3, 8), time(2, 30)),  # skipped: 02:00 EST -> 03:00 EDT
    (NEW_YORK, date(2026, 11, 1), time(1, 30)),  # repeated
    (NEW_YORK, date(2026, 11, 1), time(8, 0)),  # an ordinary time on a change day
])
def test_local_moment_is_the_first_instant_the_clocks_reach_it(zone: ZoneInfo, day: date,
                                                                at: time) -> None:
    assert local_moment(datetime.combine(day, at), zone) == first_wall_reading(day, at, zone)


def test_spring_forward_gap_falls_due_when_the_clocks_jump() -> None:
    schedule = parse("daily 01:30 Europe/London")
    jump = utc(2026, 3, 29, 1, 0)  # 01:00 GMT becomes 02:00 BST
    assert period_start(schedule, jump) == jump
    assert describe(period_start(schedule, jump), LONDON) == "2026-03-29 02:00 Europe/London"
    assert period_start(schedule, jump - timedelta(seconds=1)) == utc(2026, 3, 28, 1, 30)
    assert not decide(schedule, jump - timedelta(seconds=1), utc(2026, 3, 28, 1, 30)).due
    assert decide(schedule, jump, utc(2026, 3, 28, 1, 30)).due


def test_new_york_spring_gap() -> None:
    schedule = parse("weekly sunday 02:30 America/New_York")
    jump = utc(2026, 3, 8, 7, 0)  # 02:00 EST becomes 03:00 EDT
    assert next_after(schedule, utc(2026, 3, 7, 0, 0)) == jump
    assert describe(jump, NEW_YORK) == "2026-03-08 03:00 America/New_York"


@pytest.mark.parametrize(("text", "first", "second"), [
    # 01:30 BST (00:30 UTC), then 01:30 GMT (01:30 UTC)
    ("daily 01:30 Europe/London", utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)),
    # 01:30 EDT (05:30 UTC), then 01:30 EST (06:30 UTC)
    ("weekly sunday 01:30 America/New_York", utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6, 30)),
])
def test_autumn_repeated_hour_sends_once_at_the_first(text: str, first: datetime,
                                                      second: datetime) -> None:
    schedule = parse(text)
    earlier = first - timedelta(days=1)
    assert not decide(schedule, first - timedelta(minutes=1), earlier).due
    assert decide(schedule, first, earlier).due
    # The second time the clocks show 01:30 is the same period: nothing more.
    assert not decide(schedule, second, previous=first).due
    assert not decide(schedule, second + timedelta(minutes=30), previous=first).due


WINDOWS = [(utc(2026, 3, 1), utc(2026, 4, 6)), (utc(2026, 10, 18), utc(2026, 11, 10))]


@pytest.mark.parametrize("window", WINDOWS, ids=["spring", "autumn"])
@pytest.mark.parametrize("text", [
    "daily 01:30 Europe/London",
    "daily 02:30 America/New_York",
    "daily 01:15 America/New_York",
    "weekly sunday 01:30 Europe/London",
])
def test_weeks_of_runs_every_ten_minutes_send_once_per_period(
        text: str, window: tuple[datetime, datetime]) -> None:
    schedule = parse(text)
    zone = schedule.zone
    previous = None
    sent: list[datetime] = []
    moment, end = window
    while moment < end:
        if decide(schedule, moment, previous).due:
            sent.append(moment)
            previous = moment
        moment += timedelta(minutes=10)
    # Oracle: the first run at or after the first instant each slot day's clocks show the time.
    slots = []
    day = window[0].date()
    while day < end.date():
        if schedule.every == "daily" or day.weekday() == schedule.weekday:
            slots.append(first_wall_reading(day, schedule.at, zone))
        day += timedelta(days=1)
    first_run = window[0]  # no issue yet: one is due at once
    later = [slot + timedelta(minutes=-slot.minute % 10) for slot in slots]
    assert sent == [first_run, *(run for run in later if run < end)]
    assert len(sent) > (20 if schedule.every == "daily" else 3)


# --- the machine's zone never matters --------------------------------------------------------


def test_the_same_instant_in_any_zone_gives_the_same_decision() -> None:
    schedule = parse("weekly monday 08:00 Europe/London")
    previous = utc(2026, 11, 16, 8, 0)
    for instant in (utc(2026, 11, 23, 7, 59), utc(2026, 11, 23, 8, 0), utc(2026, 11, 29, 23, 0)):
        decisions = {decide(schedule, instant.astimezone(zone), previous.astimezone(zone))
                     for zone in (UTC, TOKYO, NEW_YORK, ZoneInfo("Pacific/Kiritimati"))}
        assert len(decisions) == 1


def test_naive_datetimes_are_refused_rather_than_read_in_the_machine_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(WEEKLY, datetime(2026, 11, 23, 8, 0), previous=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(WEEKLY, MONDAY, previous=datetime(2026, 11, 16, 8, 0))


# --- through the CLI, with local feed files ----------------------------------------------------

SUBSCRIBERS = 3  # write_config's CSV


def site(tmp_path: Path, *, min_posts: int = 1,
         schedule: str = "weekly monday 08:00 Europe/London") -> tuple[Path, Path]:
    feed = tmp_path / "feed.xml"
    write_rss(feed, "Feeling Again", [])
    config = write_config(tmp_path / "site", [str(feed)], extra=f"schedule: {schedule}\n")
    text = config.read_text().replace("  max_posts: 10\n",
                                      f"  max_posts: 10\n  min_posts: {min_posts}\n")
    config.write_text(text)
    return config, feed


def item(n: int, published: datetime) -> Item:
    return Item(guid=f"p{n}", title=f"Post number {n}", link=f"https://example.org/p{n}/",
                published=published, comments=n)


def messages(config: Path) -> list[str]:
    """Subject and post titles of every message in the outbox, one string per message."""
    found = []
    for path in sorted((config.parent / "outbox").glob("*.eml")):
        message = parse_eml(path.read_bytes())
        text, _ = parts(message)
        titles = sorted(line for line in text.splitlines() if line.startswith("Post number"))
        found.append(" | ".join(titles))
    return found


def test_two_runs_in_one_period_send_one_issue(tmp_path: Path) -> None:
    config, feed = site(tmp_path)
    posts = [item(1, utc(2026, 11, 20, 9)), item(2, utc(2026, 11, 22, 9))]
    write_rss(feed, "Feeling Again", posts)
    first = run_cli(config, "run", now=utc(2026, 11, 23, 8, 5))
    assert first.code == 0, first.err
    assert "Issue 1" in first.out
    assert messages(config) == ["Post number 1 | Post number 2"] * SUBSCRIBERS

    posts.append(item(3, utc(2026, 11, 24, 9)))
    write_rss(feed, "Feeling Again", posts)
    second = run_cli(config, "run", now=utc(2026, 11, 24, 10, 0))
    assert second.code == 0, second.err
    assert "1 new post\n" in second.out  # fetched and remembered all the same
    assert "No new issue: next issue due at 2026-11-30 08:00 Europe/London." in second.out
    assert len(messages(config)) == SUBSCRIBERS

    third = run_cli(config, "run", now=utc(2026, 11, 30, 8, 0))
    assert third.code == 0, third.err
    assert "Issue 2" in third.out
    assert sorted(messages(config)) == sorted(
        ["Post number 1 | Post number 2"] * SUBSCRIBERS + ["Post number 3"] * SUBSCRIBERS)


def test_a_forced_run_sends_now_and_counts_for_its_period(tmp_path: Path) -> None:
    config, feed = site(tmp_path, min_posts=2)
    write_rss(feed, "Feeling Again", [item(1, utc(2026, 11, 24, 9))])
    early = run_cli(config, "run", now=utc(2026, 11, 25, 12, 0))  # first issue: due, but 1 < 2
    assert "No new issue: 1 new post, fewer than min_posts (2)" in early.out
    forced = run_cli(config, "run", "--force", now=utc(2026, 11, 25, 12, 5))
    assert forced.code == 0, forced.err
    assert "Issue 1" in forced.out
    assert messages(config) == ["Post number 1"] * SUBSCRIBERS

    # Forced again with nothing new: still never an empty issue, never a post twice.
    again = run_cli(config, "run", "--force", now=utc(2026, 11, 25, 12, 10))
    assert again.code == 0, again.err
    assert "No new issue: nothing new since 2026-11-25." in again.out
    assert len(messages(config)) == SUBSCRIBERS

    write_rss(feed, "Feeling Again", [item(n, utc(2026, 11, 25, 13 + n)) for n in (1, 2, 3)])
    later = run_cli(config, "run", now=utc(2026, 11, 27, 12, 0))
    assert "No new issue: next issue due at 2026-11-30 08:00 Europe/London." in later.out
    monday = run_cli(config, "run", now=utc(2026, 11, 30, 8, 1))
    assert "Issue 2" in monday.out
    assert messages(config).count("Post number 2 | Post number 3") == SUBSCRIBERS


def test_min_posts_holds_posts_back_into_the_next_period(tmp_path: Path) -> None:
    config, feed = site(tmp_path, min_posts=2)
    posts = [item(1, utc(2026, 11, 19, 9)), item(2, utc(2026, 11, 20, 9))]
    write_rss(feed, "Feeling Again", posts)
    assert "Issue 1" in run_cli(config, "run", now=utc(2026, 11, 23, 8, 0)).out

    posts.append(item(3, utc(2026, 11, 26, 9)))
    write_rss(feed, "Feeling Again", posts)
    held = run_cli(config, "run", now=utc(2026, 11, 30, 8, 0))
    assert held.code == 0, held.err
    assert ("No new issue: 1 new post, fewer than min_posts (2); they roll into the next "
            "issue.") in held.out
    assert "Nothing was sent." in held.out
    assert len(messages(config)) == SUBSCRIBERS

    posts.append(item(4, utc(2026, 12, 3, 9)))
    write_rss(feed, "Feeling Again", posts)
    # Enough posts now, but the period of 30 November was decided by its first run: the posts
    # roll into the next period instead of going out mid-week.
    midweek = run_cli(config, "run", now=utc(2026, 12, 3, 10, 0))
    assert midweek.code == 0, midweek.err
    assert ("No new issue: this period's issue was held back (fewer than min_posts); next issue "
            "due at 2026-12-07 08:00 Europe/London.") in midweek.out
    assert len(messages(config)) == SUBSCRIBERS
    assert "Issue 2" in run_cli(config, "run", now=utc(2026, 12, 7, 8, 0)).out
    assert messages(config).count("Post number 3 | Post number 4") == SUBSCRIBERS


def test_a_run_that_is_not_due_still_finishes_an_unfinished_issue(tmp_path: Path) -> None:
    config, feed = site(tmp_path)
    write_rss(feed, "Feeling Again", [item(1, utc(2026, 11, 20, 9))])
    assert "Issue 1" in run_cli(config, "run", now=utc(2026, 11, 23, 8, 0)).out
    write_rss(feed, "Feeling Again", [item(1, utc(2026, 11, 20, 9)),
                                      item(2, utc(2026, 11, 23, 9))])
    assert run_cli(config, "fetch", now=utc(2026, 11, 23, 10, 0)).code == 0
    # An issue made, then a crash before any message went out.
    with Store.open(config.parent / "digest.sqlite3") as store:
        [waiting] = store.unissued_posts()
        rendered = RenderedIssue(subject="Feeling Again weekly: Post number 2",
                                 html="<p>Post number 2</p><a href="
                                 f"\"{TOKEN_UNSUBSCRIBE}\">Unsubscribe</a>",
                                 text="Post number 2\n",
                                 preheader="", post_count=1)
        store.create_issue([waiting.post.key], rendered, utc(2026, 11, 23, 10, 1))
    result = run_cli(config, "run", now=utc(2026, 11, 24, 9, 0))
    assert result.code == 0, result.err
    assert "issue delivered: 3 sent" in result.out
    assert "No new issue: next issue due at 2026-11-30 08:00 Europe/London." in result.out
    assert len(list((config.parent / "outbox").glob("*.eml"))) == 2 * SUBSCRIBERS


def test_without_a_schedule_an_issue_goes_out_whenever_there_is_news(tmp_path: Path) -> None:
    feed = write_rss(tmp_path / "feed.xml", "Feeling Again", [item(1, utc(2026, 11, 20, 9))])
    config = write_config(tmp_path / "site", [str(feed)])
    assert "Issue 1" in run_cli(config, "run", now=utc(2026, 11, 23, 8, 0)).out
    write_rss(feed, "Feeling Again", [item(1, utc(2026, 11, 20, 9)),
                                      item(2, utc(2026, 11, 23, 9))])
    assert "Issue 2" in run_cli(config, "run", now=utc(2026, 11, 23, 9, 30)).out


def test_the_machine_time_zone_does_not_change_the_decision(tmp_path: Path) -> None:
    """The real command with the real clock, on machines set to zones 25 hours apart."""
    london = ZoneInfo("Europe/London")
    at = (datetime.now(UTC) + timedelta(minutes=90)).astimezone(london)
    config, feed = site(tmp_path, schedule=f"daily {at:%H:%M} Europe/London")
    write_rss(feed, "Feeling Again", [item(1, utc(2026, 1, 5, 9))])
    expected = f"next issue due at {at:%Y-%m-%d %H:%M} Europe/London"
    outputs = []
    for machine_zone in ("Pacific/Kiritimati", "America/Adak", "UTC"):
        env = {**os.environ, "TZ": machine_zone}
        proc = subprocess.run([sys.executable, "-m", "digest", "--config", str(config), "run"],
                              capture_output=True, text=True, env=env, timeout=120,
                              cwd=config.parent)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
    assert "Issue 1" in outputs[0]  # no issue yet: due at once
    assert expected in outputs[1] and expected in outputs[2]


def test_quiet_prints_nothing_on_success_and_only_trouble_on_failure(tmp_path: Path) -> None:
    config, feed = site(tmp_path)
    write_rss(feed, "Feeling Again", [item(1, utc(2026, 1, 5, 9))])
    sent = digest(config, "--quiet", "run")
    assert (sent.code, sent.out, sent.err) == (0, "", "")
    assert len(messages(config)) == SUBSCRIBERS
    waiting = digest(config, "--quiet", "run")  # not due: still a success
    assert (waiting.code, waiting.out, waiting.err) == (0, "", "")

    feed.unlink()
    failed = digest(config, "--quiet", "run")
    assert failed.code == 1
    assert failed.out == ""
    assert "feed failed: " in failed.err and str(feed) in failed.err
