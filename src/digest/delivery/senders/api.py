"""What the mail API senders (Postmark, SendGrid, Mailgun) share: the issue's content, each
recipient's part, and the HTTP exchange with its retries.

A mail API takes many recipients per request, so these senders work in whole batches: the send
loop calls ``prepare`` once with the issue, then hands over up to ``max_batch`` messages per
``send_batch`` call, and each call is one request. How replies are sorted for the ledger:

- 2xx and other 4xx: read by the provider's module (Postmark answers per message; SendGrid and
  Mailgun for the whole request). A request refused as invalid names no single recipient, so it
  is never a reader's fault: every message in it is ``refused`` (about the message or the sender,
  ``digest.delivery.replies.classify_request_refusal``), and the send loop stops after a few.
- 401, 403: the credentials (or the sender identity) were refused. ``SendError`` naming the
  provider and the environment variable: the send stops and nothing is marked.
- 404: no such endpoint or domain (a wrong ``base_url`` or ``domain``): ``SendError``.
- 413: the request was too large: it is split in halves. Requests are cut to the provider's
  documented size before they are sent (``max_request_bytes``, see ``split``), so a 413 means
  the provider's limit moved.
- 429, 5xx, connect timeouts and dropped connections: tried again after the wait the provider
  asks for (``Retry-After`` in seconds or as an HTTP date), else after an exponential backoff, up
  to ``attempts`` times in all; then each message is ``temporary``. A provider that cannot be
  reached at all stops the send.
- No answer within ``timeout`` once the request is sent (a read or write timeout): whether the
  provider took it is unknown, so it is not posted again here; each message is ``temporary`` and
  ``stalled``, and several such requests in a row stop the send (``digest.delivery.stall``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from digest import __version__
from digest.delivery.replies import Verdict, classify_request_refusal
from digest.delivery.senders.api_content import (
    TOKEN_KEYS,
    TOKEN_RE,
    Copy,
    IssueContent,
    Mailbox,
    copy_of,
    from_mime,
    mailbox,
)
from digest.errors import SendAborted, SendError
from digest.mail.message import MessageTemplate
from digest.models import Issue, Outgoing, SendOutcome, SendResult
from digest.settings import API_BATCH_LIMITS, ApiSettings

__all__ = ["TOKEN_KEYS", "TOKEN_RE", "ApiSender", "Copy", "IssueContent", "Mailbox",
           "OversizeError", "Request", "mailbox", "result", "retry_after",
           "split"]


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def reply_text(response: httpx.Response, limit: int = 300) -> str:
    """The body of an answer on one line, cut short: enough for the ledger and the log."""
    return " ".join(response.text.split())[:limit]


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: Mapping[str, str]
    auth: tuple[str | bytes, str | bytes] | None = None  # HTTP basic


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _NoAnswer(Exception):
    """The request went out and no answer came in time."""


_exchanges = itertools.count(1)


class ApiSender:
    """One provider's sender; subclasses say how a request looks and how to read its answer."""

    provider = "the mail API"
    credential = "token"  # what the provider calls its secret, for messages
    max_request_bytes = 10_000_000  # the provider's documented limit on a request's body

    def __init__(self, settings: ApiSettings, *, attempts: int = 3, backoff: float = 1.0,
                 backoff_cap: float = 60.0, max_wait: float = 300.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = _utc_now,
                 client: httpx.Client | None = None,
                 max_request_bytes: int | None = None) -> None:
        self.settings = settings
        self.max_batch = max(1, min(settings.batch_size, API_BATCH_LIMITS[settings.kind]))
        if max_request_bytes is not None:  # a smaller limit (an account's, or a test's)
            self.max_request_bytes = max_request_bytes
        self.attempts = max(1, attempts)
        self.backoff, self.backoff_cap, self.max_wait = backoff, backoff_cap, max_wait
        self._sleep, self._clock = sleep, clock
        self._own_client = client is None
        self._client = client or httpx.Client(
            timeout=settings.timeout, headers={"User-Agent": f"digest/{__version__}"})
        self.content: IssueContent | None = None
        self.unsubscribe_mailto: str | None = None

    @property
    def base_url(self) -> str:
        return self.settings.base_url.rstrip("/")

    def prepare(self, issue: Issue, template: MessageTemplate) -> None:
        self.content = IssueContent.of(issue, template)
        self.unsubscribe_mailto = template.unsubscribe_mailto

    def send_batch(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        results: list[SendResult] = []
        try:
            if self.content is not None and all(m.recipient_values for m in messages):
                mailto = self.unsubscribe_mailto
                self._send(self.content, [copy_of(m, mailto) for m in messages], results)
            else:  # finished messages (test copies): each is its own content
                for message in messages:
                    content, copy = from_mime(message)
                    self._send(content, [copy], results)
        except SendError as exc:
            raise SendAborted(exc.reason, results, code=exc.code) from exc
        return results

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    # what each provider says

    def build(self, content: IssueContent, copies: Sequence[Copy]) -> Request:
        raise NotImplementedError

    def read(self, copies: Sequence[Copy], response: httpx.Response,
             attempts: int) -> list[SendResult]:
        """Results of a 2xx answer, or of a 4xx the shared rules leave to the provider."""
        raise NotImplementedError

    def sizes(self, content: IssueContent, copies: Sequence[Copy]) -> tuple[int, list[int]]:
        """(bytes of a request with no copy, bytes each copy adds): no less than ``build``
        makes, so that requests cut by these sizes stay under ``max_request_bytes``."""
        raise NotImplementedError

    # the exchange

    def _send(self, content: IssueContent, copies: list[Copy], out: list[SendResult]) -> None:
        shared, sizes = self.sizes(content, copies)
        try:
            runs = split(shared, sizes, most=self.max_batch, limit=self.max_request_bytes)
        except OversizeError as exc:
            raise SendError(self._too_large(shared + sizes[exc.index])) from exc
        for run in runs:
            self._send_chunk(content, copies[run.start:run.stop], out)

    def _too_large(self, size: int) -> str:
        return (f"{self.provider} takes at most {_size(self.max_request_bytes)} a request, "
                f"and one message alone makes {_size(size)}: the digest is too large "
                f"to send through {self.provider}; make it shorter (fewer or shorter posts)")

    def _send_chunk(self, content: IssueContent, copies: list[Copy],
                    out: list[SendResult]) -> None:
        try:
            response, attempts, trouble = self._post(self.build(content, copies))
        except _NoAnswer as exc:
            exchange = f"{self.provider} request {next(_exchanges)}"
            out.extend(replace(r, stalled=True, exchange=exchange)
                       for r in self.each(copies, "temporary", str(exc), 1))
            return
        if response is None:
            out.extend(self.each(copies, "temporary", trouble, attempts))
            return
        status = response.status_code
        if status == 413 and len(copies) > 1:
            half = len(copies) // 2
            self._send_chunk(content, copies[:half], out)
            self._send_chunk(content, copies[half:], out)
            return
        if status in (401, 403):
            raise SendError(self._refused(response), code=status)
        if status in (404, 413):
            raise SendError(self._unusable(response), code=status)
        if status == 429 or status >= 500:
            reply = f"{self.provider} {status}: {self.error_text(response)}"
            out.extend(self.each(copies, "temporary", reply, attempts))
            return
        out.extend(self.read(copies, response, attempts))

    def _post(self, request: Request) -> tuple[httpx.Response | None, int, str]:
        """Post, trying again on 429, 5xx and transport trouble: (answer, attempts, trouble)."""
        for attempt in range(1, self.attempts + 1):
            try:
                response = self._client.post(
                    request.url, content=request.body, headers=request.headers,
                    auth=request.auth or httpx.USE_CLIENT_DEFAULT)
            except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
                raise _NoAnswer(f"{self.provider}: no answer within {self.settings.timeout:g} s "
                                f"({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                if attempt == self.attempts:
                    if isinstance(exc, httpx.ConnectError):
                        raise SendError(f"cannot reach {self.provider} at {self.base_url}: "
                                        f"{exc} (tried {attempt} times)") from exc
                    return None, attempt, f"{self.provider}: {type(exc).__name__}: {exc}"
                self._sleep(self._backoff(attempt))
                continue
            status = response.status_code
            if (status != 429 and status < 500) or attempt == self.attempts:
                return response, attempt, ""
            wait = retry_after(response.headers.get("Retry-After"), self._clock())
            wait = self._backoff(attempt) if wait is None else wait
            if wait > self.max_wait:  # not worth holding the run for: the next run retries
                return response, attempt, ""
            self._sleep(wait)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        return float(min(self.backoff_cap, self.backoff * 2 ** (attempt - 1)))

    def error_text(self, response: httpx.Response) -> str:
        return reply_text(response)

    def _refused(self, response: httpx.Response) -> str:
        variable = self.settings.token_env or "the configured environment variable"
        return (f"{self.provider} refused the request with {response.status_code} "
                f"({self.error_text(response)}); check the {self.credential} in {variable} "
                f"and what it is allowed to do{self._refused_hint()}")

    def _refused_hint(self) -> str:
        return ""

    def _unusable(self, response: httpx.Response) -> str:
        if response.status_code == 413:
            return (f"{self.provider} refused a single message as too large (413); "
                    "the digest is bigger than the provider accepts")
        return (f"{self.provider} answered 404 ({self.error_text(response)}) for "
                f"{response.request.url}; check base_url{self._unusable_hint()}")

    def _unusable_hint(self) -> str:
        return ""

    @staticmethod
    def each(copies: Sequence[Copy], outcome: SendOutcome, reply: str,
             attempts: int) -> list[SendResult]:
        return [result(c, outcome, reply, attempts) for c in copies]

    @staticmethod
    def refused(copies: Sequence[Copy], reply: str, attempts: int) -> list[SendResult]:
        """Every message of a request refused as a whole: about the message or the sender."""
        verdict = classify_request_refusal(reply)
        return [judged(c, verdict, reply, attempts) for c in copies]


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1_000_000 else f"{n / 1e3:.1f} KB"


class OversizeError(ValueError):
    """One copy alone is over the limit; ``index`` says which."""

    def __init__(self, index: int) -> None:
        super().__init__(f"copy {index} alone is over the limit")
        self.index = index


def split(shared: int, sizes: Sequence[int], *, most: int, limit: int) -> list[range]:
    """Cut copies into requests: consecutive runs of at most ``most`` copies, each request at
    most ``limit`` bytes, where a request is ``shared`` bytes plus its copies' ``sizes``.

    Greedy, in order: a run ends where the next copy would break either limit. Raises
    ``OversizeError`` when one copy alone (with ``shared``) is over ``limit``.
    """
    runs: list[range] = []
    start, total = 0, shared
    for i, size in enumerate(sizes):
        if shared + size > limit:
            raise OversizeError(i)
        if i > start and (i - start >= most or total + size > limit):
            runs.append(range(start, i))
            start, total = i, shared
        total += size
    if start < len(sizes):
        runs.append(range(start, len(sizes)))
    return runs


def result(copy: Copy, outcome: SendOutcome, reply: str, attempts: int) -> SendResult:
    return SendResult(copy.message.delivery_id, outcome, reply=reply,
                      message_id=copy.message.message_id, attempts=attempts)


def judged(copy: Copy, verdict: Verdict, reply: str, attempts: int) -> SendResult:
    """The result of one message whose reply was classified (``digest.delivery.replies``)."""
    return SendResult(copy.message.delivery_id, verdict.outcome, reply=reply,
                      message_id=copy.message.message_id, attempts=attempts, kind=verdict.kind)

