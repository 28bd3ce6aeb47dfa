"""The SMTP mail backend (stdlib smtplib): one connection per run, reused, re-opened once if dropped.

The server is named by one URL, read from SMTP_URL by the settings:

    smtps://user:password@smtp.example.org:465     implicit TLS (port 465 by default)
    smtp://user:password@smtp.example.org:587      STARTTLS (port 587 by default)
    smtp://localhost:25?starttls=no                a local relay, plain text

User and password are percent-decoded (write `%40` for `@`, `%2F` for `/`, `%3A` for `:`, `%23` for `#`,
`%3F` for `?`, `%25` for `%`). The one query option is `starttls`, for smtp:// only:

- `auto` (default): upgrade with STARTTLS when the server offers it; without it, send in plain text but
  never the password: a URL with credentials then fails instead of leaking them;
- `required`: fail unless the server offers STARTTLS;
- `no`: never upgrade, and log in over plain text: only for a relay on the same machine or network.

Certificates are verified with the system's CAs. The password never appears in errors, reprs or logs.

`open` connects and logs in (a wrong password stops the run before any message is claimed). Failures to
connect and 4xx replies (nothing accepted) are tried again after 1 s, 2 s… up to `max_attempts`, then
reported as retriable; 5xx replies are permanent. A connection lost in the middle of a message is not
retried at once (the server may have it): it is retriable, and the next run sends it again under the same
Message-ID, which `deliver` returns as the provider id.
"""

from __future__ import annotations

import base64
import logging
import smtplib
import ssl
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses

from connectors.errors import ConfigurationError
from connectors.mail.base import DeliveryError, DeliveryWindow, MailBackend
from connectors.mail.message import on_the_wire

log = logging.getLogger(__name__)

SETTING = "SMTP_URL"
DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
STARTTLS_MODES = ("auto", "required", "no")
BACKOFF_SECONDS = 1.0  # waits of 1 s, 2 s, 4 s… between attempts


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to connect, parsed from the URL."""

    host: str
    port: int
    implicit_tls: bool
    starttls: str = "auto"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def display(self) -> str:
        """The URL with the password masked: safe in messages and logs."""
        scheme = "smtps" if self.implicit_tls else "smtp"
        credentials = f"{urllib.parse.quote(self.username, safe='')}:***@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = "" if self.implicit_tls or self.starttls == "auto" else f"?starttls={self.starttls}"
        return f"{scheme}://{credentials}{host}:{self.port}{query}"


def parse_smtp_url(url: str) -> SmtpSettings:
    """Read an smtp:// or smtps:// URL; every problem is a ConfigurationError that never quotes the password."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ConfigurationError(
            f"{SETTING} must start with smtp:// (STARTTLS) or smtps:// (implicit TLS), not '{scheme or '(nothing)'}://'"
        )
    problems: list[str] = []
    host = parts.hostname
    if not host:
        problems.append(f"{SETTING} has no host (expected {scheme}://user:password@host:port)")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        problems.append(f"{SETTING} has an invalid port (expected a number from 1 to 65535)")
        port = DEFAULT_PORTS[scheme]
    if parts.path not in ("", "/"):
        problems.append(f"{SETTING} must not have a path; percent-encode '/', '?' and '#' in the password")
    username = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    if password and not username:
        problems.append(f"{SETTING} has a password but no user")
    if username and not password:
        problems.append(f"{SETTING} has a user but no password")
    starttls = "auto"
    try:
        options = urllib.parse.parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        options = {}
        problems.append(f"{SETTING} has an unreadable query string (expected ?starttls=no)")
    for name, values in options.items():
        if name != "starttls":
            problems.append(f"{SETTING} has an unknown option '{name}' (the only option is starttls)")
        elif scheme == "smtps":
            problems.append(f"{SETTING}: starttls does not apply to smtps:// (TLS from the start)")
        elif values[-1].lower() not in STARTTLS_MODES:
            problems.append(f"{SETTING}: starttls must be one of {', '.join(STARTTLS_MODES)}")
        else:
            starttls = values[-1].lower()
    if problems:
        raise ConfigurationError(problems)
    assert host is not None
    return SmtpSettings(
        host=host, port=port, implicit_tls=scheme == "smtps", starttls=starttls,
        username=username, password=password,
    )


def envelope_recipients(message: EmailMessage) -> list[str]:
    """The addresses in To and Cc, each once (Bcc is never used: the worker does not write it)."""
    headers = [str(value) for name in ("To", "Cc") for value in message.get_all(name, [])]
    seen: dict[str, str] = {}
    for _, address in getaddresses(headers):
        if address and "@" in address:
            seen.setdefault(address.lower(), address)
    return list(seen.values())


class _TryAgain(Exception):
    """Internal: nothing was accepted, the same attempt may be repeated after a wait."""

    def __init__(self, error: DeliveryError):
        super().__init__(str(error))
        self.error = error


