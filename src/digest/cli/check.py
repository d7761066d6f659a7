"""`digest check`: will the next issue reach inboxes? Size, spam score, links, headers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli._context import EXIT_OK, EXIT_TROUBLE, Context, guarded

if TYPE_CHECKING:
    from digest.app import Checked, Next
    from digest.mail.check import Area, CheckReport

_INDENT = " " * 14


@click.command(epilog="Examples: digest check;  "
                       "digest check --eml outbox/digest.1.1@example.org.eml")
@click.option("--eml", "eml", metavar="FILE", help="Check this message file instead.",
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
@guarded
def check(obj: Context, eml: Path | None) -> int:
    """Check the next issue before it goes out: size, spam score, links, layout and headers.

    The next issue is the one `digest preview` shows: the open draft if there is one, else the
    issue the feeds would make now (fetched into a throw-away copy of the store); nothing
    changes. Reports the HTML size against Gmail's clipping limit, the SpamAssassin score with
    the rules that fired (when SpamAssassin is installed; local rules only), links that are not
    https or mailto, words too long for a phone's line and fixed widths wider than the column,
    and header and MIME mistakes. Exit status 0 when nothing needs fixing, 1 when something
    does; an editor token (DIGEST_EDITOR_TOKEN) that `digest serve` would refuse as too short
    counts as such a problem.
    """
    from digest import app

    token_refused = _editor_token_refused()
    if eml is not None:
        subject, checked = app.check_file(eml)
        heading = [f"Checking {eml}: " + (f'"{subject}"' if subject else "(no subject)")]
    else:
        found, result = app.check_next(obj.settings, obj.deps(show_progress=False))
        if result is None:
            obj.say(f"No issue to check: {found.why}.")
            return EXIT_TROUBLE if token_refused else EXIT_OK
        checked, heading = result, _heading(found)
    if checked.problem_count or not obj.quiet:
        for line in [*heading, *report_lines(checked)]:
            click.echo(line)
    return EXIT_TROUBLE if checked.problem_count or token_refused else EXIT_OK


def _editor_token_refused() -> bool:
    """Report an editor token `digest serve` would refuse (checked first: it is quick)."""
    from digest.config.signing import EDITOR_TOKEN_ENV, editor_token_problem

    problem = editor_token_problem(os.environ.get(EDITOR_TOKEN_ENV))
    if problem:
        click.echo(f"{'Editor token:':<{len(_INDENT)}}1 problem")
        click.echo(f"{_INDENT}problem: {problem}")
    return problem is not None


def _heading(found: Next) -> list[str]:
    """Which issue was checked, as whom, and the feeds that failed while making it."""
    assert found.draft is not None
    rendered = found.draft.rendered
    which = "the next issue" if found.stored is None else f"draft issue {found.stored.id}"
    posts = f"{rendered.post_count} post{'' if rendered.post_count == 1 else 's'}"
    heading = [f"Checking {which}: \"{rendered.subject}\" ({posts}) as sent to "
               f"{found.draft.recipient.email}"]
    return heading + [f"warning: feed failed: {o.feed.name}: {o.error}"
                      for o in found.draft.fetched if o.status == "error"]


def report_lines(checked: Checked) -> Iterator[str]:
    """The report, area by area, ending with the count of problems."""
    report = checked.report
    for problem in checked.setup:
        yield f"{'Unsubscribe:':<{len(_INDENT)}}problem: {problem}"
    yield from _area("Size:", _size_summary(report), report, "size")
    yield from _spam_lines(checked)
    links = f"{report.links_checked} checked"
    yield from _area("Links:", links, report, "links")
    yield from _area("Layout:", "long words and fixed widths, for a 375 px phone", report,
                     "layout")
    yield from _area("Headers:", "", report, "headers")
    yield from _area("Structure:", "", report, "structure")
    count = checked.problem_count
    yield ("No problems found." if not count else
           f"{count} problem{'s' if count != 1 else ''} found: fix {'them' if count != 1 else 'it'}"
           " before sending.")


def _size_summary(report: CheckReport) -> str:
    from digest.mail.check import GMAIL_CLIP_BYTES, TARGET_BYTES

    if report.html_bytes is None:
        return "no HTML part"
    return (f"HTML {report.html_bytes / 1024:.1f} KB (Gmail clips above "
            f"{GMAIL_CLIP_BYTES // 1024} KB; target {TARGET_BYTES // 1024} KB)")


def _area(title: str, summary: str, report: CheckReport, area: Area) -> Iterator[str]:
    findings = report.in_area(area)
    problems = sum(f.severity == "problem" for f in findings)
    verdict = f"{problems} problem{'s' if problems != 1 else ''}" if problems else "ok"
    yield f"{title:<{len(_INDENT)}}{summary + ': ' if summary else ''}{verdict}"
    for finding in findings:
        yield f"{_INDENT}{finding.severity}: {finding.message}"


def _spam_lines(checked: Checked) -> Iterator[str]:
    from digest.mail.spamassassin import INSTALL_HINT, SCORE_LIMIT

    title = f"{'SpamAssassin:':<{len(_INDENT)}}"
    spam = checked.spam
    if checked.spam_error:
        yield f"{title}could not run: {checked.spam_error}"
        return
    if spam is None:
        yield f"{title}not installed; {INSTALL_HINT}"
        return
    problems = spam.problems()
    verdict = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}" if problems else "ok"
    yield (f"{title}{spam.score:.1f} points (flagged at {SCORE_LIMIT:.1f}, spam at "
           f"{spam.required:.1f}; local rules only): {verdict}")
    for problem in problems:
        yield f"{_INDENT}problem: {problem}"
    for rule in sorted(spam.rules, key=lambda r: -abs(r.points)):
        yield f"{_INDENT}{rule.points:5.1f}  {rule.name:<22} {rule.description}"
