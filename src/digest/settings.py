"""The validated configuration, as frozen dataclasses. Built by ``config.load``; no I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from digest.models import Feed, Schedule

SenderKind = Literal["outbox", "smtp", "postmark", "sendgrid", "mailgun"]
ApiKind = Literal["postmark", "sendgrid", "mailgun"]
SmtpSecurity = Literal["starttls", "ssl", "none"]
Layout = Literal["merged", "sections"]
Images = Literal["featured", "none"]


@dataclass(frozen=True)
class MostDiscussedSettings:
    """The optional "most discussed" section: earlier posts that gained the most comments."""

    enabled: bool = False
    size: int = 3  # most posts listed


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
    # The public one-click unsubscribe page (each recipient gets a signed token appended) and the
    # mailto: offered beside it in List-Unsubscribe.
    unsubscribe_url: str | None = None
    unsubscribe_mailto: str | None = None
    reply_to: str | None = None
    # The lang="" tag; empty: the locale's ("fr-CA" for fr_CA), so "en" by default.
    language: str = ""
    # Babel locale for words, dates and plural forms ("de", "fr_CA", "ar"). None: the language's
    # when digest has its words (configs that set only language), else English.
    locale: str | None = None
    min_posts: int = 1  # fewer new posts than this: no issue, they wait for a later one
    layout: Layout = "merged"  # merged: one list, newest first; sections: one per feed
    images: Images = "featured"  # featured: each post's own picture above its title; none: text
    most_discussed: MostDiscussedSettings = field(default_factory=MostDiscussedSettings)
    # Where `digest serve` is reachable from outside (https://news.example.org): links in
    # confirmation emails and the editors' approve link point there.
    public_url: str | None = None


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: SmtpSecurity = "starttls"
    username: str | None = None
    # read from the environment variable named by password_env; kept out of repr for logs
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    verify_certificates: bool = True
    connections: int = 4  # SMTP connections used at once
    messages_per_connection: int = 100  # reconnect after this many messages
    rate_per_second: float | None = None
    max_per_hour: int | None = None


@dataclass(frozen=True)
class ApiSettings:
    """A mail API sender (postmark, sendgrid, mailgun)."""

    kind: ApiKind
    # The API token / key, read from the environment variable the config names; never in repr.
    token: str = field(repr=False)
    base_url: str  # the provider's API root; tests point it at 127.0.0.1
    domain: str | None = None  # mailgun: the sending domain
    batch_size: int = 500  # messages (postmark) or recipients (sendgrid, mailgun) per request
    timeout: float = 30.0
    message_stream: str | None = None  # postmark: e.g. "broadcast"
    connections: int = 2  # requests in flight at once
    rate_per_second: float | None = None
    max_per_hour: int | None = None
    token_env: str = ""  # the variable the token came from, named when the provider refuses it


# Most messages (postmark) or recipients (sendgrid, mailgun) one request may carry, per the
# providers' documentation, and where each provider's API lives.
API_BATCH_LIMITS: dict[str, int] = {"postmark": 500, "sendgrid": 1000, "mailgun": 1000}
API_BASE_URLS: dict[str, str] = {
    "postmark": "https://api.postmarkapp.com",
    "sendgrid": "https://api.sendgrid.com",
    "mailgun": "https://api.mailgun.net",
}


@dataclass(frozen=True)
class SenderSettings:
    kind: SenderKind = "outbox"
    outbox: Path = Path("outbox")
    smtp: SmtpSettings | None = None
    api: ApiSettings | None = None  # set when kind is postmark, sendgrid or mailgun
    max_attempts: int = 3
    bounce_after: int = 3  # permanent failures on this many issues in a row -> bounced


@dataclass(frozen=True)
class DkimSettings:
    domain: str
    selector: str
    private_key: bytes = field(repr=False)  # PEM, from private_key_file or private_key_env


@dataclass(frozen=True)
class WebhookSettings:
    """What the mail providers' event posts (bounces, complaints) are checked with, each read from
    the environment variable the config names; None: that provider's posts are refused."""

    mailgun_signing_key: str | None = field(default=None, repr=False)
    sendgrid_public_key: str | None = field(default=None, repr=False)  # base64 DER or PEM
    postmark_basic_auth: str | None = field(default=None, repr=False)  # "user:password"
    max_age: float = 900.0  # seconds: older (or later) signed timestamps are refused as replays


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 20.0  # seconds, connect and read
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 10
    # comments: fetch, per run: seconds from the first comments feed, and most comments feeds
    comment_budget: float = 60.0
    max_comment_feeds: int = 500


@dataclass(frozen=True)
class HealthSettings:
    """When the editors hear about feed trouble (the ``health:`` section)."""

    feed_alert_after: int = 3  # consecutive failed fetches before one alert email
    flood_min_entries: int = 5  # a feed with fewer entries never counts as rewritten
    flood_percent: int = 50  # this share (%) of a feed's entries new at once holds the issue


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
    dkim: DkimSettings | None = None
    # DIGEST_SECRET from the environment: keys the HMAC of unsubscribe tokens. Never in repr.
    secret: bytes | None = field(default=None, repr=False)
    schedule: Schedule | None = None  # None: an issue whenever there is something new
    # required: a run drafts the issue, emails the editors a preview, and sends once approved.
    # auto: a run drafts, approves and sends in one go.
    approval: Literal["required", "auto"] = "auto"
    editors: tuple[str, ...] = ()  # addresses as written ("Name <a@b>" or "a@b")
    health: HealthSettings = field(default_factory=HealthSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    welcome: bool = True  # a welcome message after each confirmed subscription
