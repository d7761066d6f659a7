"""The shape of feeds.yaml: the keys of each section, and the checks that span several keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from digest.config import yamlpos
from digest.config.signing import (
    digest_section,
    dkim,
    dkim_selector,
    env_secret,
    key_env_name,
    key_file,
    mailto,
    unsubscribe_page,
)
from digest.config.values import (
    address,
    address_list,
    block_text,
    boolean,
    choice,
    env_name,
    hostname,
    http_url,
    is_http_url,
    language,
    line_text,
    locale_name,
    optional,
    path,
    positive,
    resolve,
    schedule,
    split_url,
    subject,
    unsubscribe,
    whole,
)
from digest.config.walk import Check, Ctx, Field, Taken, Where, _Invalid, _Reported, run_check, take
from digest.config.webhooks import webhooks_section
from digest.models import Feed
from digest.settings import (
    API_BASE_URLS,
    API_BATCH_LIMITS,
    ApiKind,
    ApiSettings,
    FetchSettings,
    HealthSettings,
    MostDiscussedSettings,
    SenderSettings,
    Settings,
    SmtpSettings,
)

_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def _section(cls: Callable[..., Any], section: str) -> Check:
    def check(ctx: Ctx, node: yamlpos.Node, where: Where) -> Any:
        return cls(**take(ctx, node, where, section).values)

    return check


def settings(ctx: Ctx, root: yamlpos.Node, config_file: Path) -> Settings:
    """The whole file; ``root`` is its top-level node."""
    if not isinstance(root, yamlpos.MappingNode):
        raise _Invalid("expected key: value pairs at the top level (digest:, feeds:, ...), got "
                      f"{yamlpos.describe(root)}")
    taken = take(ctx, root, Where("", yamlpos.line(root)), "")
    _check_approval(ctx, taken)
    values = taken.values
    values.setdefault("store", ctx.base / "digest.sqlite3")
    values.setdefault("sender", SenderSettings(outbox=ctx.base / "outbox"))
    values["secret"] = env_secret(ctx)
    return Settings(path=config_file, **values)


def _check_approval(ctx: Ctx, taken: Taken) -> None:
    if taken.values.get("approval") == "required" and not taken.values.get("editors"):
        ctx.report(taken.line("editors", taken.line("approval", 0)) or None, "editors",
                   "required when approval is required: list the addresses that get each draft "
                   "to approve (editors: [editor@example.org])")
        raise _Reported


def feeds(ctx: Ctx, node: yamlpos.Node, where: Where) -> tuple[Feed, ...]:
    if not isinstance(node, yamlpos.SequenceNode):
        raise _Invalid('expected a list of feeds, each line starting with "- url: ", got '
                      f"{yamlpos.describe(node)}")
    if not node.value:
        raise _Invalid("expected at least one feed, got an empty list")
    result: list[Feed] = []
    seen: dict[str, Where] = {}
    for index, item in enumerate(node.value):
        item_where = Where(f"{where.key}[{index}]", yamlpos.line(item))
        ok, feed = run_check(ctx, _feed, item, item_where)
        if not ok:
            continue
        first = seen.setdefault(_feed_identity(feed.url), item_where)
        if first is not item_where:
            ctx.report(item_where.line, f"{item_where.key}.url",
                       f"the same feed as {first.key} on line {first.line}; list each feed once")
        result.append(feed)
    if len(result) < len(node.value) or len(seen) < len(result):
        raise _Reported
    return tuple(result)


def _feed(ctx: Ctx, node: yamlpos.Node, where: Where) -> Feed:
    if isinstance(node, yamlpos.ScalarNode) and not yamlpos.is_null(node):
        # Shorthand: "- https://example.org/feed/" is a feed with every default.
        key = yamlpos.ScalarNode(yamlpos.STR, "url", node.start_mark, node.end_mark)
        node = yamlpos.MappingNode(yamlpos.MAP, [(key, node)], node.start_mark, node.end_mark)
    values = take(ctx, node, where, "feeds[]").values
    values.setdefault("name", _default_name(values["url"]))
    return Feed(**values)


def feed_url(ctx: Ctx, node: yamlpos.Node, where: Where) -> str:
    """An http(s) URL as written, or a local file as an absolute path."""
    expected = "an http(s) URL, a file:// URL or a path"
    value = line_text(ctx, node, where)
    parts = split_url(value)
    if parts is None:
        raise _Invalid(f"expected {expected}, got {yamlpos.describe(node)}")
    if parts.scheme in ("http", "https"):
        if not is_http_url(value):
            raise _Invalid(f"expected {expected}, got {yamlpos.describe(node)}")
        return value
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise _Invalid(f"expected a file:// URL on this machine (file:///path), got "
                          f"{yamlpos.describe(node)}")
        return str(resolve(ctx, unquote(parts.path)))
    if parts.scheme:
        raise _Invalid(f"expected {expected}, got {yamlpos.describe(node)} ({parts.scheme}: is "
                      "not supported; a path containing ':' needs a leading ./)")
    return str(resolve(ctx, value))


def _feed_identity(url: str) -> str:
    parts = split_url(url)
    if parts is None or parts.scheme not in ("http", "https"):
        return url
    port = parts.port if parts.port not in (None, 80, 443) else None
    netloc = (parts.hostname or "") + (f":{port}" if port else "")
    return f"{parts.scheme}://{netloc}{parts.path or '/'}?{parts.query}"


def _default_name(url: str) -> str:
    parts = split_url(url)
    if parts is not None and parts.scheme in ("http", "https"):
        return parts.hostname or url
    return Path(url).name or url


def templates_dir(ctx: Ctx, node: yamlpos.Node, where: Where) -> Path:
    folder = path(ctx, node, where)
    try:
        exists = folder.is_dir()
    except OSError:
        exists = False
    if not exists:
        raise _Invalid(f"no folder at {folder}; templates must name an existing folder "
                      "(relative paths start at the config file's folder)")
    return folder


def sender(ctx: Ctx, node: yamlpos.Node, where: Where) -> SenderSettings:
    taken = take(ctx, node, where, "sender")
    values = taken.values
    values.setdefault("outbox", ctx.base / "outbox")
    kind = values.get("kind", "outbox")
    smtp_taken: Taken | None = values.pop("smtp", None)
    apis: dict[str, Taken] = {k: values.pop(k) for k in _API_SECRET if k in values}
    if kind == "smtp" and smtp_taken is None:
        ctx.report(taken.line("kind", where.line), f"{where.key}.smtp",
                   "required when kind is smtp; add an smtp: section with at least host:")
        raise _Reported
    if kind in _API_SECRET and kind not in apis:
        needs = _API_SECRET[kind] + (" and domain" if kind == "mailgun" else "")
        ctx.report(taken.line("kind", where.line), f"{where.key}.{kind}",
                   f"required when kind is {kind}; add a {kind}: section with at least {needs}:")
        raise _Reported
    if smtp_taken is not None:
        values["smtp"] = _smtp_settings(ctx, smtp_taken, f"{where.key}.smtp", kind == "smtp")
    if kind in apis:
        values["api"] = _api_settings(ctx, apis[kind], kind, f"{where.key}.{kind}")
    return SenderSettings(**values)


# Mail APIs: the key naming the environment variable that holds each provider's secret.
_API_SECRET = {"postmark": "token_env", "sendgrid": "api_key_env", "mailgun": "api_key_env"}


def _api_section(kind: str) -> Check:
    def check(ctx: Ctx, node: yamlpos.Node, where: Where) -> Taken:
        return take(ctx, node, where, f"sender.{kind}")

    return check


def _api_settings(ctx: Ctx, taken: Taken, kind: ApiKind, key: str) -> ApiSettings:
    """The section of the chosen API, its secret read from the environment (never echoed)."""
    values = dict(taken.values)
    secret = _API_SECRET[kind]
    name = values.pop(secret)
    token = ctx.env.get(name)
    if not token:
        state = "is empty" if name in ctx.env else "is not set"
        what = "server token" if kind == "postmark" else "API key"
        ctx.report(taken.line(secret, 0) or None, f"{key}.{secret}",
                   f"the environment variable {name} {state}; it must hold the {what} of your "
                   f"{kind} account")
        raise _Reported
    limit = API_BATCH_LIMITS[kind]
    values["batch_size"] = min(values.get("batch_size", limit), limit)  # the provider's cap
    values.setdefault("base_url", API_BASE_URLS[kind])
    return ApiSettings(kind=kind, token=token, token_env=name, **values)


def api_base_url(ctx: Ctx, node: yamlpos.Node, where: Where) -> str:
    """The provider's API root; plain http only on this machine (it would expose the key)."""
    value = http_url(ctx, node, where).rstrip("/")
    parts = split_url(value)
    if parts is not None and parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise _Invalid(f"expected an https:// URL (http:// would send the key unencrypted; it is "
                      f"allowed for localhost only), got {yamlpos.describe(node)}")
    return value


