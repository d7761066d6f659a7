"""The welcome message's words and values: what the reader signed up for, how often it comes,
where the latest issue is. Pure; ``digest.app.welcome`` renders and sends it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from digest.issues.i18n import for_digest, text_direction
from digest.models import TOKEN_EMAIL, TOKEN_NAME, TOKEN_UNSUBSCRIBE, WEEKDAYS, Schedule
from digest.settings import DigestSettings

HTML_TEMPLATE = "welcome.html.j2"
TEXT_TEMPLATE = "welcome.txt.j2"


def subject(digest: DigestSettings) -> str:
    return f"Welcome to {digest.title}"


def frequency(schedule: Schedule | None) -> str:
    """"every Monday at 08:00 (Europe/Berlin)"; without a schedule, when the blog has news."""
    if schedule is None:
        return "whenever the blog has new posts"
    at = f"at {schedule.at:%H:%M} ({schedule.zone.key})"
    if schedule.every == "daily":
        return f"every day {at}"
    if schedule.every == "weekly":
        return f"every {WEEKDAYS[schedule.weekday or 0].title()} {at}"
    return f"once a month, on day {schedule.day} {at}"


def context(digest: DigestSettings, schedule: Schedule | None) -> dict[str, Any]:
    """The templates' values; the reader's own are tokens, filled per recipient in the bytes."""
    messages = for_digest(digest.locale, digest.language)
    language = digest.language or messages.tag
    public = digest.public_url.rstrip("/") if digest.public_url else ""
    return {
        "subject": subject(digest),
        "preheader": f"{digest.title} comes {frequency(schedule)}.",
        "title": digest.title,
        "site_url": digest.site_url,
        "site_host": urlsplit(digest.site_url).hostname or digest.site_url,
        "lang": language,
        "dir": text_direction(language),
        "t": messages,
        "frequency": frequency(schedule),
        "latest_url": f"{public}/issues/latest" if public else "",
        "archive_url": f"{public}/issues" if public else "",
        "recipient": {"name": TOKEN_NAME, "email": TOKEN_EMAIL,
                      "unsubscribe_url": TOKEN_UNSUBSCRIBE},
    }
