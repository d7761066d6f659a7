"""The `digest` command group, and every command registered on it from this one place.

Each command lives in the module for its concern (cron, drafts, admin, check, feeds, unsubscribe,
serve) and imports ``digest.cli._context``, never this module, so there is no import cycle.
"""

from __future__ import annotations

import click

from digest import __version__
from digest.cli._context import Context
from digest.cli.admin import issues, status, subscribers
from digest.cli.check import check
from digest.cli.cron import fetch, run, send
from digest.cli.drafts import approve, draft, preview
from digest.cli.feeds import feeds
from digest.cli.serve import serve
from digest.cli.unsubscribe import unsubscribe


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


def _quiet_too(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``digest run --quiet`` means what ``digest --quiet run`` means."""
    obj = ctx.find_object(Context)
    if value and obj is not None:
        obj.quiet = True


def _accept_quiet(command: click.Command) -> None:
    """Give a command (and each command of a group) the group's ``-q/--quiet``, so it may
    come after the command's name as well as before it."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_quiet(sub)
        return
    command.params.append(click.Option(["-q", "--quiet"], is_flag=True, expose_value=False,
                                       callback=_quiet_too, help="Print nothing on success."))


for command in (run, fetch, preview, send, subscribers, issues, status, check, unsubscribe,
                draft, approve, serve, feeds):
    _accept_quiet(command)
    main.add_command(command)
