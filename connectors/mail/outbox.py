"""The default mail backend: nothing leaves the machine. Each message becomes a .eml file (open it in
any mail client), an .html preview, and a line in `index.html` that lists every message in the folder."""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import tempfile
from email import policy
from email.parser import BytesHeaderParser
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from babel.dates import format_datetime

from connectors.mail.base import MailBackend
from connectors.mail.message import WIRE

SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _date(message: EmailMessage) -> dt.datetime | None:
    try:
        return parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError, IndexError):
        return None


def date_fr(value: dt.datetime | None, *, short: bool = False) -> str:
    """A message's date as staff read it: "mardi 1er décembre 2026 à 07:30" or "01/12/2026 07:30"."""
    if value is None:
        return ""
    if short:
        return value.strftime("%d/%m/%Y %H:%M")
    day = "d'er'" if value.day == 1 else "d"
    return format_datetime(value, f"EEEE {day} MMMM y 'à' HH:mm", tzinfo=value.tzinfo, locale="fr_FR")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def stem_for(message: EmailMessage) -> str:
    """The file name (without extension) of a message: its date, kind and Message-ID, so redelivering
    the same message overwrites its file instead of adding one."""
    date = parsedate_to_datetime(message["Date"]).strftime("%Y-%m-%d") if message["Date"] else "sans-date"
    kind = SAFE.sub("-", message.get("X-Cantines-Kind", "message")).strip("-")
    ident = SAFE.sub("", (message["Message-ID"] or "").split("@")[0])[-12:]
    return f"{date}-{kind}-{ident}"


class OutboxBackend(MailBackend):
    """Writes messages into a folder; `index.html` in it shows them all in a browser."""

    name = "outbox"
    after_crash = "resend"  # the same file is written again

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        self.delivered = 0

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def deliver(self, message: EmailMessage) -> str | None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = stem_for(message)
        _atomic_write(self.folder / f"{stem}.eml", message.as_bytes(policy=WIRE))
        _atomic_write(self.folder / f"{stem}.html", self._preview(message, stem).encode("utf-8"))
        self.delivered += 1
        return f"{stem}.eml"

    def close(self) -> None:
        if self.folder.is_dir():
            self.write_index()

    # -- pages ------------------------------------------------------------------------------

    def _preview(self, message: EmailMessage, stem: str) -> str:
        text_part = message.get_body(preferencelist=("plain",))
        html_part = message.get_body(preferencelist=("html",))
        files = []
        for part in message.iter_attachments():
            name = part.get_filename() or "piece-jointe"
            folder = self.folder / f"{stem}_fichiers"
            folder.mkdir(exist_ok=True)
            _atomic_write(folder / SAFE.sub("_", name), part.get_payload(decode=True) or b"")
            files.append(
                f'<li><a href="{html.escape(folder.name)}/{html.escape(SAFE.sub("_", name))}">'
                f"{html.escape(name)}</a></li>"
            )
        headers = "".join(
            f"<tr><th>{label}</th><td>{html.escape(str(message[name]))}</td></tr>"
            for name, label in (("From", "De"), ("To", "À"), ("Cc", "Copie"), ("Subject", "Objet"))
            if message[name]
        )
        if (date := _date(message)) is not None:
            headers += f"<tr><th>Date</th><td>{html.escape(date_fr(date))}</td></tr>"
        body = (
            f'<iframe title="Message" srcdoc="{html.escape(html_part.get_content())}"></iframe>'
            if html_part is not None else ""
        )
        text = f"<h2>Version texte</h2><pre>{html.escape(text_part.get_content())}</pre>" if text_part else ""
        attachments = f"<h2>Pièces jointes</h2><ul>{''.join(files)}</ul>" if files else ""
        return PAGE.format(
            title=html.escape(str(message["Subject"])),
            body=f'<p><a href="index.html">← Tous les messages</a> · <a href="{stem}.eml">Fichier .eml</a></p>'
            f"<table class=headers>{headers}</table>{body}{attachments}{text}",
        )

    def write_index(self) -> Path:
        """List every .eml in the folder, newest first, each linked to its preview."""
        entries = []
        for path in self.folder.glob("*.eml"):
            with path.open("rb") as handle:  # the headers are all the index shows
                parsed = BytesHeaderParser(policy=policy.default).parse(handle)
            entries.append((_date(parsed), path.stem, parsed))
        entries.sort(key=lambda e: (e[0].isoformat() if e[0] else "", e[1]), reverse=True)
        rows = "".join(
            "<tr>"
            f"<td>{html.escape(date_fr(date, short=True))}</td>"
            f"<td>{html.escape(str(m.get('X-Cantines-Kind', '')))}</td>"
            f"<td>{html.escape(str(m['To'] or ''))}</td>"
            f'<td><a href="{html.escape(stem)}.html">{html.escape(str(m["Subject"] or "(sans objet)"))}</a></td>'
            "</tr>"
            for date, stem, m in entries
        )
        count = len(entries)
        page = PAGE.format(
            title="Boîte d'envoi",
            body=f"<h1>Boîte d'envoi</h1><p>{count} message{'s' if count > 1 else ''} "
            f"préparé{'s' if count > 1 else ''} localement\u00a0: aucun n'a été envoyé par email.</p>"
            f"<table><thead><tr><th>Date</th><th>Type</th><th>Destinataires</th><th>Objet</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>",
        )
        index = self.folder / "index.html"
        _atomic_write(index, page.encode("utf-8"))
        return index


PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 60rem; padding: 0 1rem; color: #1d2b26; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #dde4e1; vertical-align: top; }}
table.headers th {{ width: 7rem; color: #56645f; }}
iframe {{ width: 100%; height: 70vh; border: 1px solid #dde4e1; margin: 1rem 0; }}
pre {{ white-space: pre-wrap; background: #f5f7f6; padding: 1rem; }}
</style></head><body>{body}</body></html>
"""
