"""Plain data passed between the parts of digest. Frozen, no I/O."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Literal

# Per-recipient tokens. Templates render them in place of the recipient's data; the message is
# built once per issue and each token is replaced in the final bytes for every recipient.
# Plain ASCII without '=' so quoted-printable leaves them intact, HTML escaping leaves them
# intact, and premailer does not touch them.
TOKEN_NAME = "%%DIGEST_RECIPIENT_NAME%%"
TOKEN_EMAIL = "%%DIGEST_RECIPIENT_EMAIL%%"
TOKEN_UNSUBSCRIBE = "%%DIGEST_UNSUBSCRIBE_URL%%"
TOKENS = (TOKEN_NAME, TOKEN_EMAIL, TOKEN_UNSUBSCRIBE)
# Per issue, not per recipient: the address of the issue's web version ("view in browser"). Rendered
# when digest.public_url is set and filled in once per issue when its message is built.
TOKEN_WEB_VERSION = "%%DIGEST_WEB_VERSION_URL%%"

CommentsMode = Literal["feed", "fetch"]
FetchStatus = Literal["ok", "not_modified", "error"]
SubscriberStatus = Literal["active", "unsubscribed", "bounced", "complained"]
# failed: temporary trouble outlasted the attempts; retried by the next run or send --retry-failed.
# rejected: the server refused for good (5xx). skipped: not active any more when its turn came.
DeliveryStatus = Literal["pending", "sent", "failed", "rejected", "skipped"]
# draft: made, posts reserved, editable; approved: frozen until edited again; sending: its
# delivery rows exist; sent: no row left pending.
IssueStatus = Literal["draft", "approved", "sending", "sent"]
Every = Literal["daily", "weekly", "monthly"]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class Feed:
    """A feed named in the configuration."""

    url: str  # http(s) URL, or an absolute local path
    name: str
    comments: CommentsMode = "feed"  # "fetch": count the entries of each post's comments feed


@dataclass(frozen=True)
class Validators:
    """What the last successful fetch of a feed said, for a conditional GET next time."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FeaturedImage:
    """A post's own picture, as its feed names it (feeds/images.py picks it)."""

    url: str  # absolute https (or http when the feed gives nothing else)
    alt: str = ""  # the feed's text for it; "" means the post title stands in
    width: int | None = None  # pixels, when the feed says
    height: int | None = None


@dataclass(frozen=True)
class Post:
    """One entry of a feed, normalised and sanitised."""

    key: str  # stable identity: guid/id, else normalised link, else hash of title + date
    feed_url: str
    title: str  # plain text (no HTML), may be empty
    link: str | None  # http(s) only
    author: str
    published: datetime | None  # timezone-aware UTC
    summary_html: str  # sanitised HTML, not truncated
    comment_count: int | None  # None: unknown (never shown as zero)
    comments_url: str | None = None  # the post's comments page, http(s) only
    comments_feed: str | None = None  # the post's comments feed (wfw:commentRss / replies link)
    guid: str | None = None  # the guid it is known by; None: none, or shared by several entries
    image: FeaturedImage | None = None  # the post's featured picture, if its feed names one


@dataclass(frozen=True)
class FetchOutcome:
    """The result of fetching and parsing one feed."""

    feed: Feed
    status: FetchStatus
    posts: tuple[Post, ...] = ()
    validators: Validators = field(default_factory=Validators)
    error: str | None = None  # set when status == "error": says what went wrong
    http_status: int | None = None
    feed_title: str | None = None
    feed_link: str | None = None
    # Worth telling though the feed was read: XML recovered from, a page that named its feed.
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class StoredPost:
    """A post as the store knows it: the post plus when digest first saw it."""

    post: Post
    first_seen: datetime
    issue_id: int | None = None
    # An undated post's date, taken from its neighbours in the feed (feeds.identity.place).
    placed_at: datetime | None = None
    rank: int = 0  # its place in its feed's latest listing, 0 = newest: keeps equal dates in order


@dataclass(frozen=True)
class CommentChange:
    """A post's comment count at two instants, as the store's history knows it."""

    post: StoredPost
    before: int | None  # the last count recorded at or before the first instant; None: unknown
    after: int | None  # the last count recorded at or before the second instant


@dataclass(frozen=True)
class DiscussedPost:
    """A post from an earlier issue that gained comments since the previous issue."""

    post: Post
    gained: int  # comments added since the previous issue, > 0


@dataclass(frozen=True)
class Section:
    """One feed's posts, when an issue is laid out in a section per feed."""

    name: str
    feed_url: str
    posts: tuple[Post, ...]  # newest first


