"""Editor credentials over HTTP (Starlette's test client on the real app, a real store): one
limiter for every way of presenting the token that counts wrong tokens only, sessions kept in
the store and ended by logout or a new editor token, a minimum token length, and client
addresses from a trusted proxy only."""

from __future__ import annotations

import sqlite3
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from digest.errors import ConfigError
from digest.web import Limits, create_app
from digest.web.security import SESSION_COOKIE, trusted_proxies
from support.browser import EDITOR_TOKEN, Site

WRONG = "w" * 40
OTHER_TOKEN = "another-editor-token-0123456789-abcdefgh"


def client_for(site: Site, *, token: str = EDITOR_TOKEN, limits: Limits | None = None,
               proxies: list[str] | None = None,
               address: str = "127.0.0.1") -> TestClient:
    app = create_app(site.settings, site.sender_factory(), editor_token=token,
                     base_url="http://testserver", clock=site.clock, limits=limits,
                     forwarded_allow_ips=proxies)
    return TestClient(app, follow_redirects=False, client=(address, 50000))


def bearer(client: TestClient, token: str, forwarded: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    if forwarded:
        headers["X-Forwarded-For"] = forwarded
    return int(client.get("/editor/", headers=headers).status_code)


def form_login(client: TestClient, token: str) -> int:
    return int(client.post("/editor/login", data={"token": token, "next": "/editor/"})
               .status_code)


# --- one limiter, wrong tokens only --------------------------------------------------------------

def test_bearer_guesses_are_limited_and_share_the_forms_limit(site: Site) -> None:
    client = client_for(site, limits=Limits(logins=3))
    assert [bearer(client, WRONG) for _ in range(2)] == [401, 401]
    assert form_login(client, WRONG) == 401  # the third wrong token, by the form
    assert bearer(client, WRONG) == 429
    assert bearer(client, EDITOR_TOKEN) == 429  # not even compared past the limit
    assert form_login(client, EDITOR_TOKEN) == 429
    assert SESSION_COOKIE not in client.cookies


def test_right_tokens_never_count_so_the_editor_is_never_locked_out(site: Site) -> None:
    client = client_for(site, limits=Limits(logins=2))
    for _ in range(10):
        assert form_login(client, EDITOR_TOKEN) == 303
        assert bearer(client, EDITOR_TOKEN) == 200
    assert [bearer(client, WRONG) for _ in range(3)] == [401, 401, 429]


def test_a_logged_in_editor_keeps_working_while_guesses_are_refused(site: Site) -> None:
    client = client_for(site, limits=Limits(logins=2))
    assert form_login(client, EDITOR_TOKEN) == 303
    guesser = TestClient(client.app, follow_redirects=False, client=("127.0.0.1", 50001))
    assert [bearer(guesser, WRONG) for _ in range(3)] == [401, 401, 429]
    assert client.get("/editor/").status_code == 200  # the session cookie is not a guess


# --- sessions in the store -----------------------------------------------------------------------

def test_logout_ends_the_session_even_for_a_copied_cookie(site: Site) -> None:
    client = client_for(site)
    assert form_login(client, EDITOR_TOKEN) == 303
    cookie = client.cookies[SESSION_COOKIE]
    page = client.get("/editor/").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert client.post("/editor/logout", data={"csrf": csrf}).status_code == 303
    copy = client_for(site)
    copy.cookies.set(SESSION_COOKIE, cookie, path="/editor")
    assert copy.get("/editor/").status_code == 401


def test_a_new_editor_token_ends_every_session_and_keeps_unsubscribe_links(site: Site) -> None:
    client = client_for(site)
    assert form_login(client, EDITOR_TOKEN) == 303
    cookie = client.cookies[SESSION_COOKIE]
    link = site.unsubscribe_link("ann@example.org")
    restarted = client_for(site, token=OTHER_TOKEN)  # `digest serve` with the new token
    restarted.cookies.set(SESSION_COOKIE, cookie, path="/editor")
    assert restarted.get("/editor/").status_code == 401
    assert bearer(restarted, EDITOR_TOKEN) == 401 and bearer(restarted, OTHER_TOKEN) == 200
    # DIGEST_SECRET did not change: the links already sent still work.
    token = link.split("token=", 1)[1]
    response = restarted.post("/unsubscribe", params={"token": token},
                              data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and site.status("ann@example.org") == "unsubscribed"


def test_the_store_keeps_no_session_id_and_no_editor_token(site: Site) -> None:
    client = client_for(site)
    assert form_login(client, EDITOR_TOKEN) == 303
    with sqlite3.connect(site.settings.store) as conn:
        rows = conn.execute("SELECT * FROM editor_sessions").fetchall()
    assert len(rows) == 1
    stored = " ".join(str(v) for v in rows[0])
    assert EDITOR_TOKEN not in stored
    from digest.mail import tokens
    nonce = str(tokens.unverified_payload(client.cookies[SESSION_COOKIE])["n"])
    assert nonce not in stored


def test_a_forged_session_for_an_id_the_store_does_not_know_is_refused(site: Site) -> None:
    from digest.mail import tokens
    from support.browser import SECRET

    client = client_for(site)
    forged = tokens.sign(SECRET, "editor-session", {"n": "made-up-session-id"},
                         expires_at=site.clock().replace(year=2030))
    client.cookies.set(SESSION_COOKIE, forged, path="/editor")
    assert client.get("/editor/").status_code == 401


# --- the token itself ----------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["1234", "x" * 31, " " + "y" * 40, "z" * 20 + "\n" + "z" * 20])
def test_a_short_or_untidy_editor_token_is_refused_with_the_fix(site: Site, token: str) -> None:
    with pytest.raises(ConfigError, match=r"secrets\.token_urlsafe\(32\)"):
        client_for(site, token=token)


def test_serve_refuses_a_short_token_and_check_reports_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from support.e2e import digest, write_config

    config = write_config(tmp_path, ["https://blog.example.org/feed.xml"])
    monkeypatch.setenv("DIGEST_SECRET", "s" * 32)
    monkeypatch.setenv("DIGEST_EDITOR_TOKEN", "1234")
    served = digest(config, "serve", "--port", "0")
    assert served.code == 2
    assert "DIGEST_EDITOR_TOKEN is too short (4 characters)" in served.err
    assert "secrets.token_urlsafe(32)" in served.err
    checked = digest(config, "check")
    assert checked.code == 1 and "DIGEST_EDITOR_TOKEN is too short" in checked.out


# --- behind a proxy ------------------------------------------------------------------------------

def test_behind_a_trusted_proxy_limits_key_on_the_forwarded_client(site: Site) -> None:
    client = client_for(site, limits=Limits(logins=2), proxies=["127.0.0.1"])
    assert [bearer(client, WRONG, "203.0.113.5") for _ in range(3)] == [401, 401, 429]
    assert bearer(client, WRONG, "203.0.113.6") == 401  # another visitor, not locked out
    assert bearer(client, EDITOR_TOKEN, "203.0.113.7") == 200


def test_without_proxy_headers_x_forwarded_for_is_ignored(site: Site) -> None:
    client = client_for(site, limits=Limits(logins=2))
    assert bearer(client, WRONG, "203.0.113.5") == 401
    assert bearer(client, WRONG, "203.0.113.6") == 401
    assert bearer(client, WRONG, "203.0.113.7") == 429  # one client, whatever it claims


def test_a_client_that_is_not_the_proxy_cannot_choose_its_address(site: Site) -> None:
    client = client_for(site, limits=Limits(logins=2), proxies=["127.0.0.1"],
                        address="198.51.100.9")
    assert [bearer(client, WRONG, f"203.0.113.{n}") for n in range(3)] == [401, 401, 429]


@pytest.mark.parametrize(("value", "error"), [("*", "trust every client"),
                                              ("proxy.local", "not an IP address"),
                                              (" , ", "names no address")])
def test_forwarded_allow_ips_must_name_proxies(value: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        trusted_proxies(value)


def test_trusted_proxies_take_addresses_and_networks() -> None:
    assert trusted_proxies("127.0.0.1, 10.0.0.0/8,::1") == ["127.0.0.1", "10.0.0.0/8", "::1"]


def test_serve_wants_proxy_headers_with_forwarded_allow_ips(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from support.e2e import digest, write_config

    config = write_config(tmp_path, ["https://blog.example.org/feed.xml"])
    monkeypatch.setenv("DIGEST_SECRET", "s" * 32)
    result = digest(config, "serve", "--port", "0", "--forwarded-allow-ips", "10.0.0.1")
    assert result.code == 2 and "only used with --proxy-headers" in result.err
    result = digest(config, "serve", "--port", "0", "--proxy-headers",
                    "--forwarded-allow-ips", "*")
    assert result.code == 2 and "trust every client" in result.err
