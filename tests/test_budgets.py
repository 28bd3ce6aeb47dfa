"""Budgets, the compte rendu financier (CERFA 15059) and the legal checks of a subsidy."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from collections.abc import Callable
from typing import Any

import docx
import pytest
from docx.enum.text import WD_COLOR_INDEX
from docx.table import Table
from docx.text.paragraph import Paragraph

from automations.cycle.drafts import render_draft
from automations.cycle.render import Renderer
from automations.cycle.messages import Network, digest_messages, reminder_messages
from automations.domain.budgets import build_budget
from automations.domain.checks import funding_checks
from automations.domain.digests import coordinator_digest
from automations.domain.model import (
    Agreement, Application, BudgetLine, DataProblem, Dataset, DueItem, Opportunity, Partner, parse_dataset,
)
from automations.domain.reminders import due_reminders
from automations.domain.reports import Draft, Identity, build_draft
from automations.domain.rules import Rule
from automations.settings import Settings, load_settings
from connectors.tables.base import Row

from .conftest import REPO

D = dt.date
REF, APP, OPP = "CONV-2026-05", "Manger ensemble – Marmite", "AAP Manger ensemble"
FUNDER = "Département Cœur & Loire <Solidarité>"  # XML characters: they must come out as text
CANTINE = "La Marmite des Chartrons"
TODAY = D(2026, 11, 24)
NNBSP, NBSP = "\u202f", "\u00a0"
TEMPLATES = REPO / "templates"
CRF = "Compte rendu financier"


def money(text: str) -> str:
    """ "12 500,00 €" with Babel's non-breaking spaces."""
    return text.replace(" €", f"{NBSP}€").replace(" ", NNBSP)


def line(nature: str, planned: int | str | None, actual: int | str | None = None, label: str | None = None,
         funder: str | None = None, comment: str | None = None, agreement: str | None = REF,
         application: str | None = None) -> BudgetLine:
    return BudgetLine(
        key=f"{agreement}|{application}|{nature}|{label}|{funder}", nature=nature, label=label, agreement=agreement,
        application=application, funder=funder, planned=Decimal(planned) if planned is not None else None,
        actual=Decimal(actual) if actual is not None else None, comment=comment,
    )


BUDGET = [
    line("60 – Achats", 14000, 15200, "Denrées alimentaires"),
    line("60 – Achats", 1500, 2100, "Petit matériel", comment="Plaques de cuisson remplacées."),
    line("62 – Autres services extérieurs", 1000, 1150, "Impression des menus"),  # +15 %: not over
    line("64 – Charges de personnel", 22500, 22900, "Salaire de la cheffe"),
    line("65 – Autres charges de gestion courante", None, 400, "Cotisation imprévue"),  # not planned
    line("70 – Vente de marchandises, produits finis, prestations de services", 12000, 13850, "Participation libre"),
    line("74 – Subventions d'exploitation", 20000, 16000, "Subvention", funder="Département Cœur & Loire <Solidarité>"),
    line("74 – Subventions d'exploitation", 7000, 7000, "Politique de la ville", funder="Ville de Bordeaux"),
    line("86 – Emplois des contributions volontaires en nature", 21600, 23400, "Bénévolat"),
    line("87 – Contributions volontaires en nature", 21600, 23400, "Bénévolat"),
]


def agreement(**changes: Any) -> Agreement:
    values: dict[str, Any] = dict(
        reference=REF, partner=FUNDER, application=APP, cantines=(CANTINE,), type="Convention annuelle",
        signed_on=D(2026, 2, 5), starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31), total_amount=Decimal(16000),
    )
    values.update(changes)
    return Agreement(**values)


def crf_item(**changes: Any) -> DueItem:
    values: dict[str, Any] = dict(key=f"{REF}|{CRF}", agreement=REF, type=CRF, status="À venir",
                                  due_on=D(2026, 12, 10), cantine=CANTINE, owner_email="camille@reseau.example")
    values.update(changes)
    return DueItem(**values)


