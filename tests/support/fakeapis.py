"""Local fakes of the Postmark, SendGrid and Mailgun send APIs on 127.0.0.1.

Built from each provider's documented request and answer shapes (quoted at the top of
``digest.senders.postmark``, ``.sendgrid`` and ``.mailgun``): each fake checks the auth header,
the endpoint, the payload fields, the batch limit and the request size limit (413 above it),
answers with the documented success and error bodies, and materialises what each recipient
would receive (substitutions applied the way the provider applies them). Programmable:
``fail_next`` answers 429 (with Retry-After), 5xx or 401 to the next requests; ``stall_next``
reads the next requests and never answers them (until the fake closes); ``refuse`` makes
an address refused (Postmark: ErrorCode 406 in that message's entry; SendGrid and Mailgun: the
whole request gets a 400).

    with FakeApi("postmark", token="t") as api:
        api.fail_next(429, retry_after="3")
        ...  # send to api.base_url
        api.delivered, api.requests
"""

from __future__ import annotations

import base64
import json
import multiprocessing
import re
import threading
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from email.utils import parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import parse_qsl

from digest.settings import ApiKind

LIMITS = {"postmark": 500, "sendgrid": 1000, "mailgun": 1000}
# Request bodies, as documented: Postmark "up to 50 MB payload size" per batch call, SendGrid
# "must be less than 30MB", Mailgun "maximum messages size of 25MB" (here: of the request).
MAX_BYTES = {"postmark": 50_000_000, "sendgrid": 30_000_000, "mailgun": 25_000_000}
SENDGRID_RESERVED = {"x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
                     "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc",
                     "bcc"}
Answer = tuple[int, dict[str, str], bytes]
KINDS: dict[str, ApiKind] = {"postmark": "postmark", "sendgrid": "sendgrid", "mailgun": "mailgun"}


def api_kind(provider: str) -> ApiKind:
    """``provider`` as the sender kind of the settings; KeyError for a name no API has."""
    return KINDS[provider]


class Refused(Exception):
    """The request is refused as a whole with this answer."""

    def __init__(self, status: int, body: Any, size: int = 0) -> None:
        super().__init__(status)
        self.size = size  # recipients in the refused request, where known
        self.answer: Answer = (status, {"Content-Type": "application/json"},
                               json.dumps(body).encode())


@dataclass(frozen=True)
class Delivered:
    """What one recipient would receive."""

    email: str
    to: str
    sender: str
    subject: str
    html: str
    text: str
    headers: dict[str, str]
    # The request's open and click tracking fields, as each provider documents them (Postmark
    # TrackOpens/TrackLinks, SendGrid tracking_settings, Mailgun o:tracking*); {}: none sent,
    # so the account's own setting applies.
    tracking: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    size: int  # messages (postmark) or recipients in the request; 0 if unreadable
    status: int
    length: int = 0  # bytes in the request body


