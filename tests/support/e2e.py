"""Helpers for end-to-end tests: a config in a temp folder and the real `digest` command."""

from __future__ import annotations

import email
import json
import subprocess
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, cast

DATA = Path(__file__).resolve().parents[1] / "data"


@dataclass
class Result:
    code: int
    out: str
    err: str


def write_config(folder: Path, feeds: list[str], *, smtp_port: int | None = None,
                 subscribers: str | None = "email,name\nann@example.org,Ann Lee\n"
                 "bob@example.org,Bob Ørsted\ncy@example.org,\n",
                 extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        "digest:",
        "  title: Feeling Again weekly",
        '  from: "Feeling Again <digest@example.org>"',
        "  site_url: https://feelingagain.example.org/",
        "  intro: This week on **Feeling Again**.",
        "  max_posts: 10",
        "  summary_words: 40",
        "  unsubscribe: mailto:leave@example.org",
        "feeds:",
        *[f"  - url: {url}" for url in feeds],
        "store: digest.sqlite3",
    ]
    if subscribers is not None:
        (folder / "subscribers.csv").write_text(subscribers)
        lines.append("subscribers: subscribers.csv")
    if smtp_port is not None:
        lines += ["sender:", "  kind: smtp", "  smtp:", "    host: 127.0.0.1",
                  f"    port: {smtp_port}", "    security: none", "    timeout: 5",
                  "    connections: 2"]
    else:
        lines += ["sender:", "  kind: outbox", "  outbox: outbox/"]
    path = folder / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def digest(config: Path, *args: str, timeout: float = 120) -> Result:
    proc = subprocess.run([sys.executable, "-m", "digest", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=config.parent)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=default)


def parts(message: EmailMessage) -> tuple[str, str]:
    """(text, html) of a multipart/alternative digest, checking the order: text first."""
    assert message.get_content_type() == "multipart/alternative"
    payload = [cast(EmailMessage, p) for p in message.iter_parts()]
    assert [p.get_content_type() for p in payload] == ["text/plain", "text/html"]
    return payload[0].get_content(), payload[1].get_content()


def expected_posts(name: str) -> list[dict[str, Any]]:
    data = json.loads((DATA / f"{name}.expected.json").read_text())
    return cast(list[dict[str, Any]], data["posts"])
