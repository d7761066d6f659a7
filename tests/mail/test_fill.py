"""The filling rules every sender shares (digest.mail.fill): per issue once, then per recipient."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default

from digest.mail import fill
from digest.mail.message import MessageTemplate
from digest.models import (
    TOKEN_EMAIL,
    TOKEN_NAME,
    TOKEN_UNSUBSCRIBE,
    TOKEN_WEB_VERSION,
    Recipient,
    RenderedIssue,
)

URL = "https://news.example.org/issues/0123456789ab"
ODD = Recipient("odd@example.org", f'<b>"{TOKEN_WEB_VERSION}" & {TOKEN_EMAIL}</b>',
                "https://news.example.org/u?s=1&t=x'y")


def issue() -> RenderedIssue:
    page = (f'<a href="{TOKEN_WEB_VERSION}">web</a><p>{TOKEN_NAME}</p>'
            f'<a href="{TOKEN_UNSUBSCRIBE}">leave</a> {TOKEN_EMAIL}')
    text = f"Web: {TOKEN_WEB_VERSION}\nHi {TOKEN_NAME}\nLeave: {TOKEN_UNSUBSCRIBE}\n{TOKEN_EMAIL}\n"
    return RenderedIssue("Subject", page, text, "", 1)


def test_the_issue_fill_leaves_only_the_recipient_tokens() -> None:
    filled = fill.for_issue(issue(), fill.IssueValues(web_version_url=URL))
    assert TOKEN_WEB_VERSION not in filled.html + filled.text
    assert f'href="{URL}"' in filled.html and f"Web: {URL}\n" in filled.text
    assert fill.leftovers(filled.text) == [TOKEN_NAME, TOKEN_UNSUBSCRIBE, TOKEN_EMAIL]


def test_without_a_public_url_the_web_link_is_empty_not_a_placeholder() -> None:
    filled = fill.for_issue(issue(), fill.IssueValues())
    assert 'href=""' in filled.html and "Web: \n" in filled.text
    assert TOKEN_WEB_VERSION not in filled.html + filled.text


def test_values_are_escaped_in_html_as_given_in_text_and_never_filled_again() -> None:
    page, text = fill.filled(issue(), fill.IssueValues(web_version_url=URL), ODD)
    assert f"Hi {ODD.name}\n" in text  # the reader's name, placeholders and all, as written
    assert "<p>&lt;b&gt;&quot;%%DIGEST_WEB_VERSION_URL%%&quot; &amp; " in page
    assert 'href="https://news.example.org/u?s=1&amp;t=x&#x27;y"' in page
    assert f"Leave: {ODD.unsubscribe_url}\n" in text
    assert f"Web: {URL}\n" in text  # filled from the issue, not from the reader's name


def test_the_mime_copy_and_the_preview_fill_alike() -> None:
    """The bytes path (outbox, SMTP) and the string path (previews, APIs) give the same text."""
    now = datetime(2024, 5, 6, tzinfo=UTC)
    template = MessageTemplate.build(issue(), from_addr="Blog <d@example.org>",
                                     list_id="blog.example.org", reply_to=None, date=now,
                                     list_unsubscribe_mailto=None,
                                     issue=fill.IssueValues(web_version_url=URL))
    assert template.content == fill.for_issue(issue(), fill.IssueValues(web_version_url=URL))
    message = message_from_bytes(template.personalize(ODD, message_id="<1@example.org>"),
                                 policy=default)
    parts = {p.get_content_type(): p.get_content() for p in message.walk()
             if not p.is_multipart()}
    page, text = fill.personalize(template.content, ODD)
    assert parts["text/plain"].replace("\r\n", "\n") == text
    assert parts["text/html"].replace("\r\n", "\n") == page


def test_per_copy_headers() -> None:
    assert fill.headers("<1@x.org>", "https://x.org/u?t=1", "mailto:leave@x.org") == (
        ("Message-ID", "<1@x.org>"),
        ("List-Unsubscribe", "<https://x.org/u?t=1>, <mailto:leave@x.org>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    # An http:// or mailto: unsubscribe address is no one-click link.
    assert fill.headers("<1@x.org>", "mailto:leave@x.org?subject=u", None) == (
        ("Message-ID", "<1@x.org>"),)


def test_leftovers_finds_any_placeholder_shape() -> None:
    assert fill.leftovers(b"a %%DIGEST_NEW_THING%% b %%DIGEST_NAME%% %%DIGEST_NEW_THING%%") == [
        "%%DIGEST_NEW_THING%%", "%%DIGEST_NAME%%"]
    assert fill.leftovers("100% sure, 50%% off") == []
