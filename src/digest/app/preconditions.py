"""What must hold before a run marks anything: checked first, so a failed check changes nothing.

- A real send (smtp or a mail API) needs an unsubscribe that says who is leaving:
  ``digest.unsubscribe_url`` (a signed link per reader) or a ``mailto:`` address. A bare https
  ``digest.unsubscribe`` is the same URL for every reader and cannot tell who left (RFC 8058
  one-click needs to know). The outbox and previews may run without one.
- An issue is made only when someone can get it: a subscribers file that cannot be read, or no
  active subscriber at all, leaves the new posts waiting for a later run (a made issue would
  claim them and be marked sent to nobody).
- What `digest check` finds that would reach every reader alike (HTML over Gmail's clip, a
  required header missing, an empty link, no unsubscribe link in the body) stops the send
  before the first message (real senders only, like the unsubscribe rule).
"""

from __future__ import annotations

from digest.delivery.report import DeliveryReport
from digest.errors import ConfigError
from digest.mail import addressing
from digest.mail.check import CheckReport, check_message
from digest.settings import Settings

REAL_SENDERS = ("smtp", "postmark", "sendgrid", "mailgun")


def unsubscribe_problem(settings: Settings) -> str | None:
    """Why the configured unsubscribe cannot tell who is leaving, with the fix; None: it can."""
    digest = settings.digest
    if digest.unsubscribe_url or addressing.unsubscribe_mailto(digest):
        return None
    why = ("digest.unsubscribe is a plain https URL, the same for every reader, so it cannot "
           "tell who is leaving" if digest.unsubscribe.startswith("https:")
           else "no unsubscribe is set, so the emails would have no way out")
    return (f"{why}. Set digest.unsubscribe_url to the page `digest serve` answers (e.g. "
            "https://news.example.org/unsubscribe, with DIGEST_SECRET set) for one-click "
            "unsubscribe, or digest.unsubscribe_mailto to a mailbox such as "
            "mailto:leave@example.org")


def require_unsubscribe(settings: Settings) -> None:
    """ConfigError naming the fix when a real send (smtp, a mail API) would carry no working
    way to leave. The outbox and previews may run without one."""
    if settings.sender.kind not in REAL_SENDERS:
        return
    problem = unsubscribe_problem(settings)
    if problem is not None:
        raise ConfigError(f"refusing to send with {settings.sender.kind}: {problem} (previews "
                          "and the outbox work without)", path=str(settings.path),
                          key="digest.unsubscribe_url")


def no_readers(settings: Settings, active: int, unreadable: str | None) -> str | None:
    """Why no issue may be made now (the posts wait), or None. ``active``: active subscribers
    in the store; ``unreadable``: the error reading the subscribers file, if any."""
    if unreadable is not None:
        return (f"no issue made: the subscribers file cannot be read ({unreadable}); the new "
                "posts wait for a run that can read it")
    if active == 0:
        where = (f"in {settings.subscribers}" if settings.subscribers is not None
                 else "(add some with `digest subscribers add` or a subscribers: file)")
        return f"no issue made: there are no active subscribers {where}; the new posts wait"
    return None


def reader_wide_problems(report: CheckReport) -> list[str]:
    """The findings of `digest check` that every reader would get: they stop a send."""
    found = []
    for finding in report.problems:
        message = finding.message
        if (finding.area == "size" or message.endswith(": missing")
                or message.endswith(": empty link")
                or message.startswith("no unsubscribe link")):
            found.append(message)
    return found


def blocking(settings: Settings, raw: bytes) -> str | None:
    """Why a message (one reader's copy of an issue) must not go to anyone; None: it may. Only
    for real senders: the outbox is where one looks at what would go out."""
    if settings.sender.kind not in REAL_SENDERS:
        return None
    problems = reader_wide_problems(check_message(raw))
    if not problems:
        return None
    return "the message would reach every reader broken: " + "; ".join(problems)


def not_sent(issue_id: int, why: str) -> DeliveryReport:
    """The report of an issue stopped before its first message: nobody marked, exit 4."""
    reason = (f"issue {issue_id} was not sent: {why}. Nobody was marked: it stays pending. To "
              f"go on, cancel it with `digest issues cancel {issue_id}` (its posts go to the next "
              "issue), fix the cause, and make it again with `digest run --force`")
    return DeliveryReport(issue_id, 0, 0, 0, 0, 1e-9, 0.0, stopped_reason=reason, refused=True)
