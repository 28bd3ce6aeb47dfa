"""Mail backends; the settings name one, resolved at start-up."""

from __future__ import annotations

from connectors.mail.base import DeliveryError, DeliveryWindow, MailBackend
from connectors.mail.message import KEY_MAX_LENGTH, Attachment, OutgoingMessage, build_message, message_id, safe_key
from connectors.mail.outbox import OutboxBackend
from connectors.mail.sendgrid import SendGridBackend
from connectors.mail.smtp import SmtpBackend

__all__ = [
    "KEY_MAX_LENGTH", "Attachment", "DeliveryError", "DeliveryWindow", "MailBackend", "OutboxBackend", "OutgoingMessage",
    "SendGridBackend", "SmtpBackend", "build_message", "message_id", "safe_key",
]
