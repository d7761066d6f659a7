"""Every sender fills every placeholder, through the real `digest run`: the outbox, SMTP into a
real server on 127.0.0.1, and Postmark, SendGrid and Mailgun against local fakes of their APIs.

With digest.public_url set, each reader's copy must carry the issue's real web-version link (the
address the web app serves the issue at) and no placeholder of any kind, in any part or header.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

with warnings.catch_warnings():  # the test client still speaks httpx 0.28, which is installed
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from digest import config, models
from digest.delivery.loop import DeliveryOptions, deliver
from digest.delivery.senders import SenderFactory, make_sender
from digest.mail.addressing import content_hash
from digest.mail.fill import PLACEHOLDER_RE, IssueValues
from digest.mail.message import MessageTemplate
from digest.models import Delivery, Recipient, RenderedIssue
from digest.settings import ApiSettings, SmtpSettings
from digest.store import Store
from digest.subscribers import SubscriberRow
from digest.web import create_app
from support.e2e import DATA, expected_posts, parse, write_config
from support.fakeapis import FakeApi, api_kind
from support.feedserver import FeedServer, Route
from support.smtpserver import CountingHandler, SmtpServer

PUBLIC_URL = "https://news.example.org"
SECRET = "fill-test-secret-0123456789abcdef"
READERS = {"ann@example.org": "Ann Lee", "bob@example.org": "Bob Ørsted", "cy@example.org": "",
           "pct@example.org": "100% %%DIGEST_WEB_VERSION_URL%% sure"}
SENDERS = ("outbox", "smtp", "postmark", "sendgrid", "mailgun")
API_KEYS = {"postmark": ("token_env", "POSTMARK_TOKEN"), "sendgrid": ("api_key_env", "SG_KEY"),
            "mailgun": ("api_key_env", "MG_KEY")}
# Any placeholder shape digest or a provider uses: %%DIGEST_...%%, SendGrid tags, Mailgun's
# %recipient.x% variables.
LEFTOVER = re.compile(rf"{PLACEHOLDER_RE.pattern}|%recipient\.[\w.]+%|%%")


@dataclass(frozen=True)
class Copy:
    """What one reader received, whichever way it travelled."""

    email: str
    html: str
    text: str
    headers: dict[str, str]


@pytest.fixture
def feed_url() -> Iterator[str]:
    with FeedServer() as feeds:
        yield feeds.route("/wp.rss", Route(body=(DATA / "wordpress.rss").read_bytes()))


def configure(folder: Path, feed_url: str, kind: str, *, port: int | None = None,
              base_url: str = "") -> Path:
    csv = "email,name\n" + "".join(f"{e},{n}\n" for e, n in READERS.items())
    path = write_config(folder, [feed_url], smtp_port=port, subscribers=csv)
    text = path.read_text().replace(
        "  max_posts: 10\n", f"  max_posts: 10\n  public_url: {PUBLIC_URL}\n"
        f"  unsubscribe_url: {PUBLIC_URL}/unsubscribe\n")
    if kind in API_KEYS:
        key, env = API_KEYS[kind]
        section = [f"  kind: {kind}", f"  {kind}:", f"    {key}: {env}",
                   f"    base_url: {base_url}", "    batch_size: 3"]
        if kind == "mailgun":
            section.append("    domain: mg.example.org")
        text = text.replace("  kind: outbox\n  outbox: outbox/\n", "\n".join(section) + "\n")
    path.write_text(text)
    return path


def run(path: Path, env: dict[str, str]) -> None:
    proc = subprocess.run([sys.executable, "-m", "digest", "--config", str(path), "run"],
                          capture_output=True, text=True, timeout=120, cwd=path.parent,
                          env={**os.environ, "DIGEST_SECRET": SECRET, **env})
    assert proc.returncode == 0, proc.stderr


def from_mime(raw: bytes) -> Copy:
    message = parse(raw)
    parts = {p.get_content_type(): str(p.get_content()) for p in message.walk()
             if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    # Raw too: a placeholder in a header, or cut by a soft break, shows there.
    headers = {k.lower(): str(v) for k, v in message.items()} | {"raw": raw.decode()}
    return Copy(message["To"].addresses[0].addr_spec, parts["text/html"],
                parts["text/plain"].replace("\r\n", "\n"), headers)


def received(kind: str, tmp_path: Path, feed_url: str) -> list[Copy]:
    """Run `digest run` once with ``kind`` as the sender; every reader's copy."""
    if kind == "outbox":
        run(configure(tmp_path, feed_url, kind), {})
        return [from_mime(p.read_bytes()) for p in sorted((tmp_path / "outbox").glob("*.eml"))]
    if kind == "smtp":
        handler = CountingHandler(keep=True)
        with SmtpServer(handler) as server:
            run(configure(tmp_path, feed_url, kind, port=server.port), {})
        return [from_mime(raw) for _, raw in handler.messages]
    with FakeApi(kind, token=f"{kind}-token") as api:
        run(configure(tmp_path, feed_url, kind, base_url=api.base_url),
            {API_KEYS[kind][1]: api.token})
    return [Copy(d.email, d.html, d.text, {k.lower(): v for k, v in d.headers.items()}
                 | {"to": d.to, "subject": d.subject}) for d in api.delivered]


def served(path: Path, link: str) -> str:
    """The page the web app serves at ``link`` for the store of the config at ``path``."""
    keys = {env: "unused" for _, env in API_KEYS.values()}
    settings = config.load(path, {"DIGEST_SECRET": SECRET, **keys})
    app = create_app(settings, make_sender("outbox", outbox_dir=path.parent / "unused"),
                     editor_token=None, base_url=PUBLIC_URL)
    parts = urlsplit(link)
    with TestClient(app, base_url=f"{parts.scheme}://{parts.netloc}") as client:
        response = client.get(parts.path)
    assert response.status_code == 200, (link, response.status_code)
    return str(response.text)


