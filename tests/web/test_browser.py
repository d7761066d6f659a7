"""The web pages in a real browser: headless Debian chromium (selenium, /usr/bin/chromedriver)
against `digest serve` on 127.0.0.1, with a real SMTP server. Forms and buttons end to end, axe-core
on every page in light and dark mode, and screenshots of the draft preview in test-artifacts/.

`make test` installs chromium, chromedriver and axe-core (.ci/install-system-deps); these tests
skip only where they could not be installed, and fail under CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from digest.issues import drafts
from support.browser import (
    ARTIFACTS,
    EDITOR_TOKEN,
    Site,
    axe_violations,
    chromium,
    confirm_link,
    describe,
    free_port,
    make_site,
    message_to,
    require_browser,
    serve_process,
    set_dark,
    write_serve_config,
)
from support.smtpserver import CountingHandler, SmtpServer

# Rules about a whole page's landmarks: an email body is not a web page, so these two are off
# for the email's own HTML only (the web version and the preview frames).
EMAIL_ONLY_OFF = ("region", "landmark-one-main")


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    require_browser()
    with SmtpServer(CountingHandler(keep=True)) as server:
        yield server


@pytest.fixture(scope="module")
def mail(smtp: SmtpServer) -> CountingHandler:
    handler: CountingHandler = smtp.handler
    return handler


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer) -> Site:
    return make_site(tmp_path_factory.mktemp("site"), smtp.port)


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


def local(server: str, link: str) -> str:
    """A link from a message, pointed at the server under test."""
    parts = urlsplit(link)
    return f"{server}{parts.path}?{parts.query}"


def check_axe(driver: Any, what: str, disabled: tuple[str, ...] = ()) -> None:
    for dark in (False, True):
        set_dark(driver, dark)
        violations = axe_violations(driver, disabled)
        assert not violations, f"{what} ({'dark' if dark else 'light'}): {describe(violations)}"
    set_dark(driver, False)


def go(driver: Any, element: Any) -> None:
    """Click something that loads a new page, and wait until that page has loaded."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def replaced(_: Any) -> bool:
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException:
            return False  # asked mid-navigation (the old node half gone): ask again
        return False

    def loaded(_: Any) -> bool:
        try:
            return bool(driver.execute_script("return document.readyState") == "complete")
        except WebDriverException:
            return False  # the new document is not ready to run scripts yet

    wait = WebDriverWait(driver, 30)
    wait.until(replaced)
    wait.until(loaded)


def text_of(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "main").text)


