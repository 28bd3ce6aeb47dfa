"""SIGTERM and SIGINT for the entry points: stop cooperatively, and within the platforms' limit anyway.

The first signal sets `event`: no new step starts, waits (the run lock, a provider's rate limit) wake
at once, the message being handed over finishes and the others stay pending. Platforms kill 30 s after
SIGTERM (Scalingo, Clever Cloud, Heroku), so if the process is still busy `grace` seconds later (a
table request that will not answer, a backend's own pause), the main thread is interrupted wherever it
is with StopRequested. A second signal does the same at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from connectors.errors import StopRequested

log = logging.getLogger("cantines.stop")

GRACE_SECONDS = 6.0  # cooperative stop first; then interrupt (exit well within 10 s)


class StopSignals:
    """Owns the stop event of one process and its SIGTERM/SIGINT handlers."""

    def __init__(self, event: threading.Event | None = None, *, grace: float = GRACE_SECONDS):
        self.event = event if event is not None else threading.Event()
        self.grace = grace
        self._interrupt = False
        self._timer: threading.Timer | None = None
        self._previous: dict[int, object] = {}

    def install(self) -> StopSignals:
        """Handle SIGTERM and SIGINT in this (the main) thread, until `cancel`."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self.handle)
        return self

    def handle(self, signum: int, _frame: FrameType | None = None) -> None:
        if self._interrupt or self.event.is_set():
            self._interrupt = False
            raise StopRequested(f"stopped by {signal.Signals(signum).name} (still busy after the grace period)")
        log.info("stop requested (%s): finishing the current step", signal.Signals(signum).name)
        self.event.set()
        self._timer = threading.Timer(self.grace, self._escalate)
        self._timer.daemon = True
        self._timer.start()

    def _escalate(self) -> None:
        """Still running after the grace period: raise StopRequested in the main thread."""
        log.warning("still busy %.0f s after the stop request: interrupting", self.grace)
        self._interrupt = True
        main = threading.main_thread().ident
        if main is not None:  # a real signal to the main thread: it also breaks a blocking sleep or read
            signal.pthread_kill(main, signal.SIGTERM)

    def cancel(self) -> None:
        """The work is done: no interruption must come later; the previous handlers are back."""
        if self._timer is not None:
            self._timer.cancel()
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous.clear()
