"""Small RSS files for tests that change a feed between runs, and the CLI run in-process with a
clock of the test's choosing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path

from click.testing import CliRunner

from digest.cli import main


@dataclass(frozen=True)
class Item:
    guid: str
    title: str
    link: str
    published: datetime
    comments: int | None = None
    author: str = "Ann Lee"


def write_rss(path: Path, title: str, items: list[Item]) -> Path:
    entries = []
    for item in items:
        count = "" if item.comments is None else (
            f"<slash:comments>{item.comments}</slash:comments>")
        entries.append(
            f"<item><title>{escape(item.title)}</title><link>{escape(item.link)}</link>"
            f"<guid isPermaLink=\"false\">{escape(item.guid)}</guid>"
            f"<dc:creator>{escape(item.author)}</dc:creator>"
            f"<pubDate>{format_datetime(item.published.astimezone(UTC))}</pubDate>"
            f"<comments>{escape(item.link)}#comments</comments>"
            f"<description>&lt;p&gt;About {escape(item.title)}.&lt;/p&gt;</description>"
            f"{count}</item>")
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:slash="http://purl.org/rss/1.0/modules/slash/">'
        f"<channel><title>{escape(title)}</title><link>https://example.org/</link>"
        + "".join(entries) + "</channel></rss>\n", encoding="utf-8")
    return path


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(config: Path, *args: str, now: datetime) -> CliResult:
    """`digest --config CONFIG ARGS...` in this process, with the clock reading ``now``."""
    clock: Callable[[], datetime] = lambda: now  # noqa: E731
    result = CliRunner().invoke(main, ["--config", str(config), *args], obj=clock)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)
