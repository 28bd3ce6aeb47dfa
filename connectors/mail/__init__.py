"""Mail backends; the settings name one, resolved at start-up."""

from __future__ import annotations

from connectors.mail.base import DeliveryError, DeliveryWindow, MailBackend
from connectors.mail.message import Attachment, OutgoingMessage, build_message, message_id
from connectors.mail.outbox import OutboxBackend
from connectors.mail.sendgrid import SendGridBackend
from connectors.mail.smtp import SmtpBackend

__all__ = [
    "Attachment", "DeliveryError", "DeliveryWindow", "MailBackend", "OutboxBackend", "OutgoingMessage", "SendGridBackend",
    "SmtpBackend", "build_message", "message_id",
]
