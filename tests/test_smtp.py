"""The SMTP backend against a real local SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl
import time
import traceback
from collections.abc import Iterator
from email import policy
from email.headerregistry import Address
from email.parser import BytesParser
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors.errors import ConfigurationError
from connectors.mail import Attachment, DeliveryError, OutgoingMessage, build_message, message_id
from connectors.mail.smtp import SmtpBackend, parse_smtp_url

from .conftest import PARIS
from .fakes.smtp import DROP, PasswordChecker, SilentListener, SmtpServer, free_port

NOW = dt.datetime(2026, 3, 2, 7, 30, tzinfo=PARIS)
USER = "robot@cantines.example"
PASSWORD = "s3cr3t p@ss:w/rd é%"  # every character that needs percent-encoding in a URL
QUOTED = "s3cr3t%20p%40ss%3Aw%2Frd%20%C3%A9%25"
ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Bilan \xc3\xa0 rendre\r\n"
    b"END:VEVENT\r\nEND:VCALENDAR\r\n"
)


class Sleeper:
    """Records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def outgoing(key: str = "rappel:echeance:42:2026-03-09:-7", **changes: object) -> OutgoingMessage:
    values: dict[str, object] = dict(
        key=key, kind="rappel-echeance",
        sender=Address("Réseau des Petites Cantines", "robot", "cantines.example"),
        to=("camille@lyon.example",), cc=("bureau@lyon.example",), reply_to="coordination@cantines.example",
        subject="Rappel : échéance",
        text="Bonjour Camille,\nLe bilan « Fondation Alpha » est à rendre le lundi 9 mars 2026 (12 500 €).\n",
        html="<p>Bonjour Camille,</p><p>Le bilan <strong>« Fondation Alpha »</strong> est à rendre.</p>",
        attachments=(Attachment("échéance.ics", ICS, "text/calendar"),),
    )
    values.update(changes)
    return OutgoingMessage(**values)  # type: ignore[arg-type]


def built(key: str = "rappel:echeance:42:2026-03-09:-7", **changes: object):  # type: ignore[no-untyped-def]
    return build_message(outgoing(key, **changes), date=NOW)


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer() as smtp:
        yield smtp


@pytest.fixture
def sleeper() -> Sleeper:
    return Sleeper()


def no_password_in(*texts: str) -> bool:
    return not any(PASSWORD in text or QUOTED in text for text in texts)


def full_text(exc: BaseException) -> str:
    """The exception as a log or a traceback would show it, causes included."""
    return "".join(traceback.format_exception(exc)) + repr(exc)


# -- delivery ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "as_queued", [pytest.param(True, id="parsed-from-the-outbox"), pytest.param(False, id="as-built")]
)
def test_message_arrives_intact_with_parts_headers_and_envelope(server: SmtpServer, as_queued: bool) -> None:
    message = built()
    if as_queued:  # as run.deliver hands it over: stored as bytes, parsed back
        message = BytesParser(policy=policy.default).parsebytes(message.as_bytes(policy=policy.SMTP))
    with SmtpBackend(server.url()) as backend:
        provider_id = backend.deliver(message)

    assert provider_id == message_id("rappel:echeance:42:2026-03-09:-7")
    (received,) = server.received
    assert received.mail_from == "robot@cantines.example"
    assert received.rcpt_tos == ["camille@lyon.example", "bureau@lyon.example"]  # To + Cc
    parsed = received.parsed()
    assert parsed["Subject"] == "Rappel : échéance"
    assert parsed["From"].addresses[0].display_name == "Réseau des Petites Cantines"
    assert parsed["To"] == "camille@lyon.example"
    assert parsed["Cc"] == "bureau@lyon.example"
    assert parsed["Message-ID"] == provider_id
    assert parsed["X-Cantines-Key"] == "rappel:echeance:42:2026-03-09:-7"
    assert parsed["X-Cantines-Kind"] == "rappel-echeance"
    assert parsed.get_content_type() == "multipart/mixed"
    text = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert text is not None and html is not None
    assert "Le bilan « Fondation Alpha » est à rendre le lundi 9 mars 2026 (12 500 €)." in text.get_content()
    assert "<strong>« Fondation Alpha »</strong>" in html.get_content()
    (attachment,) = list(parsed.iter_attachments())
    assert attachment.get_filename() == "échéance.ics"
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_payload(decode=True) == ICS


