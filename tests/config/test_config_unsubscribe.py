"""Config for signed unsubscribe links (digest.unsubscribe_url, DIGEST_SECRET) and for DKIM."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from digest.config import load
from digest.errors import ConfigError
from digest.mail import addressing
from digest.mail.tokens import read_unsubscribe_token
from digest.models import Subscriber
from digest.settings import Settings
from support.configs import DIGEST, FEEDS
from support.dkimkeys import DkimKey

NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
SECRET = "a-long-enough-secret-for-tests"
ENV = {"DIGEST_SECRET": SECRET}
HEAD = DIGEST + "{digest}" + FEEDS + "{rest}"
PAGE = "  unsubscribe_url: https://example.org/unsubscribe\n"


def _load(folder: Path, digest: str = "", rest: str = "",
          env: dict[str, str] | None = None) -> Settings:
    path = folder / "feeds.yaml"
    path.write_text(HEAD.format(digest=digest, rest=rest), encoding="utf-8")
    return load(path, ENV if env is None else env)


def _error(folder: Path, digest: str = "", rest: str = "",
           env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(folder, digest, rest, env)
    return str(caught.value)


def test_signed_unsubscribe_page_and_secret_load(tmp_path: Path) -> None:
    settings = _load(tmp_path, PAGE + "  unsubscribe_mailto: mailto:leave@example.org\n")
    assert settings.digest.unsubscribe_url == "https://example.org/unsubscribe"
    assert settings.digest.unsubscribe_mailto == "mailto:leave@example.org"
    assert settings.secret == SECRET.encode()
    assert SECRET not in repr(settings)


def test_each_reader_gets_a_signed_link(tmp_path: Path) -> None:
    settings = _load(tmp_path, PAGE)
    ann = Subscriber(7, "ann@example.org", "Ann")
    url = addressing.recipient_for(settings.digest, ann, settings.secret).unsubscribe_url
    parts = urlsplit(url)
    assert url.startswith("https://example.org/unsubscribe?token=")
    [token] = parse_qs(parts.query)["token"]
    assert settings.secret is not None
    found = read_unsubscribe_token(settings.secret, token,
                                   list_id=addressing.list_id(settings.digest),
                                   lookup={7: ann}.get, now=NOW)
    assert found == ann
    # A page that has a query of its own gets the token as one more parameter.
    query = _load(tmp_path, "  unsubscribe_url: https://example.org/u?list=weekly\n")
    url = addressing.recipient_for(query.digest, ann, query.secret).unsubscribe_url
    assert parse_qs(urlsplit(url).query)["list"] == ["weekly"]
    assert parse_qs(urlsplit(url).query)["token"] == [token]


def test_the_older_unsubscribe_key_still_works(tmp_path: Path) -> None:
    old = _load(tmp_path, "  unsubscribe: mailto:leave@example.org\n", env={})
    assert addressing.unsubscribe_mailto(old.digest) == "mailto:leave@example.org"
    assert addressing.list_unsubscribe_mailto(old.digest) == \
        "mailto:leave@example.org?subject=unsubscribe"
    ann = Subscriber(1, "ann@example.org", "")
    assert addressing.recipient_for(old.digest, ann).unsubscribe_url == \
        "mailto:leave@example.org?subject=unsubscribe%20ann%40example.org"
    # unsubscribe_mailto wins over it; unsubscribe_url wins for the link.
    both = _load(tmp_path, "  unsubscribe: mailto:old@example.org\n" + PAGE
                 + "  unsubscribe_mailto: mailto:new@example.org?subject=stop\n")
    assert addressing.list_unsubscribe_mailto(both.digest) == \
        "mailto:new@example.org?subject=stop"
    assert addressing.recipient_for(both.digest, ann, both.secret).unsubscribe_url.startswith(
        "https://example.org/unsubscribe?token=")


@pytest.mark.parametrize("env, says", [
    ({}, "DIGEST_SECRET to sign each reader's link, and it is not set"),
    ({"DIGEST_SECRET": ""}, "it is empty"),
    ({"DIGEST_SECRET": "short-secret"}, "DIGEST_SECRET is too short: it needs at least 16"),
])
def test_the_page_needs_a_good_secret(tmp_path: Path, env: dict[str, str], says: str) -> None:
    message = _error(tmp_path, PAGE, env=env)
    assert "feeds.yaml:5: digest.unsubscribe_url: " in message and says in message
    assert "short-secret" not in message


def test_a_short_secret_is_refused_even_without_the_page(tmp_path: Path) -> None:
    message = _error(tmp_path, env={"DIGEST_SECRET": "tiny-secret"})
    assert "DIGEST_SECRET is too short" in message and "tiny-secret" not in message


@pytest.mark.parametrize("line, says", [
    ("  unsubscribe_url: http://example.org/unsubscribe\n", "expected an https:// URL"),
    ("  unsubscribe_url: https://example.org/u#top\n", "without a #fragment"),
    ("  unsubscribe_url: mailto:leave@example.org\n", "expected an https:// URL"),
    ("  unsubscribe_url: https://example.org/" + "a" * 300 + "\n", "at most 300 characters"),
    ("  unsubscribe_mailto: https://example.org/u\n", "expected mailto:ADDRESS"),
    ("  unsubscribe_mailto: mailto:not-an-address\n", "expected mailto:ADDRESS"),
])
def test_bad_unsubscribe_values_are_named(tmp_path: Path, line: str, says: str) -> None:
    key = line.split(":")[0].strip()
    message = _error(tmp_path, line)
    assert f"feeds.yaml:5: digest.{key}: " in message and says in message


def _dkim(**keys: str) -> str:
    return "dkim:\n" + "".join(f"  {name}: {value}\n" for name, value in keys.items())


def test_dkim_key_from_a_file_beside_the_config(tmp_path: Path, key: DkimKey) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "dkim.pem").write_bytes(key.pem)
    settings = _load(tmp_path, rest=_dkim(domain="Example.org", selector="digest2024",
                                          private_key_file="keys/dkim.pem"))
    assert settings.dkim is not None
    assert (settings.dkim.domain, settings.dkim.selector) == ("example.org", "digest2024")
    assert settings.dkim.private_key == key.pem
    assert key.pem.decode() not in repr(settings)


def test_dkim_key_from_the_environment(tmp_path: Path, key: DkimKey) -> None:
    rest = _dkim(domain="example.org", selector="s1", private_key_env="DKIM_KEY")
    settings = _load(tmp_path, rest=rest, env={"DKIM_KEY": key.pem.decode()})
    assert settings.dkim is not None and settings.dkim.private_key == key.pem
    # A secrets store that keeps the line breaks as the two characters \n works too.
    one_line = key.pem.decode().replace("\n", "\\n")
    settings = _load(tmp_path, rest=rest, env={"DKIM_KEY": one_line})
    assert settings.dkim is not None and settings.dkim.private_key == key.pem


def _ec_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


@pytest.mark.parametrize("keys, env, file, says", [
    ({"private_key_file": "dkim.pem", "private_key_env": "DKIM_KEY"}, {}, None,
     "feeds.yaml:11: dkim: set exactly one of private_key_file and private_key_env (both"),
    ({}, {}, None, "feeds.yaml:7: dkim: set exactly one of private_key_file and "
                   "private_key_env (neither"),
    ({"private_key_file": "missing.pem"}, {}, None, "dkim.private_key_file: no key file at"),
    ({"private_key_file": "dkim.pem"}, {}, b"hello", "dkim.pem: not a PEM private key"),
    ({"private_key_file": "dkim.pem"}, {}, "ec", "dkim.pem: not an RSA key"),
    ({"private_key_env": "DKIM_KEY"}, {}, None, "DKIM_KEY is not set"),
    ({"private_key_env": "DKIM_KEY"}, {"DKIM_KEY": "garbage"}, None,
     "the environment variable DKIM_KEY: not a PEM private key"),
    ({"private_key_env": "the key itself"}, {}, None, "expected the NAME of an environment"),
])
def test_bad_dkim_keys_are_named(tmp_path: Path, keys: dict[str, str], env: dict[str, str],
                                 file: bytes | str | None, says: str) -> None:
    if file is not None:
        pem = _ec_pem() if isinstance(file, str) else file
        (tmp_path / "dkim.pem").write_bytes(pem)
    rest = _dkim(domain="example.org", selector="s1", **keys)
    message = _error(tmp_path, rest=rest, env={**ENV, **env})
    assert says in message
    if file == "ec":
        body = (tmp_path / "dkim.pem").read_text().splitlines()[1]
        assert body not in message


def test_a_key_pasted_in_place_of_its_file_name_is_not_echoed(tmp_path: Path,
                                                              key: DkimKey) -> None:
    pasted = "|\n" + "".join("    " + line + "\n" for line in key.pem.decode().splitlines())
    message = _error(tmp_path, rest="dkim:\n  domain: example.org\n  selector: s1\n"
                                    "  private_key_file: " + pasted)
    assert "looks like the key itself" in message
    assert not any(line in message for line in key.pem.decode().splitlines()[1:-1])


@pytest.mark.parametrize("keys, says", [
    ({"selector": "s1", "private_key_env": "K"}, "dkim.domain: required key is missing"),
    ({"domain": "example.org", "private_key_env": "K"}, "dkim.selector: required key is missing"),
    ({"domain": "example.org", "selector": "bad selector!", "private_key_env": "K"},
     "expected a DKIM selector"),
    ({"domain": "not a domain", "selector": "s1", "private_key_env": "K"}, "dkim.domain"),
])
def test_bad_dkim_names_are_named(tmp_path: Path, keys: dict[str, str], says: str) -> None:
    assert says in _error(tmp_path, rest=_dkim(**keys))
