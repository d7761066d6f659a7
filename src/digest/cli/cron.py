"""The commands cron and the operator run: `digest run`, `digest fetch`, `digest send`."""

from __future__ import annotations

import click

from digest.cli import output
from digest.cli._context import EXIT_OK, EXIT_STOPPED, EXIT_TROUBLE, Context, guarded


@click.command(epilog="Example: digest run   (from cron: digest --quiet run)")
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
    from digest import app

    settings = obj.settings
    report = app.run(settings, obj.deps(), force=force)
    for line in output.run_lines(settings, report):
        obj.say(line)
    for line in output.trouble_lines(report):
        click.echo(line, err=True)
    if any(d.refused for d in report.deliveries):
        return EXIT_STOPPED
    return EXIT_TROUBLE if report.trouble else EXIT_OK


@click.command(epilog="Example: digest fetch")
@click.pass_obj
@guarded
def fetch(obj: Context) -> int:
    """Fetch the feeds and remember new posts, without making or sending an issue."""
    from digest import app

    report = app.fetch(obj.settings, obj.deps(show_progress=False))
    for line in output.feed_lines(report.outcomes):
        obj.say(line)
    obj.say(output.counted(report.new_posts, "new post"))
    for outcome in report.errors:
        click.echo(f"digest: feed failed: {outcome.feed.url}: {outcome.error}", err=True)
    return EXIT_TROUBLE if report.errors else EXIT_OK


@click.command(epilog="Examples: digest send --to me@example.org;  digest send --retry-failed")
@click.option("--to", "to_address", metavar="ADDRESS",
              help="Send a test copy of the next issue to ADDRESS only; marks nothing sent.")
@click.option("--retry-failed", is_flag=True,
              help="Also retry deliveries that failed with temporary errors.")
@click.pass_obj
@guarded
def send(obj: Context, to_address: str | None, retry_failed: bool) -> int:
    """Finish delivering unfinished issues, or send a test copy with --to."""
    from digest import app

    settings = obj.settings
    if to_address:
        return _send_test(obj, to_address)
    report = app.send(settings, obj.deps(), retry_failed=retry_failed)
    if report.waiting is not None:
        obj.say(f"Nothing to send: issue {report.waiting.id} is a draft awaiting approval "
                f"(`digest approve {report.waiting.id}`).")
    elif not report.deliveries:
        obj.say("Nothing to send: every issue is delivered.")
    for delivery in report.deliveries:
        obj.say(output.delivery_line(delivery))
        if delivery.refused:
            click.echo(output.refused_line(delivery), err=True)
    if report.refused:
        return EXIT_STOPPED
    return EXIT_TROUBLE if report.failed else EXIT_OK


def _send_test(obj: Context, to_address: str) -> int:
    from digest import app

    settings = obj.settings
    sent = app.send_test(settings, obj.deps(show_progress=False), to_address)
    if isinstance(sent, app.Next):
        obj.say(f"No issue to send: {sent.why}.")
        return EXIT_OK
    if not sent.sent:
        click.echo(f"digest: test copy to {sent.address} not sent: {sent.reply}", err=True)
        return EXIT_TROUBLE
    obj.say(f"Test copy of \"{sent.draft.rendered.subject}\" sent to {sent.address} "
            f"({output.sender_where(settings)}). Nothing was marked as sent.")
    return EXIT_OK
