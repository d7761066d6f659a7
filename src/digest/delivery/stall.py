"""The stall rule: a relay that goes silent after DATA on several messages in a row, or a mail
API that gives no answer to several requests in a row, stops the send.

A relay that takes the message text and then never answers costs the whole SMTP timeout per
message, and each message is tried ``max_attempts`` times: on a list of thousands that is hours
of waiting with nothing delivered. Whether a message that got no answer was delivered is unknown,
so such a message stays pending (the next run sends it again; like a crash, at most the messages
in flight can go out twice). After ``STALLS_IN_A_ROW`` such messages in a row, over all
connections, the send stops (``RelayStalled``, a ``SendError``: exit status 4) and every row not
yet recorded stays pending. One answered message in between resets the count.

A mail API request carries many messages; one that times out waiting for the answer is a stall
of each of them, counted once (the results share ``SendResult.exchange``). The API senders do not
post such a request again themselves (it may have been taken): the send loop's retry or the next
run does, and three silent requests in a row stop the send the same way.
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
        self._last = ""  # the exchange of the last stall counted
        self._lock = threading.Lock()

    def observe(self, results: Sequence[SendResult]) -> None:
        """Count ``results`` in order (the results of one request once); raises
        ``RelayStalled`` when the limit is reached."""
        with self._lock:
            for result in results:
                if not result.stalled:
                    self._in_a_row, self._last = 0, ""
                    continue
                if result.exchange and result.exchange == self._last:
                    continue
                self._in_a_row, self._last = self._in_a_row + 1, result.exchange
                if self._in_a_row >= self.limit:
                    raise RelayStalled(_stopped(self.limit, result))


def _stopped(limit: int, result: SendResult) -> str:
    if result.exchange:
        return (f"the mail API gave no answer to {limit} requests in a row ({result.reply}); "
                "is the provider down or overloaded? The messages stay pending for the next run")
    return (f"the mail server gave no answer after the message text of {limit} messages in a "
            f"row ({result.reply}); is the relay overloaded or its content filter stuck?")
