"""Commands for editors: see the next issue (`digest preview`), make and change its draft
(`digest draft`), and approve it (`digest approve`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli import output
from digest.cli._context import EXIT_OK, Context, guarded
from digest.errors import ConfigError

if TYPE_CHECKING:
    from digest.app import Draft, Drafted
    from digest.settings import Settings

_STATES = {
    "made": "draft made",
    "existing": "the open draft (--rebuild composes it again from the current posts)",
    "rebuilt": "draft composed again from the current posts",
    "edited": "draft changed and rendered again",
    "unchanged": "draft unchanged: the intro and subject were already those",
}


@click.command(epilog="Example: digest preview --out preview/")
@click.option("--out", "out_dir", default="preview", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path), help="Folder for the files.")
@click.option("--issue", "issue_id", type=int, metavar="N",
              help="Write the stored issue N (a draft, say) exactly as stored.")
@click.pass_obj
@guarded
def preview(obj: Context, out_dir: Path, issue_id: int | None) -> int:
    """Write the next issue as digest.html, digest.txt and digest.eml. Changes nothing.

    With an open draft, that draft is the next issue. Otherwise the feeds are fetched into a
    throw-away copy of the store, so what you see is what the next `digest run` would send now.
    """
    from digest import app
    from digest.issues.drafts import short_hash

    settings = obj.settings
    found = app.upcoming(settings, obj.deps(show_progress=False), issue_id=issue_id)
    if found.draft is None:
        obj.say(f"No issue to preview: {found.why}.")
        return EXIT_OK
    if found.stored is not None:
        obj.say(f"Issue {found.stored.id} ({found.stored.status}), content "
                f"{short_hash(found.stored.content_hash)}")
    for line in output.draft_lines(found.draft):
        obj.say(line)
    _write(obj, settings, found.draft, out_dir)
    return EXIT_OK


def _write(obj: Context, settings: Settings, draft: Draft, out_dir: Path) -> None:
    from digest import app

    for path in app.write_preview(settings, draft, out_dir, obj.clock()):
        click.echo(str(path))


@click.command(epilog="Examples: digest draft;  digest draft --intro-file intro.md --show;  "
                      "digest draft --subject 'Spring issue'")
@click.option("--rebuild", is_flag=True,
              help="Compose the open draft again from the current posts; keeps an intro or "
                   "subject an editor wrote.")
@click.option("--intro", "intro_text", metavar="TEXT", help="A new intro (Markdown).")
@click.option("--intro-file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Read the new intro (Markdown, UTF-8) from FILE; - reads standard input.")
@click.option("--subject", metavar="TEXT", help="A new subject line.")
@click.option("--already-sent", "already_sent", type=click.Choice(["drop", "sent"]),
              help="Posts of the open draft that look already sent (same link or title as a "
                   "sent post, as when a feed rewrites its ids): drop them for good, or mark "
                   "them as sent in the issue that had them; the draft is composed again.")
@click.option("--show", is_flag=True,
              help="Also write digest.html, digest.txt and digest.eml of the draft.")
@click.option("--out", "out_dir", default="preview", show_default=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path), help="Folder for --show.")
@click.pass_obj
@guarded
def draft(obj: Context, rebuild: bool, intro_text: str | None, intro_file: Path | None,
          subject: str | None, already_sent: str | None, show: bool, out_dir: Path) -> int:
    """Freeze the next issue as a draft, or show the open one; change its intro or subject.

    The draft's posts are reserved for it, and its content hash is printed. A change renders it
    again (the same renderer as sending) and it needs approving again: `digest approve ISSUE`
    approves exactly what is stored, and `digest send` or the next `digest run` sends it.
    """
    from digest import app
    from digest.issues.resent import describe

    settings = obj.settings
    drafted = app.draft(settings, obj.deps(show_progress=False), rebuild=rebuild,
                        intro=_intro(intro_text, intro_file), subject=subject,
                        already_sent="drop" if already_sent == "drop" else
                        "sent" if already_sent == "sent" else None)
    for twin in drafted.settled:
        obj.say(f"{'Dropped' if already_sent == 'drop' else 'Marked as sent'}: "
                + describe(twin))
    if drafted.result is None:
        obj.say(f"No draft: {drafted.nothing_new}.")
        return EXIT_OK
    for line in draft_lines(settings, drafted):
        obj.say(line)
    for twin in drafted.twins:
        obj.say("Looks already sent: " + describe(twin))
    if drafted.twins:
        obj.say("           digest draft --already-sent drop   (or: --already-sent sent)")
    if show:
        stored = app.as_draft(drafted.result.issue, app.preview_recipient(settings))
        _write(obj, settings, stored, out_dir)
    return EXIT_OK


def _intro(text: str | None, path: Path | None) -> str | None:
    """The intro as given: --intro's text, or the UTF-8 file (or stdin) --intro-file names."""
    if text is not None and path is not None:
        raise ConfigError("give the intro either with --intro or with --intro-file, not both",
                          key="intro")
    if path is None:
        return text
    try:
        raw = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", key="intro-file") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                          f"{exc.start}); save it as UTF-8", key="intro-file") from exc


def draft_lines(settings: Settings, drafted: Drafted) -> Iterator[str]:
    """What `digest draft` prints about the draft: state, content, hash, how to approve."""
    from digest import app
    from digest.issues.drafts import short_hash

    assert drafted.result is not None
    issue = drafted.result.issue
    yield f"Issue {issue.id}: {_STATES[drafted.result.state]} ({issue.status})"
    yield from output.draft_lines(app.as_draft(issue, app.preview_recipient(settings),
                                               drafted.fetched))
    yield f"Content:   {short_hash(issue.content_hash)} (sha256 of subject, HTML and text)"
    if issue.status == "approved":
        yield (f"Approved:  content {short_hash(issue.approved_hash)}; `digest send` or "
               "the next run sends it")
    elif settings.approval == "auto":
        yield (f"Approve:   digest approve {issue.id}   (approval is auto: the next run approves "
               "and sends it)")
    else:
        yield f"Approve:   digest approve {issue.id}"


@click.command(epilog="Example: digest approve 7 --hash 3f2a9c01b7de")
@click.argument("issue_id", type=int)
@click.option("--hash", "expected", metavar="PREFIX",
              help="Approve only if the content hash still starts with PREFIX (6+ hex digits, "
                   "as `digest draft` shows it).")
@click.pass_obj
@guarded
def approve(obj: Context, issue_id: int, expected: str | None) -> int:
    """Approve the draft ISSUE exactly as it is stored now; prints the content hash approved.

    `digest send` or the next `digest run` sends those bytes and nothing else. Changing the draft
    afterwards returns it to draft, to be approved again.
    """
    from digest import app

    issue = app.approve(obj.settings, issue_id, obj.clock(), expected=expected)
    click.echo(f"Issue {issue.id} approved: content {issue.approved_hash}")
    obj.say(f"\"{issue.subject}\" goes out with `digest send` or the next `digest run`.")
    return EXIT_OK
