"""Shared by the web tests: a site (settings, a real store with posts and readers, drafts), a
feeds.yaml for it and `digest serve` itself in a subprocess on 127.0.0.1, and headless Debian
chromium driven by selenium through /usr/bin/chromedriver (selenium-manager never downloads
anything), with axe-core injected into the pages."""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest

from digest import app as pipeline
from digest.delivery.senders import make_sender
from digest.issues import drafts
from digest.issues.render import Renderer
from digest.mail import addressing
from digest.models import Feed, FetchOutcome, Issue, Post, Subscriber
from digest.settings import DigestSettings, Settings, SmtpSettings
from digest.store import Store

T0 = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
SECRET = b"web-test-secret-0123456789abcdef"
EDITOR_TOKEN = "editor-token-for-tests-0123456789abcdef"
FEED = Feed(url="https://blog.example.org/feed.xml", name="Example Blog")
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = Path(__file__).resolve().parents[2] / ".cache/axe/node_modules/axe-core/axe.min.js"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def post(key: str, days_old: int = 1) -> Post:
    return Post(key=key, feed_url=FEED.url, title=f"Post {key} <b>bold</b>",
                link=f"https://blog.example.org/{key}", author="Ann",
                published=T0 - timedelta(days=days_old),
                summary_html=f"<p>About {key}.</p>", comment_count=2)


@dataclass
class Site:
    """A store with posts and readers, the settings pointing at it, and an SMTP sink."""

    settings: Settings
    clock: Clock
    smtp_port: int
    readers: dict[str, Subscriber] = field(default_factory=dict)

    def store(self) -> Store:
        return Store.open(self.settings.store, clock=self.clock)

    def sender_factory(self) -> Any:
        smtp = SmtpSettings(host="127.0.0.1", port=self.smtp_port, security="none", timeout=5)
        return make_sender("smtp", smtp=smtp, max_attempts=1)

    def make_draft(self) -> Issue:
        with self.store() as store:
            result = drafts.make_draft(store, lambda s, now: pipeline.plan_next(self.settings,
                                                                                 s, now),
                                       Renderer(), self.settings.digest, self.clock())
        assert result is not None
        return result.issue

    def issue(self, issue_id: int) -> Issue:
        with self.store() as store:
            return store.get_issue(issue_id)

    def status(self, email: str) -> str | None:
        with self.store() as store:
            found = store.subscriber_by_email(email)
        return None if found is None else found.status

    def unsubscribe_link(self, email: str) -> str:
        return addressing.recipient_for(self.settings.digest, self.readers[email],
                                        SECRET).unsubscribe_url


def make_site(folder: Path, smtp_port: int, *, base_url: str = "http://testserver",
              posts: int = 3) -> Site:
    digest = DigestSettings(title="Example weekly", from_addr="Example <digest@example.org>",
                            site_url="https://blog.example.org/", intro="Hello **readers**.",
                            unsubscribe_url=f"{base_url}/unsubscribe", public_url=base_url)
    settings = Settings(path=folder / "feeds.yaml", digest=digest, feeds=(FEED,),
                        store=folder / "digest.sqlite3", secret=SECRET, approval="required")
    site = Site(settings, Clock(), smtp_port)
    with site.store() as store:
        store.record_fetch(FetchOutcome(feed=FEED, status="ok",
                                        posts=tuple(post(f"p{n}") for n in range(posts))),
                           T0)
        for email in ("ann@example.org", "bob@example.org"):
            site.readers[email] = store.add_subscriber(email, email.split("@")[0].title())
    return site


def message_to(messages: list[tuple[str, bytes]], address: str) -> EmailMessage:
    found = [data for rcpt, data in messages if rcpt == address]
    assert found, f"no message to {address}; got {[r for r, _ in messages]}"
    msg: EmailMessage = message_from_bytes(found[-1], policy=policy.default)
    return msg


def confirm_link(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    match = re.search(r"https?://\S+/subscribe/confirm\?\S+", body.get_content())
    assert match, body.get_content()
    return match.group(0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def require_browser() -> None:
    """Skip without chromium, chromedriver or axe-core; under CI=true their absence fails."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER, AXE) if not p.exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip)")
    if missing:
        text = "missing for browser tests: " + ", ".join(missing) + " (.ci/install-system-deps)"
        if os.environ.get("CI") == "true":
            pytest.fail(text)
        pytest.skip(text)


@contextmanager
def chromium(home: Path) -> Iterator[Any]:
    """Headless chromium with its profile, cache and config in ``home``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-dev-shm-usage", "--hide-scrollbars",
                 f"--user-data-dir={home / 'profile'}", "--window-size=1280,1000"):
        options.add_argument(flag)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_CACHE_HOME": str(home / "cache"), "SE_AVOID_STATS": "true"}
    service = Service(str(CHROMEDRIVER), env=env)
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(home / "profile", ignore_errors=True)


def set_dark(driver: Any, dark: bool) -> None:
    """Emulate prefers-color-scheme for the page (and its frames) through the DevTools protocol."""
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})


def axe_violations(driver: Any, disabled: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """axe-core's violations on the current page (frames included)."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    rules = {rule: {"enabled": False} for rule in disabled}
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {rules: arguments[0], iframes: false})"
        ".then(r => done(r.violations)).catch(e => done([{id: 'axe-error', help: String(e),"
        " nodes: []}]));", rules)
    return cast(list[dict[str, Any]], result)


def describe(violations: list[dict[str, Any]]) -> str:
    return "; ".join(f"{v['id']}: {v.get('help')} at "
                     + ", ".join(str(n.get("target")) for n in v.get("nodes", [])[:3])
                     for v in violations)


def write_serve_config(site: Site, port: int) -> Path:
    """A feeds.yaml for `digest serve` matching the site: the same store, title and sender."""
    folder = site.settings.store.parent
    path = folder / "feeds.yaml"
    path.write_text("\n".join([
        "digest:",
        f"  title: {site.settings.digest.title}",
        f'  from: "{site.settings.digest.from_addr}"',
        f"  site_url: {site.settings.digest.site_url}",
        "  unsubscribe_url: https://news.example.org/unsubscribe",
        f"  public_url: http://127.0.0.1:{port}",
        "feeds:",
        f"  - url: {FEED.url}",
        f"    name: {FEED.name}",
        f"store: {site.settings.store.name}",
        "approval: required",
        "editors: [ed@example.org]",
        "sender:",
        "  kind: smtp",
        "  smtp:",
        "    host: 127.0.0.1",
        f"    port: {site.smtp_port}",
        "    security: none",
        "    timeout: 5",
    ]) + "\n")
    return path


@contextmanager
def serve_process(config: Path, port: int) -> Iterator[str]:
    """`digest serve` itself, in a subprocess, until it answers on 127.0.0.1:port."""
    import subprocess
    import sys

    env = {**os.environ, "DIGEST_SECRET": SECRET.decode(), "DIGEST_EDITOR_TOKEN": EDITOR_TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "digest", "--config", str(config), "serve",
                             "--port", str(port)], cwd=config.parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out, err = proc.communicate(timeout=5)
                    raise RuntimeError(f"digest serve did not start: {err.decode()}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
