"""Postmark: each copy personalised here, up to 500 per request to the batch endpoint.

What Postmark documents (postmarkapp.com/developer/user-guide/send-email-with-api/batch-emails,
/developer/api/overview):
- ``POST https://api.postmarkapp.com/email/batch`` with headers ``Accept: application/json``,
  ``Content-Type: application/json`` and ``X-Postmark-Server-Token``; a wrong or missing token
  gets HTTP 401.
- The body is a JSON array of messages: "the batch endpoint accepts up to 500 messages per API
  call, and up to 50 MB payload size, including attachments" (user-guide/send-email-with-api/
  batch-emails; support article 1056: "Batch endpoint total payload size ... cannot exceed
  50 MB"). Batches are cut by their encoded JSON size to stay under 50,000,000 bytes.
  message fields ``From``, ``To`` ("John Doe <email@example.com>" accepted), ``Subject``,
  ``HtmlBody``, ``TextBody``, ``ReplyTo``, ``Headers`` (a list of ``{"Name", "Value"}``) and
  ``MessageStream`` (broadcast mail belongs in a broadcast stream).
- The answer is 200 even when single messages fail: an array in the order sent, each with
  ``ErrorCode`` (0 = accepted), ``Message``, and when accepted ``MessageID``, ``SubmittedAt``,
  ``To``. A request refused as a whole gets 422 with one ``{"ErrorCode", "Message"}``.
- Error codes: 10 bad or missing API token, 100 maintenance, 300 invalid email request
  (e.g. "Invalid 'From' address: ..."), 400 sender signature not found, 401 sender signature
  not confirmed, 405 not allowed to send, 406 inactive recipient (hard bounce or spam
  complaint), 410 too many batch messages, 412 account is pending, 413 account may not send,
  429 rate limit exceeded.

How codes become results (``digest.delivery.replies.classify_postmark``): 0 sent; 406, and 300
about the 'To' address, permanent (the recipient is refused for good); 100, 429 and unknown codes
temporary; a 300 about anything but the recipient, or a whole request refused (422), is about the
message: ``refused`` (the send loop stops after a few, marking nobody); codes about the account,
the token or the sender signature (10, 400, 401, 405, 412, 413) would refuse every message alike:
they stop the send at once (``SendError``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from json.encoder import encode_basestring
from typing import Any

import httpx

from digest.delivery.replies import classify_postmark
from digest.delivery.senders.api import (
    ApiSender,
    Copy,
    IssueContent,
    Request,
    judged,
    mailbox,
    result,
)
from digest.errors import SendError
from digest.models import SendResult

_ACCOUNT_CODES = {10, 400, 401, 405, 412, 413}


class PostmarkSender(ApiSender):
    provider = "Postmark"
    credential = "server token"
    max_request_bytes = 50_000_000  # "up to 50 MB payload size" per batch call

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._encoded: dict[int, bytes] = {}  # delivery id -> its message, from sizes()

    def sizes(self, content: IssueContent, copies: Sequence[Copy]) -> tuple[int, list[int]]:
        """Each copy is a whole message in the JSON array: encoded here once, for its size,
        and kept for ``build``. ``[]`` around them, a comma after each but the last."""
        self._encoded = {c.message.delivery_id: self._encoded_message(content, c)
                         for c in copies}
        return 2, [len(self._encoded[c.message.delivery_id]) + 1 for c in copies]

    def build(self, content: IssueContent, copies: Sequence[Copy]) -> Request:
        messages = b",".join(self._encoded.pop(c.message.delivery_id, b"")
                             or self._encoded_message(content, c) for c in copies)
        return Request(f"{self.base_url}/email/batch", b"[" + messages + b"]", {
            "Accept": "application/json", "Content-Type": "application/json",
            "X-Postmark-Server-Token": self.settings.token})

    def _encoded_message(self, content: IssueContent, copy: Copy) -> bytes:
        page, text = _escaped(content.html_pieces), _escaped(content.text_pieces)
        return self._message(content, copy, page, text).encode()

    def _message(self, content: IssueContent, copy: Copy, page: Sequence[str],
                 text: Sequence[str]) -> str:
        """One message as JSON. Encoding 500 copies of the digest with json.dumps costs ~0.4 ms
        a copy; the bodies are spliced in from pieces escaped once, only the values per copy."""
        message: dict[str, Any] = {
            "From": mailbox(*content.sender),
            "To": mailbox(copy.name, copy.email),
            "Subject": content.subject,
            "Headers": [{"Name": k, "Value": v} for k, v in (*content.headers, *copy.headers)],
            # digest tracks no opens or clicks: no pixel, no rewritten links ("None" is
            # Postmark's documented value; a server with open tracking on overrides TrackOpens).
            "TrackOpens": False,
            "TrackLinks": "None",
        }
        if content.reply_to:
            message["ReplyTo"] = mailbox(*content.reply_to)
        if self.settings.message_stream:
            message["MessageStream"] = self.settings.message_stream
        head = _ENCODER.encode(message)
        return (f'{head[:-1]},"HtmlBody":"{copy.fill(page, in_html=True, escape=_json_text)}",'
                f'"TextBody":"{copy.fill(text, in_html=False, escape=_json_text)}"}}')

    def read(self, copies: Sequence[Copy], response: httpx.Response,
             attempts: int) -> list[SendResult]:
        answer = _json(response)
        if response.status_code != 200 or not isinstance(answer, list):
            code, text = _code(answer), self.error_text(response)
            if code in _ACCOUNT_CODES:
                raise SendError(self._stopped(code, text), code=response.status_code)
            reply = f"Postmark {response.status_code}: {text}"
            return self.refused(copies, reply, attempts)
        if len(answer) != len(copies):
            reply = f"Postmark answered {len(answer)} results for {len(copies)} messages"
            return self.each(copies, "temporary", reply, attempts)
        return [self._one(c, entry, attempts) for c, entry in zip(copies, answer, strict=True)]

    def _one(self, copy: Copy, entry: Any, attempts: int) -> SendResult:
        code, text = _code(entry), str(entry.get("Message", "")) if isinstance(entry, dict) else ""
        if code == 0:
            return result(copy, "sent", f"Postmark: {text} (MessageID {entry.get('MessageID')})",
                          attempts)
        if code in _ACCOUNT_CODES:
            raise SendError(self._stopped(code, text))
        return judged(copy, classify_postmark(code, text), f"Postmark error {code}: {text}",
                      attempts)

    def _stopped(self, code: int | None, text: str) -> str:
        variable = self.settings.token_env or "its environment variable"
        return (f"Postmark refused to send (error {code}: {text}); every message would be "
                f"refused alike: check the server token in {variable}, the From address (a "
                "confirmed sender signature) and the account")

    def error_text(self, response: httpx.Response) -> str:
        answer = _json(response)
        if isinstance(answer, dict) and "Message" in answer:
            return f"error {answer.get('ErrorCode')}: {answer['Message']}"
        return super().error_text(response)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _json_text(value: str) -> str:
    """A string's JSON form without its quotes."""
    return encode_basestring(value)[1:-1]


@lru_cache(maxsize=8)
def _escaped(pieces: tuple[str, ...]) -> tuple[str, ...]:
    """Text pieces JSON-escaped, tokens (odd places) left for the values."""
    return tuple(_json_text(p) if i % 2 == 0 else p for i, p in enumerate(pieces))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _code(entry: Any) -> int | None:
    if not isinstance(entry, dict):
        return None
    code = entry.get("ErrorCode", 0)  # absent on some accepted messages
    return code if isinstance(code, int) else None