def test_subscribe_confirm_by_email_and_the_link(browser: Any, server: str, site: Site,
                                                 mail: CountingHandler) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/subscribe")
    check_axe(browser, "subscribe page")
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "subscribe.png"))
    browser.find_element(By.ID, "email").send_keys("cy@example.org")
    browser.find_element(By.ID, "name").send_keys("Cy Young")
    go(browser, browser.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    assert "Check your inbox" in text_of(browser)
    check_axe(browser, "subscribe answer")
    assert site.status("cy@example.org") is None
    browser.get(local(server, confirm_link(message_to(mail.messages, "cy@example.org"))))
    check_axe(browser, "confirmation page")
    assert site.status("cy@example.org") is None
    go(browser, browser.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    assert "You are subscribed" in text_of(browser)
    check_axe(browser, "subscribed page")
    assert site.status("cy@example.org") == "active"


def test_readers_pages_keep_their_footer(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/subscribe")
    assert browser.find_elements(By.CSS_SELECTOR, "footer.foot")
    set_dark(browser, True)
    brand = browser.execute_script(
        "return getComputedStyle(document.querySelector('.brand a')).color")
    set_dark(browser, False)
    assert brand == "rgb(125, 211, 200)"  # the digest's dark-mode teal (#7dd3c8)


def test_a_bad_address_shows_an_accessible_error(browser: Any, server: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/subscribe")
    # The browser's own check would stop the form: this is what a script or old browser sends.
    browser.execute_script("document.getElementById('email').type = 'text'")
    browser.find_element(By.ID, "email").send_keys("nobody@")
    go(browser, browser.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    assert browser.find_element(By.ID, "email-error").text
    check_axe(browser, "subscribe error")


def test_unsubscribe_with_the_pages_button(browser: Any, server: str, site: Site) -> None:
    from selenium.webdriver.common.by import By

    browser.get(local(server, site.unsubscribe_link("bob@example.org")))
    check_axe(browser, "unsubscribe page")
    assert site.status("bob@example.org") == "active"
    go(browser, browser.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    assert "You are unsubscribed" in text_of(browser)
    check_axe(browser, "unsubscribed page")
    assert site.status("bob@example.org") == "unsubscribed"
    browser.get(f"{server}/unsubscribe?token=forged.token")
    assert "not valid" in text_of(browser)
    check_axe(browser, "bad link page")
    browser.get(f"{server}/unsubscribe")
    assert "unsubscribe link at the bottom" in text_of(browser)
    check_axe(browser, "unsubscribe page without a link")


def _shoot(browser: Any, element_id: str, name: str) -> Path:
    from selenium.webdriver.common.by import By

    ARTIFACTS.mkdir(exist_ok=True)
    frame = browser.find_element(By.ID, element_id)
    browser.execute_script("arguments[0].scrollIntoView()", frame)
    path = ARTIFACTS / name
    assert frame.screenshot(str(path))
    assert path.stat().st_size > 5000  # a blank frame compresses to far less
    return path


def _check_email(browser: Any, server: str, path: str) -> None:
    """axe on the email the preview frames show, light and dark (its landmark rules off).

    Email HTML is served sandboxed without scripts, so axe cannot run inside it: the same HTML is
    opened as a page of its own instead.
    """
    import base64

    import httpx

    url = browser.current_url
    response = httpx.get(f"{server}{path}",
                         headers={"Authorization": f"Bearer {EDITOR_TOKEN}"})
    assert response.status_code == 200
    browser.get("data:text/html;charset=utf-8;base64,"
                + base64.b64encode(response.content).decode("ascii"))
    check_axe(browser, "the email", EMAIL_ONLY_OFF)
    browser.get(url)


def _check_editor_page(browser: Any) -> None:
    """The text part exactly as sent: 78-column lines shown whole, none wrapped again; the
    digest's colours; no readers' footer on an editor's page."""
    from selenium.webdriver.common.by import By

    pre = browser.find_element(By.ID, "text-part")
    white, columns, client, lines = browser.execute_script(
        "const p = arguments[0]; const s = document.createElement('span');"
        " s.textContent = '-'.repeat(78); p.appendChild(s);"
        " const w = s.getBoundingClientRect().width; p.removeChild(s);"
        " return [getComputedStyle(p).whiteSpace, w, p.clientWidth - 24,"
        " p.textContent.split('\\n').map(l => l.length)]", pre)
    assert white == "pre"  # lines as sent: longer ones (a URL) scroll, nothing wraps again
    assert 78 in lines  # the separator lines are a full 78 columns, seen whole:
    assert columns <= client, f"78 columns need {columns} px, the box shows {client}"
    assert not browser.find_elements(By.CSS_SELECTOR, "footer.foot")
    brand = browser.execute_script(
        "return getComputedStyle(document.querySelector('.brand a')).color")
    assert brand == "rgb(17, 94, 89)"  # the digest's title colour (#115e59)


def test_editor_login_preview_test_send_and_approve(browser: Any, server: str, site: Site,
                                                    mail: CountingHandler) -> None:
    from selenium.webdriver.common.by import By

    issue = site.make_draft()
    browser.get(f"{server}/editor/draft")
    assert urlsplit(browser.current_url).path == "/editor/login"
    check_axe(browser, "login page")
    browser.find_element(By.ID, "token").send_keys("not the token")
    go(browser, browser.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    assert browser.find_element(By.ID, "token-error").text
    check_axe(browser, "login page with an error")
    browser.find_element(By.ID, "token").send_keys(EDITOR_TOKEN)
    go(browser, browser.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    assert urlsplit(browser.current_url).path == "/editor/draft"
    assert browser.find_element(By.ID, "hash").text == drafts.short_hash(issue.content_hash)
    check_axe(browser, "draft page")
    _check_editor_page(browser)
    _check_email(browser, server, f"/editor/preview/{issue.id}")
    _shoot(browser, "preview-600", "draft-600.png")
    _shoot(browser, "preview-375", "draft-375.png")

    go(browser, browser.find_element(By.LINK_TEXT, "Show dark mode"))
    check_axe(browser, "draft page, dark preview")
    _shoot(browser, "preview-600", "draft-600-dark.png")
    _shoot(browser, "preview-375", "draft-375-dark.png")
    set_dark(browser, True)
    browser.execute_script("window.scrollTo(0, 0)")
    assert browser.save_screenshot(str(ARTIFACTS / "editor-draft-dark.png"))
    set_dark(browser, False)

    browser.find_element(By.ID, "to").send_keys("ed@example.org")
    go(browser, browser.find_element(By.XPATH, "//button[text()='Send a test to me']"))
    assert "Test copy handed to the mail server" in text_of(browser)
    assert message_to(mail.messages, "ed@example.org")["Subject"] == "[TEST] " + issue.subject

    go(browser, browser.find_element(By.ID, "approve"))
    assert "Approved" in text_of(browser)
    approved = site.issue(issue.id)
    assert approved.status == "approved" and approved.approved_hash == issue.content_hash
    check_axe(browser, "approved draft page")


def test_issues_list_and_the_web_version(browser: Any, server: str, site: Site) -> None:
    from selenium.webdriver.common.by import By

    with site.store() as store:
        issue = store.open_draft() or site.make_draft()
        if issue.status == "draft":
            drafts.approve(store, issue.id, site.clock())
        drafts.start_sending(store, issue.id)
    browser.get(f"{server}/editor/")
    if urlsplit(browser.current_url).path == "/editor/login":
        browser.find_element(By.ID, "token").send_keys(EDITOR_TOKEN)
        go(browser, browser.find_element(By.CSS_SELECTOR, "main button[type=submit]"))
    assert "sending" in text_of(browser)
    check_axe(browser, "issues page")
    go(browser, browser.find_element(By.LINK_TEXT, str(issue.id)))
    assert urlsplit(browser.current_url).path == f"/issues/{issue.id}"
    assert "Post p0" in browser.find_element(By.TAG_NAME, "body").text
    _check_email(browser, server, f"/issues/{issue.id}")
    browser.get(f"{server}/editor/")
    go(browser, browser.find_element(By.XPATH, "//button[text()='Log out']"))
    browser.get(f"{server}/editor/")
    assert urlsplit(browser.current_url).path == "/editor/login"
