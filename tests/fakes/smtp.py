"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives and can misbehave on demand.

    with SmtpServer() as server:
        SmtpBackend(server.url())…
        server.received            # one Received per accepted message (envelope, bytes, login)
        server.fail_next("RCPT", "550 5.1.1 No such user")
        server.fail_next("DATA", DROP)   # close the connection instead of answering
        server.drop_connections()  # as a server closing idle connections would
"""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
from collections import deque
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

DROP = "drop"  # a fault: close the connection instead of answering
STAGES = ("MAIL", "RCPT", "DATA")


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: str | None

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


class RecordingHandler:
    """aiosmtpd hooks: accept and keep messages, unless a fault is queued for the stage."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.faults: dict[str, deque[str]] = {stage: deque() for stage in STAGES}
        self.commands: list[str] = []

    def _fault(self, server: SMTP, stage: str) -> str | None:
        self.commands.append(stage)
        if not self.faults[stage]:
            return None
        reply = self.faults[stage].popleft()
        if reply == DROP:
            assert server.transport is not None
            server.transport.close()
        return reply

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._fault(server, "MAIL")
        if reply is not None:
            return "" if reply == DROP else reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self._fault(server, "RCPT")
        if reply is not None:
            return "" if reply == DROP else reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self._fault(server, "DATA")
        if reply is not None:
            return "" if reply == DROP else reply
        login = session.auth_data.login.decode("utf-8") if isinstance(session.auth_data, LoginPassword) else None
        content = envelope.original_content or b""
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content, login))
        return "250 Message accepted for delivery"


class PasswordChecker:
    """An aiosmtpd authenticator accepting exactly this user and password; keeps every attempt's login."""

    def __init__(self, user: str, password: str):
        self.user, self.password = user.encode("utf-8"), password.encode("utf-8")
        self.attempts: list[str] = []

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.attempts.append(auth_data.login.decode("utf-8", "replace"))
        ok = auth_data.login == self.user and auth_data.password == self.password
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Controller(Controller):
    def __init__(self, handler: RecordingHandler, **kwargs: Any):
        super().__init__(handler, **kwargs)
        self.protocols: list[SMTP] = []

    def factory(self) -> SMTP:
        protocol = super().factory()
        self.protocols.append(protocol)
        return protocol


class SmtpServer:
    """An aiosmtpd server in a thread; keyword arguments go to aiosmtpd's SMTP (authenticator…)."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, **smtp_options: Any):
        self.handler = RecordingHandler()
        self.host = "127.0.0.1"
        self.port = free_port()
        self._controller = _Controller(
            self.handler, hostname=self.host, port=self.port, ssl_context=ssl_context,
            server_hostname="fake-smtp.test", ready_timeout=5, **smtp_options,
        )

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    @property
    def connections(self) -> int:
        """Connections clients opened (the controller's own start-up probe excluded)."""
        return len(self._controller.protocols) - 1

    def url(self, scheme: str = "smtp", *, credentials: str = "", query: str = "starttls=no") -> str:
        userinfo = f"{credentials}@" if credentials else ""
        return f"{scheme}://{userinfo}{self.host}:{self.port}" + (f"?{query}" if query else "")

    def fail_next(self, stage: str, reply: str) -> None:
        """Answer the next `stage` command (MAIL, RCPT or DATA) with `reply`, or DROP the connection."""
        self.handler.faults[stage].append(reply)

    def drop_connections(self) -> None:
        """Close every open connection from the server side, and wait until it is done."""

        async def drop() -> None:
            for protocol in self._controller.protocols:
                if protocol.transport is not None and not protocol.transport.is_closing():
                    protocol.transport.close()
            await asyncio.sleep(0.01)  # let the loop send the FINs

        asyncio.run_coroutine_threadsafe(drop(), self._controller.loop).result(timeout=5)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._controller.stop()


class SilentListener:
    """A socket that accepts connections (kernel backlog) but never says a word: every read times out."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(8)
        self.port = int(self._socket.getsockname()[1])

    def __enter__(self) -> SilentListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self._socket.close()