def data(budgets: list[BudgetLine] | None = None, **tables: Any) -> Dataset:
    tables.setdefault("conventions", [agreement()])
    tables.setdefault("partenaires", [Partner(FUNDER, type="Collectivité")])
    tables.setdefault("opportunites", [Opportunity(OPP, partner=FUNDER)])
    tables.setdefault("candidatures", [Application(APP, OPP, "Acceptée", amount_requested=Decimal(20000),
                                                   republican_contract=True)])
    tables.setdefault("echeances", [crf_item()])
    return Dataset(budgets=list(BUDGET if budgets is None else budgets), **tables)


# -- the budget ------------------------------------------------------------------------------


def test_the_synthesis_sums_each_heading_and_flags_the_gaps_over_the_threshold() -> None:
    budget = build_budget(BUDGET, FUNDER, Decimal(16000))
    assert budget is not None
    achats = budget.charges[0]
    assert (achats.nature.code, achats.planned, achats.actual) == ("60", Decimal(15500), Decimal(17300))
    assert achats.gap.amount == Decimal(1800) and achats.gap.share == Decimal("0.116")
    assert [h.nature.code for h in budget.charges] == ["60", "62", "64", "65"]
    assert [h.nature.code for h in budget.produits] == ["70", "74"]
    assert (budget.charge_total.planned, budget.charge_total.actual) == (Decimal(39000), Decimal(41750))
    assert (budget.produit_total.planned, budget.produit_total.actual) == (Decimal(39000), Decimal(36850))
    assert budget.planned_balanced and budget.actual_result == Decimal(-4900)
    flagged = {row.title: row for row in budget.flagged}
    # +40 %, an unplanned line, +15,4 %, −20 %; +15 % exactly is not over 15 %
    assert set(flagged) == {"Petit matériel", "Cotisation imprévue", "Participation libre", "Subvention"}
    assert flagged["Cotisation imprévue"].gap.unplanned and flagged["Cotisation imprévue"].gap.share is None
    assert flagged["Subvention"].subsidy and not next(r for r in budget.rows if r.title == "Politique de la ville").subsidy
    # the contributions en nature stay out of the totals, valued apart
    assert budget.in_kind_charge_total.planned == budget.in_kind_produit_total.planned == Decimal(21600)
    assert budget.share_planned == Decimal("0.410") and budget.share_actual == Decimal("0.434")  # 16 000 / 39 000


def test_a_missing_actual_leaves_its_heading_and_side_to_complete_never_zero() -> None:
    budget = build_budget([*BUDGET[:3], line("64 – Charges de personnel", 22500, None, "Salaire")], FUNDER, None)
    assert budget is not None
    personnel = next(h for h in budget.charges if h.nature.code == "64")
    assert personnel.actual is None and personnel.missing == 1 and personnel.gap.amount is None
    assert budget.charge_total.actual is None and budget.charge_total.missing == 1
    assert budget.actual_result is None and not budget.actual_complete


def test_the_threshold_is_a_setting() -> None:
    loose = build_budget(BUDGET, FUNDER, None, threshold=Decimal("0.5"))
    assert loose is not None and {row.title for row in loose.flagged} == {"Cotisation imprévue"}


# -- parsing -----------------------------------------------------------------------------------


def parse(rows: list[dict[str, Any]]) -> Dataset:
    settings = load_settings(REPO / "config" / "demo.toml", {})
    tables: dict[str, list[Row]] = {
        "conventions": [Row("rec1", {"Référence": REF, "Partenaire": FUNDER}, 2)],
        "partenaires": [Row("rec2", {"Nom": FUNDER}, 2)],
        "budgets": [Row(f"rec{i}", values, i + 2) for i, values in enumerate(rows)],
    }
    return parse_dataset(tables, settings.schema, settings.reference, settings.timezone)


@pytest.mark.parametrize(("nature", "expected"), [
    pytest.param("60 – Achats", "60 – Achats", id="as-listed"),
    pytest.param("60 - achats", "60 – Achats", id="hyphen-and-case"),
    pytest.param("6061", "60 – Achats", id="account-number"),
    pytest.param("6061 Fournitures non stockables", "60 – Achats", id="account-with-its-own-words"),
    pytest.param("741", "74 – Subventions d'exploitation", id="subsidy-account"),
    pytest.param("Charges de personnel", "64 – Charges de personnel", id="words-only"),
    pytest.param("87", "87 – Contributions volontaires en nature", id="in-kind"),
])
def test_a_nature_is_read_by_its_heading_its_number_or_an_account_number(nature: str, expected: str) -> None:
    dataset = parse([{"Nature": nature, "Convention": REF, "Montant prévu": "1 200"}])
    assert [b.nature for b in dataset.budgets] == [expected] and not dataset.problems


