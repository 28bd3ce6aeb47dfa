"""Hostile structure, through full cycles on the demo workbook: staff templates broken in every way
a clumsy edit can break them, and tabs and columns deleted or renamed. Each time the run completes,
every message that does not depend on what is broken is still sent, nothing is built from partial
data, and each problem is in the Problèmes tab, in French, saying where it is."""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from automations.cycle.run import RunReport, run_cycle
from automations.demo import write_demo_workbook
from automations.settings import Settings, load_settings
from automations.summary import format_report

from .conftest import REPO, write_config
from .test_run import DEMO_DIGESTS, DEMO_DRAFTS, DEMO_MESSAGES, TODAY, clock_at, outbox_messages, sheet_rows

# What the demo sends on TODAY, by kind of message (see test_run for the totals).
DEMO_KINDS = Counter({
    "rappel-echeance-rapport": 5, "rappel-echeance-versement": 1, "rappel-echeance-partenaire": 1,
    "rappel-budget-realise": 1, "rappel-candidature": 1, "rappel-partenaire-action": 1,
    "recapitulatif-cantine": DEMO_DIGESTS - 1, "recapitulatif-coordination": 1, "brouillon-bilan": DEMO_DRAFTS,
})
DEMO_PROBLEMS = 12  # the demo's deliberate data problems (8 rows, 4 subsidy checks)
DEMO_CRF_DRAFTS = 2  # of the demo's drafts, the comptes rendus financiers (their own template)


def with_templates(tmp_path: Path, edits: dict[str, Callable[[str], str] | None]) -> Settings:
    """The demo on a copy of the templates with `edits` applied (None deletes the file)."""
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    for relative, edit in edits.items():
        path = templates / relative
        if edit is None:
            path.unlink()
        else:
            path.write_text(edit(path.read_text(encoding="utf-8")), encoding="utf-8")
    config = write_config(tmp_path / "deploy")
    config.write_text(config.read_text().replace(f'templates = "{REPO / "templates"}"', f'templates = "{templates}"'))
    settings = load_settings(config, {})
    write_demo_workbook(settings, TODAY)
    return settings


def kinds_sent(settings: Settings) -> Counter[str]:
    return Counter(str(m["X-Cantines-Kind"]) for m in outbox_messages(settings))


def problems_tab(settings: Settings, table: str) -> list[dict]:
    return [p for p in sheet_rows(settings, "problemes") if p["Table"] == table]


def run(settings: Settings) -> RunReport:
    report = run_cycle(settings, today=TODAY, clock=clock_at(TODAY))
    assert not report.fatal, report.errors
    return report


# -- broken templates --------------------------------------------------------------------------