@dataclass
class FakeApi:
    provider: str
    token: str = "test-token"
    domain: str = "mg.example.org"
    keep: bool = True  # keep each Delivered (off for benchmarks: counts only)
    max_bytes: int | None = None  # a request body above this gets 413; None: MAX_BYTES
    requests: list[Seen] = field(default_factory=list)
    delivered: list[Delivered] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    refused: set[str] = field(default_factory=set)
    _script: deque[tuple[int, str | None]] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    stalls: int = 0  # requests still to leave unanswered (``stall_next``)
    stalled: int = 0  # requests left unanswered so far
    _closing: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.max_bytes is None:
            self.max_bytes = MAX_BYTES[self.provider]
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,),
                                        daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail_next(self, status: int, *, retry_after: str | None = None, times: int = 1) -> None:
        with self._lock:
            self._script.extend([(status, retry_after)] * times)

    def stall_next(self, times: int = 1) -> None:
        """Read the next ``times`` requests and give no answer (nothing is delivered)."""
        with self._lock:
            self.stalls += times

    def take_stall(self) -> bool:
        """Whether this request is one to leave unanswered (counted)."""
        with self._lock:
            if not self.stalls:
                return False
            self.stalls -= 1
            self.stalled += 1
            return True

    def hold(self) -> None:
        """Wait, answering nothing, until the fake closes."""
        self._closing.wait(60)

    def refuse(self, *emails: str) -> None:
        self.refused.update(e.lower() for e in emails)

    def sizes(self, status: int | None = None) -> list[int]:
        return [s.size for s in self.requests if status is None or s.status == status]

    def for_email(self, email: str) -> list[Delivered]:
        return [d for d in self.delivered if d.email == email]

    def __enter__(self) -> FakeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # the exchange

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> Answer:
        size, out = 0, _json_answer(404, {"message": "no such endpoint"})
        try:
            check = {"postmark": self._postmark, "sendgrid": self._sendgrid,
                     "mailgun": self._mailgun}[self.provider]
            self._check_size(len(body))
            size, out = check(path, {k.lower(): v for k, v in headers.items()}, body)
        except Refused as exc:
            size, out = exc.size, exc.answer
        with self._lock:
            self.requests.append(Seen(path, headers, size, out[0], len(body)))
        return out

    def _check_size(self, size: int) -> None:
        """413 (RFC 9110 Content Too Large; SendGrid lists it as "payload too large") in the
        provider's error shape: the providers document the limits, not the body of this answer."""
        if self.max_bytes is None or size <= self.max_bytes:
            return
        text = f"Request body of {size} bytes is over the limit of {self.max_bytes} bytes"
        bodies = {"postmark": {"Message": text},
                  "sendgrid": {"errors": [{"field": None, "message": text}]},
                  "mailgun": {"message": text}}
        raise Refused(413, bodies[self.provider])

    def _scripted(self) -> Answer | None:
        with self._lock:
            if not self._script:
                return None
            status, retry_after = self._script.popleft()
        extra = {"Retry-After": retry_after} if retry_after else {}
        bodies = {"postmark": {"ErrorCode": status, "Message": "Rate limit exceeded"},
                  "sendgrid": {"errors": [{"field": None, "message": "too many requests"}]},
                  "mailgun": {"message": "Too many requests"}}
        body = bodies[self.provider] if status == 429 else {"message": "Internal Server Error"}
        if status == 401:
            return self._unauthorized()
        status_, headers, data = _json_answer(status, body)
        return status_, {**headers, **extra}, data

    def _unauthorized(self) -> Answer:
        if self.provider == "postmark":
            return _json_answer(401, {"ErrorCode": 10, "Message": "Bad or missing API token"})
        if self.provider == "sendgrid":
            return _json_answer(401, {"errors": [{"field": None,
                                                  "message": "authorization required"}]})
        return 401, {"Content-Type": "text/plain"}, b"Forbidden"

    def _deliver(self, found: list[Delivered]) -> None:
        with self._lock:
            for d in found:
                self.counts[d.email.lower()] += 1
            if self.keep:
                self.delivered.extend(found)

    # Postmark

    def _postmark(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Answer]:
        if path != "/email/batch":
            raise Refused(404, {"ErrorCode": 404, "Message": "not found"})
        if headers.get("x-postmark-server-token") != self.token:
            return 0, self._unauthorized()
        scripted = self._scripted()
        if scripted:
            return 0, scripted
        if not headers.get("content-type", "").startswith("application/json"):
            raise Refused(415, {"ErrorCode": 409, "Message": "JSON required"})
        messages = _load_json(body, lambda: Refused(422, {"ErrorCode": 402,
                                                           "Message": "Invalid JSON"}))
        if not isinstance(messages, list):
            raise Refused(422, {"ErrorCode": 403, "Message": "Incompatible JSON"})
        if len(messages) > LIMITS["postmark"]:
            raise Refused(422, {"ErrorCode": 410, "Message": "Too many batch messages"})
        entries, found = [], []
        for message in messages:
            entry, delivered = self._postmark_one(message)
            entries.append(entry)
            found += delivered
        self._deliver(found)
        return len(messages), _json_answer(200, entries)

    def _postmark_one(self, m: Any) -> tuple[dict[str, Any], list[Delivered]]:
        missing = [k for k in ("From", "To", "Subject") if not isinstance(m.get(k), str)]
        if missing or not (m.get("HtmlBody") or m.get("TextBody")):
            return {"ErrorCode": 300, "Message": f"Invalid email request: {missing or 'body'}"}, []
        pairs = m.get("Headers", [])
        if not all(isinstance(h, dict) and set(h) == {"Name", "Value"} for h in pairs):
            return {"ErrorCode": 300, "Message": "Invalid 'Headers'"}, []
        email = parseaddr(m["To"])[1]
        if not email:
            return {"ErrorCode": 300, "Message": f"Invalid 'To' address: '{m['To']}'."}, []
        if email.lower() in self.refused:
            return {"ErrorCode": 406, "Message": "You tried to send to recipient(s) that have "
                    f"been marked as inactive. Found inactive addresses: {email}. Inactive "
                    "recipients are ones that have generated a hard bounce or a spam "
                    "complaint."}, []
        headers = {h["Name"]: h["Value"] for h in pairs}
        if "ReplyTo" in m:
            headers["Reply-To"] = m["ReplyTo"]
        tracking = {k: m[k] for k in ("TrackOpens", "TrackLinks") if k in m}
        found = Delivered(email, m["To"], m["From"], m["Subject"], m.get("HtmlBody", ""),
                          m.get("TextBody", ""), headers, tracking)
        return {"ErrorCode": 0, "Message": "OK", "MessageID": str(uuid.uuid4()),
                "SubmittedAt": "2024-05-06T07:00:00Z", "To": m["To"]}, [found]

    # SendGrid

    def _sendgrid(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Answer]:
        if path != "/v3/mail/send":
            raise Refused(404, {"errors": [{"message": "not found"}]})
        if headers.get("authorization") != f"Bearer {self.token}":
            return 0, self._unauthorized()
        scripted = self._scripted()
        if scripted:
            return 0, scripted
        mail = _load_json(body, lambda: _sg_error("Bad Request", None))
        people = mail.get("personalizations") if isinstance(mail, dict) else None
        if not isinstance(people, list) or not people:
            raise _sg_error("You must have at least one personalization.", "personalizations")
        if len(people) > LIMITS["sendgrid"]:
            raise _sg_error("The personalization block is limited to 1000 personalizations per "
                            f"API request. You have provided {len(people)} personalizations.",
                            "personalizations")
        _sg_check(mail)
        found = [d for p in people for d in self._sg_people(mail, p)]
        if any(d.email.lower() in self.refused for d in found):
            raise _sg_error("Does not contain a valid address.", "personalizations.to",
                            len(people))
        self._deliver(found)
        return len(people), (202, {"X-Message-Id": uuid.uuid4().hex}, b"")

    def _sg_people(self, mail: dict[str, Any], person: dict[str, Any]) -> list[Delivered]:
        subs = person.get("substitutions", {})
        if not all(isinstance(v, str) for v in subs.values()):
            raise _sg_error("The substitution values must be an object of key/value pairs, "
                            "where the values are all strings.", "personalizations.substitutions")
        pattern = re.compile("|".join(re.escape(k) for k in sorted(subs, key=len, reverse=True)))

        def fill(text: str) -> str:
            return pattern.sub(lambda m: subs[m.group(0)], text) if subs else text

        parts = {c["type"]: fill(c["value"]) for c in mail["content"]}
        headers = {**mail.get("headers", {}), **person.get("headers", {})}
        if "reply_to" in mail:
            headers["Reply-To"] = mail["reply_to"]["email"]
        sender = mail["from"]
        return [Delivered(to["email"], f"{to.get('name', '')} <{to['email']}>",
                          f"{sender.get('name', '')} <{sender['email']}>",
                          fill(person.get("subject", mail["subject"])),
                          parts.get("text/html", ""), parts.get("text/plain", ""), headers,
                          dict(mail.get("tracking_settings", {})))
                for to in person["to"]]

    # Mailgun

    def _mailgun(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Answer]:
        match = re.fullmatch(r"/v3/([^/]+)/messages", path)
        if match is None or match.group(1) != self.domain:
            raise Refused(404, {"message": f"Domain not found: {match and match.group(1)}"})
        if headers.get("authorization") != _basic("api", self.token):
            return 0, self._unauthorized()
        scripted = self._scripted()
        if scripted:
            return 0, scripted
        form = _form(headers.get("content-type", ""), body)
        tos = [v for k, v in form if k == "to"]
        fields = dict(form)
        for name in ("from", "subject"):
            if not fields.get(name):
                raise Refused(400, {"message": f"{name} parameter is missing"})
        if not tos:
            raise Refused(400, {"message": "to parameter is missing"})
        if len(tos) > LIMITS["mailgun"]:
            raise Refused(400, {"message": "Too many recipients: the maximum for batch "
                                           "sending is 1000"})
        variables = json.loads(fields.get("recipient-variables", "{}"))
        found = [self._mg_one(to, fields, variables) for to in tos]
        if any(d.email.lower() in self.refused for d in found):
            raise Refused(400, {"message": "to parameter is not a valid address. please check "
                                           "documentation"}, len(tos))
        self._deliver(found)
        queued = f"<{uuid.uuid4().hex}@{self.domain}>"
        return len(tos), _json_answer(200, {"id": queued, "message": "Queued. Thank you."})

    @staticmethod
    def _mg_one(to: str, fields: dict[str, str], variables: dict[str, Any]) -> Delivered:
        email = parseaddr(to)[1]
        mine = variables.get(email, {})

        def fill(text: str) -> str:
            return re.sub(r"%recipient\.([\w.:-]+)%", lambda m: str(mine.get(m.group(1), "")),
                          text)

        headers = {k[2:]: fill(v) for k, v in fields.items() if k.startswith("h:")}
        tracking = {k: v for k, v in fields.items() if k.startswith("o:tracking")}
        return Delivered(email, to, fields["from"], fill(fields["subject"]),
                         fill(fields.get("html", "")), fill(fields.get("text", "")), headers,
                         tracking)