@pytest.mark.parametrize(("row", "column", "words"), [
    pytest.param({"Nature": "69 – Divers", "Convention": REF, "Montant prévu": 100}, "Nature",
                 "n'est pas une rubrique connue", id="unknown-nature"),
    pytest.param({"Nature": "8", "Convention": REF, "Montant prévu": 100}, "Nature",
                 "n'est pas une rubrique connue", id="ambiguous-number"),
    pytest.param({"Nature": "60", "Convention": REF, "Montant prévu": "environ 500"}, "Montant prévu",
                 "n'est pas un montant valide", id="amount-in-words"),
    pytest.param({"Nature": "60", "Convention": REF, "Montant réalisé": "-300"}, "Montant réalisé",
                 "montant négatif", id="negative-amount"),
    pytest.param({"Nature": "60", "Convention": REF, "Montant prévu": "1e400"}, "Montant prévu",
                 "", id="absurd-amount"),
    pytest.param({"Nature": "60", "Montant prévu": 100}, "Convention",
                 "sans Convention ni Candidature", id="no-convention"),
    pytest.param({"Nature": "60", "Convention": REF}, "Montant prévu",
                 "sans Montant prévu ni Montant réalisé", id="no-amount"),
    pytest.param({"Nature": "60", "Convention": "CONV-2099", "Montant prévu": 100}, "Convention",
                 "ne correspond à aucune ligne de Conventions", id="unknown-convention"),
    pytest.param({"Convention": REF, "Montant prévu": 100}, "Nature", "obligatoire", id="no-nature"),
])
def test_a_bad_budget_line_is_a_problem_in_french_and_the_others_are_kept(
    row: dict[str, Any], column: str, words: str,
) -> None:
    good = {"Nature": "60", "Libellé": "Denrées", "Convention": REF, "Montant prévu": 1000}
    dataset = parse([good, {"Libellé": "Ligne fautive", **row}])
    assert [b.label for b in dataset.budgets] == ["Denrées"]
    (problem,) = dataset.problems
    assert problem.table == "Budgets" and problem.column == column and words in problem.message
    assert "ligne 3" in problem.row


# -- the compte rendu financier ---------------------------------------------------------------


def blocks(document: Any) -> list[str]:
    texts: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            texts.append(block.text)
        elif isinstance(block, Table):
            texts.extend(cell.text for row in block.rows for cell in row.cells)
    return texts


def table_rows(document: Any) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for table in document.tables for row in table.rows]


@pytest.fixture(scope="module")
def crf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Draft, Any]:
    draft = build_draft(crf_item(), data(), TODAY, Identity(name="Les Petites Cantines"))
    return draft, render_draft(draft, TEMPLATES, tmp_path_factory.mktemp("crf"), network_name="Les Petites Cantines")


