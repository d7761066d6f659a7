"""`digest unsubscribe TOKEN`: apply a reader's signed unsubscribe link by hand or from a script
(a mailbox receiving the List-Unsubscribe mails, or the web page's queue)."""

from __future__ import annotations

import click

from digest.cli._context import EXIT_INPUT, EXIT_OK, Context, fail, guarded
from digest.errors import TokenError


@click.command(epilog="Example: digest unsubscribe 'https://example.org/unsubscribe?token=eyJk...'")
@click.argument("token")
@click.pass_obj
@guarded
def unsubscribe(obj: Context, token: str) -> int:
    """Unsubscribe the reader a signed unsubscribe TOKEN names.

    TOKEN is the token from a reader's unsubscribe link, or the whole link. A forged, altered or
    foreign token changes nothing (exit status 2). Running it again for the same token is fine:
    the reader stays unsubscribed, and no later CSV import subscribes them again.
    """
    from digest import app

    settings = obj.settings
    try:
        left = app.unsubscribe(settings, token, obj.clock())
    except TokenError as exc:
        fail(EXIT_INPUT, f"not a valid unsubscribe link: {exc}; nothing was changed")
    email = left.subscriber.email
    if not left.changed:
        obj.say(f"{email} was already unsubscribed; nothing changed")
        return EXIT_OK
    was = "" if left.was == "active" else f" (was {left.was})"
    obj.say(f"{email} is unsubscribed from {settings.digest.title}{was}")
    return EXIT_OK