@dataclass(frozen=True)
class IssuePlan:
    """What compose decided the next issue holds. Pure data, nothing rendered."""

    posts: tuple[Post, ...]  # newest first: the posts shown
    covered_keys: tuple[str, ...]  # every post this issue accounts for: shown and left out
    more_count: int  # new posts left out (linked as "view N more on the blog")
    since: datetime | None  # created_at of the previous issue, None for the first issue
    subject: str
    intro_markdown: str
    created_at: datetime
    # layout "sections": the shown posts grouped by feed, in config order (posts holds the same
    # posts in the same order); empty for one merged list.
    sections: tuple[Section, ...] = ()
    discussed: tuple[DiscussedPost, ...] = ()  # "most discussed": posts from earlier issues
    discussed_heading: str = ""
    # Posts left out because an earlier issue had the same post from another feed: neither shown
    # nor covered, never offered again.
    sent_before: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderedIssue:
    """An issue rendered once: HTML (CSS inlined) and text, still holding the TOKENS."""

    subject: str
    html: str
    text: str
    preheader: str
    post_count: int  # posts actually in the HTML (may be fewer than planned, for size)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Issue:
    """An issue as stored: frozen content, sent to every subscriber active when it was made."""

    id: int
    subject: str
    html: str
    text: str
    created_at: datetime
    status: IssueStatus
    post_keys: tuple[str, ...]
    sent_at: datetime | None = None
    # Drafts and approval. Issues made before drafts existed have no plan and no hashes.
    plan: IssuePlan | None = None  # what it was rendered from: an edit re-renders this plan
    preheader: str = ""
    shown_count: int = 0  # posts shown in the HTML
    warnings: tuple[str, ...] = ()  # from rendering
    intro_edited: bool = False  # an editor wrote the intro (kept when the draft is rebuilt)
    subject_edited: bool = False
    content_hash: str | None = None  # sha256 of subject, HTML and text as stored
    approved_hash: str | None = None  # content_hash when approved: what sending must match
    approved_at: datetime | None = None
    editors_notified_at: datetime | None = None


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    name: str
    status: SubscriberStatus = "active"


@dataclass(frozen=True)
class Recipient:
    """The per-recipient values filled into a built message."""

    email: str
    name: str
    unsubscribe_url: str


@dataclass(frozen=True)
class Delivery:
    """One row of the ledger: one issue to one subscriber."""

    id: int
    issue_id: int
    subscriber_id: int
    email: str
    name: str
    status: DeliveryStatus
    attempts: int = 0
    last_error: str | None = None
    message_id: str | None = None
    sent_at: datetime | None = None
    content_hash: str | None = None  # the approved hash of the issue when the row was made


@dataclass(frozen=True)
class Outgoing:
    """A finished message for one recipient, as a sender receives it."""

    delivery_id: int
    envelope_from: str
    recipient: str
    data: bytes  # the complete RFC 5322 message, CRLF line endings
    message_id: str
    # The values behind the message, for senders that fill them in themselves (mail APIs send
    # the issue once per request with each recipient's values); such senders may get data=b"".
    recipient_values: Recipient | None = None

    def with_data(self, data: bytes) -> Outgoing:
        """The same message with other bytes (signed, say); cheaper than ``replace``."""
        return Outgoing(self.delivery_id, self.envelope_from, self.recipient, data,
                        self.message_id, self.recipient_values)


# refused: refused for a reason that is not about the reader (the message, the sender, the relay:
# see digest.delivery.replies); the send loop stops after a few in a row and records none of them.
SendOutcome = Literal["sent", "temporary", "permanent", "refused"]
# What a reply is about (digest.delivery.replies): only "reader" counts towards bounced.
ReplyClass = Literal["accepted", "reader", "mailbox_full", "temporary", "message", "sender",
                     "relay"]


@dataclass(frozen=True)
class SendResult:
    """The final outcome of one message in this run, after the sender's own retries."""

    delivery_id: int
    outcome: SendOutcome  # temporary: still failing after the attempts made in this run
    reply: str = ""  # the server's reply (or the error) for the ledger
    message_id: str = ""
    attempts: int = 1  # attempts made in this run
    stalled: bool = False  # no answer came after the message text (a timeout after DATA)
    # Results of one request to a mail API share it: a stalled request counts once ("": alone).
    exchange: str = ""
    kind: ReplyClass | None = None  # what the reply was about, when the sender could tell


@dataclass(frozen=True)
class Schedule:
    """When issues are due (``schedule:``); ``digest.issues.schedule`` parses and decides."""

    every: Every
    at: time  # local wall-clock time, minutes precision
    zone: zoneinfo.ZoneInfo
    weekday: int | None = None  # weekly: 0 is Monday
    day: int | None = None  # monthly: 1-31; past the month's end means its last day

    def __str__(self) -> str:
        what = {"daily": "", "weekly": f" {WEEKDAYS[self.weekday or 0]}",
                "monthly": f" {self.day}"}[self.every]
        return f"{self.every}{what} {self.at:%H:%M} {self.zone.key}"
