"""Commands for editors: make and change the draft of the next issue, and approve it."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from digest import app as pipeline
from digest.cli import EXIT_OK, Context, guarded, output
from digest.issues import drafts, resent
from digest.issues.compose import nothing_new_message
from digest.issues.drafts import DraftError, DraftResult
from digest.issues.render import Renderer
from digest.models import FetchOutcome, Issue, Recipient
from digest.settings import Settings
from digest.store import Store
from digest.store.lock import run_lock

_STATES = {
    "made": "draft made",
    "existing": "the open draft (--rebuild composes it again from the current posts)",
    "rebuilt": "draft composed again from the current posts",
    "edited": "draft changed and rendered again",
    "unchanged": "draft unchanged: the intro and subject were already those",
}


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
    settings = obj.settings
    intro = _intro(intro_text, intro_file)
    if subject is not None:
        drafts.clean_subject(subject)  # checked before anything is fetched or changed
    deps = obj.deps(show_progress=False)
    renderer = Renderer(settings.templates)
    fetched: tuple[FetchOutcome, ...] = ()
    with Store.open(settings.store) as store:
        current = store.open_draft()
        result: DraftResult | None = None if current is None else DraftResult(current, "existing")
        if result is None or rebuild:
            # Fetching and composing, like a run: a run at the same time waits or stops.
            with run_lock(settings.store):
                outcomes, _ = pipeline.fetch_into(settings, store, deps)
                fetched = tuple(outcomes)
                result = drafts.make_draft(store, functools.partial(pipeline.plan_next, settings),
                                           renderer, settings.digest, deps.clock(),
                                           rebuild=rebuild)
        if already_sent is not None and result is not None:
            with run_lock(settings.store):
                settled, result = drafts.settle_already_sent(
                    store, functools.partial(pipeline.plan_next, settings), renderer,
                    settings.digest, deps.clock(), "drop" if already_sent == "drop" else "sent")
            for twin in settled:
                obj.say(f"{'Dropped' if already_sent == 'drop' else 'Marked as sent'}: "
                        + resent.describe(twin))
        if result is None:
            obj.say(f"No draft: {nothing_new_message(store.last_issue())}.")
            return EXIT_OK
        twins = drafts.already_sent(store, result.issue)
        if intro is not None or subject is not None:
            edited = drafts.edit_draft(store, result.issue.id, renderer, settings.digest,
                                       intro=intro, subject=subject)
            result = edited if result.state != "made" else DraftResult(edited.issue, "made")
    for line in draft_lines(settings, result, fetched):
        obj.say(line)
    for twin in twins:
        obj.say("Looks already sent: " + resent.describe(twin))
    if twins:
        obj.say("           digest draft --already-sent drop   (or: --already-sent sent)")
    if show:
        _write(settings, result.issue, out_dir, deps.clock)
    return EXIT_OK


def _intro(text: str | None, path: Path | None) -> str | None:
    if text is not None and path is not None:
        raise DraftError("give the intro either with --intro or with --intro-file, not both",
                         key="intro")
    if path is None:
        return None if text is None else drafts.clean_intro(text)
    try:
        raw = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except OSError as exc:
        raise DraftError(f"cannot read {path}: {exc.strerror or exc}", key="intro-file") from exc
    try:
        return drafts.clean_intro(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DraftError(f"{path} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                         f"{exc.start}); save it as UTF-8", key="intro-file") from exc


def draft_lines(settings: Settings, result: DraftResult,
                fetched: tuple[FetchOutcome, ...] = ()) -> Iterator[str]:
    issue = result.issue
    yield f"Issue {issue.id}: {_STATES[result.state]} ({issue.status})"
    yield from output.draft_lines(pipeline.Draft(drafts.as_rendered(issue), fetched,
                                                 pipeline.preview_recipient(settings)))
    yield f"Content:   {drafts.short_hash(issue.content_hash)} (sha256 of subject, HTML and text)"
    if issue.status == "approved":
        yield (f"Approved:  content {drafts.short_hash(issue.approved_hash)}; `digest send` or "
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
    settings = obj.settings
    with _existing_store(settings, issue_id) as store:
        issue = drafts.approve(store, issue_id, obj.clock(), expected=expected)
    click.echo(f"Issue {issue.id} approved: content {issue.approved_hash}")
    obj.say(f"\"{issue.subject}\" goes out with `digest send` or the next `digest run`.")
    return EXIT_OK


def _existing_store(settings: Settings, issue_id: int) -> Store:
    if not settings.store.exists():
        raise DraftError(f"no issue {issue_id}: the store {settings.store} does not exist yet")
    return Store.open(settings.store)


def open_draft(settings: Settings) -> Issue | None:
    """The open draft, if the store exists and has one (a missing store is not created)."""
    if not settings.store.exists():
        return None
    with Store.open(settings.store) as store:
        return store.open_draft()


def stored_issue(settings: Settings, issue_id: int) -> Issue:
    with _existing_store(settings, issue_id) as store:
        issue = store.find_issue(issue_id)
    if issue is None:
        raise DraftError(f"no issue {issue_id}; `digest issues` lists them")
    return issue


def as_draft(settings: Settings, issue: Issue, recipient: Recipient) -> pipeline.Draft:
    """A stored issue as the previews and test copies take it: its stored bytes, unchanged."""
    return pipeline.Draft(drafts.as_rendered(issue), (), recipient)


def preview_stored(obj: Context, issue: Issue, out_dir: Path) -> int:
    """`digest preview` of a stored issue (the open draft, or --issue N)."""
    settings = obj.settings
    obj.say(f"Issue {issue.id} ({issue.status}), content {drafts.short_hash(issue.content_hash)}")
    for line in output.draft_lines(as_draft(settings, issue,
                                            pipeline.preview_recipient(settings))):
        obj.say(line)
    _write(settings, issue, out_dir, obj.clock)
    return EXIT_OK


def _write(settings: Settings, issue: Issue, out_dir: Path, clock: pipeline.Clock) -> None:
    preview = as_draft(settings, issue, pipeline.preview_recipient(settings))
    for path in pipeline.write_preview(settings, preview, out_dir, clock()):
        click.echo(str(path))