def test_one_connection_serves_every_message(server: SmtpServer) -> None:
    with SmtpBackend(server.url()) as backend:
        for n in range(3):
            backend.deliver(built(f"key-{n}"))
    assert len(server.received) == 3
    assert server.connections == 1


def test_bcc_is_neither_a_recipient_nor_in_the_sent_bytes(server: SmtpServer) -> None:
    message = built()
    message["Bcc"] = "secret@cantines.example"
    with SmtpBackend(server.url()) as backend:
        backend.deliver(message)
    (received,) = server.received
    assert received.rcpt_tos == ["camille@lyon.example", "bureau@lyon.example"]
    assert b"secret@cantines.example" not in received.content
    assert received.parsed()["Bcc"] is None


def test_a_message_without_recipients_is_held(server: SmtpServer) -> None:
    message = built(to=(), cc=())
    with SmtpBackend(server.url()) as backend, pytest.raises(DeliveryError) as caught:
        backend.deliver(message)
    assert not caught.value.retriable
    assert "aucun destinataire" in str(caught.value)
    assert server.received == []


def test_delivers_without_an_explicit_open(server: SmtpServer) -> None:
    backend = SmtpBackend(server.url())
    try:
        backend.deliver(built())
    finally:
        backend.close()
    assert len(server.received) == 1


# -- authentication ---------------------------------------------------------------------------


ASCII_PASSWORD, ASCII_QUOTED = "s3cr3t-p@ss:w/rd", "s3cr3t-p%40ss%3Aw%2Frd"
PASSWORDS = [
    pytest.param(ASCII_PASSWORD, ASCII_QUOTED, id="ascii-password"),  # smtplib's own login
    pytest.param(PASSWORD, QUOTED, id="utf8-password"),  # AUTH PLAIN in UTF-8 (smtplib only takes ASCII)
]


@pytest.mark.parametrize(("password", "quoted"), PASSWORDS)
def test_login_with_percent_encoded_credentials(password: str, quoted: str) -> None:
    checker = PasswordChecker(USER, password)
    with SmtpServer(authenticator=checker, auth_require_tls=False) as smtp:
        with SmtpBackend(smtp.url(credentials=f"robot%40cantines.example:{quoted}")) as backend:
            backend.deliver(built())
        (received,) = smtp.received
        assert received.login == USER
        assert checker.attempts == [USER]


@pytest.mark.parametrize(("password", "quoted"), PASSWORDS)
def test_wrong_password_names_smtp_url_and_never_leaks_the_password(
    password: str, quoted: str, sleeper: Sleeper, caplog: pytest.LogCaptureFixture
) -> None:
    checker = PasswordChecker(USER, "the-right-one")
    with SmtpServer(authenticator=checker, auth_require_tls=False) as smtp:
        backend = SmtpBackend(smtp.url(credentials=f"robot%40cantines.example:{quoted}"), sleeper=sleeper)
        caplog.set_level(logging.DEBUG)
        with pytest.raises(DeliveryError) as caught:
            backend.open()
        assert set(checker.attempts) == {USER} and smtp.received == []  # smtplib tries PLAIN, then LOGIN
    error = caught.value
    assert not error.retriable
    assert "SMTP_URL" in str(error) and "535" in str(error) and "robot@cantines.example" in str(error)
    assert sleeper.waits == []  # a wrong password is not tried again
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("connectors"))
    for text in (full_text(error), repr(backend), ours):
        assert password not in text and quoted not in text


