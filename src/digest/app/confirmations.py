"""Sending the confirmation messages the web form queued: by the worker thread of `digest
serve`, and by every `digest run` (so they go out even when the server is not running).

Each request is claimed in the store before its message is made, so the two never both send it;
a message is sent at most once (see ``digest.store.mailqueue``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from digest.app.deps import Deps
from digest.app.signup import prepare_confirmation
from digest.delivery.senders import Sender
from digest.errors import SendError
from digest.settings import Settings
from digest.store import Store, mailqueue

STALE_CLAIM = timedelta(hours=1)  # a claim this old was interrupted by a crash


@dataclass(frozen=True)
class ConfirmationReport:
    """What one pass over the queue did; ``stopped``: why the sender stopped (the rest wait)."""

    sent: int = 0
    skipped: int = 0  # already active: nothing to confirm
    failed: tuple[str, ...] = ()  # "address: why", for refused messages
    stopped: str | None = None


def send_queued_confirmations(settings: Settings, deps: Deps) -> ConfirmationReport:
    """Send every queued confirmation on one connection, oldest first. A refused message is
    recorded as failed; a sender that stops puts the request back and ends the pass."""
    sent = skipped = 0
    failed: list[str] = []
    sender: Sender | None = None
    with Store.open(settings.store) as store:
        mailqueue.fail_stale(store, deps.clock() - STALE_CLAIM, deps.clock())
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
                    return ConfirmationReport(sent, skipped, tuple(failed), str(exc))
                outcome: mailqueue.Done = "sent" if result.outcome == "sent" else "failed"
                mailqueue.finish(store, mail.id, outcome, result.reply, deps.clock())
                sent += outcome == "sent"
                if outcome == "failed":
                    failed.append(f"{mail.email}: {result.reply or result.outcome}")
        finally:
            if sender is not None:
                sender.close()
    return ConfirmationReport(sent, skipped, tuple(failed))
