"""What a send did: the figures the send loop returns and the progress line prints."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeliveryReport:
    """What one pass of the send loop over an issue's pending rows did."""

    issue_id: int
    sent: int
    failed: int  # temporary trouble outlasted the attempts; retried by a later run
    rejected: int  # refused for good by the server
    skipped: int  # the subscriber was no longer active
    elapsed: float  # seconds
    rate: float  # messages handed over per second
    stopped_reason: str | None = None  # why rows were left pending, if they were
    finished: bool = False  # no row left pending: the issue is marked sent
    notes: tuple[str, ...] = ()  # what the operator should know (the config changed mid-issue)
    # The server refused the issue itself (message, sender, relay), not the readers: the send
    # stopped, the refused rows stay pending; stopped_reason says why and the way out.
    refused: bool = False