def test_broken_email_templates_cost_only_their_own_messages(tmp_path: Path) -> None:
    settings = with_templates(tmp_path, {
        "emails/rappel_echeance/body.txt": lambda t: t + "\n{{ 1/0 }}\n",
        "emails/rappel_partenaire/body.html": lambda t: t + "\n{% if agreement > 1000 %}gros{% endif %}\n",
        "emails/digest_coordination/body.txt": lambda t: "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}\n" + t,
        "emails/brouillon/subject.txt": lambda t: "{% include '../../../etc/passwd' %}" + t,
        "emails/rappel_candidature/body.txt": lambda t: t + "\n{{ item.title|euros }}\n",
    })
    report = run(settings)
    lost = {"rappel-echeance-rapport", "rappel-echeance-versement", "rappel-echeance-partenaire",
            "rappel-partenaire-action", "recapitulatif-coordination", "brouillon-bilan", "rappel-candidature"}
    assert kinds_sent(settings) == Counter({k: n for k, n in DEMO_KINDS.items() if k not in lost})
    assert report.sent == DEMO_DIGESTS - 1 + 1  # the cantines' digests and the actual-amounts reminder (its own template)
    rows = {p["Ligne"]: p["Problème"] for p in problems_tab(settings, "Modèles d'emails")}
    assert set(rows) == {
        "templates/emails/rappel_echeance/body.txt", "templates/emails/rappel_partenaire/body.html",
        "templates/emails/digest_coordination/body.txt", "templates/emails/brouillon/subject.txt",
        "templates/emails/rappel_candidature/body.txt",
    }
    assert "division par zéro" in rows["templates/emails/rappel_echeance/body.txt"]
    assert "ligne " in rows["templates/emails/rappel_echeance/body.txt"]
    assert "valeur vide comparée" in rows["templates/emails/rappel_partenaire/body.html"]
    assert "appels sans fin" in rows["templates/emails/digest_coordination/body.txt"]
    assert "« ../../../etc/passwd » est introuvable" in rows["templates/emails/brouillon/subject.txt"]
    assert "le filtre « euros » attend un nombre, pas le texte" in rows["templates/emails/rappel_candidature/body.txt"]
    assert all(p.endswith("ces messages ne sont pas partis") for p in rows.values())
    assert "root:" not in "".join(m.as_string() for m in outbox_messages(settings))
    # the drafts themselves were written; only their covering emails are missing
    assert report.drafts == 0 and len(list(settings.reports.drafts_dir.glob("*.docx"))) == DEMO_DRAFTS


@pytest.mark.parametrize(
    ("template", "edit", "expected"),
    [
        pytest.param("reports/bilan.md", lambda t: t + "\n{{ draft.title|date_longue }}\n",
                     "le filtre « date_longue » attend une date", id="markdown-filter-on-text"),
        pytest.param("reports/bilan.md", lambda t: t + "\n{% include 'reports/absent.md' %}\n",
                     "« reports/absent.md » est introuvable", id="markdown-include-missing"),
        pytest.param("reports/crf.md", lambda t: t + "\n{{ draft.budget.rows|montant }}\n",
                     "le filtre « montant » attend un nombre", id="crf-filter-on-rows"),
    ],
)
def test_a_broken_report_template_costs_only_the_drafts(
    tmp_path: Path, template: str, edit: Callable[[str], str] | None, expected: str,
) -> None:
    settings = with_templates(tmp_path, {template: edit})
    report = run(settings)
    lost = DEMO_CRF_DRAFTS if "crf" in template else DEMO_DRAFTS - DEMO_CRF_DRAFTS  # the others render
    assert report.sent == DEMO_MESSAGES - lost
    assert kinds_sent(settings)["brouillon-bilan"] == DEMO_DRAFTS - lost
    assert sum(1 for p in report.problems if p.table == "Modèles de bilans") == lost  # one per draft
    rows = problems_tab(settings, "Modèles de bilans")  # one line per distinct message
    assert rows
    assert {r["Ligne"] for r in rows} == {f"templates/{template}"}
    assert all(expected in r["Problème"] and "le brouillon n'a pas pu être préparé" in r["Problème"] for r in rows)


def test_a_deleted_template_part_costs_only_its_messages(tmp_path: Path) -> None:
    settings = with_templates(tmp_path, {"emails/digest_cantine/body.html": None})
    report = run(settings)
    assert report.sent == DEMO_MESSAGES - (DEMO_DIGESTS - 1)
    (row,) = problems_tab(settings, "Modèles d'emails")
    assert row["Ligne"] == "templates/emails/digest_cantine/body.html"
    assert "fichier de modèle introuvable" in row["Problème"]


def test_a_sandbox_escape_is_refused_in_a_full_cycle(tmp_path: Path) -> None:
    settings = with_templates(tmp_path, {
        "emails/digest_coordination/body.html": lambda t: "{{ network.__class__.__init__.__globals__ }}" + t,
    })
    report = run(settings)
    assert report.sent == DEMO_MESSAGES - 1
    (row,) = problems_tab(settings, "Modèles d'emails")
    assert "bac à sable" in row["Problème"]
    assert "__builtins__" not in "".join(m.as_string() for m in outbox_messages(settings))


