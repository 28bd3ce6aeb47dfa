"""The mail backend interface: open, deliver messages, close (after Django's mail backends)."""

from __future__ import annotations

import abc
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from types import TracebackType

from connectors.errors import BackendError


class DeliveryError(BackendError):
    """A message could not be delivered. `retriable`: worth trying again on the next run.
    `stops_delivery`: the provider refuses everything (a rejected key): stop, keep the rest pending."""

    def __init__(self, message: str, *, retriable: bool = True, stops_delivery: bool = False):
        super().__init__(message)
        self.retriable = retriable
        self.stops_delivery = stops_delivery


class DeliveryWindow:
    """How long a backend may still wait between attempts, and whether it was asked to stop.

    A run gives its backend one window: a `stop` event (set on SIGTERM) and a `deadline` (on the
    `monotonic` clock) after which no wait starts. `wait` sleeps through `sleeper`, which wakes as soon
    as `stop` is set (never a bare time.sleep). While a backend waits, nothing is in flight: `idle` is
    called before the wait (the run puts the message back to pending, so a kill during the wait does
    not leave it "maybe sent") and `busy` after it (the run claims it again)."""

    def __init__(
        self,
        *,
        stop: threading.Event | None = None,
        deadline: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleeper: Callable[[float], object] | None = None,
    ):
        self.stop = stop if stop is not None else threading.Event()
        self.deadline = deadline
        self.monotonic = monotonic
        self.sleeper = sleeper if sleeper is not None else self._until_stopped
        self.idle: Callable[[], None] = lambda: None
        self.busy: Callable[[], bool] = lambda: True
        self.out_of_time = False  # a wait was refused because it would have passed the deadline

    def _until_stopped(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def stopping(self) -> bool:
        return self.stop.is_set()

    def time_left(self) -> float | None:
        """Seconds until the deadline (never below 0), or None without a deadline."""
        return None if self.deadline is None else max(0.0, self.deadline - self.monotonic())

    def expired(self) -> bool:
        left = self.time_left()
        if left is not None and left <= 0:
            self.out_of_time = True
        return self.out_of_time

    def allows(self, seconds: float) -> bool:
        """Whether a wait of `seconds` fits: no stop asked, and it ends before the deadline."""
        left = self.time_left()
        return not self.stopping() and (left is None or seconds <= left)

    def wait(self, seconds: float) -> bool:
        """Wait before another attempt, nothing in flight meanwhile. False, without waiting, when the
        wait does not fit; False too when a stop came during it (the caller gives up, retriable)."""
        if not self.allows(seconds):
            self.out_of_time = not self.stopping()
            return False
        self.idle()
        self.sleeper(seconds)
        if self.stopping():
            return False
        return self.busy()


class MailBackend(abc.ABC):
    """Delivers built messages somewhere. Subclasses set `name` and implement `deliver`."""

    name = "base"
    # What to do with a message found half-sent after a crash (handed over, or not, before the ledger
    # recorded it): "resend" it (a file overwritten; an SMTP message with the same Message-ID, which
    # receiving servers and mail clients use to drop duplicates), or "hold" it for a person to check
    # in the provider's activity log (SendGrid cannot tell whether it accepted it).
    after_crash = "hold"
    _window: DeliveryWindow | None = None

    @property
    def window(self) -> DeliveryWindow:
        """The run's stop event and deadline for this backend's waits (none until a run sets one)."""
        if self._window is None:
            self._window = DeliveryWindow()
        return self._window

    @window.setter
    def window(self, value: DeliveryWindow) -> None:
        self._window = value

    def open(self) -> None:
        """Open connections if the backend needs them."""

    def close(self) -> None:
        """Close what `open` opened."""

    def __enter__(self) -> MailBackend:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @abc.abstractmethod
    def deliver(self, message: EmailMessage) -> str | None:
        """Hand one message over; return the provider's id for it, raise DeliveryError on failure."""
