"""Read the hotline mailbox over IMAP, with TLS, and flag what was read (never delete anything).

`IMAP_URL` names the mailbox: `imaps://user:password@host[:993]/FOLDER` (TLS from the first byte) or
`imap://user:password@host[:143]/FOLDER` (upgraded with STARTTLS before the password is sent; a server
that does not offer it is refused). A user name or a password holding `@`, `:` or `/` is written
percent-encoded (`%40`…), as in any URL. The folder defaults to INBOX; `?sent=FOLDER` names a second
folder to read replies from (where the coordinator's mail client files what they send).

The connector knows nothing of cantines: it lists messages received since a day, parsed into plain
values (sender, subject, text, attachment names, thread ids), and sets the `\\Flagged` flag on those
the caller is done with. Messages are read with BODY.PEEK, so a message staff have not opened stays
unread in their mail client.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import html
import imaplib
import re
import socket
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import parse_qs, unquote, urlsplit

from connectors.errors import BackendError, ConfigurationError

DEFAULT_TIMEOUT = 30.0  # seconds for connecting and for each answer
FETCH_BATCH = 50  # messages fetched per FETCH command
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class MailboxError(BackendError):
    """The mailbox cannot be reached or refuses us; nothing was read or flagged."""


@dataclass(frozen=True)
class MailboxSettings:
    host: str
    port: int
    user: str
    password: str
    folder: str
    sent_folder: str | None
    implicit_tls: bool


def parse_imap_url(url: str) -> MailboxSettings:
    """The mailbox an IMAP_URL names; a configuration error (without the password) otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("imap", "imaps"):
        raise ConfigurationError("IMAP_URL must start with imaps:// (or imap:// with STARTTLS)")
    if not parts.hostname:
        raise ConfigurationError("IMAP_URL has no host (expected imaps://user:password@host/INBOX)")
    if not parts.username or parts.password is None:
        raise ConfigurationError("IMAP_URL needs a user and a password (imaps://user:password@host/INBOX)")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError:
        raise ConfigurationError("IMAP_URL has an invalid port") from None
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    sent = parse_qs(parts.query).get("sent", [""])[0].strip() or None
    return MailboxSettings(
        host=parts.hostname, port=port, user=unquote(parts.username), password=unquote(parts.password),
        folder=folder, sent_folder=sent, implicit_tls=parts.scheme == "imaps",
    )


@dataclass(frozen=True)
class MailboxMessage:
    """One message as the hotline needs it."""

    folder: str
    uid: str
    message_id: str  # "<…>", made up from the content when the message has none
    sender: str  # the address, lower case
    sender_name: str
    subject: str
    received: dt.datetime | None  # the Date header, timezone-aware
    text: str
    attachments: tuple[str, ...]
    thread: tuple[str, ...]  # In-Reply-To and References ids
    automatic: bool  # an auto-reply, a list or bulk mail: never answered
    flagged: bool


class Mailbox:
    """One IMAP connection: `with Mailbox(settings) as box: box.messages(...)`."""

    def __init__(
        self, settings: MailboxSettings, *, ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        self.settings = settings
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.timeout = timeout
        self._imap: imaplib.IMAP4 | None = None
        self._selected: str | None = None

    def __enter__(self) -> Mailbox:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        s = self.settings
        where = f"{s.host}:{s.port}"
        try:
            if s.implicit_tls:
                imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(s.host, s.port, ssl_context=self.ssl_context, timeout=self.timeout)
            else:
                imap = imaplib.IMAP4(s.host, s.port, timeout=self.timeout)
                if "STARTTLS" not in imap.capabilities:
                    imap.shutdown()
                    raise MailboxError(f"la boîte {where} ne propose pas STARTTLS : connexion refusée "
                                       "(utilisez imaps:// ou un serveur chiffré)")
                imap.starttls(ssl_context=self.ssl_context)
        except MailboxError:
            raise
        except ssl.SSLError as exc:
            raise MailboxError(f"boîte {where} : certificat TLS refusé ({exc.reason or exc})") from None
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"boîte {where} injoignable : {_reason(exc)}") from None
        try:
            imap.login(s.user, s.password)
        except imaplib.IMAP4.error:
            imap.shutdown()
            raise MailboxError(f"boîte {where} : identifiant ou mot de passe refusé pour {s.user} "
                               "(un mot de passe d'application est souvent nécessaire)") from None
        self._imap = imap

    def close(self) -> None:
        if self._imap is None:
            return
        try:
            if self._selected is not None:
                self._imap.close()
            self._imap.logout()
        except (OSError, imaplib.IMAP4.error):
            pass  # the server went away: nothing of ours is left open
        self._imap = None
        self._selected = None

    def messages(self, folder: str, since: dt.date) -> list[MailboxMessage]:
        """Every message of `folder` received since `since` (by the server's date), oldest first."""
        self._select(folder)
        uids = self._uid("SEARCH", "SINCE", _imap_date(since))
        found = (uids[0] or b"").split() if uids else []
        out: list[MailboxMessage] = []
        for start in range(0, len(found), FETCH_BATCH):
            batch = b",".join(found[start:start + FETCH_BATCH]).decode()
            data = self._uid("FETCH", batch, "(UID FLAGS BODY.PEEK[])")
            out.extend(_parse_fetch(folder, data))
        return out

    def flag(self, folder: str, uids: Sequence[str]) -> None:
        """Set \\Flagged on these messages (done: read by the worker). Nothing is deleted or moved."""
        if not uids:
            return
        self._select(folder)
        for start in range(0, len(uids), FETCH_BATCH):
            self._uid("STORE", ",".join(uids[start:start + FETCH_BATCH]), "+FLAGS.SILENT", r"(\Flagged)")

    def _select(self, folder: str) -> None:
        if self._selected == folder:
            return
        imap = self._connection()
        try:
            status, data = imap.select(_quote(folder))
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"dossier « {folder} » illisible : {_reason(exc)}") from None
        if status != "OK":
            raise MailboxError(f"dossier « {folder} » introuvable dans la boîte {self.settings.user}")
        self._selected = folder

    def _uid(self, command: str, *args: object) -> list:  # type: ignore[type-arg]
        imap = self._connection()
        try:
            status, data = imap.uid(command, *args)  # type: ignore[arg-type]
        except (OSError, imaplib.IMAP4.error, socket.timeout) as exc:
            raise MailboxError(f"boîte {self.settings.host} : {_reason(exc)}") from None
        if status != "OK":
            raise MailboxError(f"boîte {self.settings.host} : commande refusée ({_text(data)})")
        return data

    def _connection(self) -> imaplib.IMAP4:
        if self._imap is None:
            raise MailboxError("boîte aux lettres non ouverte")
        return self._imap


