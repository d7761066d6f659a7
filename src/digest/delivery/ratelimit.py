"""A token bucket shared by the sending threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """At most ``rate`` messages per second, from the very start.

    The bucket starts with ``burst`` tokens and holds no more than that; by default one, so
    successive sends are at least ``1 / rate`` seconds apart and any ``n + 1`` consecutive
    messages span at least ``n / rate`` seconds: no one-second window (half-open) ever holds more
    than ``ceil(rate)`` messages, the first second included. A larger ``burst`` allows that many
    messages at once after a quiet spell (and at the start).

    ``acquire(n)`` takes n tokens at once and lets the balance go negative, then sleeps off the
    debt outside the lock: callers queue up in arrival order without holding each other up. A
    mail API request of n messages is paced as a whole (it is one request, it cannot be split).
    """

    def __init__(self, rate: float, *, burst: float = 1.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self, n: int = 1) -> float:
        """Take n tokens, sleeping until they are earned; returns the time slept (seconds)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= n
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait
