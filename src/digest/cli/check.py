"""`digest check`: will the next issue reach inboxes? Size, spam score, links, headers."""

from __future__ import annotations

import email
from collections.abc import Iterator
from dataclasses import dataclass
from email.policy import default
from pathlib import Path

import click

from digest import app as pipeline
from digest.cli import EXIT_OK, EXIT_TROUBLE, Context, guarded
from digest.errors import DigestError
from digest.mail import spamassassin
from digest.mail.check import GMAIL_CLIP_BYTES, TARGET_BYTES, Area, CheckReport, check_message
from digest.mail.spamassassin import SCORE_LIMIT, SpamReport

_INDENT = " " * 14


@dataclass(frozen=True)
class Checked:
    """Everything `digest check` found out about one message."""

    report: CheckReport
    spam: SpamReport | None  # None: SpamAssassin is not installed, or failed (spam_error)
    spam_error: str | None = None

    @property
    def problem_count(self) -> int:
        spam = len(self.spam.problems()) if self.spam else 0
        return len(self.report.problems) + spam + (1 if self.spam_error else 0)


def inspect_message(raw: bytes) -> Checked:
    report = check_message(raw)
    try:
        return Checked(report, spamassassin.score(raw))
    except DigestError as exc:
        return Checked(report, None, str(exc))


@click.command(epilog="Examples: digest check;  "
                       "digest check --eml outbox/digest.1.1@example.org.eml")
@click.option("--eml", "eml", metavar="FILE", help="Check this message file instead.",
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
@guarded
def check(obj: Context, eml: Path | None) -> int:
    """Check the next issue before it goes out: size, spam score, links and headers.

    The next issue is the one `digest preview` shows: the open draft if there is one, else the
    issue the feeds would make now (fetched into a throw-away copy of the store); nothing
    changes. Reports the HTML size against Gmail's clipping limit, the SpamAssassin score with
    the rules that fired (when SpamAssassin is installed; local rules only), links that are not
    https or mailto, and header and MIME mistakes. Exit status 0 when nothing needs fixing, 1
    when something does.
    """
    if eml is not None:
        data = eml.read_bytes()
        raw: bytes | None = data
        heading = [f"Checking {eml}: {_subject(data)}"]
    else:
        raw, heading = _next_issue(obj)
    if raw is None:
        obj.say(heading[0])
        return EXIT_OK
    checked = inspect_message(raw)
    if checked.problem_count or not obj.quiet:
        for line in [*heading, *report_lines(checked)]:
            click.echo(line)
    return EXIT_TROUBLE if checked.problem_count else EXIT_OK


def _next_issue(obj: Context) -> tuple[bytes | None, list[str]]:
    """The next issue's message as the preview recipient gets it, and lines to head the report."""
    from digest.cli import drafts as cli_drafts

    settings = obj.settings
    deps = obj.deps(show_progress=False)
    recipient = pipeline.preview_recipient(settings)
    stored = cli_drafts.open_draft(settings)  # an open draft is the next issue, as stored
    draft, why = ((cli_drafts.as_draft(settings, stored, recipient), "") if stored is not None
                  else pipeline.draft_next(settings, deps, recipient))
    if draft is None:
        return None, [f"No issue to check: {why}."]
    raw = pipeline.test_message(settings, draft, deps.clock(), subject_prefix="").data
    rendered = draft.rendered
    which = "the next issue" if stored is None else f"draft issue {stored.id}"
    heading = [f"Checking {which}: \"{rendered.subject}\" ({rendered.post_count} posts) "
               f"as sent to {recipient.email}"]
    heading += [f"warning: feed failed: {o.feed.name}: {o.error}"
                for o in draft.fetched if o.status == "error"]
    return raw, heading


def _subject(raw: bytes) -> str:
    subject = email.message_from_bytes(raw, policy=default).get("Subject")
    return f'"{subject}"' if subject else "(no subject)"


def report_lines(checked: Checked) -> Iterator[str]:
    report = checked.report
    yield from _area("Size:", _size_summary(report), report, "size")
    yield from _spam_lines(checked)
    links = f"{report.links_checked} checked"
    yield from _area("Links:", links, report, "links")
    yield from _area("Headers:", "", report, "headers")
    yield from _area("Structure:", "", report, "structure")
    count = checked.problem_count
    yield ("No problems found." if not count else
           f"{count} problem{'s' if count != 1 else ''} found: fix {'them' if count != 1 else 'it'}"
           " before sending.")


def _size_summary(report: CheckReport) -> str:
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
    title = f"{'SpamAssassin:':<{len(_INDENT)}}"
    spam = checked.spam
    if checked.spam_error:
        yield f"{title}could not run: {checked.spam_error}"
        return
    if spam is None:
        yield f"{title}not installed; {spamassassin.INSTALL_HINT}"
        return
    problems = spam.problems()
    verdict = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}" if problems else "ok"
    yield (f"{title}{spam.score:.1f} points (flagged at {SCORE_LIMIT:.1f}, spam at "
           f"{spam.required:.1f}; local rules only): {verdict}")
    for problem in problems:
        yield f"{_INDENT}problem: {problem}"
    for rule in sorted(spam.rules, key=lambda r: -abs(r.points)):
        yield f"{_INDENT}{rule.points:5.1f}  {rule.name:<22} {rule.description}"
