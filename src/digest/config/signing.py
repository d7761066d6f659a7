"""The configuration of what digest signs: one-click unsubscribe links and DKIM.

``digest.unsubscribe_url`` needs ``DIGEST_SECRET`` from the environment to sign each reader's
link; ``dkim:`` names a domain, a selector and an RSA key, read from a file or from an environment
variable. Key material and the secret are never echoed in a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from digest.config import yamlpos
from digest.config.values import is_http_url, line_text, parse_address, path, split_url
from digest.config.walk import Ctx, Taken, Where, _Invalid, _Reported, take
from digest.mail.dkim import KeyProblem, load_rsa_key
from digest.mail.tokens import MIN_SECRET_BYTES
from digest.settings import DigestSettings, DkimSettings

SECRET_ENV = "DIGEST_SECRET"
EDITOR_TOKEN_ENV = "DIGEST_EDITOR_TOKEN"
MIN_EDITOR_TOKEN = 32  # characters; 32 of token_urlsafe's alphabet carry 192 bits
MAKE_EDITOR_TOKEN = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
_MAX_PAGE_URL = 300  # leaves room for the token in a header line of at most 998 characters
_KEY_SOURCES = ("private_key_file", "private_key_env")


def digest_section(ctx: Ctx, node: yamlpos.Node, where: Where) -> DigestSettings:
    """The digest: section; a signed unsubscribe page needs the secret to sign with."""
    taken = take(ctx, node, where, "digest")
    if "unsubscribe_url" in taken.values:
        problem = _secret_problem(ctx.env, required=True)
        if problem:
            ctx.report(taken.line("unsubscribe_url", where.line), f"{where.key}.unsubscribe_url",
                       problem)
            raise _Reported
    return DigestSettings(**taken.values)


def env_secret(ctx: Ctx) -> bytes | None:
    """DIGEST_SECRET as bytes, or None when it is not set. Raises ``_Invalid`` if too short."""
    problem = _secret_problem(ctx.env, required=False)
    if problem:
        raise _Invalid(problem)
    value = ctx.env.get(SECRET_ENV)
    return value.encode("utf-8", "surrogateescape") if value else None


def _secret_problem(env: Mapping[str, str], *, required: bool) -> str | None:
    value = env.get(SECRET_ENV)
    if not value:
        if not required:
            return None
        state = "is empty" if SECRET_ENV in env else "is not set"
        return (f"needs the environment variable {SECRET_ENV} to sign each reader's link, and "
                f"it {state}; set it to a long random value, e.g. the output of "
                "`openssl rand -base64 32`, and keep it the same from run to run")
    if len(value.encode("utf-8", "surrogateescape")) < MIN_SECRET_BYTES:
        return (f"the environment variable {SECRET_ENV} is too short: it needs at least "
                f"{MIN_SECRET_BYTES} bytes (e.g. the output of `openssl rand -base64 32`)")
    return None


def editor_token_problem(value: str | None) -> str | None:
    """Why ``value`` cannot be the editor token (None: it can, or it is unset and the editor
    pages are off). Anyone who guesses the token can approve and send an issue to every reader,
    and the login form is open to the whole network: a short token falls to guessing."""
    if not value:
        return None
    if value != value.strip() or any(not ch.isprintable() for ch in value):
        return (f"the environment variable {EDITOR_TOKEN_ENV} has spaces or control characters "
                f"around or in it; make one with: {MAKE_EDITOR_TOKEN}")
    if len(value) < MIN_EDITOR_TOKEN:
        return (f"the environment variable {EDITOR_TOKEN_ENV} is too short ({len(value)} "
                f"characters): it needs at least {MIN_EDITOR_TOKEN}, random; make one with: "
                f"{MAKE_EDITOR_TOKEN}")
    return None


def unsubscribe_page(ctx: Ctx, node: yamlpos.Node, where: Where) -> str:
    """The https page each reader's signed token is appended to (?token=... or &token=...)."""
    value = line_text(ctx, node, where)
    parts = split_url(value)
    if parts is None or parts.scheme != "https" or not is_http_url(value) or "#" in value:
        raise _Invalid("expected an https:// URL without a #fragment, such as "
                      f"https://example.org/unsubscribe, got {yamlpos.describe(node)}")
    if len(value) > _MAX_PAGE_URL:
        raise _Invalid(f"expected a URL of at most {_MAX_PAGE_URL} characters, got one of "
                      f"{len(value)}")
    return value