@pytest.mark.parametrize("kind", SENDERS)
def test_every_reader_gets_the_real_web_version_link_and_no_placeholder(
        tmp_path: Path, feed_url: str, kind: str) -> None:
    copies = received(kind, tmp_path, feed_url)
    assert sorted(c.email for c in copies) == sorted(READERS)

    with Store.open(tmp_path / "digest.sqlite3") as store:
        issue = store.last_issue()
    assert issue is not None and issue.status == "sent"
    link = f"{PUBLIC_URL}/issues/{content_hash(issue.subject, issue.html, issue.text)[:12]}"
    page = served(tmp_path / "feeds.yaml", link)
    for post in expected_posts("wordpress"):
        assert post["link"] in page

    for copy in copies:
        assert f"View this issue in your browser: {link}\n" in copy.text, copy.email
        assert f'href="{link}"' in copy.html, copy.email
        everything = "\n".join([copy.html, copy.text, *copy.headers.values()])
        assert not LEFTOVER.findall(everything.replace(READERS[copy.email], "")), copy.email
        # Each reader's own unsubscribe link, the same in the header and the body.
        unsubscribe = re.search(rf"Unsubscribe: ({re.escape(PUBLIC_URL)}/unsubscribe\S+)",
                                copy.text)
        assert unsubscribe is not None, copy.text
        assert parse_qs(urlsplit(unsubscribe.group(1)).query)["token"]
        assert f"<{unsubscribe.group(1)}>" in copy.headers["list-unsubscribe"]
        if READERS[copy.email]:
            assert READERS[copy.email] in copy.headers["to"]



# --- every placeholder digest defines, through every sender ---------------------------------------

NOW = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
FROM = "Example Blog <digest@example.org>"


def every_placeholder() -> list[str]:
    """Each placeholder constant of digest.models: one added later is tested here too."""
    found = {v for v in vars(models).values() if isinstance(v, str) and PLACEHOLDER_RE.fullmatch(v)}
    assert {*models.TOKENS, models.TOKEN_WEB_VERSION} <= found
    return sorted(found)


def with_every_placeholder() -> RenderedIssue:
    tokens = every_placeholder()
    page = "<html><body>" + "".join(f'<p><a href="{t}">{t}</a> {t}</p>' for t in tokens) \
        + "</body></html>"
    return RenderedIssue("Every placeholder", page, "".join(f"{t} ({t})\n" for t in tokens), "",
                         0)


def reader_of(row: Delivery) -> Recipient:
    return Recipient(row.email, row.name, f"https://news.example.org/u?s={row.subscriber_id}")


def deliver_with(kind: str, tmp_path: Path, factory: SenderFactory) -> None:
    store = Store.open(tmp_path / "digest.sqlite3")
    with store:
        store.import_subscribers(SubscriberRow(e, n) for e, n in READERS.items())
        issue = store.create_issue([], with_every_placeholder(), NOW)
        template = MessageTemplate.build(
            with_every_placeholder(), from_addr=FROM, list_id="blog.example.org", reply_to=None,
            date=NOW, list_unsubscribe_mailto="mailto:leave@example.org",
            issue=IssueValues(web_version_url=f"{PUBLIC_URL}/issues/0123456789ab"))
        options = DeliveryOptions(connections=1, mime=kind not in API_KEYS)
        report = deliver(store, issue, template, factory, options=options,
                         recipient_for=reader_of, envelope_from="digest@example.org",
                         clock=lambda: NOW)
    assert report.sent == len(READERS), report


def sent_through(kind: str, tmp_path: Path) -> list[Copy]:
    if kind == "outbox":
        deliver_with(kind, tmp_path, make_sender("outbox", outbox_dir=tmp_path / "out"))
        return [from_mime(p.read_bytes()) for p in (tmp_path / "out").glob("*.eml")]
    if kind == "smtp":
        handler = CountingHandler(keep=True)
        with SmtpServer(handler) as server:
            smtp = SmtpSettings("127.0.0.1", server.port, security="none", timeout=5)
            deliver_with(kind, tmp_path, make_sender("smtp", smtp=smtp))
        return [from_mime(raw) for _, raw in handler.messages]
    with FakeApi(kind, token="t") as api:
        settings = ApiSettings(api_kind(kind), "t", api.base_url,
                               domain=api.domain if kind == "mailgun" else None)
        deliver_with(kind, tmp_path, make_sender(kind, api=settings))
    return [Copy(d.email, d.html, d.text, {k.lower(): v for k, v in d.headers.items()}
                 | {"to": d.to, "subject": d.subject}) for d in api.delivered]


@pytest.mark.parametrize("kind", SENDERS)
def test_no_placeholder_survives_in_any_senders_output(tmp_path: Path, kind: str) -> None:
    copies = sent_through(kind, tmp_path)
    assert sorted(c.email for c in copies) == sorted(READERS)
    for copy in copies:
        everything = "\n".join([copy.html, copy.text, *copy.headers.values()])
        assert LEFTOVER.findall(everything.replace(READERS[copy.email], "")) == [], copy.email
        assert f"{PUBLIC_URL}/issues/0123456789ab ({PUBLIC_URL}/issues/0123456789ab)\n" \
            in copy.text
        assert f"{copy.email} ({copy.email})\n" in copy.text
        name = READERS[copy.email]
        assert f"{name} ({name})\n" in copy.text
        assert f'<a href="{html.escape(name)}">{html.escape(name)}</a>' in copy.html
