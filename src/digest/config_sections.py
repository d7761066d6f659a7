"""The shape of feeds.yaml: the keys of each section, and the checks that span several keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from digest import yamlpos
from digest.config_values import (
    address,
    block_text,
    boolean,
    choice,
    env_name,
    hostname,
    http_url,
    is_http_url,
    language,
    line_text,
    optional,
    path,
    positive,
    resolve,
    split_url,
    subject,
    unsubscribe,
    whole,
)
from digest.config_walk import Check, Ctx, Field, Invalid, Reported, Taken, Where, run_check, take
from digest.models import Feed
from digest.settings import DigestSettings, FetchSettings, SenderSettings, Settings, SmtpSettings

_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def _section(cls: Callable[..., Any], section: str) -> Check:
    def check(ctx: Ctx, node: yamlpos.Node, where: Where) -> Any:
        return cls(**take(ctx, node, where, section).values)

    return check


def settings(ctx: Ctx, root: yamlpos.Node, config_file: Path) -> Settings:
    """The whole file; ``root`` is its top-level node."""
    if not isinstance(root, yamlpos.MappingNode):
        raise Invalid("expected key: value pairs at the top level (digest:, feeds:, ...), got "
                      f"{yamlpos.describe(root)}")
    values = take(ctx, root, Where("", yamlpos.line(root)), "").values
    values.setdefault("store", ctx.base / "digest.sqlite3")
    values.setdefault("sender", SenderSettings(outbox=ctx.base / "outbox"))
    return Settings(path=config_file, **values)


def feeds(ctx: Ctx, node: yamlpos.Node, where: Where) -> tuple[Feed, ...]:
    if not isinstance(node, yamlpos.SequenceNode):
        raise Invalid('expected a list of feeds, each line starting with "- url: ", got '
                      f"{yamlpos.describe(node)}")
    if not node.value:
        raise Invalid("expected at least one feed, got an empty list")
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
        raise Reported
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
        raise Invalid(f"expected {expected}, got {yamlpos.describe(node)}")
    if parts.scheme in ("http", "https"):
        if not is_http_url(value):
            raise Invalid(f"expected {expected}, got {yamlpos.describe(node)}")
        return value
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise Invalid(f"expected a file:// URL on this machine (file:///path), got "
                          f"{yamlpos.describe(node)}")
        return str(resolve(ctx, unquote(parts.path)))
    if parts.scheme:
        raise Invalid(f"expected {expected}, got {yamlpos.describe(node)} ({parts.scheme}: is "
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
        raise Invalid(f"no folder at {folder}; templates must name an existing folder "
                      "(relative paths start at the config file's folder)")
    return folder


def sender(ctx: Ctx, node: yamlpos.Node, where: Where) -> SenderSettings:
    taken = take(ctx, node, where, "sender")
    values = taken.values
    values.setdefault("outbox", ctx.base / "outbox")
    kind = values.get("kind", "outbox")
    smtp_taken: Taken | None = values.pop("smtp", None)
    if kind == "smtp" and smtp_taken is None:
        ctx.report(taken.line("kind", where.line), f"{where.key}.smtp",
                   "required when kind is smtp; add an smtp: section with at least host:")
        raise Reported
    if smtp_taken is not None:
        values["smtp"] = _smtp_settings(ctx, smtp_taken, f"{where.key}.smtp", kind == "smtp")
    return SenderSettings(**values)


def smtp(ctx: Ctx, node: yamlpos.Node, where: Where) -> Taken:
    taken = take(ctx, node, where, "sender.smtp")
    taken.values.setdefault("port", _DEFAULT_PORTS[taken.values.get("security", "starttls")])
    problems = smtp_problems(taken.values)
    for name, message in problems:
        ctx.report(taken.line(name, where.line), f"{where.key}.{name}", message)
    if problems:
        raise Reported
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
        raise Reported
    return replace(result, password=password)


SECTIONS: dict[str, dict[str, Field]] = {
    "": {
        "digest": Field(_section(DigestSettings, "digest"), required=True),
        "feeds": Field(feeds, required=True),
        "subscribers": Field(optional(path)),
        "store": Field(path),
        "templates": Field(optional(templates_dir)),
        "fetch": Field(_section(FetchSettings, "fetch")),
        "sender": Field(sender),
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
        "reply_to": Field(optional(address)),
        "language": Field(language),
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
    },
    "sender": {
        "kind": Field(choice("outbox", "smtp")),
        "outbox": Field(path),
        "max_attempts": Field(whole(1)),
        "bounce_after": Field(whole(1)),
        "smtp": Field(smtp),
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
