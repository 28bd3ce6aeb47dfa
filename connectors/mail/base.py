"""The mail backend interface: open, deliver messages, close (after Django's mail backends)."""

from __future__ import annotations

import abc
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


class MailBackend(abc.ABC):
    """Delivers built messages somewhere. Subclasses set `name` and implement `deliver`."""

    name = "base"
    # What to do with a message found half-sent after a crash (handed over, or not, before the ledger
    # recorded it): "resend" it (a file overwritten; an SMTP message with the same Message-ID, which
    # receiving servers and mail clients use to drop duplicates), or "hold" it for a person to check
    # in the provider's activity log (SendGrid cannot tell whether it accepted it).
    after_crash = "hold"

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
