"""The archive page and the welcome message in headless Chromium against `digest serve` and a
real SMTP server, checked by axe-core in light and dark mode."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from digest import app as pipeline
from digest.issues import drafts
from support.browser import (
    ARTIFACTS,
    Site,
    axe_violations,
    chromium,
    confirm_link,
    describe,
    free_port,
    make_site,
    require_browser,
    serve_process,
    set_dark,
    write_serve_config,
)
from support.smtpserver import CountingHandler, SmtpServer

EMAIL_ONLY_OFF = ("region", "landmark-one-main")  # an email body is not a whole web page


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    require_browser()
    with SmtpServer(CountingHandler(keep=True)) as server:
        yield server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Site:
    site = make_site(tmp_path_factory.mktemp("site"), smtp.port)
    issue = site.make_draft()
    with site.store() as store:
        drafts.approve(store, issue.id, site.clock())
        drafts.start_sending(store, issue.id)
        deps = pipeline.Deps(clock=site.clock, sender_factory=site.sender_factory())
        pipeline.deliver_issue(site.settings, store, store.get_issue(issue.id), deps)
        store.finish_issue(issue.id, site.clock())
    return site


@pytest.fixture(scope="module")
def server(site: Site) -> Iterator[str]:
    port = free_port()
    with serve_process(write_serve_config(site, port), port) as base:
        yield base


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, server: str) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium")) as driver:
        driver.set_script_timeout(30)
        yield driver


def check_axe(driver: Any, what: str, disabled: tuple[str, ...] = ()) -> None:
    for dark in (False, True):
        set_dark(driver, dark)
        violations = axe_violations(driver, disabled)
        assert not violations, f"{what} ({'dark' if dark else 'light'}): {describe(violations)}"
    set_dark(driver, False)


def test_the_archive_page_and_latest(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/issues")
    check_axe(browser, "archive page")
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "archive.png"))
    links = browser.find_elements(By.CSS_SELECTOR, "main table a")
    assert [urlsplit(a.get_attribute("href")).path for a in links] == ["/issues/1"]
    browser.get(f"{server}/issues/latest")
    assert urlsplit(browser.current_url).path == "/issues/1"


def arrived(handler: CountingHandler, email: str, marker: bytes) -> Callable[[], list[bytes]]:
    return lambda: [data for rcpt, data in handler.messages if rcpt == email and marker in data]


def wait_for(found: Callable[[], list[bytes]]) -> bytes:
    """The first message found, waiting up to 30 s for the server to hand it over."""
    deadline = time.monotonic() + 30
    while not found() and time.monotonic() < deadline:
        time.sleep(0.05)
    messages = found()
    assert messages, "no such message arrived"
    return messages[0]


def test_the_welcome_message(browser: Any, server: str, smtp: SmtpServer,
                             tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    handler: CountingHandler = smtp.handler
    browser.get(f"{server}/subscribe")
    browser.find_element(By.ID, "email").send_keys("cy@example.org")
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    asked = wait_for(arrived(handler, "cy@example.org", b"Confirm your"))
    link = urlsplit(confirm_link(message_from_bytes(asked, policy=policy.default)))
    browser.get(f"{server}{link.path}?{link.query}")
    browser.find_element(By.CSS_SELECTOR, "main button[type=submit]").click()
    raw = wait_for(arrived(handler, "cy@example.org", b"Welcome to"))
    welcome: EmailMessage = message_from_bytes(raw, policy=policy.default)
    html = welcome.get_body(("html",))
    assert html is not None
    page = tmp_path / "welcome.html"
    page.write_text(html.get_content(), encoding="utf-8")
    browser.get(page.as_uri())
    assert "Welcome, and thank you for subscribing" in browser.page_source
    check_axe(browser, "welcome message", EMAIL_ONLY_OFF)
    assert browser.save_screenshot(str(ARTIFACTS / "welcome.png"))
