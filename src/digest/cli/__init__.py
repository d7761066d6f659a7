"""The command line. The only place that builds concrete objects and turns errors into exit codes.

Exit status: 0 all went well; 1 the job ran but something needs attention (a feed failed, a delivery
failed, bad CSV rows were skipped); 2 bad configuration or input, nothing was done; 3 another run
holds the lock; 4 sending stopped (mail server unreachable, credentials refused) or the store is
unusable: pending deliveries stay pending for the next run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click

from digest import __version__, config
from digest import app as pipeline
from digest.cli import output
from digest.delivery.progress import Progress
from digest.delivery.senders import make_sender
from digest.errors import (
    ConfigError,
    DigestError,
    LockError,
    RenderError,
    SendError,
    SubscriberError,
)
from digest.settings import Settings
from digest.store import Store
from digest.store.lock import run_lock

EXIT_OK, EXIT_TROUBLE, EXIT_INPUT, EXIT_LOCKED, EXIT_STOPPED = 0, 1, 2, 3, 4


class Context:
    def __init__(self, config_value: str | None, quiet: bool,
                 clock: pipeline.Clock | None = None) -> None:
        self.config_value = config_value
        self.quiet = quiet
        self.clock: pipeline.Clock = clock or (lambda: datetime.now(UTC))
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            path = config.config_path(self.config_value, os.environ)
            self._settings = config.load(path, os.environ)
        return self._settings

    def say(self, message: str = "") -> None:
        if not self.quiet:
            click.echo(message)

    def deps(self, *, show_progress: bool = True) -> pipeline.Deps:
        settings = self.settings
        sender = settings.sender
        factory = make_sender(sender.kind, outbox_dir=sender.outbox, smtp=sender.smtp,
                              api=sender.api, max_attempts=sender.max_attempts)
        progress = Progress(sys.stderr) if show_progress and not self.quiet else None
        return pipeline.Deps(clock=self.clock, sender_factory=factory,
                             progress=progress)


def fail(code: int, message: str) -> NoReturn:
    click.echo(f"digest: {message}", err=True)
    sys.exit(code)


def guarded(fn: Callable[..., int]) -> Callable[..., None]:
    """Run a command; map the error tree to exit codes (never a traceback for a known error)."""

    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            code = fn(*args, **kwargs)
        except (ConfigError, SubscriberError, RenderError) as exc:
            fail(EXIT_INPUT, str(exc))
        except LockError as exc:
            fail(EXIT_LOCKED, str(exc))
        except SendError as exc:
            fail(EXIT_STOPPED, f"sending stopped: {exc}; unsent messages stay pending, "
                 "run `digest send` to carry on")
        except DigestError as exc:
            fail(EXIT_STOPPED, str(exc))
        sys.exit(code)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config_value", metavar="PATH",
              help="Configuration file (default: $DIGEST_CONFIG, else ./feeds.yaml).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success (for cron).")
@click.version_option(__version__, prog_name="digest")
@click.pass_context
def main(ctx: click.Context, config_value: str | None, quiet: bool) -> None:
    """Turn a blog's feed into an email digest and deliver it to every subscriber.

    \b
    Example:
      digest --config feeds.yaml run
    """
    # A program embedding digest (its tests, say) may hand in a clock as the context object.
    ctx.obj = Context(config_value, quiet, clock=ctx.obj if callable(ctx.obj) else None)


@main.command(epilog="Example: digest run   (from cron: digest --quiet run)")
@click.option("--force", is_flag=True,
              help="Make and send the issue now, whatever the schedule and min_posts say.")
@click.pass_obj
@guarded
def run(obj: Context, force: bool) -> int:
    """Fetch the feeds, make the next issue if there is news and it is due, and deliver it.

    Safe to run as often as you like: it first finishes any issue a crash left unfinished, never
    sends an issue twice, makes a new issue only from posts no issue has had yet, and with a
    schedule makes at most one issue per period.
    """
    settings = obj.settings
    report = pipeline.run(settings, obj.deps(), force=force)
    for line in output.run_lines(settings, report):
        obj.say(line)
    for line in output.trouble_lines(report):
        click.echo(line, err=True)
    trouble = report.feed_errors or report.failed_deliveries or report.subscribers.errors or (
        report.notice is not None and report.notice.failed) or report.watch.failed
    return EXIT_TROUBLE if trouble else EXIT_OK


@main.command(epilog="Example: digest fetch")
@click.pass_obj
@guarded
def fetch(obj: Context) -> int:
    """Fetch the feeds and remember new posts, without making or sending an issue."""
    settings = obj.settings
    deps = obj.deps(show_progress=False)
    with run_lock(settings.store), Store.open(settings.store) as store:
        outcomes, new = pipeline.fetch_into(settings, store, deps)
    for line in output.feed_lines(outcomes):
        obj.say(line)
    obj.say(f"{new} new post{'s' if new != 1 else ''}")
    errors = [o for o in outcomes if o.status == "error"]
    for outcome in errors:
        click.echo(f"digest: feed failed: {outcome.feed.url}: {outcome.error}", err=True)
    return EXIT_TROUBLE if errors else EXIT_OK


@main.command(epilog="Example: digest preview --out preview/")
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
    from digest.cli.drafts import open_draft, preview_stored, stored_issue

    settings = obj.settings
    stored = open_draft(settings) if issue_id is None else stored_issue(settings, issue_id)
    if stored is not None:
        return preview_stored(obj, stored, out_dir)
    deps = obj.deps(show_progress=False)
    draft, why = pipeline.draft_next(settings, deps, pipeline.preview_recipient(settings))
    if draft is None:
        obj.say(f"No issue to preview: {why}.")
        return EXIT_OK
    for line in output.draft_lines(draft):
        obj.say(line)
    for path in pipeline.write_preview(settings, draft, out_dir, deps.clock()):
        click.echo(str(path))
    return EXIT_OK


@main.command(epilog="Examples: digest send --to me@example.org;  digest send --retry-failed")
@click.option("--to", "to_address", metavar="ADDRESS",
              help="Send a test copy of the next issue to ADDRESS only; marks nothing sent.")
@click.option("--retry-failed", is_flag=True,
              help="Also retry deliveries that failed with temporary errors.")
@click.pass_obj
@guarded
def send(obj: Context, to_address: str | None, retry_failed: bool) -> int:
    """Finish delivering unfinished issues, or send a test copy with --to."""
    settings = obj.settings
    if to_address:
        return _send_test(obj, settings, to_address)
    reports = pipeline.send(settings, obj.deps(), retry_failed=retry_failed)
    from digest.cli.drafts import open_draft

    waiting = None if reports else open_draft(settings)
    if waiting is not None:
        obj.say(f"Nothing to send: issue {waiting.id} is a draft awaiting approval "
                f"(`digest approve {waiting.id}`).")
    elif not reports:
        obj.say("Nothing to send: every issue is delivered.")
    for report in reports:
        obj.say(output.delivery_line(report))
    return EXIT_TROUBLE if any(r.failed or r.rejected for r in reports) else EXIT_OK


def _send_test(obj: Context, settings: Settings, to_address: str) -> int:
    from digest.cli.drafts import as_draft, open_draft
    from digest.subscribers import validate_email

    address = validate_email(to_address)
    deps = obj.deps(show_progress=False)
    recipient = pipeline.preview_recipient(settings, address)
    stored = open_draft(settings)  # the open draft is the next issue, as stored
    draft, why = ((as_draft(settings, stored, recipient), "") if stored is not None
                  else pipeline.draft_next(settings, deps, recipient))
    if draft is None:
        obj.say(f"No issue to send: {why}.")
        return EXIT_OK
    message = pipeline.test_message(settings, draft, deps.clock())
    sender = deps.sender_factory()
    try:
        [result] = sender.send_batch([message])
    finally:
        sender.close()
    if result.outcome != "sent":
        click.echo(f"digest: test copy to {address} not sent: {result.reply}", err=True)
        return EXIT_TROUBLE
    obj.say(f"Test copy of \"{draft.rendered.subject}\" sent to {address} "
            f"({output.sender_where(settings)}). Nothing was marked as sent.")
    return EXIT_OK


from digest.cli.admin import issues, status, subscribers  # noqa: E402  (commands register on main)

main.add_command(subscribers)
main.add_command(issues)
main.add_command(status)

from digest.cli.check import check  # noqa: E402

main.add_command(check)

from digest.cli.unsubscribe import unsubscribe  # noqa: E402

main.add_command(unsubscribe)

from digest.cli.drafts import approve, draft  # noqa: E402

main.add_command(draft)
main.add_command(approve)

from digest.cli.serve import serve  # noqa: E402

main.add_command(serve)

from digest.cli.feeds import feeds  # noqa: E402

main.add_command(feeds)
