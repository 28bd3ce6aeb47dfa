"""Messages and the outbox backend: parts, headers, deterministic ids, files and index."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from email.headerregistry import Address
from pathlib import Path

from connectors.mail import Attachment, OutboxBackend, OutgoingMessage, build_message, message_id

from .conftest import PARIS

NOW = dt.datetime(2026, 3, 2, 7, 30, tzinfo=PARIS)


def outgoing(key: str = "reminder:echeance:X:2026-03-09:-7", **changes: object) -> OutgoingMessage:
    values: dict[str, object] = dict(
        key=key, kind="rappel-echeance",
        sender=Address("Réseau des Petites Cantines", "robot", "example.org"),
        to=("camille@example.org",), cc=("bureau@example.org",), reply_to="coordination@example.org",
        subject="Rappel : Bilan « Alpha & Oméga » dans 7 jours",
        text="Bonjour,\nLe bilan est à rendre le lundi 9 mars 2026.\n",
        html="<p>Bonjour, le bilan <strong>Alpha &amp; Oméga</strong></p>",
        attachments=(Attachment("bilan.ics", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "text/calendar"),),
    )
    values.update(changes)
    return OutgoingMessage(**values)  # type: ignore[arg-type]


def test_message_has_text_html_attachment_and_headers() -> None:
    built = build_message(outgoing(), date=NOW)
    parsed = email.message_from_bytes(built.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Rappel : Bilan « Alpha & Oméga » dans 7 jours"
    assert parsed["From"].addresses[0].display_name == "Réseau des Petites Cantines"
    assert parsed["Cc"] == "bureau@example.org"
    assert parsed["Reply-To"] == "coordination@example.org"
    assert parsed["Message-ID"] == message_id("reminder:echeance:X:2026-03-09:-7")
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == "Bonjour,\nLe bilan est à rendre le lundi 9 mars 2026.\n"
    assert "<strong>Alpha &amp; Oméga</strong>" in parsed.get_body(("html",)).get_content()
    (attachment,) = list(parsed.iter_attachments())
    assert attachment.get_filename() == "bilan.ics"
    assert attachment.get_content_type() == "text/calendar"
    assert outgoing().recipients == ["camille@example.org", "bureau@example.org"]


def test_message_id_is_deterministic_and_distinct_per_key() -> None:
    assert message_id("a") == message_id("a")
    assert message_id("a") != message_id("b")
    assert message_id("a").startswith("<") and message_id("a").endswith("@cantines-worker.local>")


def test_outbox_writes_eml_preview_attachment_and_index(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path / "outbox")
    with backend:
        first = backend.deliver(build_message(outgoing(), date=NOW))
        backend.deliver(build_message(outgoing("other", subject="Deuxième <message>"), date=NOW))
    folder = tmp_path / "outbox"
    assert first is not None and (folder / first).exists()
    assert len(list(folder.glob("*.eml"))) == 2
    preview = (folder / first.replace(".eml", ".html")).read_text()
    assert "srcdoc=" in preview and "Alpha &amp;amp; Oméga" in preview  # the HTML part, escaped into srcdoc
    assert "bilan.ics" in preview
    assert list(folder.glob("*_fichiers/bilan.ics"))
    index = (folder / "index.html").read_text()
    assert "2 messages" in index
    assert "Deuxième &lt;message&gt;" in index  # subjects are escaped in the index


def test_delivering_the_same_message_again_overwrites_its_file(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path)
    with backend:
        a = backend.deliver(build_message(outgoing(), date=NOW))
        b = backend.deliver(build_message(outgoing(), date=NOW))
    assert a == b
    assert len(list(tmp_path.glob("*.eml"))) == 1
    assert "1 message " in (tmp_path / "index.html").read_text()


def test_the_index_and_previews_speak_french(tmp_path: Path) -> None:
    from email.headerregistry import Address

    from connectors.mail import OutboxBackend, OutgoingMessage, build_message

    sent = dt.datetime(2026, 12, 1, 7, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    with OutboxBackend(tmp_path) as outbox:
        for n in range(27):
            outbox.deliver(build_message(OutgoingMessage(
                key=f"k{n}", kind="rappel", sender=Address("R", "r", "cantines.example"), to=("a@cantines.example",),
                subject=f"Rappel {n}", text="Bonjour",
            ), date=sent))
    index = (tmp_path / "index.html").read_text()
    assert "27 messages préparés localement" in index and "(s)" not in index
    assert "<td>01/12/2026 07:30</td>" in index and "<td>2026-12-01" not in index
    preview = next(p for p in tmp_path.glob("*.html") if p.name != "index.html")
    text = preview.read_text()
    assert "mardi 1er décembre 2026 à 07:30" in text and "+0100" not in text and "Tue," not in text