def _json_answer(status: int, body: Any) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _load_json(body: bytes, error: Any) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise error() from None


def _sg_error(message: str, field_name: str | None, size: int = 0) -> Refused:
    return Refused(400, {"errors": [{"message": message, "field": field_name, "help": None}]},
                   size)


def _sg_check(mail: dict[str, Any]) -> None:
    if not isinstance(mail.get("from"), dict) or "email" not in mail["from"]:
        raise _sg_error("The from object must be provided for every email send.", "from")
    types = [c.get("type") for c in mail.get("content", [])]
    if not types or not all(c.get("value") for c in mail["content"]):
        raise _sg_error("There must be at least one defined content block.", "content")
    if "text/plain" in types and types.index("text/plain") != 0:
        raise _sg_error("text/plain needs to be first, followed by text/html", "content")
    blocks = [mail.get("headers", {})] + [p.get("headers", {}) for p in mail["personalizations"]]
    if any(k.lower() in SENDGRID_RESERVED for block in blocks for k in block):
        raise _sg_error("Header cannot be one of the reserved keys.", "headers")
    emails = [t["email"].lower() for p in mail["personalizations"] for t in p.get("to", [])]
    if len(emails) != len(set(emails)):
        raise _sg_error("Each unique email address in the personalizations array should only "
                        "be included once.", "personalizations")
    subs = sum(len(p.get("substitutions", {})) for p in mail["personalizations"])
    if subs > 10_000:
        raise _sg_error("You are limited to 10,000 substitutions.", "personalizations")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _form(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """Fields of a multipart/form-data (RFC 7578) or urlencoded body, in order."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        return parse_qsl(body.decode(), keep_blank_values=True)
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or match is None:
        raise Refused(400, {"message": "expected multipart/form-data"})
    fields = []
    for part in body.split(b"--" + match.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        # Each part sits between the CRLF ending the boundary line and the CRLF before the next.
        head, _, value = part[2:-2].partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        if name is None:
            raise Refused(400, {"message": "a form field without a name"})
        fields.append((name.group(1).decode(), value.decode("utf-8")))
    return fields


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    block_on_close = False
    fake: FakeApi


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # http.server otherwise stalls ~40 ms per keep-alive answer
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.server.fake.take_stall():
            self.server.fake.hold()
            self.close_connection = True
            return
        status, headers, data = self.server.fake.answer(self.path, dict(self.headers.items()),
                                                        body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeApiProcess:
    """A fake in its own process (so it does not share our GIL), counting only.

    ``base_url``; ``stats()`` -> {"requests", "sizes", "statuses", "counts"}.
    """

    def __init__(self, provider: str, token: str, domain: str = "mg.example.org") -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child, provider, token, domain),
                                    daemon=True)
        self.base_url = ""

    def __enter__(self) -> FakeApiProcess:
        self._process.start()
        if not self._conn.poll(30):
            raise RuntimeError("the fake API process did not start")
        self.base_url = self._conn.recv()
        return self

    def stats(self) -> dict[str, Any]:
        self._conn.send("stats")
        return dict(self._conn.recv())

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._process.join(timeout=10)


def _serve(conn: Connection, provider: str, token: str, domain: str) -> None:
    with FakeApi(provider, token=token, domain=domain, keep=False) as fake:
        conn.send(fake.base_url)
        while (request := conn.recv()) != "stop":
            with fake._lock:
                stats = {"requests": len(fake.requests), "sizes": [s.size for s in fake.requests],
                         "statuses": Counter(s.status for s in fake.requests),
                         "counts": Counter(fake.counts)}
            conn.send(stats if request == "stats" else None)
