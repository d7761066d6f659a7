"""What the commands print. Plain functions from reports to lines, so they are easy to test."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digest.app import Draft, RunReport
    from digest.delivery.report import DeliveryReport
    from digest.models import FetchOutcome, Issue, Subscriber
    from digest.settings import Settings
    from digest.store import ImportReport, IssueSummary


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """"1 post", "2 posts", "0 posts": English singular for exactly one (``plural`` when adding
    an "s" is not how the word makes its plural: "delivery", "deliveries")."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


def sender_where(settings: Settings) -> str:
    sender = settings.sender
    if sender.kind == "outbox":
        return f"written to {sender.outbox}/"
    if sender.smtp is not None:
        return f"handed to {sender.smtp.host}:{sender.smtp.port}"
    return f"sent with {sender.kind}"


def feed_lines(outcomes: Iterable[FetchOutcome]) -> Iterator[str]:
    for outcome in outcomes:
        name = outcome.feed.name
        if outcome.status == "ok":
            yield f"  ok        {name}: {counted(len(outcome.posts), 'post')} in the feed"
        elif outcome.status == "not_modified":
            yield f"  unchanged {name}: not modified since the last fetch"
        else:
            yield f"  FAILED    {name} ({outcome.feed.url}): {outcome.error}"
        for warning in outcome.warnings:
            yield f"  WARNING   {name} ({outcome.feed.url}): {warning}"


def import_line(report: ImportReport) -> str:
    return (f"subscribers: {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged, "
            f"{report.kept_out} kept out (unsubscribed, bounced or complained)")


def delivery_line(report: DeliveryReport) -> str:
    if report.refused:
        return (f"issue {report.issue_id}: sending stopped before anyone was marked (see the "
                "error)")
    line = (f"issue delivered: {report.sent} sent, {report.failed} failed, "
            f"{report.rejected} rejected, {report.skipped} skipped "
            f"in {report.elapsed:.1f} s ({report.rate:.0f}/s)")
    if report.stopped_reason:
        line += f"; stopped: {report.stopped_reason}"
    return "\n".join([*report.notes, line])


def issue_posts(issue: Issue) -> str:
    """How many posts the reader sees, and how many are only linked ("view N more")."""
    shown = issue.shown_count or len(issue.post_keys)
    line = counted(shown, "post")
    if issue.plan is not None:
        more = issue.plan.more_count + max(0, len(issue.plan.posts) - shown)
        if more:
            line += f", {more} more linked on the blog"
    return line


def run_lines(settings: Settings, report: RunReport) -> Iterator[str]:
    yield "Feeds:"
    yield from feed_lines(report.fetched)
    yield counted(report.new_posts, "new post")
    if report.subscribers.report is not None:
        yield import_line(report.subscribers.report)
    if report.confirmations.sent:
        yield f"Confirmation requests from the web form sent: {report.confirmations.sent}"
    if report.confirmations.retrying:
        yield (f"Confirmation requests refused for now by the mail server, tried again later: "
               f"{report.confirmations.retrying}")
    for warning in report.warnings:
        yield f"warning: {warning}"
    yield from watch_lines(report)
    yield from welcome_lines(report)
    if report.issue is not None:
        yield f"Issue {report.issue.id}: \"{report.issue.subject}\" ({issue_posts(report.issue)})"
    elif report.nothing_new:
        yield f"No new issue: {report.nothing_new}."
    if report.awaiting is not None:
        yield from awaiting_lines(report)
    for delivery in report.deliveries:
        yield delivery_line(delivery)
    if report.deliveries:
        yield f"Messages {sender_where(settings)}"
    elif report.issue is None:
        yield "Nothing was sent."


def watch_lines(report: RunReport) -> Iterator[str]:
    """Feed alerts, posts that left their feed or were edited, drafts composed again."""
    from digest.issues.drafts import short_hash  # the issues package loads the renderer

    checked = report.watch
    for alert in checked.alerts:
        feed = alert.feed
        failures = counted(feed.consecutive_failures, "fetch", "fetches")
        yield (f"Editors alerted: {feed.name} has failed {failures} in a row"
               if alert.kind == "alert" else f"Editors told: {feed.name} works again")
    for post in checked.gone:
        yield f"Left its feed, will not be sent: \"{post.title}\" ({post.link or post.key})"
    for post in checked.edited:
        yield (f"Edited after approval, sent as approved: \"{post.title}\" "
               f"({post.link or post.key})")
    if checked.rebuilt is not None:
        yield (f"Issue {checked.rebuilt.id} composed again from the latest posts "
               f"(content {short_hash(checked.rebuilt.content_hash)})")


def welcome_lines(report: RunReport) -> Iterator[str]:
    """Welcome messages to new readers, and those that wait for the next run."""
    welcomed = report.welcomes
    if welcomed.sent:
        yield f"Welcomed: {', '.join(welcomed.sent)}"
    if welcomed.waiting and not welcomed.stopped:
        yield f"{counted(welcomed.waiting, 'welcome')} not sent yet; the next run tries again"


