"""Report drafts in the cycle: rendered into the drafts folder, emailed once with the .docx, again
("mis à jour") only when the figures change; `cantines draft` on demand."""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from pathlib import Path

import docx
import openpyxl
from click.testing import CliRunner

from automations.cli import cli
from automations.demo import write_demo_workbook
from automations.cycle.run import run_cycle
from automations.settings import Settings

from .conftest import PARIS

TODAY = dt.date(2026, 11, 24)


def clock() -> dt.datetime:
    return dt.datetime(2026, 11, 24, 7, 30, tzinfo=PARIS)


def drafts_sent(settings: Settings) -> list[email.message.EmailMessage]:
    folder: Path = settings.mail.outbox_dir
    messages = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(folder.glob("*.eml"))]
    return [m for m in messages if m["X-Cantines-Kind"] == "brouillon-bilan"]  # type: ignore[misc]


def test_drafts_are_sent_once_and_again_only_when_figures_change(settings: Settings) -> None:
    write_demo_workbook(settings, TODAY)
    first = run_cycle(settings, today=TODAY, clock=clock)
    assert first.drafts >= 2
    sent = drafts_sent(settings)
    assert len(sent) == first.drafts
    for message in sent:
        assert str(message["Subject"]).startswith("Brouillon : ")
        attachments = {a.get_filename(): a for a in message.iter_attachments()}
        (word,) = [a for name, a in attachments.items() if name.endswith(".docx")]
        assert word.get_payload(decode=True)[:2] == b"PK"  # a real .docx (zip)
        (markdown,) = [a for name, a in attachments.items() if name.endswith(".md")]
        charts = [name for name in attachments if name.endswith(".png")]
        assert all(name in markdown.get_content() for name in charts)  # the charts it shows
        # a bilan shows a chart of meals per cantine; a compte rendu financier, a budget table
        assert bool(charts) != ("Compte rendu financier" in str(message["Subject"]))
        text = message.get_body(("plain",)).get_content()
        for name in attachments:  # what the text lists is what is attached
            assert name in text
    assert all(path.exists() for path in first.draft_files)
    assert run_cycle(settings, today=TODAY, clock=clock).drafts == 0  # same figures: nothing again

    # Cantine du Port's figures change: its draft (and only it) goes again, "mis à jour"
    book = openpyxl.load_workbook(settings.workbook.path)
    sheet = book["Indicateurs"]
    header = [c.value for c in sheet[1]]
    changed = 0
    for row in sheet.iter_rows(min_row=2):
        if row[header.index("Cantine")].value == "Cantine du Port":
            row[header.index("Repas servis")].value = 999
            changed += 1
    book.save(settings.workbook.path)
    assert changed
    third = run_cycle(settings, today=TODAY, clock=clock)
    updated = [m for m in drafts_sent(settings) if str(m["Subject"]).startswith("Brouillon mis à jour")]
    assert third.drafts == len(updated) == 1
    assert "Cantine du Port" in str(updated[0]["Subject"]) or "CONV-2026-03" in str(updated[0]["Subject"])
    document = docx.Document(third.draft_files[0])
    text = "\n".join(p.text for p in document.paragraphs) + "\n".join(
        cell.text for table in document.tables for row in table.rows for cell in row.cells)
    assert "999" in text


def test_draft_command_renders_on_demand(settings: Settings, tmp_path: Path) -> None:
    write_demo_workbook(settings, TODAY)
    result = CliRunner().invoke(cli, ["draft", "--config", str(settings.path), "--today", TODAY.isoformat(),
                                      "--out", str(tmp_path / "all")])
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "all").glob("*.docx"))) >= 2 and len(list((tmp_path / "all").glob("*.md"))) >= 2
    one = CliRunner().invoke(cli, ["draft", "--config", str(settings.path), "--today", TODAY.isoformat(),
                                   "--out", str(tmp_path / "one"), "bilan intermediaire – conv-2026-01"])
    assert one.exit_code == 0, one.output
    assert [p.name for p in (tmp_path / "one").glob("*.docx")] == ["CONV-2026-01_2026-12-24_bilan-intermediaire.docx"]
    missing = CliRunner().invoke(cli, ["draft", "--config", str(settings.path), "--today", TODAY.isoformat(), "rien de tel"])
    assert missing.exit_code == 1 and "aucun bilan à préparer ne correspond à « rien de tel »" in missing.output
    # a convention's code names its versements and visits too: only its reports get a draft
    by_convention = CliRunner().invoke(cli, ["draft", "--config", str(settings.path), "--today", TODAY.isoformat(),
                                             "--out", str(tmp_path / "conv"), "CONV-2026-06"])
    assert by_convention.exit_code == 0, by_convention.output
    names = [p.name for p in (tmp_path / "conv").glob("*.docx")]
    assert names and all("bilan" in n or "rapport" in n or "compte-rendu" in n for n in names), names
    assert not any("versement" in n or "visite" in n for n in names)
    assert not settings.state.path.exists()  # nothing queued or written


def test_missing_months_are_grouped_by_cantine() -> None:
    from automations.cycle.draft_delivery import missing_months
    from automations.domain.model import Agreement, Dataset, DueItem
    from automations.domain.reports import build_draft
    item = DueItem(key="k", agreement="C", type="Bilan intermédiaire", status="À venir", due_on=dt.date(2026, 3, 31))
    agreement = Agreement(reference="C", partner="P", cantines=("A", "B"), starts_on=dt.date(2026, 1, 1))
    draft = build_draft(item, Dataset(conventions=[agreement], echeances=[item]), dt.date(2026, 4, 2))
    assert missing_months(draft) == ["A : janv. 2026, févr. 2026, mars 2026", "B : janv. 2026, févr. 2026, mars 2026"]