class SmtpBackend(MailBackend):
    """Sends each message over one SMTP connection opened by `open` and closed by `close`."""

    name = "smtp"
    after_crash = "resend"  # same Message-ID: receiving servers and clients drop the duplicate

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30,
        sleeper: Callable[[float], object] | None = None,
        max_attempts: int = 3,
        ssl_context: ssl.SSLContext | None = None,
    ):
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.settings = parse_smtp_url(url)
        self.timeout = timeout
        self.window = DeliveryWindow(sleeper=sleeper)  # waits wake on stop; the run sets its deadline
        self.max_attempts = max_attempts
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._connection: smtplib.SMTP | None = None
        self.connections_opened = 0

    def __repr__(self) -> str:
        return f"SmtpBackend({self.settings.display()!r})"

    # -- connection -------------------------------------------------------------------------

    def open(self) -> None:
        """Connect and log in now, so a wrong address or password stops the run before any message."""
        if self._connection is None:
            self._retrying(self._connect)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError) as exc:  # the server already went away: nothing to close
            log.debug("SMTP %s: QUIT failed (%s); connection dropped", self.settings.address, type(exc).__name__)
            connection.close()

    def _connect(self) -> None:
        """Open, secure and log in one connection; raise _TryAgain or DeliveryError."""
        settings = self.settings
        log.info("connecting to SMTP server %s", settings.display())
        try:
            if settings.implicit_tls:
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    settings.host, settings.port, timeout=self.timeout, context=self.ssl_context
                )
            else:
                connection = smtplib.SMTP(settings.host, settings.port, timeout=self.timeout)
        except OSError as exc:  # smtplib's errors are OSErrors too
            raise self._connection_failure(exc) from exc
        try:
            self._secure_and_login(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self.connections_opened += 1

    def _secure_and_login(self, connection: smtplib.SMTP) -> None:
        settings = self.settings
        try:
            connection.ehlo()
            encrypted = settings.implicit_tls
            if not encrypted and settings.starttls != "no":
                if connection.has_extn("starttls"):
                    connection.starttls(context=self.ssl_context)
                    connection.ehlo()
                    encrypted = True
                elif settings.starttls == "required":
                    raise DeliveryError(
                        f"SMTP server {settings.address} does not offer STARTTLS, and {SETTING} requires it "
                        "(?starttls=required)", retriable=False,
                    )
            if settings.username:
                if not encrypted and settings.starttls != "no":
                    raise DeliveryError(
                        f"SMTP server {settings.address} does not offer STARTTLS: the password in {SETTING} "
                        "will not be sent in plain text. Use smtps://, or add ?starttls=no for a trusted "
                        "local relay", retriable=False,
                    )
                self._login(connection)
        except smtplib.SMTPAuthenticationError as exc:
            if 400 <= exc.smtp_code < 500:
                raise _TryAgain(self._reply_error("refused the login for now", exc, retriable=True)) from exc
            raise DeliveryError(
                f"SMTP server {settings.address} rejected the login of user '{settings.username}' "
                f"({_reply(exc)}): check the user and password in {SETTING}", retriable=False,
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(
                f"SMTP server {settings.address} does not accept a login (no AUTH): remove the user and "
                f"password from {SETTING}, or use the server's submission port", retriable=False,
            ) from exc
        except OSError as exc:
            raise self._connection_failure(exc) from exc

    def _login(self, connection: smtplib.SMTP) -> None:
        username, password = self.settings.username or "", self.settings.password or ""
        if (username + password).isascii():
            connection.login(username, password)
            return
        # smtplib encodes credentials as ASCII; AUTH PLAIN carries UTF-8 (RFC 4616), so send it ourselves.
        if not connection.has_extn("auth"):
            raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
        if "PLAIN" not in connection.esmtp_features["auth"].upper().split():
            raise DeliveryError(
                f"SMTP server {self.settings.address} offers no login method for a user or password with "
                f"non-ASCII characters (it lacks AUTH PLAIN): change them in {SETTING}", retriable=False,
            )
        token = base64.b64encode(b"\0" + username.encode("utf-8") + b"\0" + password.encode("utf-8"))
        code, reply = connection.docmd("AUTH", "PLAIN " + token.decode("ascii"))
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)

    def _usable_connection(self) -> smtplib.SMTP:
        """The open connection if it still answers, else a new one (one reconnection, no more)."""
        connection = self._connection
        if connection is not None and connection.sock is not None:
            try:
                code, _ = connection.noop()
                if code == 250:
                    return connection
            except (smtplib.SMTPException, OSError):
                pass  # dropped while idle: reconnect below
            log.info("SMTP server %s dropped the connection; reconnecting", self.settings.address)
            connection.close()
        self._connection = None
        self._connect()
        assert self._connection is not None
        return self._connection

    # -- delivery ---------------------------------------------------------------------------

    def deliver(self, message: EmailMessage) -> str | None:
        """Send to To + Cc; return the Message-ID. Temporary refusals are tried again `max_attempts` times."""
        recipients = envelope_recipients(message)
        if not recipients:
            raise DeliveryError("le message n'a aucun destinataire (ni À ni Copie)", retriable=False)
        self._retrying(lambda: self._send(message, recipients))
        return str(message["Message-ID"]) if message["Message-ID"] else None

    def _send(self, message: EmailMessage, recipients: list[str]) -> None:
        connection = self._usable_connection()
        address = self.settings.address
        try:
            refused = connection.send_message(on_the_wire(message), to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused; nothing was sent
            detail = "; ".join(f"{rcpt} ({_reply_text(code, text)})" for rcpt, (code, text) in exc.recipients.items())
            temporary = any(400 <= code < 500 for code, _ in exc.recipients.values())
            error = DeliveryError(f"le serveur SMTP {address} a refusé les destinataires : {detail}", retriable=temporary)
            if temporary:
                raise _TryAgain(error) from exc
            raise error from exc
        except smtplib.SMTPSenderRefused as exc:
            raise self._reply_failure(exc, f"a refusé l'expéditeur {exc.sender}") from exc
        except smtplib.SMTPDataError as exc:  # an explicit refusal after DATA: the message was not accepted
            raise self._reply_failure(exc, "a refusé le message") from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise self._lost_while_sending(exc) from exc
        except smtplib.SMTPResponseException as exc:
            raise self._reply_failure(exc, "a refusé le message") from exc
        except smtplib.SMTPException as exc:  # e.g. non-ASCII addresses and no SMTPUTF8
            raise DeliveryError(f"le serveur SMTP {address} ne peut pas prendre ce message : {exc}", retriable=False) from exc
        except OSError as exc:  # a timeout or a reset (SMTPException is an OSError: caught above)
            raise self._lost_while_sending(exc) from exc
        if refused:  # accepted for some recipients: sending again would duplicate it for them
            log.warning(
                "SMTP server %s refused some recipients of %s: %s", address, message["Message-ID"],
                "; ".join(f"{rcpt} ({_reply_text(code, text)})" for rcpt, (code, text) in refused.items()),
            )

    def _retrying(self, attempt: Callable[[], None]) -> None:
        """Run `attempt`; after _TryAgain wait 1 s, 2 s… and repeat, up to `max_attempts` in all."""
        for number in range(1, self.max_attempts + 1):
            try:
                attempt()
                return
            except _TryAgain as again:
                if number == self.max_attempts:
                    suffix = f" (après {number} tentatives)" if number > 1 else ""
                    raise DeliveryError(f"{again.error}{suffix}", retriable=True) from again.__cause__
                wait = BACKOFF_SECONDS * 2 ** (number - 1)
                log.warning("%s; trying again in %.0f s", again.error, wait)
                if not self.window.wait(wait):  # nothing was accepted: it stays pending
                    why = "arrêt demandé" if self.window.stopping() else "le temps d'envoi du cycle est écoulé"
                    raise DeliveryError(f"{again.error} ; pas de nouvel essai ({why})", retriable=True,
                                        stops_delivery=True) from again.__cause__

    # -- errors -----------------------------------------------------------------------------

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _connection_failure(self, exc: BaseException) -> Exception:
        """Connecting or greeting failed: nothing was sent, so trying again at once is harmless."""
        if isinstance(exc, smtplib.SMTPResponseException):
            return self._reply_failure(exc, "a refusé la connexion")
        if isinstance(exc, ssl.SSLCertVerificationError):  # waiting will not fix it; the next run may
            return DeliveryError(
                f"SMTP server {self.settings.address}: TLS certificate not accepted ({exc.verify_message}); "
                f"check the host name in {SETTING}", retriable=True,
            )
        return _TryAgain(DeliveryError(
            f"serveur SMTP {self.settings.address} injoignable ({_describe(exc)})", retriable=True
        ))

    def _lost_while_sending(self, exc: BaseException) -> DeliveryError:
        """Lost mid-transaction: the server may have accepted the message, so it is not sent again
        now; the run leaves it pending and the next run sends it."""
        self._drop_connection()
        return DeliveryError(
            f"le serveur SMTP {self.settings.address} a coupé la connexion pendant l'envoi ({_describe(exc)}) ; "
            "le message a pu être accepté ou non", retriable=True,
        )

    def _reply_failure(self, exc: smtplib.SMTPResponseException, what: str) -> Exception:
        """A 4xx reply is temporary (try again), a 5xx reply permanent."""
        if 400 <= exc.smtp_code < 500:
            return _TryAgain(self._reply_error(what, exc, retriable=True))
        return self._reply_error(what, exc, retriable=False)

    def _reply_error(self, what: str, exc: smtplib.SMTPResponseException, *, retriable: bool) -> DeliveryError:
        return DeliveryError(f"le serveur SMTP {self.settings.address} {what} ({_reply(exc)})", retriable=retriable)


def _reply_text(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return _reply_text(exc.smtp_code, exc.smtp_error)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
