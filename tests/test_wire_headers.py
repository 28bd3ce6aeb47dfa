"""Headers as mail clients receive them: the raw bytes of the outbox's .eml, of SMTP DATA as aiosmtpd
received it, and the JSON the SendGrid fake received, after the message went through the state store
(bytes, then parsed back) exactly as a run sends it."""

from __future__ import annotations

import datetime as dt
import re
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from connectors.mail import OutboxBackend, OutgoingMessage, SendGridBackend, SmtpBackend, build_message
from connectors.mail.message import WIRE, fold_ascii, mailbox

from .conftest import PARIS
from .fakes.sendgrid import FakeSendGrid
from .fakes.smtp import SmtpServer

UNSUBSCRIBE = (
    "<mailto:coordination@cantines.example?subject=Ne%20plus%20recevoir%20%3A%20r%C3%A9capitulatif%20"
    "Cantine%20Bellevue>, <https://cantines.example/desinscription?liste=recapitulatif-cantine-bellevue>"
)
# a draft's key: long, ASCII, with spaces (Python's folder broke it before a space it kept: "  ")
DRAFT_KEY = "draft:CONV-2026-01 Bilan intermediaire 2026-12-01:" + "0123456789abcdef" * 4
NOW = dt.datetime(2026, 11, 23, 7, 30, tzinfo=PARIS)


def outgoing(key: str = DRAFT_KEY) -> OutgoingMessage:
    return OutgoingMessage(
        key=key, kind="brouillon",
        sender=Address("Réseau des Petites Cantines, coordination", "robot", "cantines.example"),
        to=("Dupont, Jean <jean.dupont@cantines.example>",),
        cc=('"Martin, Jeanne" <jeanne.martin@cantines.example>', "plain@cantines.example"),
        subject="Bilan intermédiaire – CONV-2026-01 – Cantine du Port et La Marmite des Chartrons : prêt à relire",
        text="Bonjour,\n", html="<p>Bonjour,</p>",
        headers=(("List-Unsubscribe", UNSUBSCRIBE), ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")),
    )


def through_the_store(message: OutgoingMessage) -> EmailMessage:
    """What a run hands to a backend: the queued bytes parsed back with policy.default."""
    stored = build_message(message, date=NOW).as_bytes(policy=WIRE)
    parsed = BytesParser(policy=policy.default).parsebytes(stored)
    assert isinstance(parsed, EmailMessage)
    return parsed


def raw_header(raw: bytes, name: str) -> str:
    """A header's raw text on the wire, its continuation lines included."""
    text = raw.decode("ascii")
    match = re.search(rf"^{re.escape(name)}: (.*?)\r?\n(?![ \t])", text, flags=re.MULTILINE | re.DOTALL)
    assert match, f"no {name} in:\n{text[:2000]}"
    return match[1]


def unfolded(value: str) -> str:
    return re.sub(r"\r?\n", "", value)


def check_raw_headers(raw: bytes) -> None:
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    assert all(len(line) <= 998 for line in head.splitlines())
    assert unfolded(raw_header(raw, "List-Unsubscribe")) == UNSUBSCRIBE  # plain <mailto:…>, no =?utf-8?q?
    assert raw_header(raw, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert unfolded(raw_header(raw, "X-Cantines-Key")) == DRAFT_KEY  # no doubled space, no encoded word
    to = raw_header(raw, "To")
    assert '"Dupont, Jean" <jean.dupont@cantines.example>' in unfolded(to)
    assert '"Martin, Jeanne" <jeanne.martin@cantines.example>' in unfolded(raw_header(raw, "Cc"))
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert [a.display_name for a in parsed["To"].addresses] == ["Dupont, Jean"]
    assert parsed["From"].addresses[0].display_name == "Réseau des Petites Cantines, coordination"
    assert str(parsed["Subject"]) == outgoing().subject
    assert str(parsed["X-Cantines-Key"]) == DRAFT_KEY


def test_the_outbox_eml_has_plain_ascii_headers(tmp_path: Path) -> None:
    with OutboxBackend(tmp_path) as outbox:
        name = outbox.deliver(through_the_store(outgoing()))
    assert name is not None
    check_raw_headers((tmp_path / name).read_bytes())


def test_smtp_data_has_plain_ascii_headers() -> None:
    with SmtpServer() as server:
        with SmtpBackend(server.url()) as backend:
            backend.deliver(through_the_store(outgoing()))
        (received,) = server.received
    check_raw_headers(received.content)
    assert sorted(received.rcpt_tos) == [
        "jean.dupont@cantines.example", "jeanne.martin@cantines.example", "plain@cantines.example",
    ]


def test_sendgrid_gets_the_whole_names_and_the_stored_key() -> None:
    with FakeSendGrid(api_key="SG.key") as fake:
        with SendGridBackend("SG.key", host=fake.url, timeout=5) as backend:
            backend.deliver(through_the_store(outgoing()))
        (payload,) = fake.received
    (personalization,) = payload["personalizations"]
    # SendGrid reads a bare comma as a list separator; wrapped in double quotes the name is kept whole
    assert personalization["to"] == [{"email": "jean.dupont@cantines.example", "name": '"Dupont, Jean"'}]
    assert personalization["cc"] == [
        {"email": "jeanne.martin@cantines.example", "name": '"Martin, Jeanne"'},
        {"email": "plain@cantines.example"},
    ]
    assert payload["from"]["name"] == '"Réseau des Petites Cantines, coordination"'
    assert payload["custom_args"] == {"cantines_key": DRAFT_KEY}  # the state store's key, byte for byte
    assert payload["headers"]["List-Unsubscribe"] == UNSUBSCRIBE
    assert payload["headers"]["X-Cantines-Key"] == DRAFT_KEY


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("short", "X: short\r\n", id="short"),
        pytest.param("a" * 120, f"X: {'a' * 120}\r\n", id="one-long-token-stays-whole"),
        pytest.param("w " * 45 + "end", None, id="folded-before-a-space"),
        pytest.param("a  " + "b" * 80, "X: a\r\n  " + "b" * 80 + "\r\n", id="double-space-kept"),
    ],
)
def test_ascii_folding_gives_the_value_back(value: str, expected: str | None) -> None:
    folded = fold_ascii("X", value)
    if expected is not None:
        assert folded == expected
    lines = folded.split("\r\n")[:-1]
    # a line is over 78 characters only when it holds a single token that cannot be broken
    assert all(len(line) <= 78 or len(line.split()) == (2 if i == 0 else 1) for i, line in enumerate(lines))
    assert unfolded(folded) == f"X: {value}"


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param("Le Chaudron Partagé : votre semaine, 2 nouvelles opportunités, 1 échéance à venir", id="space-before-encoded-word"),
        pytest.param("Bilan intermédiaire – CONV-2026-01 – Cantine du Port : prêt à relire  (double)", id="double-space"),
        pytest.param("Question du Banquet d'Ajaccio (posée le 24/11/2026)", id="ascii"),
        pytest.param("Échéance " + "é" * 90, id="long-non-ascii"),
    ],
)
def test_a_subject_reads_back_exactly_from_smtp_data(subject: str) -> None:
    message = OutgoingMessage(key="k", kind="x", sender=Address("R", "r", "cantines.example"),
                              to=("a@cantines.example",), subject=subject, text="x")
    with SmtpServer() as server:
        with SmtpBackend(server.url()) as backend:
            backend.deliver(through_the_store(message))
        (received,) = server.received
    head = received.content.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.splitlines() if line.startswith((b"Subject", b" =?")))
    assert str(received.parsed()["Subject"]) == subject