def test_password_is_not_sent_over_plain_text_unless_asked() -> None:
    checker = PasswordChecker(USER, PASSWORD)
    with SmtpServer(authenticator=checker, auth_require_tls=False) as smtp:
        url = smtp.url(credentials=f"robot%40cantines.example:{QUOTED}", query="")  # STARTTLS: auto
        with pytest.raises(DeliveryError) as caught:
            SmtpBackend(url).open()
        assert checker.attempts == [] and smtp.received == []
    assert not caught.value.retriable
    assert "STARTTLS" in str(caught.value) and "starttls=no" in str(caught.value)
    assert no_password_in(full_text(caught.value))


def test_repr_and_settings_hide_the_password() -> None:
    url = f"smtp://robot%40cantines.example:{QUOTED}@smtp.example.org:587"
    backend = SmtpBackend(url)
    assert repr(backend) == "SmtpBackend('smtp://robot%40cantines.example:***@smtp.example.org:587')"
    assert backend.settings.password == PASSWORD
    assert no_password_in(repr(backend), repr(backend.settings), str(vars(backend.settings.__class__)))
    assert PASSWORD not in repr(backend.settings)


# -- TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate, key) PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(1)
        .not_valid_before(start - dt.timedelta(days=3650)).not_valid_after(start + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    return cert_path, key_path


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


def test_starttls_upgrades_before_logging_in(certificate: tuple[Path, Path]) -> None:
    # auth_require_tls (aiosmtpd's default) refuses AUTH on a plain connection: the login proves the upgrade.
    checker = PasswordChecker(USER, PASSWORD)
    with SmtpServer(tls_context=server_context(certificate), authenticator=checker) as smtp:
        trusted = ssl.create_default_context(cafile=str(certificate[0]))
        url = smtp.url(credentials=f"robot%40cantines.example:{QUOTED}", query="")
        with SmtpBackend(url, ssl_context=trusted) as backend:
            backend.deliver(built())
        (received,) = smtp.received
        assert received.login == USER and checker.attempts == [USER]


def test_starttls_required_fails_when_the_server_does_not_offer_it(server: SmtpServer) -> None:
    with pytest.raises(DeliveryError) as caught:
        SmtpBackend(server.url(query="starttls=required")).open()
    assert not caught.value.retriable and "STARTTLS" in str(caught.value)


def test_smtps_implicit_tls(certificate: tuple[Path, Path]) -> None:
    with SmtpServer(ssl_context=server_context(certificate)) as smtp:
        trusted = ssl.create_default_context(cafile=str(certificate[0]))
        with SmtpBackend(smtp.url("smtps", query=""), ssl_context=trusted) as backend:
            backend.deliver(built())
        assert len(smtp.received) == 1


def test_an_untrusted_certificate_is_refused(certificate: tuple[Path, Path], sleeper: Sleeper) -> None:
    with SmtpServer(ssl_context=server_context(certificate)) as smtp:
        with pytest.raises(DeliveryError) as caught:
            SmtpBackend(smtp.url("smtps", query=""), sleeper=sleeper).open()  # the system's CAs only
        assert "certificate" in str(caught.value)
        assert caught.value.retriable and sleeper.waits == []
        assert smtp.received == []


# -- server replies -----------------------------------------------------------------------------


TEMPORARY = [
    pytest.param("MAIL", "421 4.3.2 Service shutting down, closing channel", id="421-on-mail"),
    pytest.param("RCPT", "451 4.7.1 Greylisted, please try again later", id="451-on-rcpt"),
    pytest.param("DATA", "451 4.3.0 Temporary local problem", id="451-after-data"),
]


@pytest.mark.parametrize(("stage", "reply"), TEMPORARY)
def test_a_temporary_refusal_is_tried_again_after_a_wait(
    server: SmtpServer, sleeper: Sleeper, stage: str, reply: str
) -> None:
    server.fail_next(stage, reply)
    with SmtpBackend(server.url(), sleeper=sleeper) as backend:
        provider_id = backend.deliver(built(cc=()))
    assert provider_id is not None
    assert len(server.received) == 1
    assert sleeper.waits == [1.0]


@pytest.mark.parametrize(("stage", "reply"), TEMPORARY)
def test_a_lasting_temporary_refusal_is_retriable(server: SmtpServer, sleeper: Sleeper, stage: str, reply: str) -> None:
    for _ in range(3):
        server.fail_next(stage, reply)
    with SmtpBackend(server.url(), sleeper=sleeper, max_attempts=3) as backend:
        with pytest.raises(DeliveryError) as caught:
            backend.deliver(built(cc=()))
        assert caught.value.retriable
        assert reply.split()[0] in str(caught.value) and "après 3 tentatives" in str(caught.value)
        assert sleeper.waits == [1.0, 2.0]
        assert server.received == []
        backend.deliver(built(cc=()))  # the backend is still usable once the server recovers
    assert len(server.received) == 1


PERMANENT = [
    pytest.param("RCPT", "550 5.1.1 <camille@lyon.example>: Recipient address rejected", "camille@lyon.example",
                 id="550-recipient-refused"),
    pytest.param("MAIL", "553 5.7.1 Sender address rejected: not owned by user", "expéditeur", id="553-sender"),
    pytest.param("DATA", "554 5.7.1 Message rejected as spam", "554", id="554-after-data"),
]


@pytest.mark.parametrize(("stage", "reply", "named"), PERMANENT)
def test_a_permanent_refusal_is_not_retriable(
    server: SmtpServer, sleeper: Sleeper, stage: str, reply: str, named: str
) -> None:
    server.fail_next(stage, reply)
    with SmtpBackend(server.url(), sleeper=sleeper) as backend:
        with pytest.raises(DeliveryError) as caught:
            backend.deliver(built(cc=()))
        assert not caught.value.retriable
        assert named in str(caught.value) and reply.split()[0] in str(caught.value)
        assert sleeper.waits == [] and server.received == []
        backend.deliver(built(cc=()))  # the same connection goes on with the next message
    assert len(server.received) == 1
    assert server.connections == 1


def test_one_refused_recipient_among_two_is_logged_not_resent(
    server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail_next("RCPT", "550 5.1.1 No such user")  # the first RCPT: camille
    with SmtpBackend(server.url()) as backend:
        provider_id = backend.deliver(built())
    assert provider_id is not None  # sent to the Cc: sending again would duplicate it for them
    (received,) = server.received
    assert received.rcpt_tos == ["bureau@lyon.example"]
    assert "camille@lyon.example (550 5.1.1 No such user)" in caplog.text


# -- connections that fail ----------------------------------------------------------------------


def test_a_dropped_idle_connection_is_reopened_once(server: SmtpServer, sleeper: Sleeper) -> None:
    with SmtpBackend(server.url(), sleeper=sleeper) as backend:
        backend.deliver(built("first"))
        server.drop_connections()
        backend.deliver(built("second"))
    assert [r.parsed()["Message-ID"] for r in server.received] == [message_id("first"), message_id("second")]
    assert server.connections == 2
    assert sleeper.waits == []


def test_a_connection_lost_after_the_data_is_retriable_and_not_resent_at_once(
    server: SmtpServer, sleeper: Sleeper
) -> None:
    server.fail_next("DATA", DROP)
    with SmtpBackend(server.url(), sleeper=sleeper) as backend:
        with pytest.raises(DeliveryError) as caught:
            backend.deliver(built("lost"))
        assert caught.value.retriable
        assert "le message a pu être accepté ou non" in str(caught.value)
        assert sleeper.waits == [] and server.handler.commands.count("DATA") == 1  # not sent twice now
        assert backend.after_crash == "resend"  # the next run resends it under the same Message-ID
        backend.deliver(built("next"))  # a new connection for the next message
    assert [r.parsed()["Message-ID"] for r in server.received] == [message_id("next")]
    assert server.connections == 2


def test_nothing_listening_is_retriable_and_fast(sleeper: Sleeper) -> None:
    port = free_port()  # bound then released: nothing listens there
    started = time.monotonic()
    with pytest.raises(DeliveryError) as caught:
        SmtpBackend(f"smtp://127.0.0.1:{port}?starttls=no", sleeper=sleeper, max_attempts=3).open()
    assert caught.value.retriable
    assert f"serveur SMTP 127.0.0.1:{port} injoignable" in str(caught.value)
    assert "après 3 tentatives" in str(caught.value)
    assert sleeper.waits == [1.0, 2.0]
    assert time.monotonic() - started < 2


def test_a_silent_server_times_out(sleeper: Sleeper) -> None:
    with SilentListener() as silent:
        started = time.monotonic()
        with pytest.raises(DeliveryError) as caught:
            SmtpBackend(f"smtp://127.0.0.1:{silent.port}", timeout=0.2, sleeper=sleeper, max_attempts=1).open()
    assert caught.value.retriable and "timed out" in str(caught.value)
    assert time.monotonic() - started < 2


def test_close_after_the_server_went_away_does_not_raise() -> None:
    smtp = SmtpServer()
    with smtp:
        backend = SmtpBackend(smtp.url())
        backend.open()
    backend.close()  # the server is gone: QUIT fails quietly, the socket is closed
    assert backend.connections_opened == 1


# -- the URL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port", "implicit_tls", "starttls", "username"),
    [
        pytest.param("smtps://u:p@smtp.example.org", "smtp.example.org", 465, True, "auto", "u",
                     id="smtps-default-port"),
        pytest.param("smtp://u:p@smtp.example.org", "smtp.example.org", 587, False, "auto", "u",
                     id="smtp-default-port"),
        pytest.param("smtp://localhost:25?starttls=no", "localhost", 25, False, "no", None, id="local-relay"),
        pytest.param("SMTP://u:p@Relay.Example.org:2525?starttls=required", "relay.example.org", 2525, False,
                     "required", "u", id="required"),
        pytest.param(f"smtp://robot%40cantines.example:{QUOTED}@[::1]:587", "::1", 587, False, "auto",
                     "robot@cantines.example", id="ipv6-and-encoded-user"),
    ],
)
def test_smtp_url_is_parsed(
    url: str, host: str, port: int, implicit_tls: bool, starttls: str, username: str | None
) -> None:
    settings = parse_smtp_url(url)
    assert (settings.host, settings.port, settings.implicit_tls, settings.starttls, settings.username) == (
        host, port, implicit_tls, starttls, username
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(f"http://robot:{QUOTED}@smtp.example.org", "must start with smtp://", id="scheme"),
        pytest.param(f"smtp://robot:{QUOTED}@", "no host", id="no-host"),
        pytest.param(f"smtp://robot:{QUOTED}@smtp.example.org:port", "invalid port", id="port"),
        pytest.param(f"smtp://robot:{QUOTED}@smtp.example.org?tls=yes", "unknown option 'tls'", id="unknown-option"),
        pytest.param(f"smtp://robot:{QUOTED}@smtp.example.org?starttls=maybe", "starttls must be one of", id="mode"),
        pytest.param(f"smtps://robot:{QUOTED}@smtp.example.org?starttls=no", "does not apply to smtps", id="smtps"),
        pytest.param("smtp://robot@smtp.example.org", "a user but no password", id="no-password"),
        pytest.param("smtp://robot:p/ss@smtp.example.org", "percent-encode", id="unencoded-slash"),
    ],
)
def test_a_wrong_smtp_url_is_a_configuration_error_without_the_password(url: str, expected: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SmtpBackend(url)
    assert expected in str(caught.value) and "SMTP_URL" in str(caught.value)
    assert no_password_in(full_text(caught.value))
