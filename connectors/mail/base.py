"""The mail backend interface: open, deliver messages, close (after Django's mail backends)."""

from __future__ import annotations

import abc
from email.message import EmailMessage
from types import TracebackType

from ..errors import BackendError


class DeliveryError(BackendError):
    """A message could not be delivered. `retriable`: worth trying again on the next run."""

    def __init__(self, message: str, *, retriable: bool = True):
        super().__init__(message)
        self.retriable = retriable


class MailBackend(abc.ABC):
    """Delivers built messages somewhere. Subclasses set `name` and implement `deliver`."""

    name = "base"
    # Whether handing the same message over twice is harmless (a file overwritten, not an email sent).
    redelivery_is_harmless = False

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