def test_the_crf_word_document_is_a_budget_table_with_gaps_and_totals(crf: tuple[Draft, Any]) -> None:
    draft, files = crf
    assert draft.financial and files.charts == ()  # no chart of meals in a compte rendu financier
    document = docx.Document(str(files.docx))
    rows = table_rows(document)
    assert ["60 – Achats", money("15 500,00 €"), money("17 300,00 €"), money("+1 800,00 €"),
            f"+11,6{NBSP}%"] in rows
    assert ["65 – Autres charges de gestion courante", money("0,00 €"), money("400,00 €"), money("+400,00 €"),
            "non prévu"] in rows
    assert ["Total des charges", money("39 000,00 €"), money("41 750,00 €"), money("+2 750,00 €"),
            f"+7,1{NBSP}%"] in rows
    assert ["Total des produits", money("39 000,00 €"), money("36 850,00 €"), "\u2212" + money("2 150,00 €"),
            f"\u22125,5{NBSP}%"] in rows
    assert ["74 – Subventions d'exploitation", money("27 000,00 €"), money("23 000,00 €"),
            "\u2212" + money("4 000,00 €"), f"\u221214,8{NBSP}%"] in rows
    assert ["86 – Emplois des contributions volontaires en nature", money("21 600,00 €"), money("23 400,00 €"),
            money("+1 800,00 €"), f"+8,3{NBSP}%"] in rows
    flagged = [row for row in rows if len(row) == 6 and row[0] in {"Petit matériel", "Cotisation imprévue",
                                                                   "Participation libre", "Subvention"}]
    assert len(flagged) == 4
    assert ["Petit matériel", "60", money("1 500,00 €"), money("2 100,00 €"), money("+600,00 €") + f" (+40{NBSP}%)",
            "Plaques de cuisson remplacées."] in rows
    assert ["Participation libre", "70", money("12 000,00 €"), money("13 850,00 €"),
            money("+1 850,00 €") + f" (+15,4{NBSP}%)", "À compléter"] in rows  # no comment: to explain
    assert not any(row[0] == "Impression des menus" for row in flagged)
    text = "\n".join(blocks(document))
    assert "Budget prévisionnel équilibré" in text
    assert "réalisation non équilibrée" in text and f"déficit de {money('4 900,00 €')}" in text
    assert f"({money('16 000,00 €')}) représente 41{NBSP}% du total des produits prévus" in text
    assert f"Reçu : {money('0,00 €')} sur {money('16 000,00 €')} attribués" in text
    assert "{{" not in text and "{%" not in text
    assert ["Financeur", FUNDER] in rows  # XML characters came out as text
    highlighted = [r.text for p in document.paragraphs for r in p.runs if r.font.highlight_color == WD_COLOR_INDEX.YELLOW]
    assert any(t.startswith("À compléter – réalisation non équilibrée") for t in highlighted)


def test_the_crf_markdown_says_the_same_figures(crf: tuple[Draft, Any]) -> None:
    text = crf[1].markdown.read_text(encoding="utf-8")
    assert f"| **Total des charges** | **{money('39 000,00 €')}** | **{money('41 750,00 €')}** |" in text
    assert (f"| Participation libre | 70 | {money('12 000,00 €')} | {money('13 850,00 €')} | "
            f"{money('+1 850,00 €')} (+15,4{NBSP}%) | **À compléter** |") in text
    assert "\n## Contributions volontaires en nature" not in text and "### Contributions volontaires en nature" in text
    assert "Bilan intermédiaire" not in text and "Repas servis" not in text  # no bilan of meals any more


def test_a_crf_without_actuals_says_what_is_to_complete(tmp_path: Path) -> None:
    budget = [line(b.nature, b.planned, None, b.label, b.funder) if b.planned is not None else b for b in BUDGET]
    draft = build_draft(crf_item(), data(budget), TODAY)
    assert any("sans Montant réalisé" in note for note in draft.notes)
    files = render_draft(draft, TEMPLATES, tmp_path, network_name="Réseau")
    rows = table_rows(docx.Document(str(files.docx)))
    assert ["Total des charges", money("39 000,00 €"), "À compléter", "À compléter", "—"] in rows
    text = files.markdown.read_text(encoding="utf-8")
    assert "**À compléter – réalisation incomplète :** 7 lignes sans montant réalisé" in text


def test_a_crf_without_budget_lines_is_to_complete_and_renders(tmp_path: Path) -> None:
    draft = build_draft(crf_item(), data([]), TODAY)
    assert draft.budget is None and any("Aucune ligne de budget" in note for note in draft.notes)
    files = render_draft(draft, TEMPLATES, tmp_path, network_name="Réseau")
    text = "\n".join(blocks(docx.Document(str(files.docx))))
    assert "aucune ligne de budget n'est enregistrée pour cette convention" in text
    assert "Tableau de synthèse" in text and "{{" not in text