# -- deleted and renamed tabs and columns --------------------------------------------------------


def delete_tab(tab: str) -> Callable[[openpyxl.Workbook], None]:
    return lambda book: book.remove(book[tab])


def rename_tab(tab: str, new: str) -> Callable[[openpyxl.Workbook], None]:
    def rename(book: openpyxl.Workbook) -> None:
        book[tab].title = new
    return rename


def delete_column(tab: str, column: str) -> Callable[[openpyxl.Workbook], None]:
    def delete(book: openpyxl.Workbook) -> None:
        sheet = book[tab]
        sheet.delete_cols([c.value for c in sheet[1]].index(column) + 1)
    return delete


def rename_column(tab: str, column: str, new: str) -> Callable[[openpyxl.Workbook], None]:
    def rename(book: openpyxl.Workbook) -> None:
        next(c for c in book[tab][1] if c.value == column).value = new
    return rename


def demo_with(tmp_path: Path, *changes: Callable[[openpyxl.Workbook], None]) -> Settings:
    settings = load_settings(write_config(tmp_path / "deploy"), {})
    write_demo_workbook(settings, TODAY)
    book = openpyxl.load_workbook(settings.workbook.path)
    for change in changes:
        change(book)
    book.save(settings.workbook.path)
    return settings


def texts(settings: Settings) -> dict[str, str]:
    """Every message sent, by idempotency key: its text part."""
    return {str(m["X-Cantines-Key"]): m.get_body(("plain",)).get_content() for m in outbox_messages(settings)}


@dataclass(frozen=True)
class Clean:
    texts: dict[str, str]  # what a run on the intact demo sends
    problems: set[tuple[str, str, str]]  # and the problems it finds: (Table, Ligne, Problème)


def problem_keys(settings: Settings) -> set[tuple[str, str, str]]:
    return {(r["Table"], r["Ligne"], r["Problème"]) for r in sheet_rows(settings, "problemes")}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Clean:
    settings = demo_with(tmp_path_factory.mktemp("clean"))
    run(settings)
    return Clean(texts(settings), problem_keys(settings))


@pytest.mark.parametrize(
    ("change", "problem", "still_sent"),
    [
        pytest.param(delete_tab("Échéances"), None,
                     {"rappel-candidature": 1, "rappel-partenaire-action": 1}, id="echeances-tab-deleted"),
        pytest.param(rename_tab("Cantines", "Cantines 2025"), None, {"rappel-partenaire-action": 1},
                     id="cantines-tab-renamed"),
        pytest.param(delete_column("Opportunités", "Date limite"),
                     ("Opportunités", "Date limite", "colonne « Date limite » absente de Opportunités"),
                     {"rappel-echeance-rapport": 5, "rappel-echeance-versement": 1, "rappel-echeance-partenaire": 1,
                      "rappel-budget-realise": 1, "rappel-partenaire-action": 1, "brouillon-bilan": DEMO_DRAFTS},
                     id="date-limite-deleted"),
        pytest.param(rename_column("Échéances", "Statut", "État du dossier"),
                     ("Échéances", "Statut", "colonne « Statut » absente de Échéances"),
                     {"rappel-candidature": 1, "rappel-partenaire-action": 1}, id="statut-renamed"),
        pytest.param(delete_column("Cantines", "Email responsable"),
                     ("Cantines", "Email responsable", "colonne « Email responsable » absente de Cantines"),
                     {"rappel-partenaire-action": 1},
                     id="email-responsable-deleted"),
    ],
)
def test_a_broken_structure_sends_only_what_does_not_depend_on_it(
    tmp_path: Path, clean: Clean, change: Callable[[openpyxl.Workbook], None],
    problem: tuple[str, str, str] | None, still_sent: dict[str, int],
) -> None:
    settings = demo_with(tmp_path, change)
    report = run(settings)
    assert report.result == "Incomplet"  # not a completed run: the next one covers the same days
    assert kinds_sent(settings) == Counter(still_sent)
    sent = texts(settings)
    assert {key: clean.texts[key] for key in sent} == sent  # each message sent is the one a complete run sends
    assert report.postponed and all("en attente d'une lecture complète" in line for line in report.postponed)
    new = problem_keys(settings) - clean.problems  # no false problem (a link into a tab not read…)
    if problem is not None:
        table, column, message = problem
        (structural,) = new
        assert structural[:2] == (table, "en-têtes") and structural[2].startswith(message)
        assert (table, column) in {(r["Table"], r["Colonne"]) for r in sheet_rows(settings, "problemes")}
    else:  # the tab not read: one problem naming it, none about its rows or the links into it
        (structural,) = new
        assert structural[1] == "onglet entier" and " absent du classeur hub.xlsx" in structural[2]
        assert structural[2].endswith("ce qui en dépend attend que la table soit rétablie (rien n'est calculé sans elle)")
        assert any("lecture impossible" in e and "absent" in e for e in report.errors)


