"""`digest feeds`: how each feed has been doing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import click

from digest.cli._context import EXIT_OK, EXIT_TROUBLE, Context, guarded
from digest.models import Feed

if TYPE_CHECKING:
    from digest.store import FeedRow


@click.command(epilog="Example: digest feeds")
@click.pass_obj
@guarded
def feeds(obj: Context) -> int:
    """List each feed: URL, last success, last error, failures in a row, posts, average comments.

    Exit status 1 when a configured feed has failed at least health.feed_alert_after fetches in
    a row (the editors have been alerted). Changes nothing but creating an empty store.
    """
    from digest import app

    health = app.feed_health(obj.settings)
    for line in feed_report(health.configured, health.rows):
        click.echo(line)
    return EXIT_TROUBLE if health.failing else EXIT_OK


def feed_report(configured: Sequence[Feed], rows: Sequence[FeedRow]) -> Iterator[str]:
    """Configured feeds in config order, then feeds the store remembers but the config dropped."""
    known = {row.url: row for row in rows}
    urls = {feed.url for feed in configured}
    for feed in configured:
        yield from _feed_lines(feed.name, feed.url, known.get(feed.url), configured=True)
    for row in rows:
        if row.url not in urls:
            yield from _feed_lines(row.name, row.url, row, configured=False)


def _feed_lines(name: str, url: str, row: FeedRow | None, *, configured: bool) -> Iterator[str]:
    yield f"{name}{'' if configured else '  (no longer in the config)'}"
    yield f"  url:            {url}"
    if row is None:
        yield "  never fetched"
        return
    yield f"  last success:   {_when(row.last_success_at)}"
    yield f"  last error:     {row.last_error or '-'}"
    alerted = f" (editors alerted {_when(row.alerted_at)})" if row.alerted_at else ""
    yield f"  failures:       {row.consecutive_failures} in a row{alerted}"
    yield f"  posts:          {row.post_count}"
    average = "unknown" if row.average_comments is None else f"{row.average_comments:.1f}"
    yield f"  avg comments:   {average}"


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")
