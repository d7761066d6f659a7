"""`digest unsubscribe TOKEN`: apply a reader's signed unsubscribe link by hand or from a script
(a mailbox receiving the List-Unsubscribe mails, or the web page's queue)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import click

from digest.cli import EXIT_INPUT, EXIT_OK, Context, fail, guarded
from digest.config.signing import SECRET_ENV
from digest.errors import ConfigError, TokenError
from digest.mail import addressing
from digest.mail.tokens import read_unsubscribe_token
from digest.store import Store


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
    settings = obj.settings
    if settings.secret is None:
        raise ConfigError(f"set the environment variable {SECRET_ENV} to the secret the links "
                          "were signed with")
    list_id = addressing.list_id(settings.digest)
    with Store.open(settings.store) as store:
        try:
            subscriber = read_unsubscribe_token(settings.secret, _token_of(token),
                                                list_id=list_id, lookup=store.subscriber,
                                                now=datetime.now(UTC))
        except TokenError as exc:
            fail(EXIT_INPUT, f"not a valid unsubscribe link: {exc}; nothing was changed")
        if subscriber.status == "unsubscribed":
            obj.say(f"{subscriber.email} was already unsubscribed; nothing changed")
            return EXIT_OK
        store.set_subscriber_status(subscriber.email, "unsubscribed")
    was = "" if subscriber.status == "active" else f" (was {subscriber.status})"
    obj.say(f"{subscriber.email} is unsubscribed from {settings.digest.title}{was}")
    return EXIT_OK


def _token_of(text: str) -> str:
    """The token itself, from a token or from the whole unsubscribe link."""
    text = text.strip()
    if "://" not in text:
        return text
    values = parse_qs(urlsplit(text).query).get("token")
    if not values:
        raise TokenError("the link has no token=... in it; pass the token, or the whole "
                         "unsubscribe link from a message")
    return values[0]
