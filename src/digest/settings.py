"""The validated configuration, as frozen dataclasses. Built by ``config.load``; no I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from digest.models import Feed

SenderKind = Literal["outbox", "smtp"]
SmtpSecurity = Literal["starttls", "ssl", "none"]


@dataclass(frozen=True)
class DigestSettings:
    title: str
    from_addr: str  # "Example Blog <digest@example.org>"
    site_url: str  # the blog's front page, for "view more posts on the blog"
    intro: str = ""  # Markdown
    subject: str = "{title}: {first_post}"  # placeholders: {title} {date} {count} {first_post}
    max_posts: int = 10
    summary_words: int = 60
    unsubscribe: str = ""  # mailto: or https: address shown in every message
    reply_to: str | None = None
    language: str = "en"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: SmtpSecurity = "starttls"
    username: str | None = None
    # read from the environment variable named by password_env; kept out of repr so logs never show it
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    verify_certificates: bool = True
    connections: int = 4  # SMTP connections used at once
    messages_per_connection: int = 100  # reconnect after this many messages
    rate_per_second: float | None = None
    max_per_hour: int | None = None


@dataclass(frozen=True)
class SenderSettings:
    kind: SenderKind = "outbox"
    outbox: Path = Path("outbox")
    smtp: SmtpSettings | None = None
    max_attempts: int = 3


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 20.0  # seconds, connect and read
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 10


@dataclass(frozen=True)
class Settings:
    path: Path  # the config file itself
    digest: DigestSettings
    feeds: tuple[Feed, ...]
    store: Path
    sender: SenderSettings = field(default_factory=SenderSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    subscribers: Path | None = None  # CSV imported on every run
    templates: Path | None = None  # a folder overriding the bundled templates file by file
