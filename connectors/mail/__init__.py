"""Mail backends; the settings name one, resolved at start-up."""

from __future__ import annotations

from .base import DeliveryError, MailBackend
from .message import Attachment, OutgoingMessage, build_message, message_id
from .outbox import OutboxBackend
from .sendgrid import SendGridBackend
from .smtp import SmtpBackend

__all__ = [
    "Attachment", "DeliveryError", "MailBackend", "OutboxBackend", "OutgoingMessage", "SendGridBackend",
    "SmtpBackend", "build_message", "message_id",
]
