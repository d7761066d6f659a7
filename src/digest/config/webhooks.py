"""The webhooks: section: where the secrets that prove a provider's event post are kept.

Each key names an environment variable; the values themselves (a signing key, a verification key,
basic auth credentials) never appear in the file nor in any message.
"""

from __future__ import annotations

from digest.config import yamlpos
from digest.config.walk import Ctx, Where, _Reported, take
from digest.settings import WebhookSettings
from digest.subscribers.webhooks import sendgrid_key

# key in the section -> (WebhookSettings attribute, what the variable must hold)
SECRET_KEYS = {
    "mailgun_signing_key_env": ("mailgun_signing_key", "the HTTP webhook signing key of your "
                                "mailgun account"),
    "sendgrid_public_key_env": ("sendgrid_public_key", "the verification key of your sendgrid "
                                "Signed Event Webhook (base64, as shown under Mail Settings)"),
    "postmark_basic_auth_env": ("postmark_basic_auth", 'the "user:password" written in your '
                                "postmark webhook URL"),
}


def webhooks_section(ctx: Ctx, node: yamlpos.Node, where: Where) -> WebhookSettings:
    taken = take(ctx, node, where, "webhooks")
    values: dict[str, str] = {}
    failed = False
    for key, (attr, holds) in SECRET_KEYS.items():
        name = taken.values.get(key)
        if name is None:
            continue
        line, dotted = taken.line(key, where.line), f"{where.key}.{key}"
        value = ctx.env.get(name, "")
        problem = _problem(attr, value) if value else (
            f"the environment variable {name} {'is empty' if name in ctx.env else 'is not set'}"
            f"; it must hold {holds}")
        if problem:
            ctx.report(line, dotted, problem.replace("{name}", name))
            failed = True
        values[attr] = value
    if failed:
        raise _Reported
    return WebhookSettings(mailgun_signing_key=values.get("mailgun_signing_key"),
                           sendgrid_public_key=values.get("sendgrid_public_key"),
                           postmark_basic_auth=values.get("postmark_basic_auth"),
                           max_age=float(taken.values.get("max_age", WebhookSettings.max_age)))


def _problem(attr: str, value: str) -> str | None:
    """What is wrong with a secret's value, without quoting it."""
    if attr == "postmark_basic_auth":
        user, colon, password = value.partition(":")
        if not colon or not user or not password:
            return ('the environment variable {name} must hold "user:password" (both parts '
                    "non-empty, separated by a colon)")
    if attr == "sendgrid_public_key":
        try:
            sendgrid_key(value)
        except ValueError as exc:
            return f"the environment variable {{name}} holds no usable key: {exc}"
    return None
