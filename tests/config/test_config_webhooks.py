"""The webhooks: section of feeds.yaml: each provider's secret read from the environment variable
it names, checked at load time, and never echoed in a message or a repr."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from digest.config import load
from digest.errors import ConfigError
from digest.settings import WebhookSettings
from digest.subscribers.webhooks import WebhookSecrets
from support.configs import HEAD
from support.webhook_samples import MAILGUN_KEY, POSTMARK_AUTH, sendgrid_keys

_, PUBLIC = sendgrid_keys()
FULL = """\
webhooks:
  mailgun_signing_key_env: MG_SIGNING
  sendgrid_public_key_env: SG_VERIFY
  postmark_basic_auth_env: PM_HOOK_AUTH
  max_age: 300
"""
ENV = {"MG_SIGNING": MAILGUN_KEY, "SG_VERIFY": PUBLIC, "PM_HOOK_AUTH": POSTMARK_AUTH}


def _write(folder: Path, section: str) -> Path:
    path = folder / "feeds.yaml"
    path.write_text(HEAD + section, encoding="utf-8")
    return path


def _error(path: Path, env: dict[str, str]) -> str:
    before = sorted(p.name for p in path.parent.iterdir())
    with pytest.raises(ConfigError) as caught:
        load(path, env)
    assert sorted(p.name for p in path.parent.iterdir()) == before  # nothing written
    message = str(caught.value)
    for secret in (MAILGUN_KEY, PUBLIC, "s3cret", *filter(None, env.values())):
        assert secret not in message
    return message


def test_every_secret_is_read_from_its_variable(tmp_path: Path) -> None:
    settings = load(_write(tmp_path, FULL), ENV)
    assert settings.webhooks == WebhookSettings(MAILGUN_KEY, PUBLIC, POSTMARK_AUTH, 300.0)
    for secret in ENV.values():
        assert secret not in repr(settings)
    secrets = WebhookSecrets.from_settings(settings)
    assert (secrets.mailgun_signing_key, secrets.sendgrid_public_key,
            secrets.postmark_basic_auth) == (MAILGUN_KEY, PUBLIC, POSTMARK_AUTH)
    assert secrets.max_age == timedelta(seconds=300)
    assert MAILGUN_KEY not in repr(secrets)


def test_without_the_section_every_provider_is_refused(tmp_path: Path) -> None:
    settings = load(_write(tmp_path, ""), {})
    assert settings.webhooks == WebhookSettings()
    secrets = WebhookSecrets.from_settings(settings)
    assert (secrets.mailgun_signing_key, secrets.sendgrid_public_key,
            secrets.postmark_basic_auth) == (None, None, None)
    assert secrets.max_age == timedelta(minutes=15)


def test_one_provider_alone(tmp_path: Path) -> None:
    path = _write(tmp_path, "webhooks:\n  postmark_basic_auth_env: PM_HOOK_AUTH\n")
    assert load(path, ENV).webhooks == WebhookSettings(postmark_basic_auth=POSTMARK_AUTH)


@pytest.mark.parametrize(("env", "words"), [
    ({}, "webhooks.mailgun_signing_key_env: the environment variable MG_SIGNING is not set"),
    ({"MG_SIGNING": ""}, "the environment variable MG_SIGNING is empty"),
])
def test_a_missing_variable_is_named(tmp_path: Path, env: dict[str, str], words: str) -> None:
    path = _write(tmp_path, "webhooks:\n  mailgun_signing_key_env: MG_SIGNING\n")
    message = _error(path, env)
    assert words in message
    assert "feeds.yaml:8:" in message


def test_postmark_credentials_need_user_and_password(tmp_path: Path) -> None:
    path = _write(tmp_path, "webhooks:\n  postmark_basic_auth_env: PM_HOOK_AUTH\n")
    message = _error(path, {"PM_HOOK_AUTH": "s3cretonly"})
    assert 'PM_HOOK_AUTH must hold "user:password"' in message
    assert "s3cretonly" not in message


@pytest.mark.parametrize("value", ["not-a-key", "c3VyZWx5IG5vdCBhIGtleQ==",
                                   "-----BEGIN PUBLIC KEY-----\ns3cret\n-----END PUBLIC KEY-----"])
def test_an_unusable_sendgrid_key_is_refused(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, "webhooks:\n  sendgrid_public_key_env: SG_VERIFY\n")
    message = _error(path, {"SG_VERIFY": value})
    assert "webhooks.sendgrid_public_key_env: the environment variable SG_VERIFY holds no " \
           "usable key" in message
    assert value not in message


def test_an_rsa_key_is_not_a_sendgrid_key(tmp_path: Path) -> None:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    der = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    path = _write(tmp_path, "webhooks:\n  sendgrid_public_key_env: SG_VERIFY\n")
    message = _error(path, {"SG_VERIFY": base64.b64encode(der).decode()})
    assert "not an elliptic curve (ECDSA) public key" in message


def test_a_secret_written_in_place_of_the_name_is_not_echoed(tmp_path: Path) -> None:
    path = _write(tmp_path, f"webhooks:\n  mailgun_signing_key_env: {MAILGUN_KEY}\n")
    message = _error(path, {})
    assert "expected the NAME of an environment variable" in message


@pytest.mark.parametrize(("section", "words"), [
    ("webhooks:\n  max_age: -5\n", "webhooks.max_age"),
    ("webhooks:\n  mailgun_key_env: X\n", "webhooks.mailgun_key_env: unknown key"),
    ("webhooks: yes\n", "webhooks: expected a section"),
])
def test_bad_shapes(tmp_path: Path, section: str, words: str) -> None:
    assert words in _error(_write(tmp_path, section), ENV)
