from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from digest.mail import addressing
from digest.settings import DigestSettings


def _digest(**kw: str) -> DigestSettings:
    base = dict(title="Feeling Again weekly", from_addr="Feeling Again <digest@Example.org>",
                site_url="https://example.org/", unsubscribe="mailto:leave@example.org")
    base.update(kw)
    return DigestSettings(**base)  # type: ignore[arg-type]


def test_list_id_is_a_label_under_the_from_domain() -> None:
    assert addressing.list_id(_digest()) == \
        "Feeling Again weekly <feeling-again-weekly.example.org>"


def test_mailto_unsubscribe_names_the_subscriber() -> None:
    url = addressing.unsubscribe_url(_digest(), "ann+news@example.org")
    parts = urlsplit(url)
    assert parts.scheme == "mailto" and parts.path == "leave@example.org"
    assert parse_qs(parts.query)["subject"] == ["unsubscribe ann+news@example.org"]


def test_https_unsubscribe_is_used_as_is_and_is_not_a_mailto() -> None:
    digest = _digest(unsubscribe="https://example.org/leave")
    assert addressing.unsubscribe_url(digest, "a@example.org") == "https://example.org/leave"
    assert addressing.unsubscribe_mailto(digest) is None
    assert addressing.unsubscribe_mailto(_digest()) == "mailto:leave@example.org"


def test_envelope_from_is_the_bare_address() -> None:
    assert addressing.envelope_from("Feeling Again <digest@example.org>") == "digest@example.org"
