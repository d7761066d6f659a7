"""Commands for looking after subscribers and looking at issues."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli import output
from digest.cli._context import EXIT_OK, EXIT_TROUBLE, Context, guarded
from digest.models import SubscriberStatus


@click.group(epilog="Example: digest subscribers list --status active")
def subscribers() -> None:
    """Add, remove, import and list subscribers."""


@subscribers.command("import", epilog="Example: digest subscribers import people.csv")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
@guarded
def import_(obj: Context, file: Path) -> int:
    """Import subscribers from a CSV file of email,name rows.

    Valid rows go in; every invalid row is reported with its line number (exit status 1). An
    address that unsubscribed or bounced is never subscribed again by an import. Files saved by
    Excel are read too: ';' or tab separators, Windows-1252 or UTF-8 with a byte order mark.
    """
    from digest import app

    result = app.import_subscribers(obj.settings, file)
    for error in result.errors:
        click.echo(f"digest: {error}", err=True)
    if result.report is not None:
        obj.say(output.import_line(result.report))
    if result.not_active:
        obj.say(f"{output.counted(result.not_active, 'row')} left out: its status column "
                "says not active")
    return EXIT_TROUBLE if result.errors else EXIT_OK


@subscribers.command("export", epilog="Example: digest subscribers export --out people.csv")
@click.option("--status", type=click.Choice(["active", "unsubscribed", "bounced", "complained"]),
              help="Only subscribers with this status.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: standard output).")
@click.pass_obj
@guarded
def export(obj: Context, status: SubscriberStatus | None, out: Path | None) -> int:
    """Write subscribers as CSV: email,name,status,subscribed_at,changed_at,reason.

    `digest subscribers import` reads the file back (rows whose status is not active are left
    out, so nobody who left is subscribed again). Cells a spreadsheet would run as a formula
    (starting with = + - @, a tab or a carriage return) start with a ' instead.
    """
    from digest import app

    lines = app.export_subscribers(obj.settings, status)
    if out is None:
        for line in lines:
            click.echo(line, nl=False)
        return EXIT_OK
    written = -1  # the header is not a subscriber
    with out.open("w", encoding="utf-8", newline="") as file:
        for line in lines:
            file.write(line)
            written += 1
    obj.say(f"{output.counted(written, 'subscriber')} written to {out}")
    return EXIT_OK


@subscribers.command(epilog='Example: digest subscribers add ann@example.org --name "Ann Lee"')
@click.argument("email")
@click.option("--name", default="",
              help="The subscriber's name: kept with the address and shown in the To: line of "
              "each message (the emails have no greeting).")
@click.pass_obj
@guarded
def add(obj: Context, email: str, name: str) -> int:
    """Subscribe EMAIL (re-subscribes an address that had left)."""
    from digest import app

    subscriber = app.add_subscriber(obj.settings, email, name)
    obj.say(f"{subscriber.email} is subscribed ({subscriber.status})")
    return EXIT_OK


@subscribers.command(epilog="Example: digest subscribers remove ann@example.org")
@click.argument("email")
@click.pass_obj
@guarded
def remove(obj: Context, email: str) -> int:
    """Unsubscribe EMAIL. The address is kept as unsubscribed so no import brings it back."""
    from digest import app

    left = app.remove_subscriber(obj.settings, email)
    obj.say(f"{left.subscriber.email} is unsubscribed")
    return EXIT_OK


@subscribers.command("list", epilog="Example: digest subscribers list --status bounced")
@click.option("--status", type=click.Choice(["active", "unsubscribed", "bounced", "complained"]),
              help="Only subscribers with this status.")
@click.pass_obj
@guarded
def list_(obj: Context, status: SubscriberStatus | None) -> int:
    """List subscribers: email, name and status (active, unsubscribed or bounced)."""
    from digest import app

    for subscriber in app.list_subscribers(obj.settings, status):
        click.echo(output.subscriber_line(subscriber))
    return EXIT_OK


@click.group(invoke_without_command=True,
             epilog="Examples: digest issues;  digest issues cancel 3")
@click.pass_context
def issues(ctx: click.Context) -> None:
    """List issues with their deliveries counted by status (or cancel one)."""
    if ctx.invoked_subcommand is None:
        list_issues(ctx.obj)


@guarded
def list_issues(obj: Context) -> int:
    from digest import app

    summaries = app.issue_summaries(obj.settings)
    if not summaries:
        obj.say("No issues yet.")
    for summary in summaries:
        click.echo(output.issue_line(summary))
    return EXIT_OK


@issues.command(epilog="Example: digest issues cancel 3")
@click.argument("issue_id", type=int)
@click.pass_obj
@guarded
def cancel(obj: Context, issue_id: int) -> int:
    """Stop sending issue ISSUE_ID for good (say the mail server refuses it).

    Its pending and failed deliveries are closed. If nobody got it, its posts go to the next
    issue; if some readers did, its posts stay with it so nobody gets them twice. Nothing else
    changes: no subscriber is marked.
    """
    from digest import app

    done = app.cancel_issue(obj.settings, issue_id, obj.clock())
    posts = (f"its {done.released} post{'s' if done.released != 1 else ''} go to the next issue"
             if not done.sent else f"{done.sent} readers had it, so its posts stay with it")
    obj.say(f"Issue {issue_id} cancelled: {done.closed} unsent deliveries closed; {posts}.")
    return EXIT_OK


@click.command(epilog="Example: digest status 3")
@click.argument("issue_id", type=int)
@click.pass_obj
@guarded
def status(obj: Context, issue_id: int) -> int:
    """Show one issue: deliveries by status and the most common failure replies."""
    from digest import app

    for line in output.status_lines(app.issue_status(obj.settings, issue_id)):
        click.echo(line)
    return EXIT_OK