def _api_keys(secret: str, **more: Field) -> dict[str, Field]:
    return {secret: Field(env_name, required=True), **more,
            "base_url": Field(api_base_url), "batch_size": Field(whole(1)),
            "timeout": Field(positive("seconds")), "connections": Field(whole(1)),
            "rate_per_second": Field(optional(positive("messages per second"))),
            "max_per_hour": Field(optional(whole(1)))}


def smtp(ctx: Ctx, node: yamlpos.Node, where: Where) -> Taken:
    taken = take(ctx, node, where, "sender.smtp")
    taken.values.setdefault("port", _DEFAULT_PORTS[taken.values.get("security", "starttls")])
    problems = smtp_problems(taken.values)
    for name, message in problems:
        ctx.report(taken.line(name, where.line), f"{where.key}.{name}", message)
    if problems:
        raise _Reported
    return taken


def smtp_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    """Settings that are each fine but wrong together, as (key, message)."""
    problems = []
    has_user, has_env = "username" in values, "password_env" in values
    if has_user and not has_env:
        problems.append(("username", "set password_env too: logging in needs a password"))
    if has_env and not has_user:
        problems.append(("password_env", "set username too: logging in needs a user name"))
    security, port = values.get("security", "starttls"), values["port"]
    if security == "none" and has_env and values["host"] not in _LOCAL_HOSTS:
        problems.append(("security", "none would send the password unencrypted; use starttls "
                                     "or ssl"))
    # Blame security only when it was written; the default is not the user's doing.
    blame = "security" if "security" in values else "port"
    if port == 465 and security == "starttls":
        problems.append((blame, "port 465 speaks TLS from the first byte: use security: ssl "
                                "(or port 587 for starttls)"))
    if port == 587 and security == "ssl":
        problems.append((blame, "port 587 expects starttls: use security: starttls "
                                "(or port 465 for ssl)"))
    return problems