def test_matches_are_not_marked_stale_from_partial_data(tmp_path: Path) -> None:
    settings = demo_with(tmp_path)
    run(settings)
    before = sheet_rows(settings, "correspondances")
    assert len(before) == 24 and {r["État"] for r in before} == {"Active"}
    book = openpyxl.load_workbook(settings.workbook.path)
    delete_column("Opportunités", "Date limite")(book)
    book.save(settings.workbook.path)
    tomorrow = TODAY + dt.timedelta(days=1)
    report = run_cycle(settings, today=tomorrow, clock=clock_at(tomorrow))
    assert report.matches == [] and report.new_matches == 0 and report.matching_waits
    assert "Correspondances opportunité ↔ cantine : non calculées" in format_report(report)
    assert sheet_rows(settings, "correspondances") == before  # not 59 matches, none « ne correspond plus »
    assert "correspondances et suggestions collectives : en attente d'une lecture complète " \
           "(Opportunités sans la colonne « Date limite »)" in report.postponed


def test_the_digests_a_partial_run_held_back_go_with_the_next_complete_run(tmp_path: Path) -> None:
    settings = demo_with(tmp_path)
    intact = settings.workbook.path.read_bytes()
    book = openpyxl.load_workbook(settings.workbook.path)
    delete_tab("Échéances")(book)
    book.save(settings.workbook.path)
    partial = run(settings)
    assert partial.digests == 0 and partial.sent == 2
    assert "récapitulatif de la coordination : en attente d'une lecture complète (Échéances non lue)" in partial.postponed
    settings.workbook.path.write_bytes(intact)  # staff put the tab back the same week
    complete = run(settings)
    assert complete.result != "Incomplet"
    assert complete.sent == DEMO_MESSAGES - 2  # the digests and reminders held back, and nothing twice
    (coordination,) = [m for m in outbox_messages(settings) if m["X-Cantines-Kind"] == "recapitulatif-coordination"]
    text = coordination.get_body(("plain",)).get_content()
    assert "ÉCHÉANCES EN RETARD (0)" not in text and "ÉCHÉANCES EN RETARD (" in text


def test_a_wrong_workbook_path_is_one_error_and_creates_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path / "deploy")
    config.write_text(config.read_text().replace('path = "hub.xlsx"', 'path = "ailleurs/hub.xlsx"'))
    settings = load_settings(config, {})
    report = run_cycle(settings, today=TODAY, clock=clock_at(TODAY))
    assert report.result == "Échec"
    (error,) = report.errors
    assert error.startswith("Classeur absent : ") and "ailleurs/hub.xlsx n'existe pas" in error
    assert not settings.workbook.path.exists() and not settings.workbook.path.parent.exists()
    assert report.queued == report.sent == 0 and report.digests == 0
    assert not settings.mail.outbox_dir.exists()
