"""Build RFC 5322 messages: text and HTML parts, attachments, a Message-ID derived from a key."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

MESSAGE_ID_DOMAIN = "cantines-worker.local"
KEY_MAX_LENGTH = 500  # the outbox's key column (connectors/state.py) holds this many characters
HASHED_PREFIX_LENGTH = 60
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def is_safe_key(key: str, limit: int = KEY_MAX_LENGTH) -> bool:
    """A key that can go as it is into a header and the state store: printable, single spaces, short."""
    return (
        0 < len(key) <= limit
        and key == " ".join(key.split())
        and not any(unicodedata.category(char) in UNSAFE_CATEGORIES for char in key)
    )


def safe_key(key: str, limit: int = KEY_MAX_LENGTH) -> str:
    """`key` itself when it is safe (so keys already in a state store keep their value), otherwise a
    readable ASCII prefix and a hash of the whole key: never a line break, a control character or
    more than `limit` characters, whatever a cell held."""
    if is_safe_key(key, limit):
        return key
    folded = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode("ascii")
    readable = " ".join("".join(c if c.isprintable() else " " for c in folded).split())
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{readable[:min(HASHED_PREFIX_LENGTH, limit - 33)]}~{digest}"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str = "application/octet-stream"


@dataclass(frozen=True)
class OutgoingMessage:
    """What to send, before it becomes bytes."""

    key: str  # idempotency key: the same key is never sent twice
    kind: str
    sender: Address
    to: tuple[str, ...]
    subject: str
    text: str
    html: str | None = None
    cc: tuple[str, ...] = ()
    reply_to: str | None = None
    attachments: tuple[Attachment, ...] = ()
    headers: Sequence[tuple[str, str]] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", safe_key(self.key))  # safe by construction, whatever it came from

    @property
    def recipients(self) -> list[str]:
        return list(dict.fromkeys([*self.to, *self.cc]))


def message_id(key: str, domain: str = MESSAGE_ID_DOMAIN) -> str:
    """A deterministic Message-ID: the same key always gives the same id (receivers drop duplicates)."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build_message(outgoing: OutgoingMessage, *, date: dt.datetime) -> EmailMessage:
    """The message as an EmailMessage: multipart/alternative text + HTML, then attachments."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = outgoing.sender
    message["To"] = ", ".join(outgoing.to)
    if outgoing.cc:
        message["Cc"] = ", ".join(outgoing.cc)
    if outgoing.reply_to:
        message["Reply-To"] = outgoing.reply_to
    message["Subject"] = outgoing.subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id(outgoing.key)
    message["X-Cantines-Key"] = outgoing.key
    message["X-Cantines-Kind"] = outgoing.kind
    for name, value in outgoing.headers:
        message[name] = value
    message.set_content(outgoing.text, subtype="plain", charset="utf-8")
    if outgoing.html is not None:
        message.add_alternative(outgoing.html, subtype="html", charset="utf-8")
    for attachment in outgoing.attachments:
        maintype, _, subtype = attachment.mimetype.partition("/")
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype or "octet-stream", filename=attachment.filename
        )
    return message
