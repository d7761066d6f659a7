"""The stall rule: a relay that goes silent after DATA on several messages in a row stops the
send.

A relay that takes the message text and then never answers costs the whole SMTP timeout per
message, and each message is tried ``max_attempts`` times: on a list of thousands that is hours
of waiting with nothing delivered. Whether a message that got no answer was delivered is unknown,
so such a message stays pending (the next run sends it again; like a crash, at most the messages
in flight can go out twice). After ``STALLS_IN_A_ROW`` such messages in a row, over all
connections, the send stops (``RelayStalled``, a ``SendError``: exit status 4) and every row not
yet recorded stays pending. One answered message in between resets the count.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from digest.errors import SendError
from digest.models import SendResult

STALLS_IN_A_ROW = 3


class RelayStalled(SendError):
    """The relay stopped answering after the message text; the send stopped."""


class StallWatch:
    """Counts, across the send's connections, the results in a row that were stalls."""

    def __init__(self, limit: int = STALLS_IN_A_ROW) -> None:
        self.limit = limit
        self._in_a_row = 0
        self._lock = threading.Lock()

    def observe(self, results: Sequence[SendResult]) -> None:
        """Count ``results`` in order; raises ``RelayStalled`` when the limit is reached."""
        with self._lock:
            for result in results:
                self._in_a_row = self._in_a_row + 1 if result.stalled else 0
                if self._in_a_row >= self.limit:
                    raise RelayStalled(
                        f"the mail server gave no answer after the message text of {self.limit} "
                        f"messages in a row ({result.reply}); is the relay overloaded or its "
                        "content filter stuck?")
