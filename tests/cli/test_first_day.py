"""What a newcomer sees on the first day: one post and one reader say "1 post" and "1 message",
--quiet works after the command too, the delivery result is printed once after the feeds, an
unknown issue is bad input (exit 2) and help text promises nothing the emails do not do."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.store import Store
from support.e2e import write_config
from support.rss import Item, run_cli, write_rss

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def one_of_each(tmp_path: Path) -> Path:
    """A blog with one post and a list with one reader."""
    feed = write_rss(tmp_path / "feed.xml", "Feeling Again", [
        Item("p1", "The only post", "https://example.org/only", datetime(2026, 11, 30,
                                                                           tzinfo=UTC), 1)])
    return write_config(tmp_path / "site", [str(feed)],
                        subscribers="email,name\nann@example.org,Ann Lee\n")


def test_one_post_and_one_reader_are_said_in_the_singular(one_of_each: Path) -> None:
    result = run_cli(one_of_each, "run", now=NOW)
    assert result.code == 0, result.err
    assert "1 post in the feed" in result.out
    assert "\n1 new post\n" in result.out
    assert '"(1 post)' not in result.out and "(1 post)" in result.out
    assert "1 posts" not in result.out + result.err
    assert "sending 1 message\n" in result.err and "1 messages" not in result.err


def test_the_delivery_result_is_printed_once_after_the_feeds(one_of_each: Path) -> None:
    result = run_cli(one_of_each, "run", now=NOW)
    both = result.out + result.err
    assert both.count("1 sent, 0 failed") == 1
    assert result.out.index("Feeds:") < result.out.index("1 sent, 0 failed")


@pytest.mark.parametrize("args", [("run", "--quiet"), ("run", "-q"), ("--quiet", "run")])
def test_quiet_before_or_after_the_command(one_of_each: Path, args: tuple[str, ...]) -> None:
    result = run_cli(one_of_each, *args, now=NOW)
    assert (result.code, result.out, result.err) == (0, "", "")
    with Store.open(one_of_each.parent / "digest.sqlite3") as store:
        assert store.delivery_counts(1)["sent"] == 1


def test_quiet_after_a_subcommand_of_a_group(one_of_each: Path) -> None:
    result = run_cli(one_of_each, "subscribers", "add", "bo@example.org", "--quiet", now=NOW)
    assert (result.code, result.out) == (0, "")
    loud = run_cli(one_of_each, "subscribers", "add", "cy@example.org", now=NOW)
    assert loud.out == "cy@example.org is subscribed (active)\n"


def test_status_of_an_unknown_issue_is_bad_input_like_approve(one_of_each: Path) -> None:
    before = run_cli(one_of_each, "status", "7", now=NOW)  # no store yet
    assert before.code == 2 and "no issue 7" in before.err
    assert not (one_of_each.parent / "digest.sqlite3").exists()
    run_cli(one_of_each, "run", now=NOW)
    for command in ("status", "approve"):
        result = run_cli(one_of_each, command, "7", now=NOW)
        assert result.code == 2, (command, result.err)
        assert "no issue 7; `digest issues` lists them" in result.err
    assert run_cli(one_of_each, "status", "1", now=NOW).code == 0


def test_subscribers_add_help_promises_no_greeting() -> None:
    result = CliRunner().invoke(main, ["subscribers", "add", "--help"])
    assert result.exit_code == 0
    shown = " ".join(result.output.split())
    assert "greeting" not in shown.replace("the emails have no greeting", "")
    assert "shown in the To: line" in shown
