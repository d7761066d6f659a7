"""The sender sections of the mail APIs in feeds.yaml: secrets from the environment only, the
section required when kind names it, batch sizes capped at the provider's limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config import load
from digest.errors import ConfigError
from digest.settings import ApiSettings
from support.configs import HEAD

SECRET = "pm-5ecret-t0ken"


def _write(folder: Path, sender: str) -> Path:
    path = folder / "feeds.yaml"
    path.write_text(HEAD + sender, encoding="utf-8")
    return path


def _error(path: Path, env: dict[str, str]) -> str:
    before = sorted(p.name for p in path.parent.iterdir())
    with pytest.raises(ConfigError) as caught:
        load(path, env)
    assert sorted(p.name for p in path.parent.iterdir()) == before  # nothing written
    return str(caught.value)


def test_postmark_with_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "sender:\n  kind: postmark\n  postmark:\n"
                            "    token_env: POSTMARK_TOKEN\n    message_stream: broadcast\n")
    api = load(path, {"POSTMARK_TOKEN": SECRET}).sender.api
    assert api == ApiSettings("postmark", SECRET, "https://api.postmarkapp.com", batch_size=500,
                              message_stream="broadcast", token_env="POSTMARK_TOKEN")
    assert SECRET not in repr(api)


def test_sendgrid_batch_size_is_capped_and_base_url_kept(tmp_path: Path) -> None:
    path = _write(tmp_path, "sender:\n  kind: sendgrid\n  sendgrid:\n"
                            "    api_key_env: SG_KEY\n    base_url: http://127.0.0.1:8080/\n"
                            "    batch_size: 5000\n    connections: 3\n    timeout: 5\n"
                            "    rate_per_second: 50\n    max_per_hour: 100000\n")
    api = load(path, {"SG_KEY": "k"}).sender.api
    assert api is not None
    assert (api.kind, api.base_url, api.batch_size, api.connections) == (
        "sendgrid", "http://127.0.0.1:8080", 1000, 3)
    assert (api.timeout, api.rate_per_second, api.max_per_hour) == (5.0, 50.0, 100000)


def test_mailgun_needs_its_domain(tmp_path: Path) -> None:
    good = _write(tmp_path, "sender:\n  kind: mailgun\n  mailgun:\n    api_key_env: MG\n"
                            "    domain: mg.example.org\n    batch_size: 200\n")
    api = load(good, {"MG": "k"}).sender.api
    assert api is not None and (api.domain, api.batch_size) == ("mg.example.org", 200)
    assert api.base_url == "https://api.mailgun.net"
    bad = _write(tmp_path, "sender:\n  kind: mailgun\n  mailgun:\n    api_key_env: MG\n")
    assert "feeds.yaml:9: sender.mailgun.domain: required key is missing" in _error(
        bad, {"MG": "k"})


@pytest.mark.parametrize("kind, needs", [("postmark", "token_env"),
                                         ("sendgrid", "api_key_env"),
                                         ("mailgun", "api_key_env and domain")])
def test_the_section_is_required_when_kind_names_it(tmp_path: Path, kind: str,
                                                    needs: str) -> None:
    path = _write(tmp_path, f"sender:\n  kind: {kind}\n")
    message = _error(path, {})
    assert f"feeds.yaml:8: sender.{kind}: required when kind is {kind}" in message
    assert f"at least {needs}:" in message


@pytest.mark.parametrize("env, state", [({}, "is not set"), ({"POSTMARK_TOKEN": ""}, "is empty")])
def test_the_secret_comes_from_a_set_variable(tmp_path: Path, env: dict[str, str],
                                              state: str) -> None:
    path = _write(tmp_path, "sender:\n  kind: postmark\n  postmark:\n"
                            "    token_env: POSTMARK_TOKEN\n")
    message = _error(path, env)
    assert (f"feeds.yaml:10: sender.postmark.token_env: the environment variable POSTMARK_TOKEN "
            f"{state}; it must hold the server token") in message


def test_secrets_are_never_echoed(tmp_path: Path) -> None:
    # A token written where the variable's name belongs, a token under a key of its own, and
    # an error elsewhere while the variable holds the token: none of them shows the token.
    path = _write(tmp_path, "sender:\n  kind: postmark\n  postmark:\n"
                            f"    token_env: {SECRET}\n    token: {SECRET}\n"
                            "    batch_size: many\n")
    message = _error(path, {"POSTMARK_TOKEN": SECRET})
    assert "sender.postmark.token_env: expected the NAME of an environment variable" in message
    assert "sender.postmark.token: unknown key" in message
    assert "sender.postmark.batch_size: expected a whole number" in message
    assert SECRET not in message


def test_plain_http_only_to_this_machine(tmp_path: Path) -> None:
    path = _write(tmp_path, "sender:\n  kind: sendgrid\n  sendgrid:\n    api_key_env: SG\n"
                            "    base_url: http://api.sendgrid.com\n")
    assert "sender.sendgrid.base_url: expected an https:// URL" in _error(path, {"SG": "k"})


def test_a_section_for_another_kind_is_checked_but_needs_no_secret(tmp_path: Path) -> None:
    path = _write(tmp_path, "sender:\n  kind: outbox\n  postmark:\n    token_env: UNSET_VAR\n")
    sender = load(path, {}).sender
    assert sender.kind == "outbox" and sender.api is None
    bad = _write(tmp_path, "sender:\n  kind: outbox\n  sendgrid:\n    api_key_env: SG\n"
                           "    batch_size: 0\n")
    assert "sender.sendgrid.batch_size: expected a whole number >= 1" in _error(bad, {})


def test_unknown_kind_lists_the_apis(tmp_path: Path) -> None:
    path = _write(tmp_path, "sender:\n  kind: mandrill\n")
    assert "expected outbox or smtp or postmark or sendgrid or mailgun" in _error(path, {})
