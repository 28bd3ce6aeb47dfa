"""A clock for tests: it only moves when someone sleeps or advances it, so nothing waits for real."""

from __future__ import annotations

import threading


class FakeClock:
    """A monotonic clock (call it for the time) with a `sleep` that advances it and records the request."""

    def __init__(self, start: float = 1000.0):
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
