"""One pacer for every paced API: at most `limit` requests start within any sliding window.

Airtable allows 5 requests per second per base, Google Sheets 60 reads and 60 writes per minute per
user: each backend keeps one pacer per base (or per user and family) that every table and thread of
the process waits on. The clock and the sleeper are injected, so tests and benchmarks run on a fake
clock and never sleep for real.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable


class Pacer:
    """At most `limit` requests start within any `period` (+ `margin`) seconds; thread-safe.

    A caller that must wait sleeps while holding the lock: the callers behind it would have to wait at
    least as long anyway, and the order of arrival is kept. `pause(seconds)` holds every request back
    (after a 429 the API refuses the whole base or user for a while). `waited` adds up the seconds
    slept, for the benchmarks and the run's summary.
    """

    def __init__(
        self,
        limit: int,
        period: float,
        *,
        margin: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if limit < 1 or period <= 0:
            raise ValueError("a pacer needs limit >= 1 and period > 0")
        self.limit = limit
        self.window = period + margin
        self._clock = clock
        self._sleep = sleep
        self._starts: collections.deque[float] = collections.deque(maxlen=limit)
        self._resume_at = float("-inf")
        self._lock = threading.Lock()
        self.waited = 0.0

    def wait(self) -> float:
        """Block until a request may start; returns the time (on the pacer's clock) it starts."""
        with self._lock:
            now = self._clock()
            ready = self._resume_at
            if len(self._starts) == self.limit:
                ready = max(ready, self._starts[0] + self.window)
            if ready > now:
                self._sleep(ready - now)
                self.waited += ready - now
                now = max(self._clock(), ready)  # a fake sleeper may not move the clock
            self._starts.append(now)
            return now

    def pause(self, seconds: float) -> None:
        """Hold every request back for `seconds` from now (after a 429: the base or user is blocked)."""
        with self._lock:
            self._resume_at = max(self._resume_at, self._clock() + seconds)