def test_an_unbalanced_planned_budget_is_said_to_complete(tmp_path: Path) -> None:
    draft = build_draft(crf_item(), data([*BUDGET, line("61 – Services extérieurs", 500, 500, "Loyer")]), TODAY)
    text = render_draft(draft, TEMPLATES, tmp_path, network_name="Réseau").markdown.read_text(encoding="utf-8")
    assert (f"**À compléter – budget prévisionnel non équilibré :** {money('39 500,00 €')} de charges pour "
            f"{money('39 000,00 €')} de produits (écart de {money('500,00 €')})") in text


def test_hostile_text_in_a_budget_line_stays_text(tmp_path: Path) -> None:
    hostile = [line("60 – Achats", 100, 150, "{{ 7*7 }} | =HYPERLINK(\"x\") <b>&", comment="{% raw %}")]
    draft = build_draft(crf_item(), data(hostile), TODAY)
    files = render_draft(draft, TEMPLATES, tmp_path, network_name="Réseau")
    rows = table_rows(docx.Document(str(files.docx)))
    assert any(row[1] == "{{ 7*7 }} | =HYPERLINK(\"x\") <b>&" for row in rows)
    text = files.markdown.read_text(encoding="utf-8")
    assert "{{ 7*7 }} \\| =HYPERLINK" in text and "49" not in text


def test_a_bilan_gets_a_short_financial_section(tmp_path: Path) -> None:
    item = DueItem(key="bilan", agreement=REF, type="Bilan intermédiaire", status="À venir", due_on=D(2026, 12, 10))
    draft = build_draft(item, data(echeances=[item]), TODAY)
    files = render_draft(draft, TEMPLATES, tmp_path, network_name="Réseau")
    rows = table_rows(docx.Document(str(files.docx)))
    assert ["Total des charges", money("39 000,00 €"), money("41 750,00 €")] in rows
    text = files.markdown.read_text(encoding="utf-8")
    assert "## Budget de l'action" in text and f"représente 41{NBSP}% des produits prévus" in text
    assert f"4 lignes du budget s'écartent de plus de 15{NBSP}%" in text


def test_the_fingerprint_changes_with_an_actual_amount() -> None:
    first = build_draft(crf_item(), data(), TODAY)
    changed = [*BUDGET[:-1], line("87 – Contributions volontaires en nature", 21600, 23000, "Bénévolat")]
    assert build_draft(crf_item(), data(changed), TODAY).figures_fingerprint != first.figures_fingerprint
    assert build_draft(crf_item(), data(), TODAY).figures_fingerprint == first.figures_fingerprint


# -- the reminder ------------------------------------------------------------------------------

RULE = Rule("budget-realise", "budgets", (-30,), ("cantine", "responsable"), "rappel_budget_realise",
            types=(CRF,))


def empty_actuals() -> list[BudgetLine]:
    return [line(b.nature, b.planned or 1, None, b.label, b.funder) for b in BUDGET]


@pytest.mark.parametrize(("budget", "item", "fires"), [
    pytest.param(empty_actuals(), crf_item(), True, id="actuals-empty"),
    pytest.param([*empty_actuals(), line("60 – Achats", 10, 12, "Déjà réalisé")], crf_item(), False,
                 id="one-actual-given"),
    pytest.param([], crf_item(), False, id="no-budget"),
    pytest.param(empty_actuals(), crf_item(status="Envoyée"), False, id="report-done"),
    pytest.param(empty_actuals(), crf_item(type="Bilan final"), False, id="not-a-crf"),
])
def test_the_actuals_reminder_fires_30_days_before_only_while_the_column_is_empty(
    budget: list[BudgetLine], item: DueItem, fires: bool,
) -> None:
    dataset = data(budget, echeances=[item])
    day = item.due_on - dt.timedelta(days=30)  # 10/11/2026, a Tuesday
    reminders = due_reminders([RULE], dataset, day)
    assert len(reminders) == int(fires)
    assert not due_reminders([RULE], dataset, day + dt.timedelta(days=1))  # once, never again
    if fires:
        assert reminders[0].key == f"reminder:budget-realise:{item.key}:2026-12-10:-30"