def _smtp_settings(ctx: Ctx, taken: Taken, key: str, need_password: bool) -> SmtpSettings:
    values = dict(taken.values)
    name = values.pop("password_env", None)
    result = SmtpSettings(**values)
    if name is None or not need_password:
        return result
    password = ctx.env.get(name)
    if not password:
        state = "is empty" if name in ctx.env else "is not set"
        ctx.report(taken.line("password_env", 0) or None, f"{key}.password_env",
                   f"the environment variable {name} {state}; it must hold the password of the "
                   "SMTP account named by username")
        raise _Reported
    return replace(result, password=password)


SECTIONS: dict[str, dict[str, Field]] = {
    "": {
        "digest": Field(digest_section, required=True),
        "feeds": Field(feeds, required=True),
        "subscribers": Field(optional(path)),
        "store": Field(path),
        "templates": Field(optional(templates_dir)),
        "fetch": Field(_section(FetchSettings, "fetch")),
        "sender": Field(sender),
        "dkim": Field(dkim),
        "schedule": Field(optional(schedule)),
        "approval": Field(choice("required", "auto")),
        "editors": Field(address_list),
        "webhooks": Field(webhooks_section),
        "health": Field(_section(HealthSettings, "health")),
        "welcome": Field(boolean),
    },
    "digest": {
        "title": Field(line_text, required=True),
        "from": Field(address, required=True, attr="from_addr"),
        "site_url": Field(http_url, required=True),
        "intro": Field(block_text),
        "subject": Field(subject),
        "max_posts": Field(whole(1)),
        "summary_words": Field(whole(5)),
        "unsubscribe": Field(optional(unsubscribe)),
        "unsubscribe_url": Field(optional(unsubscribe_page)),
        "unsubscribe_mailto": Field(optional(mailto)),
        "reply_to": Field(optional(address)),
        "language": Field(language),
        "locale": Field(locale_name),
        "min_posts": Field(whole(1)),
        "layout": Field(choice("merged", "sections")),
        "images": Field(choice("featured", "none")),
        "most_discussed": Field(_section(MostDiscussedSettings, "digest.most_discussed")),
        "public_url": Field(optional(http_url)),
    },
    "digest.most_discussed": {
        "enabled": Field(boolean),
        "size": Field(whole(1)),
    },
    "health": {
        "feed_alert_after": Field(whole(1, unit="failed fetches in a row")),
        "flood_min_entries": Field(whole(1, unit="entries")),
        "flood_percent": Field(whole(1, 100, unit="percent")),
    },
    "feeds[]": {
        "url": Field(feed_url, required=True),
        "name": Field(line_text),
        "comments": Field(choice("feed", "fetch")),
    },
    "fetch": {
        "timeout": Field(positive("seconds")),
        "max_bytes": Field(whole(1, unit="bytes")),
        "max_redirects": Field(whole(0)),
        "concurrency": Field(whole(1, unit="requests at once")),
        "comment_budget": Field(positive("seconds")),
        "max_comment_feeds": Field(whole(0, unit="comment feeds per run")),
    },
    "dkim": {
        "domain": Field(hostname, required=True),
        "selector": Field(dkim_selector, required=True),
        "private_key_file": Field(key_file),
        "private_key_env": Field(key_env_name),
    },
    "sender": {
        "kind": Field(choice("outbox", "smtp", "postmark", "sendgrid", "mailgun")),
        "outbox": Field(path),
        "max_attempts": Field(whole(1)),
        "bounce_after": Field(whole(1)),
        "smtp": Field(smtp),
        "postmark": Field(_api_section("postmark")),
        "sendgrid": Field(_api_section("sendgrid")),
        "mailgun": Field(_api_section("mailgun")),
    },
    "sender.postmark": _api_keys("token_env", message_stream=Field(optional(line_text))),
    "sender.sendgrid": _api_keys("api_key_env"),
    "sender.mailgun": _api_keys("api_key_env", domain=Field(hostname, required=True)),
    "webhooks": {
        "mailgun_signing_key_env": Field(env_name),
        "sendgrid_public_key_env": Field(env_name),
        "postmark_basic_auth_env": Field(env_name),
        "max_age": Field(positive("seconds")),
    },
    "sender.smtp": {
        "host": Field(hostname, required=True),
        "port": Field(whole(1, 65535)),
        "security": Field(choice("starttls", "ssl", "none")),
        "username": Field(optional(line_text)),
        "password_env": Field(optional(env_name)),
        "timeout": Field(positive("seconds")),
        "verify_certificates": Field(boolean),
        "connections": Field(whole(1)),
        "messages_per_connection": Field(whole(1)),
        "rate_per_second": Field(optional(positive("messages per second"))),
        "max_per_hour": Field(optional(whole(1))),
    },
}
