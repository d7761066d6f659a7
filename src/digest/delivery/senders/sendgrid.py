"""SendGrid: the issue's content once per request, each recipient a personalization with its own
substitutions and headers, up to 1,000 per request.

What SendGrid documents (Mail Send v3: docs.sendgrid.com .../mail-send, /personalizations,
/substitution-tags, /API_Reference/Web_API_v3/Mail/errors):
- ``POST https://api.sendgrid.com/v3/mail/send``, ``Authorization: Bearer <API key>``, JSON.
- Body: ``personalizations`` (an array of "envelopes", each with ``to`` [{"email", "name"}],
  ``substitutions`` {tag: string value}, ``headers`` {name: string}), ``from`` {"email",
  "name"}, ``reply_to``, ``subject``, ``content`` [{"type", "value"}] where text/plain must
  come first, then text/html, and ``headers`` for every copy.
- Limits (api-reference/mail-send/limitations, /errors): "The total size of your email,
  including attachments, must be less than 30MB"; 1000 personalizations and 1000 recipients
  (to + cc + bcc) per request; each address once per request; 10,000 substitutions per request.
  The content is sent once per request, so requests are cut under 30,000,000 bytes of JSON.
  Substitution tags are literal strings (the docs' example is ``-firstName-``) replaced in the
  subject and the body.
- Reserved header names, refused in ``headers``: x-sg-id, x-sg-eid, received, dkim-signature,
  Content-Type, Content-Transfer-Encoding, To, From, Subject, Reply-To, CC, BCC.
- Answers: 202 accepted and queued (200: valid but not queued, sandbox mode only); 400 with
  ``{"errors": [{"message", "field", "help"}]}``; 401 unauthorized; 403 forbidden (an API key
  without the mail.send permission, or a From address that is no verified sender identity);
  413 payload too large; 429 too many requests; 500, 503.

A tag can only have one value, and the HTML part needs the value HTML-escaped while the text
part needs it as it is: so the HTML part gets tags of its own (``%%DIGEST_HTML_...%%``), and the
text part keeps the TOKENS as its tags. A whole request refused (400) gives every message in it
the errors as a ``refused`` result (about the message or the sender, never the reader).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from digest.delivery.senders.api import TOKEN_RE, ApiSender, Copy, IssueContent, Mailbox, Request
from digest.models import TOKENS, SendResult

HTML_TAGS = {token: token.replace("%%DIGEST_", "%%DIGEST_HTML_") for token in TOKENS}


class SendGridSender(ApiSender):
    provider = "SendGrid"
    credential = "API key"
    max_request_bytes = 30_000_000  # "must be less than 30MB"

    def sizes(self, content: IssueContent, copies: Sequence[Copy]) -> tuple[int, list[int]]:
        """The request without personalizations, then each one's JSON and its comma."""
        tokens = content.tokens()
        shared = len(self.build(content, []).body)
        return shared, [len(_dumps(_personalization(c, tokens))) + 1 for c in copies]

    def build(self, content: IssueContent, copies: Sequence[Copy]) -> Request:
        tokens = content.tokens()
        page = TOKEN_RE.sub(lambda m: HTML_TAGS[m.group(0)], content.html)
        parts = [("text/plain", content.text), ("text/html", page)]
        body: dict[str, Any] = {
            "personalizations": [_personalization(c, tokens) for c in copies],
            "from": _address(content.sender),
            "subject": content.subject,
            "content": [{"type": kind, "value": value} for kind, value in parts if value],
            # digest tracks no opens or clicks: SendGrid's per-request settings turn both off.
            "tracking_settings": {"click_tracking": {"enable": False, "enable_text": False},
                                  "open_tracking": {"enable": False}},
        }
        if content.reply_to:
            body["reply_to"] = _address(content.reply_to)
        if content.headers:
            body["headers"] = dict(content.headers)
        return Request(f"{self.base_url}/v3/mail/send", _dumps(body), {
            "Authorization": f"Bearer {self.settings.token}",
            "Content-Type": "application/json"})

    def read(self, copies: Sequence[Copy], response: httpx.Response,
             attempts: int) -> list[SendResult]:
        status = response.status_code
        if 200 <= status < 300:
            queued = "accepted" if status == 202 else "valid but not queued (sandbox mode)"
            message_id = response.headers.get("X-Message-Id", "-")
            reply = f"SendGrid {status} {queued}, X-Message-Id {message_id}"
            return self.each(copies, "sent", reply, attempts)
        reply = f"SendGrid {status}: {self.error_text(response)}"
        return self.refused(copies, reply, attempts)

    def error_text(self, response: httpx.Response) -> str:
        try:
            errors = response.json().get("errors")
            found = [f"{e.get('message')}" + (f" ({e['field']})" if e.get("field") else "")
                     for e in errors]
        except (ValueError, AttributeError, TypeError):
            return super().error_text(response)
        return "; ".join(found) or super().error_text(response)

    def _refused_hint(self) -> str:
        return " (the key needs the mail.send permission; the From address must be a verified " \
               "sender identity)"


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _address(box: Mailbox) -> dict[str, str]:
    name, email = box
    return {"email": email, "name": name} if name else {"email": email}


def _personalization(copy: Copy, tokens: Sequence[str]) -> dict[str, Any]:
    substitutions: dict[str, str] = {}
    for token in tokens:
        substitutions[token] = copy.value(token, in_html=False)
        substitutions[HTML_TAGS[token]] = copy.value(token, in_html=True)
    found: dict[str, Any] = {"to": [_address((copy.name, copy.email))]}
    if substitutions:
        found["substitutions"] = substitutions
    if copy.headers:
        found["headers"] = dict(copy.headers)
    return found