def _parse_fetch(folder: str, data: list) -> Iterator[MailboxMessage]:  # type: ignore[type-arg]
    parser = BytesParser(policy=policy.default)
    for item in data:
        if not isinstance(item, tuple) or len(item) < 2:
            continue
        head = item[0].decode("ascii", "replace")
        uid = re.search(r"UID (\d+)", head)
        if uid is None:
            continue
        flags = re.search(r"FLAGS \(([^)]*)\)", head)
        message = parser.parsebytes(item[1])
        yield _message(folder, uid.group(1), message, "\\Flagged" in (flags.group(1) if flags else ""))


def _message(folder: str, uid: str, message: EmailMessage, flagged: bool) -> MailboxMessage:  # type: ignore[valid-type]
    name, address = email.utils.parseaddr(str(message.get("Reply-To") or message.get("From") or ""))
    if not address:
        name, address = email.utils.parseaddr(str(message.get("From") or ""))
    subject = " ".join(str(message.get("Subject") or "").split())
    received = None
    if message.get("Date"):
        try:
            received = email.utils.parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            received = None
        if received is not None and received.tzinfo is None:
            received = received.replace(tzinfo=dt.timezone.utc)
    ids = MESSAGE_ID.findall(str(message.get("Message-ID") or ""))
    message_id = ids[0] if ids else _made_up_id(address, str(message.get("Date") or ""), subject, uid)
    thread = tuple(dict.fromkeys(
        MESSAGE_ID.findall(str(message.get("In-Reply-To") or "")) + MESSAGE_ID.findall(str(message.get("References") or ""))
    ))
    auto = str(message.get("Auto-Submitted") or "no").strip().lower()
    precedence = str(message.get("Precedence") or "").strip().lower()
    automatic = (auto != "no" or precedence in ("bulk", "list", "junk") or bool(message.get("List-Id"))
                 or address.lower().startswith(("mailer-daemon@", "postmaster@", "no-reply@", "noreply@")))
    return MailboxMessage(
        folder=folder, uid=uid, message_id=message_id, sender=address.strip().lower(), sender_name=name.strip(),
        subject=subject, received=received, text=_body_text(message),
        attachments=tuple(part.get_filename() or "pièce jointe sans nom" for part in message.iter_attachments()),
        thread=thread, automatic=automatic, flagged=flagged,
    )


def _body_text(message: EmailMessage) -> str:  # type: ignore[valid-type]
    """The message's text: its plain part, else its HTML part as text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", "replace")
    if part.get_content_subtype() == "html":
        content = re.sub(r"<(script|style)\b.*?</\1>", " ", content, flags=re.S | re.I)
        content = re.sub(r"<br\s*/?>|</p>|</div>", "\n", content, flags=re.I)
        content = re.sub(r"<[^>]+>", "", content)
        content = html.unescape(content)
    return content.replace("\r\n", "\n").strip()


def _made_up_id(sender: str, date: str, subject: str, uid: str) -> str:
    digest = hashlib.sha256(f"{sender}\n{date}\n{subject}\n{uid}".encode()).hexdigest()[:24]
    return f"<sans-identifiant-{digest}@cantines-worker>"


def _imap_date(day: dt.date) -> str:
    return f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year}"


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(data: object) -> str:
    if isinstance(data, list) and data and isinstance(data[0], bytes):
        return data[0].decode("utf-8", "replace")
    return str(data)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "pas de réponse (délai dépassé)"
    if isinstance(exc, ConnectionRefusedError):
        return "connexion refusée"
    if isinstance(exc, socket.gaierror):
        return "adresse du serveur inconnue"
    return str(exc) or type(exc).__name__
