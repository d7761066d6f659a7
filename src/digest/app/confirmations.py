"""Sending the confirmation messages the web form queued: by the worker thread of `digest
serve`, and by every `digest run` (so they go out even when the server is not running).

Each request is claimed in the store before its message is made, so the two never both send it;
a message is sent at most once (see ``digest.store.mailqueue``). A message the server refused
with a temporary error (4xx: certainly not taken) is tried again by a later pass, no sooner than
``RETRY_WAIT`` times the tries so far, ``MAX_ATTEMPTS`` times in all; a message whose answer never
came (it may have been taken) is not. Finished requests are deleted after ``KEEP_DONE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from digest.app.deps import Deps
from digest.app.signup import prepare_confirmation
from digest.delivery.senders import Sender
from digest.errors import SendError
from digest.models import SendResult
from digest.settings import Settings
from digest.store import Store, mailqueue

STALE_CLAIM = timedelta(hours=1)  # a claim this old was interrupted by a crash
MAX_ATTEMPTS = 5  # tries of one confirmation refused with temporary errors
RETRY_WAIT = timedelta(minutes=5)  # after the n-th temporary refusal: wait n times this
KEEP_DONE = timedelta(days=30)  # finished requests (and the addresses they name) are kept this long


@dataclass(frozen=True)
class ConfirmationReport:
    """What one pass over the queue did; ``stopped``: why the sender stopped (the rest wait)."""

    sent: int = 0
    skipped: int = 0  # already active: nothing to confirm
    failed: tuple[str, ...] = ()  # "address: why", for refused messages
    stopped: str | None = None
    retrying: int = 0  # refused with a temporary error: tried again by a later pass


def send_queued_confirmations(settings: Settings, deps: Deps) -> ConfirmationReport:
    """Send every queued confirmation that is due on one connection, oldest first. A message
    refused for good (or after ``MAX_ATTEMPTS`` temporary refusals) is recorded as failed; one
    refused with a temporary error waits for a later pass; a sender that stops puts the request
    back and ends the pass. Finished requests older than ``KEEP_DONE`` are deleted first."""
    sent = skipped = retrying = 0
    failed: list[str] = []
    sender: Sender | None = None
    with Store.open(settings.store) as store:
        mailqueue.fail_stale(store, deps.clock() - STALE_CLAIM, deps.clock())
        mailqueue.prune(store, deps.clock() - KEEP_DONE)
        try:
            while (mail := mailqueue.claim_next(store, deps.clock())) is not None:
                message = prepare_confirmation(settings, store, mail.email, mail.name,
                                               mail.link_base, deps.clock())
                if message is None:
                    mailqueue.finish(store, mail.id, "skipped", "already active", deps.clock())
                    skipped += 1
                    continue
                try:
                    sender = sender or deps.sender_factory()
                    [result] = sender.send_batch([message])
                except SendError as exc:
                    mailqueue.release(store, mail.id)
                    return ConfirmationReport(sent, skipped, tuple(failed), str(exc), retrying)
                outcome = _record(store, mail, result, deps.clock())
                sent += outcome == "sent"
                retrying += outcome == "retry"
                if outcome == "failed":
                    failed.append(f"{mail.email}: {result.reply or result.outcome}")
        finally:
            if sender is not None:
                sender.close()
    return ConfirmationReport(sent, skipped, tuple(failed), retrying=retrying)


def _record(store: Store, mail: mailqueue.QueuedMail, result: SendResult,
            now: datetime) -> str:
    """Record what became of one handed-over message: "sent", "retry" or "failed"."""
    if result.outcome == "sent":
        mailqueue.finish(store, mail.id, "sent", result.reply, now)
        return "sent"
    tries = mail.attempts + 1
    if result.outcome == "temporary" and not result.stalled and tries < MAX_ATTEMPTS:
        mailqueue.retry_later(store, mail.id, result.reply, now + RETRY_WAIT * tries)
        return "retry"
    mailqueue.finish(store, mail.id, "failed", result.reply, now)
    return "failed"