def mailto(ctx: Ctx, node: yamlpos.Node, where: Where) -> str:
    value = line_text(ctx, node, where)
    parts = split_url(value)
    if parts and parts.scheme == "mailto" and parse_address(parts.path) is not None:
        return value
    raise _Invalid("expected mailto:ADDRESS such as mailto:unsubscribe@example.org, got "
                  f"{yamlpos.describe(node)}")


def dkim_selector(ctx: Ctx, node: yamlpos.Node, where: Where) -> str:
    value = line_text(ctx, node, where)
    labels = value.split(".")
    if not all(label and label.replace("-", "").replace("_", "").isalnum() and label.isascii()
               for label in labels):
        raise _Invalid('expected a DKIM selector such as "digest2024" (letters, digits, - and '
                      f"_; the key is published at SELECTOR._domainkey.DOMAIN), got "
                      f"{yamlpos.describe(node)}")
    return value


def key_file(ctx: Ctx, node: yamlpos.Node, where: Where) -> Path:
    if yamlpos.is_plain(node) and ("-----BEGIN" in str(node.value) or "\n" in str(node.value)):
        # Not echoed: this is the key itself, pasted where its file name belongs.
        raise _Invalid("expected the path of a PEM key file, got what looks like the key itself; "
                      "put it in a file, or in an environment variable named by private_key_env")
    return path(ctx, node, where)


def key_env_name(ctx: Ctx, node: yamlpos.Node, where: Where) -> str:
    value = line_text(ctx, node, where)
    if not value.isascii() or not value.replace("_", "a").isalnum() or value[0].isdigit():
        # Not echoed: a value that is no variable name may well be the key itself.
        raise _Invalid("expected the NAME of an environment variable (letters, digits and _, "
                      "such as DKIM_PRIVATE_KEY) that holds the PEM key")
    return value


def dkim(ctx: Ctx, node: yamlpos.Node, where: Where) -> DkimSettings:
    """The dkim: section: exactly one key source, and a key that is an RSA private key."""
    taken = take(ctx, node, where, "dkim")
    given = [name for name in _KEY_SOURCES if name in taken.values]
    if len(given) != 1:
        which = "both" if given else "neither"
        ctx.report(taken.line(given[-1], where.line) if given else where.line, where.key,
                   f"set exactly one of private_key_file and private_key_env ({which} is set)")
        raise _Reported
    source = given[0]
    pem = _read_key(ctx, taken, source, where)
    try:
        load_rsa_key(pem)
    except KeyProblem as exc:
        named = taken.values[source] if source == "private_key_file" else (
            f"the environment variable {taken.values[source]}")
        ctx.report(taken.line(source, where.line), f"{where.key}.{source}", f"{named}: {exc}")
        raise _Reported from exc
    return DkimSettings(domain=taken.values["domain"].lower(),
                        selector=taken.values["selector"], private_key=pem)


def _read_key(ctx: Ctx, taken: Taken, source: str, where: Where) -> bytes:
    line, key = taken.line(source, where.line), f"{where.key}.{source}"
    if source == "private_key_file":
        file: Path = taken.values[source]
        try:
            return file.read_bytes()
        except FileNotFoundError as exc:
            ctx.report(line, key, f"no key file at {file} (relative paths start at the config "
                                  "file's folder)")
            raise _Reported from exc
        except OSError as exc:
            ctx.report(line, key, f"cannot read the key file {file}: {exc.strerror or exc}")
            raise _Reported from exc
    name = taken.values[source]
    value = ctx.env.get(name, "")
    if not value:
        state = "is empty" if name in ctx.env else "is not set"
        ctx.report(line, key, f"the environment variable {name} {state}; it must hold the DKIM "
                              "private key (PEM)")
        raise _Reported
    # One-line secret stores often keep the PEM's line breaks as the two characters \n.
    if "\n" not in value:
        value = value.replace("\\n", "\n")
    return value.encode("utf-8", "surrogateescape")
