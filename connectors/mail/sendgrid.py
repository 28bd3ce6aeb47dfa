"""The SendGrid mail backend: each message becomes one v3 `mail/send` request (sendgrid package).

A built EmailMessage is converted into SendGrid's JSON: from, reply_to, one personalization (To and Cc),
subject, text then HTML content, base64 attachments, the custom headers SendGrid allows (Message-ID,
List-Unsubscribe, X-Cantines-…), the message kind as a category and the idempotency key as a custom
argument (both visible in SendGrid's activity feed and event webhooks).

429 and 5xx answers, and requests that could not be sent at all, are retried with exponential backoff
(1 s, 2 s, 4 s…, or the Retry-After SendGrid gives, or for a 429 without it its X-RateLimit-Reset),
`max_attempts` requests in all, then reported as retriable; a 429 that outlasts them stops the run's
delivery (the limit holds for every message). Waits wake at once on a stop and never run past the run's
delivery deadline (the backend's `window`); while waiting, nothing is in flight. Other 4xx answers are permanent for that message and quote SendGrid's own explanation. A
request whose answer was lost (reset, timeout) may have been accepted: it is not repeated, and the message
is held for a person to check, as after a crash. The API key never appears in errors, reprs or logs.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import mimetypes
import re
import unicodedata
import urllib.error
from collections.abc import Callable, Iterable, Mapping, Sequence
from email.header import Header
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any, TypedDict

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient

from connectors.errors import ConfigurationError
from connectors.mail.base import DeliveryError, DeliveryWindow, MailBackend

log = logging.getLogger(__name__)

SETTING = "SENDGRID_API_KEY"
DEFAULT_HOST = "https://api.sendgrid.com"
MAX_PERSONALIZATIONS_PER_REQUEST = 1000
MAX_RECIPIENTS_PER_REQUEST = 1000  # To + Cc + Bcc, across all personalizations of one request
MAX_CATEGORIES = 10
MAX_CATEGORY_LENGTH = 255
BACKOFF_SECONDS = 1.0  # waits of 1 s, 2 s, 4 s… between attempts
MAX_WAIT_SECONDS = 60.0  # a longer Retry-After ends the attempts: the next run tries again
IDEMPOTENCY_HEADER = "X-Cantines-Key"
KIND_HEADER = "X-Cantines-Kind"
KEY_ARGUMENT = "cantines_key"
# Set by SendGrid from the payload, refused in `headers`, or describing the MIME structure it rebuilds.
NOT_CUSTOM_HEADERS = frozenset({
    "x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type", "content-transfer-encoding",
    "content-disposition", "mime-version", "to", "from", "subject", "reply-to", "cc", "bcc", "date",
    "return-path", "sender",
})


class EmailAddress(TypedDict, total=False):
    email: str
    name: str


class Personalization(TypedDict, total=False):
    to: list[EmailAddress]
    cc: list[EmailAddress]
    bcc: list[EmailAddress]


class Content(TypedDict):
    type: str
    value: str


class AttachmentPayload(TypedDict, total=False):
    content: str
    type: str
    filename: str
    disposition: str
    content_id: str


# The body of POST /v3/mail/send (the fields this backend writes); "from" is a Python keyword.
MailSendPayload = TypedDict(
    "MailSendPayload",
    {
        "personalizations": list[Personalization],
        "from": EmailAddress,
        "reply_to": EmailAddress,
        "subject": str,
        "content": list[Content],
        "attachments": list[AttachmentPayload],
        "headers": dict[str, str],
        "categories": list[str],
        "custom_args": dict[str, str],
        "mail_settings": dict[str, Any],
    },
    total=False,
)


def batch_personalizations(
    personalizations: Sequence[Personalization],
    *,
    max_personalizations: int = MAX_PERSONALIZATIONS_PER_REQUEST,
    max_recipients: int = MAX_RECIPIENTS_PER_REQUEST,
) -> list[list[Personalization]]:
    """Split personalizations into consecutive requests SendGrid accepts: at most 1000 personalizations
    and 1000 recipients (to + cc + bcc) per request, order kept."""
    batches: list[list[Personalization]] = []
    current: list[Personalization] = []
    recipients = 0
    for index, personalization in enumerate(personalizations):
        count = sum(len(personalization.get(field, [])) for field in ("to", "cc", "bcc"))
        if count > max_recipients:
            raise ValueError(
                f"personalization {index} has {count} recipients; SendGrid takes at most {max_recipients} per request"
            )
        if current and (len(current) == max_personalizations or recipients + count > max_recipients):
            batches.append(current)
            current, recipients = [], 0
        current.append(personalization)
        recipients += count
    if current:
        batches.append(current)
    return batches


# -- EmailMessage → payload ------------------------------------------------------------------


def _addresses(message: EmailMessage, *names: str) -> list[EmailAddress]:
    found: list[EmailAddress] = []
    for name in names:
        for header in message.get_all(name, []):
            # a parsed header knows its addresses; re-splitting its text would cut "Dupont, Jean" in two
            pairs = (
                [(a.display_name, a.addr_spec) for a in header.addresses] if hasattr(header, "addresses")
                else getaddresses([str(header)])
            )
            for display_name, address in pairs:
                if not address or "@" not in address:
                    continue
                entry: EmailAddress = {"email": address}
                display_name = " ".join(display_name.split())
                if display_name:
                    entry["name"] = _sendgrid_name(display_name)
                found.append(entry)
    return found


def _sendgrid_name(name: str) -> str:
    """SendGrid reads a name containing ',' or ';' as a list unless it is wrapped in double quotes (as
    SendGrid's PHP library does): "Dupont, Jean" is sent as '"Dupont, Jean"'."""
    if ("," in name or ";" in name) and not (name.startswith('"') and name.endswith('"')):
        return '"' + name.replace('"', "'") + '"'
    return name


def _unique(addresses: Iterable[EmailAddress], seen: set[str]) -> list[EmailAddress]:
    """SendGrid refuses an address twice in one personalization (to, cc and bcc together)."""
    kept = []
    for entry in addresses:
        if entry["email"].lower() not in seen:
            seen.add(entry["email"].lower())
            kept.append(entry)
    return kept


def _ascii_header_value(value: str) -> str:
    """Header values go into the JSON as they will appear on the wire: RFC 2047 words if not ASCII."""
    value = "".join(value.splitlines())
    if value.isascii():
        return value
    return " ".join(line.strip() for line in Header(value, "utf-8").encode().splitlines())


def _category(kind: str) -> str:
    """Categories must be 7-bit ASCII, at most 255 characters."""
    folded = unicodedata.normalize("NFKD", kind).encode("ascii", "ignore").decode("ascii")
    return " ".join(folded.split())[:MAX_CATEGORY_LENGTH]


def _text(part: EmailMessage) -> str:
    return str(part.get_content()).replace("\r\n", "\n")


def _attachment(part: EmailMessage, index: int) -> AttachmentPayload:
    content_type = part.get_content_type()
    filename = part.get_filename() or f"piece-jointe-{index}{mimetypes.guess_extension(content_type) or ''}"
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    attachment: AttachmentPayload = {
        "content": base64.b64encode(data).decode("ascii"),
        "type": content_type,
        "filename": filename,
        "disposition": "attachment",
    }
    content_id = str(part.get("Content-ID", "")).strip().strip("<>")
    if part.get_content_disposition() == "inline" and content_id:
        attachment["disposition"] = "inline"
        attachment["content_id"] = content_id
    return attachment


def mail_payload(message: EmailMessage, *, sandbox: bool = False) -> MailSendPayload:
    """The v3 mail/send JSON for one built message: one personalization with its To and Cc.
    Raises a non-retriable DeliveryError for a message SendGrid could never accept."""
    senders = _addresses(message, "From")
    if not senders:
        raise DeliveryError("the message has no From address", retriable=False)
    seen: set[str] = set()
    to = _unique(_addresses(message, "To"), seen)
    cc = _unique(_addresses(message, "Cc"), seen)
    if not to:  # SendGrid needs at least one "to"
        to, cc = cc[:1], cc[1:]
    if not to:
        raise DeliveryError("le message n'a aucun destinataire (ni À ni Copie)", retriable=False)
    if len(to) + len(cc) > MAX_RECIPIENTS_PER_REQUEST:
        raise DeliveryError(
            f"the message has {len(to) + len(cc)} recipients; SendGrid takes at most "
            f"{MAX_RECIPIENTS_PER_REQUEST} per request", retriable=False,
        )
    personalization: Personalization = {"to": to}
    if cc:
        personalization["cc"] = cc

    content: list[Content] = []
    for subtype in ("plain", "html"):  # SendGrid wants text/plain first, then text/html
        part = message.get_body(preferencelist=(subtype,))
        value = _text(part) if part is not None else ""
        if value:
            content.append({"type": f"text/{subtype}", "value": value})
    if not content:
        raise DeliveryError("the message has neither a text nor an HTML body", retriable=False)

    payload: MailSendPayload = {
        "personalizations": [personalization],
        "from": senders[0],
        "subject": str(message.get("Subject", "")),
        "content": content,
    }
    reply_to = _addresses(message, "Reply-To")
    if reply_to:
        payload["reply_to"] = reply_to[0]
    attachments = [_attachment(part, index) for index, part in enumerate(message.iter_attachments(), start=1)]
    if attachments:
        payload["attachments"] = attachments
    headers = {
        name: _ascii_header_value(str(value))
        for name, value in message.items()
        if name.lower() not in NOT_CUSTOM_HEADERS
    }
    if headers:
        payload["headers"] = headers
    kind = _category(str(message.get(KIND_HEADER, "")))
    if kind:
        payload["categories"] = [kind]
    key = message.get(IDEMPOTENCY_HEADER)
    if key:
        payload["custom_args"] = {KEY_ARGUMENT: str(key)}
    if sandbox:
        payload["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return payload


# -- responses -------------------------------------------------------------------------------


def sendgrid_errors(body: bytes | str | None) -> str:
    """SendGrid's `errors[]` as one line ("field: message; …"), or the raw body if it is not that JSON."""
    if not body:
        return "no explanation given"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        errors = json.loads(text)["errors"]
        parts = [
            f"{error['field']}: {error['message']}" if error.get("field") else str(error["message"])
            for error in errors
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        return " ".join(text.split())[:500]
    return "; ".join(parts) if parts else "no explanation given"


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date measured against the response's own Date
    header (no local clock). None when absent or unreadable."""
    if not headers or headers.get("Retry-After") is None:
        return None
    value = str(headers.get("Retry-After")).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        until = parsedate_to_datetime(value)
        now = parsedate_to_datetime(str(headers.get("Date")))
    except (TypeError, ValueError, IndexError):
        return None
    if until is None or now is None:
        return None
    return max(0.0, (until - now).total_seconds())


def rate_limit_reset_seconds(headers: Mapping[str, str] | None) -> float | None:
    """X-RateLimit-Reset (a Unix time) as seconds from the response's own Date header (no local
    clock). None when either is absent or unreadable."""
    if not headers or headers.get("X-RateLimit-Reset") is None:
        return None
    try:
        reset = float(str(headers.get("X-RateLimit-Reset")).strip())
        now = parsedate_to_datetime(str(headers.get("Date")))
    except (TypeError, ValueError, IndexError):
        return None
    if now is None:
        return None
    return max(0.0, reset - now.timestamp())


def rate_limit_wait(headers: Mapping[str, str] | None) -> float | None:
    """How long a 429 asks to wait: its Retry-After, else until its X-RateLimit-Reset (which SendGrid
    sends instead). None when neither can be read."""
    wait = retry_after_seconds(headers)
    return wait if wait is not None else rate_limit_reset_seconds(headers)


class _RedactAuthorization(logging.Filter):
    """python_http_client logs request headers at DEBUG level, the Authorization header included."""

    PATTERN = re.compile(r"Bearer\s+[^'\"\s,}]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Bearer" in message:
            record.msg, record.args = self.PATTERN.sub("Bearer ***", message), ()
        return True


_REDACT = _RedactAuthorization()


class SendGridBackend(MailBackend):
    """Delivers each message with one SendGrid v3 mail/send request (plus retries)."""

    name = "sendgrid"
    after_crash = "hold"  # SendGrid cannot be asked whether it accepted a message

    def __init__(
        self,
        api_key: str,
        *,
        host: str = DEFAULT_HOST,
        sandbox: bool = False,
        timeout: float = 30,
        sleeper: Callable[[float], object] | None = None,
        max_attempts: int = 4,
    ):
        if not api_key or not api_key.strip():
            # SendGridAPIClient would silently read the environment instead.
            raise ConfigurationError(f"{SETTING} is empty: create an API key with the Mail Send permission")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._api_key = api_key.strip()
        self.host = host.rstrip("/")
        self.sandbox = sandbox
        self.timeout = timeout
        self.window = DeliveryWindow(sleeper=sleeper)  # waits wake on stop; the run sets its deadline
        self.max_attempts = max_attempts
        self._client: SendGridAPIClient | None = None
        library_log = logging.getLogger("python_http_client.client")
        if _REDACT not in library_log.filters:
            library_log.addFilter(_REDACT)

    def __repr__(self) -> str:
        return f"SendGridBackend(host={self.host!r}, sandbox={self.sandbox})"

    def open(self) -> None:
        if self._client is None:
            self._client = SendGridAPIClient(api_key=self._api_key, host=self.host)

    def close(self) -> None:
        self._client = None

    def deliver(self, message: EmailMessage) -> str | None:
        """Send one message; return SendGrid's X-Message-Id (None in sandbox mode, where nothing is sent)."""
        return self.send(mail_payload(message, sandbox=self.sandbox))

    def send(self, payload: Mapping[str, Any]) -> str | None:
        """POST one mail/send payload with retries; return the X-Message-Id response header."""
        self.open()
        assert self._client is not None
        rate_limited = False
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._client.client.mail.send.post(request_body=payload, timeout=self.timeout)
            except HTTPError as exc:
                status = int(exc.status_code)
                if status != 429 and status < 500:
                    raise self._refused(status, exc.body) from exc
                problem = f"SendGrid a répondu {status} ({sendgrid_errors(exc.body)})"
                rate_limited = status == 429
                wait = rate_limit_wait(exc.headers) if rate_limited else retry_after_seconds(exc.headers)
            except urllib.error.URLError as exc:
                # urllib wraps failures to connect or to send the request: SendGrid did not get it.
                problem = f"SendGrid injoignable à {self.host} ({_describe(exc.reason)})"
                wait = None
                rate_limited = False
            except (OSError, http.client.HTTPException) as exc:
                # The request went out but the answer was lost: SendGrid may have accepted the message and
                # cannot be asked, so it is held for a person to check, like a message interrupted by a crash.
                key = payload.get("custom_args", {}).get(KEY_ARGUMENT, "")
                raise DeliveryError(
                    f"connexion à SendGrid perdue avant sa réponse ({_describe(exc)}) : le message a peut-être "
                    "été envoyé. Vérifiez le journal d'activité (Activity feed) de SendGrid"
                    + (f" ({KEY_ARGUMENT} = {key})" if key else "") + " avant de le renvoyer",
                    retriable=False,
                ) from exc
            else:
                message_id = response.headers.get("X-Message-Id")
                return str(message_id) if message_id else None
            if wait is None:
                wait = BACKOFF_SECONDS * 2 ** (attempt - 1)
            if attempt == self.max_attempts:
                break
            if wait > MAX_WAIT_SECONDS:
                # a rate limit holds for the whole account: the other messages wait for the next run too
                raise DeliveryError(f"{problem} ; SendGrid demande d'attendre {wait:.0f} s", retriable=True,
                                    stops_delivery=rate_limited)
            if not self.window.wait(wait):
                # nothing was accepted: the message stays pending, and so do the others
                why = "arrêt demandé" if self.window.stopping() else "le temps d'envoi du cycle est écoulé"
                raise DeliveryError(f"{problem} ; pas de nouvel essai ({why})", retriable=True, stops_delivery=True)
            log.warning("%s; tried again after %.1f s (attempt %d of %d)", problem, wait, attempt + 1, self.max_attempts)
        suffix = f" (après {self.max_attempts} tentatives)" if self.max_attempts > 1 else ""
        raise DeliveryError(f"{problem}{suffix}", retriable=True, stops_delivery=rate_limited)

    def _refused(self, status: int, body: bytes | None) -> DeliveryError:
        reason = sendgrid_errors(body)
        if status == 401:
            text = f"SendGrid refused the API key (401: {reason}): check {SETTING}"
        elif status == 403:
            text = (
                f"SendGrid refused to send (403: {reason}): check that {SETTING} has the Mail Send "
                "permission and that the From address is a verified sender"
            )
        elif status == 413:
            text = f"message trop gros pour SendGrid (413 : {reason}) ; la limite est de 30 Mo pièces jointes comprises"
        else:
            text = f"SendGrid a refusé le message ({status} : {reason})"
        # a rejected key refuses every message alike: stop there, nothing was sent
        return DeliveryError(text, retriable=False, stops_delivery=status in (401, 403))


def _describe(exc: object) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, BaseException):
        text = str(exc)
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return str(exc)