def test_the_actuals_reminder_goes_to_the_cantine_with_its_lines() -> None:
    cantine_email = "marmite@cantines.example"
    from automations.domain.model import Cantine
    from automations.domain.reference import Departement
    cantine = Cantine(CANTINE, "Ouverte", "Bordeaux", Departement("33", "Gironde", "Nouvelle-Aquitaine"),
                      manager_email=cantine_email)
    dataset = data(empty_actuals(), cantines=[cantine])
    (reminder,) = due_reminders([RULE], dataset, D(2026, 11, 10))
    network = Network("Réseau", "Camille", "coordination@reseau.example", "robot@reseau.example", "Réseau", "",
                      "Camille")
    messages, problems = reminder_messages([reminder], dataset, network, Renderer(TEMPLATES), D(2026, 11, 10))
    assert not problems
    (message,) = messages
    assert message.to == (cantine_email,) and message.cc == ("camille@reseau.example",)
    assert "Votre compte rendu financier aura besoin des dépenses réalisées" in message.text
    assert f"- 60 – Achats : Denrées alimentaires – prévu {money('14 000,00 €')}" in message.text
    text = message.text  # charges first, then produits, each in the CERFA's order
    assert text.index("- 65 –") < text.index("- 86 –") < text.index("- 70 –") < text.index("- 87 –")
    assert f"«{NBSP}Compte rendu financier – {REF}{NBSP}» ({FUNDER}) est à rendre dans 30 jours" in text
    assert "Cœur &amp; Loire &lt;Solidarité&gt;" in message.html and "<Solidarité>" not in message.html


# -- the checks --------------------------------------------------------------------------------


def checks(**tables: Any) -> list[DataProblem]:
    return funding_checks(data(**tables))


@pytest.mark.parametrize(("partner_type", "amount", "ends_on", "signed", "found"), [
    pytest.param("Collectivité", 23001, D(2026, 12, 31), None, True, id="public-over-threshold"),
    pytest.param("Collectivité", 23000, D(2026, 12, 31), None, False, id="exactly-23000-does-not-exceed"),
    pytest.param("Collectivité", 50000, D(2026, 12, 31), D(2026, 1, 10), False, id="signed"),
    pytest.param("Fondation", 50000, D(2026, 12, 31), None, False, id="private-funder"),
    pytest.param(None, 50000, D(2026, 12, 31), None, True, id="funder-type-unknown"),
    pytest.param("État", 60000, D(2028, 12, 31), None, False, id="three-years-20000-a-year"),
    pytest.param("État", 90000, D(2028, 12, 31), None, True, id="three-years-30000-a-year"),
])
def test_a_public_convention_over_23000_a_year_needs_a_signature_date(
    partner_type: str | None, amount: int, ends_on: dt.date, signed: dt.date | None, found: bool,
) -> None:
    conventions = [agreement(total_amount=Decimal(amount), ends_on=ends_on, signed_on=signed)]
    problems = [p for p in checks(conventions=conventions, partenaires=[Partner(FUNDER, type=partner_type)])
                if p.column == "Date de signature"]
    assert len(problems) == int(found)
    if found:
        assert problems[0].table == "Conventions" and problems[0].row == REF
        assert "loi n° 2000-321 du 12 avril 2000, art. 10" in problems[0].message
        assert "décret n° 2001-495" in problems[0].message


@pytest.mark.parametrize(("partner_type", "status", "ticked", "found"), [
    pytest.param("Collectivité", "Déposée", False, True, id="public-submitted-unticked"),
    pytest.param("Établissement public", "Acceptée", False, True, id="public-granted-unticked"),
    pytest.param("État", "Déposée", True, False, id="ticked"),
    pytest.param("Collectivité", "À l'étude", False, False, id="not-applying-yet"),
    pytest.param("Fondation", "Déposée", False, False, id="private-funder"),
])
def test_an_application_to_a_public_funder_needs_the_republican_contract(
    partner_type: str, status: str, ticked: bool, found: bool,
) -> None:
    application = Application(APP, OPP, status, amount_requested=Decimal(27000), republican_contract=ticked)
    problems = [p for p in checks(candidatures=[application], partenaires=[Partner(FUNDER, type=partner_type)])
                if p.column == "Contrat d'engagement républicain"]
    assert len(problems) == int(found)
    if found:
        assert problems[0].row == APP and "décret n° 2021-1947" in problems[0].message


