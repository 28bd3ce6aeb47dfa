"""Mail backends; the settings name one, resolved at start-up."""

from __future__ import annotations

from .base import DeliveryError, MailBackend
from .message import Attachment, OutgoingMessage, build_message, message_id
from .outbox import OutboxBackend

__all__ = [
    "Attachment", "DeliveryError", "MailBackend", "OutboxBackend", "OutgoingMessage", "build_message",
    "message_id",
]
