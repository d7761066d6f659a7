"""feeds.yaml -> Settings: good files load completely, bad ones name file, line, key and fix.

Each sample in data/config/bad/ states the messages it must produce in its own comments:
``# expect: LINE TEXT`` (the error line must start with ``FILE:LINE: TEXT``; ``{dir}`` stands for
the sample's folder) and ``# never: TEXT`` (text that must not appear, such as a password).
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest

from digest.config import DEFAULT_CONFIG, config_path, load
from digest.errors import ConfigError
from digest.models import Feed
from digest.settings import (
    DigestSettings,
    FetchSettings,
    SenderSettings,
    Settings,
    SmtpSettings,
)
from support.configs import HEAD

DATA = Path(__file__).parents[1] / "data" / "config"
REPO = Path(__file__).resolve().parents[2]
SECRET = "correct horse battery staple"
ENV = {"DIGEST_TEST_SMTP_PASSWORD": SECRET, "HOME": "/home/editor"}
BAD = sorted(path.name for path in (DATA / "bad").glob("*.yaml"))



def _expectations(sample: Path) -> list[tuple[int, str]]:
    found = re.findall(r"^# expect: (\d+) (.+)$", sample.read_text(encoding="utf-8"), re.M)
    return sorted(((int(line), text) for line, text in found), key=lambda item: item[0])


def _snapshot(folder: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*"))


def _error(config: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(config, ENV if env is None else env)
    return caught.value


def _write(folder: Path, text: str, name: str = "feeds.yaml") -> Path:
    config = folder / name
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text, encoding="utf-8")
    return config


def test_every_bad_sample_states_its_expected_messages() -> None:
    assert len(BAD) >= 20
    for name in BAD:
        assert _expectations(DATA / "bad" / name), name


@pytest.mark.parametrize("name", BAD)
def test_bad_sample_is_reported_by_file_line_and_key(name: str, tmp_path: Path) -> None:
    sample = DATA / "bad" / name
    config = tmp_path / name
    shutil.copyfile(sample, config)
    before = _snapshot(tmp_path)

    error = _error(config)

    expected = [f"{config}:{line}: {text.replace('{dir}', str(tmp_path))}"
                for line, text in _expectations(sample)]
    got = str(error).splitlines()
    assert len(got) == len(expected), str(error)
    for want, line in zip(expected, got, strict=True):
        assert line.startswith(want)
    assert (error.path, error.line) == (str(config), _expectations(sample)[0][0])
    for secret in [SECRET, *re.findall(r"^# never: (.+)$", sample.read_text(), re.M)]:
        assert secret not in str(error)
    assert _snapshot(tmp_path) == before


def test_bundled_demo_config_loads() -> None:
    settings = load(REPO / "feeds.yaml", {})

    assert settings.path == REPO / "feeds.yaml"
    assert settings.digest.title == "Feeling Again weekly"
    assert settings.digest.from_addr == "Feeling Again <digest@example.org>"
    assert settings.digest.intro.startswith("This week on **Feeling Again**")
    assert settings.feeds == (Feed(url=str(REPO / "demo" / "feed.xml"), name="Feeling Again"),)
    assert settings.subscribers == REPO / "demo" / "subscribers.csv"
    assert settings.store == REPO / "demo.sqlite3"
    assert settings.sender == SenderSettings(kind="outbox", outbox=REPO / "outbox")


def test_every_key_is_read_into_settings() -> None:
    base = DATA / "good"
    settings = load(base / "full.yaml", ENV)

    assert settings == Settings(
        path=base / "full.yaml",
        digest=DigestSettings(
            title="Example Blog weekly",
            from_addr="Example Blog <digest@example.org>",
            site_url="https://example.org/",
            intro="What happened on **Example Blog** this week.\n\n"
                  "    an indented line stays indented",
            subject="{title} #{count}: {first_post} ({date})",
            max_posts=7,
            summary_words=45,
            unsubscribe="https://example.org/unsubscribe",
            reply_to="editor@example.org",
            language="pt-BR",
        ),
        feeds=(
            Feed("https://example.org/feed/", "Example Blog", "fetch"),
            Feed("http://news.example.com:8080/atom.xml", "news.example.com"),
            Feed(str(base / "feeds" / "local.xml"), "local.xml"),
            Feed("/srv/feeds/mirror.xml", "mirror.xml"),
        ),
        store=DATA / "state" / "digest.sqlite3",
        sender=SenderSettings(
            kind="smtp",
            outbox=base / "spool",
            max_attempts=5,
            smtp=SmtpSettings(
                host="smtp.example.org", port=2525, security="ssl", username="digest",
                password=SECRET, timeout=12.0, verify_certificates=False, connections=2,
                messages_per_connection=50, rate_per_second=2.5, max_per_hour=900,
            ),
        ),
        fetch=FetchSettings(timeout=7.5, max_bytes=1048576, max_redirects=0, concurrency=3,
                            comment_budget=12.5, max_comment_feeds=40),
        subscribers=base / "lists" / "subscribers.csv",
        templates=base / "my-templates",
    )


def test_minimal_config_gets_the_defaults_beside_the_config_file() -> None:
    base = DATA / "good"
    settings = load(base / "minimal.yaml", {})

    assert settings.digest == DigestSettings(
        title="Minimal", from_addr="digest@example.org", site_url="http://example.org")
    assert settings.feeds == (Feed("https://example.org/feed/", "example.org"),)
    assert settings.store == base / "digest.sqlite3"
    assert settings.sender == SenderSettings(outbox=base / "outbox")
    assert settings.fetch == FetchSettings()
    assert (settings.subscribers, settings.templates) == (None, None)


def test_relative_paths_start_at_the_config_folder_not_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    (site / "theme").mkdir(parents=True)
    _write(site, HEAD + "  - url: ./local/feed.xml\nsubscribers: people.csv\n"
                        "store: ../state/store.sqlite3\ntemplates: theme\n"
                        "sender: {outbox: mail/outbox}\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    settings = load(Path("../site/feeds.yaml"), {})

    assert settings.path == site / "feeds.yaml"
    assert settings.feeds[1] == Feed(str(site / "local" / "feed.xml"), "feed.xml")
    assert settings.subscribers == site / "people.csv"
    assert settings.store == tmp_path / "state" / "store.sqlite3"
    assert settings.templates == site / "theme"
    assert settings.sender.outbox == site / "mail" / "outbox"
    assert list(elsewhere.iterdir()) == []


def test_messages_name_the_file_as_the_user_gave_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, HEAD.replace("weekly\n", "weekly\n  max_posts: ten\n"))
    monkeypatch.chdir(tmp_path)

    assert str(_error(Path("feeds.yaml"))) == (
        'feeds.yaml:3: digest.max_posts: expected a whole number >= 1, got "ten"')


def test_home_in_a_path_comes_from_the_environment_passed_in(tmp_path: Path) -> None:
    config = _write(tmp_path, HEAD + "store: ~/digest/store.sqlite3\n")

    assert load(config, {"HOME": "/srv/blog"}).store == Path("/srv/blog/digest/store.sqlite3")


def test_config_path_prefers_the_option_then_the_environment_then_the_default() -> None:
    env = {"DIGEST_CONFIG": "/etc/digest/feeds.yaml"}

    assert config_path("site/feeds.yaml", env) == Path("site/feeds.yaml")
    assert config_path(None, env) == Path("/etc/digest/feeds.yaml")
    assert config_path("", env) == Path("/etc/digest/feeds.yaml")
    assert config_path(None, {}) == Path(DEFAULT_CONFIG) == Path("feeds.yaml")
    assert config_path(None, {"DIGEST_CONFIG": ""}) == Path("feeds.yaml")


def test_missing_file_says_how_to_fix_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    assert str(_error(Path("feeds.yaml"))) == (
        "feeds.yaml: no such file; create one (see README) or pass --config")
    assert list(tmp_path.iterdir()) == []


def test_folder_instead_of_file(tmp_path: Path) -> None:
    assert str(_error(tmp_path)) == f"{tmp_path}: is a folder; name the config file itself"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "\ufeff"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    config = _write(tmp_path, text)

    assert str(_error(config)) == (f"{config}: the file is empty; it needs at least a digest: "
                                   "section and a feeds: list (see README)")


def test_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_bytes(HEAD.encode() + b"store: caf\xe9.sqlite3\n")

    error = _error(config)
    assert str(error) == f"{config}:7: not UTF-8 text (byte 0xe9); save the file as UTF-8"


def test_deeply_nested_yaml_is_a_config_error(tmp_path: Path) -> None:
    config = _write(tmp_path, "digest: " + "[" * 1200 + "]" * 1200 + "\n")

    assert "nested too deeply" in str(_error(config))


SMTP_CASES = [
    # (smtp section lines, expected message or None when it loads)
    ("security: none\n    host: smtp.example.org\n    username: u\n"
     "    password_env: DIGEST_TEST_SMTP_PASSWORD",
     ":10: sender.smtp.security: none would send the password unencrypted"),
    ("port: 587\n    security: ssl\n    host: smtp.example.org",
     ":11: sender.smtp.security: port 587 expects starttls"),
    ("port: 465\n    host: smtp.example.org",
     ":10: sender.smtp.port: port 465 speaks TLS from the first byte: use security: ssl"),
    ("host: smtp.example.org\n    username: digest",
     ":11: sender.smtp.username: set password_env too"),
    ("host: smtp.example.org\n    password_env: DIGEST_TEST_SMTP_PASSWORD",
     ":11: sender.smtp.password_env: set username too"),
    ("host: smtp://smtp.example.org",
     ':10: sender.smtp.host: expected a host name such as "smtp.example.org" (no scheme, no '
     'port), got "smtp://smtp.example.org"'),
    ("host: smtp.example.org\n    usename: digest",
     ':11: sender.smtp.usename: unknown key (did you mean "username"?)'),
]


@pytest.mark.parametrize(("smtp", "expected"), SMTP_CASES)
def test_smtp_settings_that_do_not_fit_together(tmp_path: Path, smtp: str, expected: str) -> None:
    config = _write(tmp_path, HEAD + f"sender:\n  kind: smtp\n  smtp:\n    {smtp}\n")

    error = _error(config)
    assert str(error).startswith(f"{config}{expected}")
    assert SECRET not in str(error)


def test_plain_smtp_with_a_password_is_fine_on_this_machine(tmp_path: Path) -> None:
    config = _write(tmp_path, HEAD + "sender:\n  kind: smtp\n  smtp:\n    host: localhost\n"
                    "    security: none\n    username: u\n"
                    "    password_env: DIGEST_TEST_SMTP_PASSWORD\n")

    smtp = load(config, ENV).sender.smtp
    assert smtp == SmtpSettings(host="localhost", port=25, security="none", username="u",
                                password=SECRET)


def test_port_follows_security_when_not_given(tmp_path: Path) -> None:
    config = _write(tmp_path, HEAD + "sender:\n  smtp: {host: smtp.example.org, security: ssl}\n")

    smtp = load(config, {}).sender.smtp
    assert smtp is not None and (smtp.port, smtp.security) == (465, "ssl")


def test_password_variable_is_only_needed_when_sending_by_smtp(tmp_path: Path) -> None:
    smtp = ("  smtp:\n    host: smtp.example.org\n    username: digest\n"
            "    password_env: DIGEST_TEST_SMTP_PASSWORD\n")
    outbox = _write(tmp_path, HEAD + "sender:\n  kind: outbox\n" + smtp, "outbox.yaml")
    smtp_kind = _write(tmp_path, HEAD + "sender:\n  kind: smtp\n" + smtp, "smtp.yaml")

    loaded = load(outbox, {}).sender.smtp
    assert loaded is not None and loaded.password is None
    assert str(_error(smtp_kind, {})).startswith(
        f"{smtp_kind}:12: sender.smtp.password_env: the environment variable "
        "DIGEST_TEST_SMTP_PASSWORD is not set")
    assert "DIGEST_TEST_SMTP_PASSWORD is empty" in str(
        _error(smtp_kind, {"DIGEST_TEST_SMTP_PASSWORD": ""}))


def test_password_from_the_environment_never_appears_in_messages(tmp_path: Path) -> None:
    config = _write(tmp_path, HEAD.replace("weekly", SECRET[:5]) + "sender:\n  kind: smtp\n"
                    "  smtp:\n    host: smtp.example.org\n    username: digest\n"
                    "    password_env: DIGEST_TEST_SMTP_PASSWORD\n    port: zero\n")

    error = _error(config)
    assert ":13: sender.smtp.port: expected a whole number from 1 to 65535" in str(error)
    assert SECRET not in str(error)


def test_yaml_conveniences(tmp_path: Path) -> None:
    config = _write(tmp_path, """\