def test_without_the_contract_column_one_problem_says_so() -> None:
    dataset = data(candidatures=[Application(APP, OPP, "Déposée"), Application("Autre", OPP, "En instruction")])
    dataset.absent_optional = {"candidatures": ("Contrat d'engagement républicain",)}
    (problem,) = [p for p in funding_checks(dataset) if p.column == "Contrat d'engagement républicain"]
    assert problem.row == "en-têtes" and "absente" in problem.message and "2 candidatures" in problem.message


def test_the_budget_must_show_the_subsidy_requested_and_balance() -> None:
    def budget_problems(budget: list[BudgetLine], requested: int = 27000) -> list[DataProblem]:
        application = Application(APP, OPP, "Acceptée", amount_requested=Decimal(requested), republican_contract=True)
        return [p for p in funding_checks(data(budget, candidatures=[application])) if p.table == "Budgets"]

    assert budget_problems(BUDGET, requested=20000) == []  # the funder's 74 line: 20 000 planned
    (mismatch,) = budget_problems(BUDGET, requested=27000)
    assert "prévue au budget" in mismatch.message and money("20 000 €").replace(",00", "") in mismatch.message
    without = [b for b in BUDGET if b.funder != FUNDER] + [line("75 – Autres produits de gestion courante", 20000)]
    (missing,) = budget_problems(without, requested=20000)
    assert "aucune ligne « 74 – Subventions d'exploitation »" in missing.message
    unbalanced = budget_problems([*BUDGET, line("61 – Services extérieurs", 500)], requested=20000)
    assert len(unbalanced) == 1 and "non équilibré" in unbalanced[0].message
    # an application's own lines (before any convention) count too
    own = [line(b.nature, b.planned, None, b.label, b.funder, agreement=None, application=APP) for b in BUDGET]
    assert len(budget_problems(own, requested=25000)) == 1


def test_versements_above_the_convention_amount_are_found() -> None:
    paid = [DueItem(key=f"v{n}", agreement=REF, type="Versement", status="Payée", due_on=D(2026, n, 1),
                    amount=Decimal(9000)) for n in (3, 6)]
    expected = [DueItem(key="v9", agreement=REF, type="Versement", status="À venir", due_on=D(2026, 9, 1),
                        amount=Decimal(9000))]
    (problem,) = [p for p in checks(echeances=paid + expected) if p.column == "Montant total"]
    assert problem.row == REF and money("18 000 €") in problem.message and money("2 000 €") in problem.message
    assert not [p for p in checks(echeances=paid[:1] + expected) if p.column == "Montant total"]


def test_the_coordinator_digest_lists_the_checks() -> None:
    dataset = data(conventions=[agreement(total_amount=Decimal(40000), signed_on=None)])
    found = funding_checks(dataset)
    digest = coordinator_digest(dataset, [], [], len(found), TODAY)
    from dataclasses import replace
    digest = replace(digest, checks=tuple(found))
    network = Network("Réseau", "Camille", "coordination@reseau.example", "robot@reseau.example", "Réseau", "", "")
    (message,), problems = digest_messages([], digest, network, Renderer(TEMPLATES), TODAY)
    assert not problems
    assert "CONTRÔLES DES SUBVENTIONS (1)" in message.text
    assert f"Conventions, {REF} : subvention de {money('40 000 €')}" in message.text
    assert "Contrôles des subventions (1)" in message.html


# -- the setting -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 101, -5])
def test_a_gap_threshold_out_of_range_is_refused_at_start(make_settings: Any, value: int) -> None:
    from connectors.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="gap_threshold_percent: expected a percentage from 1 to 100"):
        make_settings(reports=f"gap_threshold_percent = {value}")


def test_the_threshold_setting_reaches_the_drafts(make_settings: Any, tmp_path: Path) -> None:
    from automations.cycle.drafts import gap_threshold

    settings = make_settings(reports="gap_threshold_percent = 50")
    assert gap_threshold(settings) == Decimal("0.5")
    draft = build_draft(crf_item(), data(), TODAY, gap_threshold=gap_threshold(settings))
    assert draft.budget is not None and {row.title for row in draft.budget.flagged} == {"Cotisation imprévue"}
    text = render_draft(draft, TEMPLATES, tmp_path, network_name="Réseau").markdown.read_text(encoding="utf-8")
    assert f"de plus de 50{NBSP}% de la prévision" in text


