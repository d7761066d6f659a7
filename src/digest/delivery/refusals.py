"""Stop a send that the server refuses for reasons that are not about the readers.

A refusal of the message (too big), the sender (DMARC, a blocklist) or the relay would be the same
for every reader: marking each reader's row as rejected would, after ``bounce_after`` issues,
mark the whole list ``bounced``. So the send loop passes every result through a ``RefusalStreak``:
refusals are held back; a few in a row stop the send with the server's words, and none of them is
recorded (their rows stay pending). A refusal followed by any other result was a one-off: it is
recorded as a temporary failure (the next run tries again; it never counts towards bouncing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from digest.delivery.replies import Verdict, explain
from digest.errors import RefusedError
from digest.models import SendResult

IN_A_ROW = 3  # refusals not about the reader, one after another, that stop a send


@dataclass
class RefusalStreak:
    """Holds back refusals; trips after ``limit`` in a row. Used by the send loop's main thread."""

    issue_id: int
    limit: int = IN_A_ROW
    held: list[SendResult] = field(default_factory=list)
    tripped: RefusedError | None = None

    def admit(self, results: Iterable[SendResult]) -> tuple[list[SendResult], int]:
        """The results to record now, and how many refusals are dropped (their rows stay
        pending). After the streak has tripped every further refusal is dropped too."""
        keep: list[SendResult] = []
        dropped = 0
        for result in results:
            if result.outcome != "refused":
                keep += self.release()
                keep.append(result)
            elif self.tripped is not None:
                dropped += 1
            else:
                self.held.append(result)
                if len(self.held) >= self.limit:
                    self.tripped = refused_error(self.issue_id, self.held)
                    dropped += len(self.held)
                    self.held = []
        return keep, dropped

    def release(self) -> list[SendResult]:
        """Refusals held back, as temporary failures: they did not make a streak."""
        held, self.held = self.held, []
        return [replace(r, outcome="temporary") for r in held]


def refused_error(issue_id: int, refused: list[SendResult]) -> RefusedError:
    """The error that stops the send: the server's words, what they mean, and the way out."""
    last = refused[-1]
    kind = last.kind if last.kind in ("message", "sender", "relay") else "relay"
    meaning = explain(Verdict(kind))
    if kind == "message":
        fix = ("make the message acceptable (fewer posts with digest.max_posts, shorter "
               "summaries, or a higher size limit on the server) and run `digest send`")
    else:
        fix = "fix what the server names and run `digest send`"
    reason = (f"the mail server refused issue {issue_id} {len(refused)} times in a row: "
              f"\"{last.reply}\". That means {meaning}. Nobody was marked: issue {issue_id} stays "
              f"pending and later runs still fetch and make new issues. To go on, {fix}; or "
              f"cancel it with `digest issues cancel {issue_id}` (its unsent posts go to the "
              "next issue)")
    return RefusedError(reason, issue_id=issue_id, kind=kind, reply=last.reply)