@pytest.mark.parametrize(
    ("text", "name", "address"),
    [
        pytest.param("jean@cantines.example", "", "jean@cantines.example", id="bare"),
        pytest.param("Dupont, Jean <jean@cantines.example>", "Dupont, Jean", "jean@cantines.example", id="comma-unquoted"),
        pytest.param('"Martin, Jeanne" <jeanne@cantines.example>', "Martin, Jeanne", "jeanne@cantines.example", id="outlook"),
        pytest.param("Élodie Brun <e.brun@cantines.example>", "Élodie Brun", "e.brun@cantines.example", id="accents"),
    ],
)
def test_a_recipient_keeps_its_whole_display_name(text: str, name: str, address: str) -> None:
    parsed = mailbox(text)
    assert (parsed.display_name, parsed.addr_spec) == (name, address)


def test_a_digest_offers_one_click_unsubscribe_when_a_page_is_configured(tmp_path: Path) -> None:
    from automations.cycle.messages import Network, digest_messages
    from automations.cycle.render import Renderer
    from automations.domain.digests import cantine_digests
    from automations.domain.model import Dataset, Question

    from .conftest import REPO
    from .test_matching import cantine

    today = dt.date(2026, 11, 23)
    who = cantine(receives_emails=True, manager_email="c@cantines.example")
    dataset = Dataset(cantines=[who], questions=[Question(cantine=who.name, asked_on=today, question="Reçu ?", status="Ouverte")])
    network = Network("Les Petites Cantines", "Camille", "coordination@cantines.example", "robot@cantines.example",
                      "Réseau", "coordination@cantines.example", "Camille",
                      unsubscribe_url="https://cantines.example/stop?liste={liste}&email={email}")
    (message,), _ = digest_messages(cantine_digests(dataset, [], today), None, network, Renderer(REPO / "templates"), today)
    with OutboxBackend(tmp_path) as outbox:
        name = outbox.deliver(through_the_store(message))
    assert name is not None
    raw = (tmp_path / name).read_bytes()
    targets = unfolded(raw_header(raw, "List-Unsubscribe"))
    assert targets.startswith("<mailto:coordination@cantines.example?subject=Ne%20plus%20recevoir%20%3A%20r%C3%A9capitulatif%20")
    assert targets.endswith(", <https://cantines.example/stop?liste=r%C3%A9capitulatif%20"
                            + who.name.replace(" ", "%20") + "&email=c%40cantines.example>")
    assert raw_header(raw, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