def test_every_tag_of_the_committed_crf_template_sits_in_one_run_and_the_generator_rebuilds_it(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET
    import zipfile

    from automations import report_template

    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"

    def runs(path: Path) -> list[str]:
        with zipfile.ZipFile(path) as archive:
            root = ET.fromstring(archive.read("word/document.xml"))
        return ["".join(t.text or "" for t in run.iter(f"{w}t")) for run in root.iter(f"{w}r")]

    committed = runs(TEMPLATES / "reports" / "crf.docx")
    for text in committed:
        assert text.count("{{") == text.count("}}") and text.count("{%") == text.count("%}"), text
    assert sum(t.count("{{") + t.count("{%") for t in committed) > 80
    assert report_template.main([str(tmp_path / "crf.docx")]) == 0
    assert runs(tmp_path / "crf.docx") == committed  # the committed template is the generator's



def deployment_with_an_older_schema(tmp_path: Path, strip: Callable[[str], str]) -> Settings:
    """A deployment whose own schema file is the shipped one as `strip` leaves it (a copy older than
    a table or a column), on the demo hub as the shipped schema makes it."""
    from automations.demo import write_demo_workbook

    from .conftest import write_config

    shipped_path = REPO / "config" / "schema.toml"
    old = tmp_path / "old-schema.toml"
    old.write_text(strip(shipped_path.read_text(encoding="utf-8")), encoding="utf-8")
    path = write_config(tmp_path / "deploy")
    write_demo_workbook(load_settings(path, {}), OLD_SCHEMA_DAY)
    path.write_text(path.read_text(encoding="utf-8").replace(str(shipped_path), str(old)), encoding="utf-8")
    return load_settings(path, {})


OLD_SCHEMA_DAY = dt.date(2026, 11, 23)


def run_old(settings: Settings) -> Any:
    from automations.cycle.run import run_cycle

    from .conftest import PARIS

    return run_cycle(settings, today=OLD_SCHEMA_DAY, clock=lambda: dt.datetime(2026, 11, 23, 7, 30, tzinfo=PARIS))


def without_budgets(schema: str) -> str:
    start = schema.index("[tables.budgets]")
    return schema[:start] + schema[schema.index("\n[tables.", start + 1) + 1:]


def without_cer(schema: str) -> str:
    lines = schema.splitlines(keepends=True)
    kept = [line for line in lines if "Contrat d'engagement républicain" not in line]
    assert len(kept) == len(lines) - 1
    return "".join(kept)


def test_a_deployment_whose_schema_file_predates_budgets_runs_with_their_features_off(tmp_path: Path) -> None:
    """A volunteer copied config/ before the Budgets table existed and upgraded the code: the cycle runs
    (it crashed with KeyError 'budgets'), the budget reminder is off and says why, nothing waits."""
    settings = deployment_with_an_older_schema(tmp_path, without_budgets)
    assert "budgets" not in settings.schema
    off = settings.features_off()
    assert "reminders:budgets" in off and "budgets" in off["reminders:budgets"]
    report = run_old(settings)
    assert not report.fatal and not report.incomplete and not report.errors  # (before: KeyError, no run)
    assert not any("budgets" in why.lower() for why in report.postponed)  # nothing waits for a table it lacks
    assert report.drafts >= 1 and report.queued > 0
    assert any("rappels des dépenses réalisées" in line for line in report.features_off)


def test_a_schema_file_without_the_cer_column_gets_one_problem_not_one_per_application(tmp_path: Path) -> None:
    """Its applications cannot be ticked: « add the column » once, not « not ticked » on every one."""
    report = run_old(deployment_with_an_older_schema(tmp_path, without_cer))
    cer = [p for p in report.checks if p.column == "Contrat d'engagement républicain"]
    assert len(cer) == 1 and cer[0].row == "en-têtes" and "absente : ajoutez-la" in cer[0].message