digest:
  title: Example Blog weekly
  from: digest@example.org
  site_url: https://example.org/
  language: no
feeds:
  - &shared {url: https://a.example.org/feed/, comments: fetch}
  - <<: *shared
    url: https://b.example.org/feed/
sender:
  smtp: {host: smtp.example.org, verify_certificates: yes}
""")
    settings = load(config, {})

    assert settings.digest.language == "no"  # Norwegian, not false
    assert settings.feeds[1] == Feed("https://b.example.org/feed/", "b.example.org", "fetch")
    assert settings.sender.smtp is not None and settings.sender.smtp.verify_certificates


def test_mangled_configs_only_ever_raise_config_error(tmp_path: Path) -> None:
    source = (DATA / "good" / "full.yaml").read_text(encoding="utf-8")
    shutil.copytree(DATA / "good" / "my-templates", tmp_path / "my-templates")
    rng = random.Random(20240601)
    outcomes: dict[str, int] = {"loaded": 0, "refused": 0}
    for attempt in range(300):
        config = _write(tmp_path, _mangle(source, rng), f"mangled-{attempt}.yaml")
        try:
            load(config, ENV)
        except ConfigError as exc:
            assert str(exc).startswith(f"{config}:") and SECRET not in str(exc)
            outcomes["refused"] += 1
        else:
            outcomes["loaded"] += 1
    assert outcomes["refused"] > 100 and outcomes["loaded"] > 0


def _mangle(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    at = rng.randrange(len(lines))
    kind = rng.choice(["drop", "repeat", "swap", "insert", "cut"])
    if kind == "drop":
        del lines[at]
    elif kind == "repeat":
        lines.insert(at, lines[at])
    elif kind == "swap":
        other = rng.randrange(len(lines))
        lines[at], lines[other] = lines[other], lines[at]
    elif kind == "insert":
        column = rng.randrange(len(lines[at]))
        lines[at] = lines[at][:column] + rng.choice(":-[]{}'\"\t#&*!|>%@` ,?") + lines[at][column:]
    else:
        return text[: rng.randrange(len(text))]
    return "".join(lines)


def test_a_long_list_of_problems_is_cut_short(tmp_path: Path) -> None:
    config = _write(tmp_path, HEAD + "".join(f"extra_{n}: {n}\n" for n in range(25)))

    lines = str(_error(config)).splitlines()
    assert len(lines) == 21
    assert lines[0].startswith(f"{config}:7: extra_0: unknown key")
    assert lines[19].startswith(f"{config}:26: extra_19: unknown key")
    assert lines[20] == "... and 5 more"
