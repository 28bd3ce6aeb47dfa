"""Hostile structure, through full cycles on the demo workbook: staff templates broken in every way
a clumsy edit can break them, and tabs and columns deleted or renamed. Each time the run completes,
every message that does not depend on what is broken is still sent, nothing is built from partial
data, and each problem is in the Problèmes tab, in French, saying where it is."""

from __future__ import annotations

import datetime as dt
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from automations.cycle.run import RunReport, run_cycle
from automations.demo import write_demo_workbook
from automations.settings import Settings, load_settings

from .conftest import REPO, write_config
from .test_run import DEMO_DIGESTS, DEMO_DRAFTS, DEMO_MESSAGES, TODAY, clock_at, outbox_messages, sheet_rows

# What the demo sends on TODAY, by kind of message (see test_run for the totals).
DEMO_KINDS = Counter({
    "rappel-echeance-rapport": 4, "rappel-echeance-versement": 1, "rappel-echeance-partenaire": 1,
    "rappel-candidature": 1, "rappel-partenaire-action": 1,
    "recapitulatif-cantine": DEMO_DIGESTS - 1, "recapitulatif-coordination": 1, "brouillon-bilan": DEMO_DRAFTS,
})
DEMO_PROBLEMS = 7  # the demo's deliberate data problems


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
    assert report.sent == DEMO_DIGESTS - 1
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
    ],
)
def test_a_broken_report_template_costs_only_the_drafts(
    tmp_path: Path, template: str, edit: Callable[[str], str] | None, expected: str,
) -> None:
    settings = with_templates(tmp_path, {template: edit})
    report = run(settings)
    assert report.sent == DEMO_MESSAGES - DEMO_DRAFTS
    assert kinds_sent(settings)["brouillon-bilan"] == 0
    assert sum(1 for p in report.problems if p.table == "Modèles de bilans") == DEMO_DRAFTS  # one per draft
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
