"""Shared by the route modules: the server's context and page rendering (jinja2, autoescaped)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import HTMLResponse

from digest.app.deps import Deps
from digest.delivery.senders import SenderFactory
from digest.settings import Settings
from digest.web.mailworker import MailWorker
from digest.web.security import Guard, RateLimiter

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
GMAIL_CLIP_BYTES = 102 * 1024  # Gmail hides everything past this much HTML
_DARK_MEDIA = re.compile(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)", re.IGNORECASE)

class RowIdConvertor(Convertor[int]):
    """``{name:rowid}`` in a route: a number that can be a row id (1 to 19 digits). Starlette's
    ``int`` takes any number of digits, and one past 4,300 digits makes ``int()`` raise: a path
    with a longer number matches no route (404) instead."""

    regex = "[0-9]{1,19}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("rowid", RowIdConvertor())



@functools.lru_cache(maxsize=4)
def _environment(overrides: Path | None) -> jinja2.Environment:
    """Page templates: the configured templates folder's web/ first (file by file), then ours."""
    folders = [overrides / "web"] if overrides is not None else []
    return jinja2.Environment(loader=jinja2.FileSystemLoader([*folders, TEMPLATES]),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


def site_css(settings: Settings) -> str:
    """The pages' stylesheet: web/site.css of the configured templates folder, else ours (in the
    digest's own colours)."""
    override = settings.templates / "web" / "site.css" if settings.templates else None
    chosen = override if override is not None and override.is_file() else STATIC / "site.css"
    return chosen.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Limits:
    """Subscribe attempts per client address and per email address; wrong editor tokens (by the
    login form or a bearer header) per client."""

    per_ip: int = 10
    per_address: int = 3
    window: float = 3600.0  # seconds
    logins: int = 20  # wrong tokens; a right one is never counted


@dataclass
class Web:
    """Everything a request handler needs; built once by ``create_app``."""

    settings: Settings
    guard: Guard
    sender_factory: SenderFactory
    clock: Callable[[], datetime]
    base_url: str  # where links in emails point: digest.public_url, else the bound address
    limits: Limits = field(default_factory=Limits)
    subscribe_ip: RateLimiter = field(init=False)
    subscribe_address: RateLimiter = field(init=False)
    mail_worker: MailWorker | None = None  # sends queued confirmations while serving

    def __post_init__(self) -> None:
        self.subscribe_ip = RateLimiter(self.limits.per_ip, self.limits.window)
        self.subscribe_address = RateLimiter(self.limits.per_address, self.limits.window)

    @property
    def secret(self) -> bytes:
        return self.guard.secret

    @property
    def deps(self) -> Deps:
        """What the use cases are handed: this server's clock and sender."""
        return Deps(clock=self.clock, sender_factory=self.sender_factory)

    def link(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


def unsubscribe_path(settings: Settings) -> str:
    """The path of digest.unsubscribe_url: the page each reader's link opens."""
    url = settings.digest.unsubscribe_url
    return (urlsplit(url).path or "/unsubscribe") if url else "/unsubscribe"


def page(request: Request, template: str, context: Mapping[str, Any] | None = None, *,
         status: int = 200) -> HTMLResponse:
    web = web_of(request)
    values = {"title": web.settings.digest.title, "site_url": web.settings.digest.site_url,
              "unsubscribe_path": unsubscribe_path(web.settings), **(context or {})}
    chosen = _environment(web.settings.templates).get_template(template)
    return HTMLResponse(chosen.render(values), status_code=status)


def message(request: Request, heading: str, text: str, *, status: int = 200) -> HTMLResponse:
    return page(request, "message.html", {"heading": heading, "text": text}, status=status)


def dark_variant(html: str) -> str:
    """The email HTML with its dark-mode rules always on: how a dark mail client shows it."""
    return _DARK_MEDIA.sub("@media all", html)


async def form_of(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}
