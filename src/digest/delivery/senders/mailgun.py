"""Mailgun: batch sending, the issue's content once per request with recipient variables, up to
1,000 recipients per request.

What Mailgun documents (documentation.mailgun.com: user-manual/sending-messages/batch-sending,
send-http, quickstart-guide/responses):
- ``POST https://api.mailgun.net/v3/YOUR_DOMAIN_NAME/messages`` (EU domains:
  ``https://api.eu.mailgun.net``), HTTP basic auth ``api:YOUR_API_KEY``, form fields
  (``-F`` in the examples, multipart/form-data): ``from``, ``to`` (once per recipient),
  ``subject``, ``text``, ``html``, ``h:X-My-Header`` for headers, and ``recipient-variables``:
  JSON mapping each recipient address to its values, referenced as ``%recipient.KEY%``.
  Without recipient variables every recipient would see every other address in To.
- "The maximum number of recipients allowed for Batch Sending is 1,000." and (api-sending):
  "Mailgun supports maximum messages size of 25MB". A batch request carries the content once,
  so every message made from it is smaller than the request: requests are cut under
  25,000,000 bytes, which keeps each message under the limit too.
- Answers: 200 ``{"id": "<...>", "message": "Queued. Thank you."}``; 400 with a JSON
  ``message``; 401/403 auth error or access denied; 404 resource (domain) not found; 429 rate
  limit ("retry as defined in the response"); 500 internal error (retry with backoff).

Recipient variables reach headers too, so each copy's Message-ID and List-Unsubscribe come
from them. The HTML part needs each value HTML-escaped and the text part as it is, so every
value is sent twice (``name_html``, ``name_text``, ...). A whole request refused (400) gives
every message in it Mailgun's reply as a ``refused`` result (about the message or the sender,
never the reader).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from urllib.parse import quote

import httpx

from digest.delivery.senders.api import (
    TOKEN_KEYS,
    TOKEN_RE,
    ApiSender,
    Copy,
    IssueContent,
    Request,
    mailbox,
)
from digest.models import SendResult


class MailgunSender(ApiSender):
    provider = "Mailgun"
    credential = "API key"
    max_request_bytes = 25_000_000  # "maximum messages size of 25MB"

    def sizes(self, content: IssueContent, copies: Sequence[Copy]) -> tuple[int, list[int]]:
        """Each copy adds a ``to`` field and its entry in the recipient variables; the rest is
        the request for the first copy without its own part (header fields every copy has can
        only be fewer with more copies, so this is no less than what ``build`` makes)."""
        if not copies:
            return 0, []
        tokens = content.tokens()
        sizes = [_copy_size(c, tokens) for c in copies]
        return len(self.build(content, copies[:1]).body) - sizes[0], sizes

    def build(self, content: IssueContent, copies: Sequence[Copy]) -> Request:
        text = TOKEN_RE.sub(lambda m: f"%recipient.{TOKEN_KEYS[m.group(0)]}_text%", content.text)
        page = TOKEN_RE.sub(lambda m: f"%recipient.{TOKEN_KEYS[m.group(0)]}_html%", content.html)
        fields = [("from", mailbox(*content.sender)),
                  *(("to", mailbox(c.name, c.email)) for c in copies),
                  ("subject", content.subject), ("text", text), ("html", page)]
        fields = [(k, v) for k, v in fields if v]
        # digest tracks no opens or clicks: Mailgun's per-message options override the domain's.
        fields += [("o:tracking", "no"), ("o:tracking-clicks", "no"), ("o:tracking-opens", "no")]
        if content.reply_to:
            fields.append(("h:Reply-To", mailbox(*content.reply_to)))
        fields += [(f"h:{name}", value) for name, value in content.headers]
        # A header goes in only if every copy has it: a recipient variable cannot drop a header.
        names = [n for n, _ in copies[0].headers if all(n in dict(c.headers) for c in copies)]
        fields += [(f"h:{name}", f"%recipient.{_header_key(name)}%") for name in names]
        variables = {c.email: _variables(c, content.tokens()) for c in copies}
        fields.append(("recipient-variables", json.dumps(variables, ensure_ascii=False)))
        body, content_type = multipart(fields)
        domain = quote(self.settings.domain or "", safe="")
        return Request(f"{self.base_url}/v3/{domain}/messages", body,
                       {"Content-Type": content_type}, auth=("api", self.settings.token))

    def read(self, copies: Sequence[Copy], response: httpx.Response,
             attempts: int) -> list[SendResult]:
        text = self.error_text(response)
        if response.status_code == 200:
            try:
                queued = response.json()["id"]
            except (ValueError, KeyError, TypeError):
                queued = "-"
            return self.each(copies, "sent", f"Mailgun: {text} {queued}", attempts)
        return self.refused(copies, f"Mailgun {response.status_code}: {text}", attempts)

    def error_text(self, response: httpx.Response) -> str:
        try:
            return str(response.json()["message"])
        except (ValueError, KeyError, TypeError):
            return super().error_text(response)

    def _unusable_hint(self) -> str:
        return (f" and the domain {self.settings.domain!r} (it must be a sending domain of "
                "the account; EU domains use https://api.eu.mailgun.net)")


_BOUNDARY = "digest-" + "0" * 32  # as long as the boundaries multipart() makes


def _copy_size(copy: Copy, tokens: Sequence[str]) -> int:
    field = _part(_BOUNDARY, "to", mailbox(copy.name, copy.email))
    entry = json.dumps({copy.email: _variables(copy, tokens)}, ensure_ascii=False)
    return len(field) + len(entry.encode("utf-8"))  # the entry without {}, with its ", "


def _part(boundary: str, name: str, value: str) -> bytes:
    return (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{value}\r\n").encode()


def _header_key(name: str) -> str:
    return "h_" + name.lower().replace("-", "_")


def _variables(copy: Copy, tokens: Sequence[str]) -> dict[str, str]:
    found = {}
    for token in tokens:
        key = TOKEN_KEYS[token]
        found[f"{key}_text"] = copy.value(token, in_html=False)
        found[f"{key}_html"] = copy.value(token, in_html=True)
    found.update((_header_key(name), value) for name, value in copy.headers)
    return found


def multipart(fields: Sequence[tuple[str, str]]) -> tuple[bytes, str]:
    """multipart/form-data (RFC 7578) of text fields, repeated names kept in order."""
    boundary = "digest-" + secrets.token_hex(16)
    chunks = [_part(boundary, name, value) for name, value in fields]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"
