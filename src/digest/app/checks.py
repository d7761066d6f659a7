"""`digest check`: will the next issue reach inboxes? The message as sent, through the checks in
``digest.mail.check`` and SpamAssassin when it is installed."""

from __future__ import annotations

import email
from dataclasses import dataclass, replace
from email.policy import default
from pathlib import Path

from digest.app.deps import Deps
from digest.app.preconditions import unsubscribe_problem
from digest.app.previews import Next, test_message, upcoming
from digest.errors import DigestError
from digest.mail import spamassassin
from digest.mail.check import CheckReport, check_message
from digest.mail.spamassassin import SpamReport
from digest.settings import Settings


@dataclass(frozen=True)
class Checked:
    """Everything `digest check` found out about one message."""

    report: CheckReport
    spam: SpamReport | None  # None: SpamAssassin is not installed, or failed (spam_error)
    spam_error: str | None = None
    setup: tuple[str, ...] = ()  # problems of the configuration the message alone cannot show

    @property
    def problem_count(self) -> int:
        spam = len(self.spam.problems()) if self.spam else 0
        return len(self.report.problems) + spam + (1 if self.spam_error else 0) + len(self.setup)


def inspect_message(raw: bytes) -> Checked:
    """Every check on one complete message (CRLF, as sent)."""
    report = check_message(raw)
    try:
        return Checked(report, spamassassin.score(raw))
    except DigestError as exc:
        return Checked(report, None, str(exc))


def check_next(settings: Settings, deps: Deps) -> tuple[Next, Checked | None]:
    """The next issue (the open draft, else what the feeds would make now; nothing changes) as
    the preview recipient gets it, checked. None: there is no next issue (``Next.why``)."""
    found = upcoming(settings, deps)
    if found.draft is None:
        return found, None
    raw = test_message(settings, found.draft, deps.clock(), subject_prefix="").data
    problem = unsubscribe_problem(settings)
    return found, replace(inspect_message(raw), setup=(problem,) if problem else ())


def check_file(path: Path) -> tuple[str | None, Checked]:
    """A message file (.eml) checked; with its Subject (None when it has none)."""
    raw = path.read_bytes()
    subject = email.message_from_bytes(raw, policy=default).get("Subject")
    return (str(subject) if subject else None), inspect_message(raw)
