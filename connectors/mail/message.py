"""Build RFC 5322 messages: text and HTML parts, attachments, a Message-ID derived from a key."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime

MESSAGE_ID_DOMAIN = "cantines-worker.local"
MAX_LINE = 78  # RFC 5322: lines SHOULD stay within 78 characters…
MAX_HARD_LINE = 998  # …and MUST stay within 998
# Headers whose value has a structure Python's own folding knows (addresses, MIME parameters).
STRUCTURED = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender", "content-type", "content-disposition"})


class WirePolicy(EmailPolicy):
    """policy.SMTP, except for unstructured headers (Subject, List-Unsubscribe, X-…): Python's folder
    encodes a long ASCII token it cannot break (List-Unsubscribe becomes `=?utf-8?q?=3Cmailto…`, which no
    client can use), breaks before a space without removing it (a key read back with a doubled space) and
    can lose the space before an encoded word. Here an ASCII value is folded at its spaces only (a token
    longer than a line stays whole), and a non-ASCII one is encoded whole, spaces inside the words."""

    def fold(self, name: str, value: str) -> str:
        return self._plain_fold(name, value) or super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        folded = self._plain_fold(name, value)
        return folded.encode("ascii") if folded else super().fold_binary(name, value)

    def _plain_fold(self, name: str, value: str) -> str | None:
        if name.lower() in STRUCTURED or name.lower().startswith("content-"):
            return None
        text = str(value) if hasattr(value, "name") else "".join(str(value).splitlines())
        if "\r" in text or "\n" in text or not text.strip():
            return None
        if not text.isascii():
            # Python's own folder may drop the space between a word and the next encoded word ("2
            # nouvellesopportunités"); the legacy Header encodes spaces inside the words instead
            encoded = Header(text, "utf-8", header_name=name).encode(linesep=self.linesep, maxlinelen=MAX_LINE)
            return f"{name}: {encoded}{self.linesep}"
        return fold_ascii(name, text, self.linesep)


def fold_ascii(name: str, text: str, linesep: str = "\r\n") -> str:
    """`Name: value` folded before single spaces so that unfolding (removing the line breaks) gives the
    value back exactly; a token longer than a line is left whole (up to 998 characters)."""
    lines: list[str] = []
    line = f"{name}: "
    # pieces: the first token, then each " token" (the space stays in front of the piece it starts)
    pieces = re.findall(r"^\S*|\s+\S+|\s+$", text)
    for piece in pieces:
        if len(line) + len(piece) > MAX_LINE and line.strip() and not line.endswith(": ") and piece[:1].isspace():
            lines.append(line)
            line = ""
        line += piece
    lines.append(line)
    return linesep.join(lines) + linesep


WIRE = WirePolicy(linesep="\r\n")  # what policy.SMTP is, with the folding above


def on_the_wire(message: EmailMessage) -> EmailMessage:
    """The same message (a shallow copy) generated with WIRE, whatever policy it was parsed with:
    smtplib writes a message with its own policy, and policy.default would refold List-Unsubscribe."""
    wire = copy.copy(message)
    wire.policy = WIRE
    return wire


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
    method: str | None = None  # text/calendar: REQUEST (an invitation), CANCEL, PUBLISH


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
        """The envelope: each address once, without display names."""
        return list(dict.fromkeys(mailbox(a).addr_spec for a in (*self.to, *self.cc)))


def message_id(key: str, domain: str = MESSAGE_ID_DOMAIN) -> str:
    """A deterministic Message-ID: the same key always gives the same id (receivers drop duplicates)."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def mailbox(value: str | Address) -> Address:
    """One recipient as an Address, its display name kept whole: "Dupont, Jean <jean@…>" and
    '"Dupont, Jean" <jean@…>' both name "Dupont, Jean" (joining such strings with ", " would make two)."""
    if isinstance(value, Address):
        return value
    text = value.strip()
    if text.endswith(">") and "<" in text:
        name, _, addr = text[:-1].rpartition("<")
        name = name.strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].replace('\\"', '"')
        return Address(display_name=name, addr_spec=addr.strip())
    return Address(addr_spec=text)


def build_message(outgoing: OutgoingMessage, *, date: dt.datetime) -> EmailMessage:
    """The message as an EmailMessage: multipart/alternative text + HTML, then attachments."""
    message = EmailMessage(policy=WIRE)
    message["From"] = outgoing.sender
    message["To"] = [mailbox(to) for to in outgoing.to]
    if outgoing.cc:
        message["Cc"] = [mailbox(cc) for cc in outgoing.cc]
    if outgoing.reply_to:
        message["Reply-To"] = mailbox(outgoing.reply_to)
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
            attachment.content, maintype=maintype, subtype=subtype or "octet-stream", filename=attachment.filename,
            params={"method": attachment.method} if attachment.method else {},
        )
    return message