def awaiting_lines(report: RunReport) -> Iterator[str]:
    from digest.issues.drafts import hold_reason, short_hash

    issue = report.awaiting
    assert issue is not None
    reason = hold_reason(issue)
    if reason is not None:
        yield f"Issue {issue.id} {reason}"
    yield (f"Issue {issue.id} is a draft awaiting approval (content "
           f"{short_hash(issue.content_hash)}); approve it with: digest approve {issue.id}")
    notice = report.notice
    if notice is not None and notice.emailed:
        yield f"Editors emailed a preview: {', '.join(notice.emailed)}"
    elif notice is None and issue.editors_notified_at is not None:
        when = issue.editors_notified_at.strftime("%Y-%m-%d %H:%M UTC")
        yield f"Editors were emailed a preview on {when}; nothing is sent until it is approved"


def trouble_lines(report: RunReport) -> Iterator[str]:
    for outcome in report.feed_errors:
        yield f"digest: feed failed: {outcome.feed.name} ({outcome.feed.url}): {outcome.error}"
    for error in report.subscribers.errors:
        yield f"digest: {error}"
    failed = sum(r.failed for r in report.deliveries)
    rejected = sum(r.rejected for r in report.deliveries)
    if failed:
        yield (f"digest: {counted(failed, 'delivery', 'deliveries')} failed for now (temporary "
               "trouble); the next run tries again; `digest issues` shows them")
    if rejected:
        yield (f"digest: {counted(rejected, 'delivery', 'deliveries')} rejected for good by the "
               "mail server; `digest issues` shows them")
    for delivery in report.deliveries:
        if delivery.refused:
            yield refused_line(delivery)
    for failure in report.notice.failed if report.notice else ():
        yield f"digest: draft preview not sent to editor {failure}; the next run tries again"
    for failure in report.watch.failed:
        yield f"digest: email to editor not sent: {failure}"
    for failure in report.confirmations.failed:
        yield f"digest: confirmation request not sent: {failure}"
    if report.confirmations.stopped:
        yield (f"digest: confirmation requests wait for the next run: "
               f"{report.confirmations.stopped}")
    for address, reply in report.welcomes.failed:
        yield f"digest: welcome to {address} not sent: {reply}"
    if report.welcomes.stopped:
        yield (f"digest: {counted(report.welcomes.waiting, 'welcome')} not sent: "
               f"{report.welcomes.stopped}; the next run tries again")


def refused_line(report: DeliveryReport) -> str:
    """The error line of a send the server stopped by refusing the issue (exit status 4)."""
    return f"digest: sending stopped: {report.stopped_reason}"


def draft_lines(draft: Draft) -> Iterator[str]:
    rendered = draft.rendered
    size = len(rendered.html.encode())
    yield f"Subject:   {rendered.subject}"
    yield f"Preheader: {rendered.preheader}"
    yield f"Posts:     {rendered.post_count}"
    yield f"HTML size: {size / 1024:.1f} KB (Gmail clips above 102 KB)"
    for warning in rendered.warnings:
        yield f"warning: {warning}"
    for outcome in draft.fetched:
        if outcome.status == "error":
            yield f"warning: feed failed: {outcome.feed.name}: {outcome.error}"


def issue_line(summary: IssueSummary) -> str:
    from digest.issues.drafts import short_hash

    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()) if n)
    when = summary.created_at.strftime("%Y-%m-%d %H:%M UTC")
    counts = counts or "no deliveries"
    status = "cancelled" if summary.cancelled else summary.status
    line = f"#{summary.id}  {when}  {status:<8} {summary.subject}  [{counts}]"
    return line + (f"  content {short_hash(summary.content_hash)}" if summary.content_hash else "")


def status_lines(summary: IssueSummary) -> Iterator[str]:
    yield issue_line(summary)
    for status, count in sorted(summary.counts.items()):
        yield f"  {status:<10} {count}"
    if summary.top_errors:
        yield "Most common failure replies:"
        for reply, count in summary.top_errors:
            yield f"  {count:>6}  {reply}"


# Format characters that belong in names (Persian ZWNJ, emoji ZWJ sequences): shown as they are.
_JOINERS = frozenset("\u200c\u200d")


def subscriber_line(subscriber: Subscriber) -> str:
    """"email<TAB>name<TAB>status", each cell safe to paste into a spreadsheet or a terminal."""
    return "\t".join(safe_cell(value) for value in (subscriber.email, subscriber.name,
                                                     subscriber.status))


def safe_cell(text: str) -> str:
    """Text for one cell of tab-separated output.

    Control, format and separator characters (C0, C1, DEL, bidi marks, overrides and isolates,
    U+2028/2029; not the joiners ZWJ and ZWNJ) are shown as ``\\uXXXX`` escapes, so they can
    neither steer the terminal nor reorder what is shown; a cell a spreadsheet would run as a
    formula (starting with ``= + - @``, tab or CR) gets a leading ``'``.
    """
    from digest.subscribers.sheets import neutralise  # the export's rule, one place

    text = neutralise(text)
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")
                   and c not in _JOINERS else c for c in text)
