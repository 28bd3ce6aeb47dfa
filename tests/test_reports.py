"""Report drafts: which are due, the period each covers, its figures, and the Word and Markdown files."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.enum.shape import WD_INLINE_SHAPE
from docx.enum.text import WD_COLOR_INDEX
from docx.table import Table
from docx.text.paragraph import Paragraph
from jinja2.exceptions import SecurityError
from PIL import Image

from automations import report_template
from automations.demo import demo_rows
from automations.cycle.render import TemplateFailure
from automations.cycle.drafts import file_stem, render_draft
from automations.domain.model import (
    Agreement, Dataset, DueItem, MonthlyFigures, OfferRollout, Partner, PartnerOffer, parse_dataset,
)
from automations.domain.reports import (
    FROM_CONVENTION, FROM_DEFAULT, FROM_PREVIOUS, MET, WHOLE_AGREEMENT, PARTLY_MET, PENDING, PLANNED, REPORT_TYPES,
    THIS_REPORT, UNKNOWN, Draft, Identity, build_draft, build_drafts, commitment_lines, drafts_due,
)
from automations.settings import load_settings
from connectors.tables.base import Row

from .conftest import REPO

D = dt.date
REF = "CONV-2026-01"
LYON, NANTES = "Cantine Lyon", "Cantine Nantes"
PARTNER = "Alpha & Oméga <SARL>"
NNBSP, NBSP = "\u202f", "\u00a0"  # Babel's French thousands separator, and the space before € and %
TEMPLATES = REPO / "templates"


def agreement(**changes: Any) -> Agreement:
    values: dict[str, Any] = dict(
        reference=REF, partner=PARTNER, cantines=(LYON, NANTES), type="Convention annuelle",
        signed_on=D(2025, 12, 15), starts_on=D(2026, 1, 1), ends_on=D(2026, 12, 31),
        total_amount=Decimal(20000), commitments=None,
    )
    values.update(changes)
    return Agreement(**values)


def due(kind: str, on: dt.date, status: str = "À venir", cantine: str | None = None, **changes: Any) -> DueItem:
    values: dict[str, Any] = dict(
        key=f"{changes.get('agreement', REF)}|{kind}|{cantine or ''}|{on.isoformat()}", agreement=REF,
        type=kind, status=status, due_on=on, cantine=cantine,
    )
    values.update(changes)
    return DueItem(**values)


def figures(cantine: str, month: dt.date, meals: int | None = 100, **changes: Any) -> MonthlyFigures:
    values: dict[str, Any] = dict(
        cantine=cantine, month=month, meals=meals, guests=60, volunteers=10, volunteer_hours=Decimal(50),
        events=1, local_share=Decimal("0.5"),
    )
    values.update(changes)
    return MonthlyFigures(**values)


def dataset(echeances: list[DueItem], indicateurs: list[MonthlyFigures] | None = None, **tables: Any) -> Dataset:
    tables.setdefault("conventions", [agreement()])
    tables.setdefault("partenaires", [Partner(PARTNER, notes="Rencontré au salon")])
    return Dataset(echeances=list(echeances), indicateurs=list(indicateurs or []), **tables)


# -- which drafts ----------------------------------------------------------------------------

TODAY = D(2026, 11, 24)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param(due("Bilan intermédiaire", TODAY + dt.timedelta(days=45)), True, id="due-on-the-horizon"),
        pytest.param(due("Bilan intermédiaire", TODAY + dt.timedelta(days=46)), False, id="a-day-beyond"),
        pytest.param(due("Bilan final", TODAY - dt.timedelta(days=20)), True, id="overdue-and-not-done"),
        pytest.param(due("Rapport d'activité", TODAY, "En préparation"), True, id="in-preparation"),
        pytest.param(due("Compte rendu financier", TODAY + dt.timedelta(days=3)), True, id="compte-rendu-financier"),
        pytest.param(due("Bilan final", TODAY, "Envoyée"), False, id="sent"),
        pytest.param(due("Bilan final", TODAY, "Acceptée"), False, id="accepted"),
        pytest.param(due("Bilan final", TODAY, "Annulée"), False, id="cancelled"),
        pytest.param(due("Bilan final", TODAY, done_on=TODAY), False, id="done-on-filled"),
        pytest.param(due("Versement", TODAY), False, id="a-versement-is-no-report"),
        pytest.param(due("Visibilité partenaire", TODAY), False, id="visibility-is-no-report"),
        pytest.param(due("Bilan final", TODAY, agreement="CONV-INCONNUE"), False, id="unknown-convention"),
    ],
)
def test_drafts_due(item: DueItem, expected: bool) -> None:
    assert (item in drafts_due(dataset([item]), TODAY)) is expected


def test_drafts_due_come_by_due_date_and_the_horizon_is_a_setting() -> None:
    later, sooner = due("Bilan final", TODAY + dt.timedelta(days=40)), due("Bilan intermédiaire", TODAY)
    data = dataset([later, sooner])
    assert drafts_due(data, TODAY) == [sooner, later]
    assert drafts_due(data, TODAY, horizon_days=10) == [sooner]
    assert [d.item for d in build_drafts(data, TODAY)] == [sooner, later]


# -- the period ------------------------------------------------------------------------------

BI = due("Bilan intermédiaire", D(2026, 7, 15))
# reports that follow the previous one (a bilan final covers the whole convention: see below)
BF = due("Rapport d'activité", D(2027, 1, 31))
BF_LYON = due("Rapport d'activité", D(2027, 1, 31), cantine=LYON)
FINAL = due("Bilan final", D(2027, 1, 31))


@pytest.mark.parametrize(
    ("item", "others", "changes", "start", "basis", "months"),
    [
        pytest.param(BI, [], {}, D(2026, 1, 1), FROM_CONVENTION, 7, id="first-bilan-from-the-convention-start"),
        pytest.param(BF, [due("Bilan intermédiaire", D(2026, 7, 15), "Envoyée")], {}, D(2026, 7, 16),
                     FROM_PREVIOUS, 7, id="later-bilan-from-the-day-after-the-previous"),
        pytest.param(BF, [BI, due("Rapport d'activité", D(2026, 10, 31))], {}, D(2026, 11, 1), FROM_PREVIOUS, 3,
                     id="the-latest-previous-report-wins"),
        pytest.param(BF, [due("Bilan intermédiaire", D(2026, 7, 15), "Annulée")], {}, D(2026, 1, 1),
                     FROM_CONVENTION, 13, id="a-cancelled-report-does-not-count"),
        pytest.param(BF, [due("Versement", D(2026, 7, 15), "Payée")], {}, D(2026, 1, 1), FROM_CONVENTION, 13,
                     id="a-versement-is-not-a-report"),
        pytest.param(BI, [BF], {}, D(2026, 1, 1), FROM_CONVENTION, 7, id="a-report-due-later-does-not-count"),
        pytest.param(BF, [due("Bilan intermédiaire", D(2026, 7, 15), agreement="CONV-AUTRE")], {}, D(2026, 1, 1),
                     FROM_CONVENTION, 13, id="another-conventions-report-does-not-count"),
        pytest.param(BF_LYON, [due("Bilan intermédiaire", D(2026, 7, 15), cantine=LYON)], {}, D(2026, 7, 16),
                     FROM_PREVIOUS, 7, id="the-same-cantines-report-counts"),
        pytest.param(BF_LYON, [due("Bilan intermédiaire", D(2026, 7, 15), cantine=NANTES)], {}, D(2026, 1, 1),
                     FROM_CONVENTION, 13, id="another-cantines-report-does-not-count"),
        pytest.param(BF_LYON, [BI], {}, D(2026, 7, 16), FROM_PREVIOUS, 7,
                     id="a-whole-convention-report-counts-for-each-cantine"),
        pytest.param(BF, [due("Bilan intermédiaire", D(2026, 7, 15), cantine=LYON)], {}, D(2026, 1, 1),
                     FROM_CONVENTION, 13, id="one-cantines-report-does-not-cover-the-whole-convention"),
        pytest.param(BF, [due("Bilan intermédiaire", D(2026, 7, 15), cantine=LYON)], {"cantines": (LYON,)},
                     D(2026, 7, 16), FROM_PREVIOUS, 7, id="unless-it-is-the-conventions-only-cantine"),
        pytest.param(BI, [], {"starts_on": None}, D(2025, 8, 1), FROM_DEFAULT, 12,
                     id="no-start-date-twelve-months-before"),
    ],
)
def test_period(
    item: DueItem, others: list[DueItem], changes: dict[str, Any], start: dt.date, basis: str, months: int
) -> None:
    draft = build_draft(item, dataset([item, *others], conventions=[agreement(**changes)]), D(2026, 6, 1))
    assert (draft.period.start, draft.period.end, draft.period.basis) == (start, item.due_on, basis)
    assert len(draft.period.months) == months
    assert draft.period.months[0] == start.replace(day=1) and draft.period.months[-1] == item.due_on.replace(day=1)


@pytest.mark.parametrize(
    ("changes", "start", "end", "basis"),
    [
        pytest.param({}, D(2026, 1, 1), D(2026, 12, 31), WHOLE_AGREEMENT, id="from-the-start-to-the-end"),
        pytest.param({"ends_on": None}, D(2026, 1, 1), D(2027, 1, 31), WHOLE_AGREEMENT, id="no-end-to-the-due-date"),
        pytest.param({"ends_on": D(2027, 6, 30)}, D(2026, 1, 1), D(2027, 1, 31), WHOLE_AGREEMENT,
                     id="due-before-the-end-to-the-due-date"),
        pytest.param({"starts_on": None}, D(2026, 7, 16), D(2027, 1, 31), FROM_PREVIOUS,
                     id="no-start-after-the-previous-report"),
    ],
)
def test_a_bilan_final_covers_the_whole_convention(changes: dict[str, Any], start: dt.date, end: dt.date, basis: str) -> None:
    interim = due("Bilan intermédiaire", D(2026, 7, 15), "Envoyée")
    draft = build_draft(FINAL, dataset([FINAL, interim], conventions=[agreement(**changes)]), D(2027, 1, 20))
    assert (draft.period.start, draft.period.end, draft.period.basis) == (start, end, basis)


def test_the_period_names_the_report_it_follows_and_a_default_period_is_explained() -> None:
    previous = due("Bilan intermédiaire", D(2026, 7, 15), "Envoyée", label="Bilan de mi-parcours")
    draft = build_draft(BF, dataset([BF, previous]), D(2026, 12, 1))
    assert (draft.period.previous_title, draft.period.previous_due_on) == ("Bilan de mi-parcours", D(2026, 7, 15))
    undated = build_draft(BI, dataset([BI], conventions=[agreement(starts_on=None)]), D(2026, 6, 1))
    assert any("pas de Date de début" in note for note in undated.notes)


# -- months: reported, missing, to come ------------------------------------------------------

BI_LYON = due("Bilan intermédiaire", D(2026, 7, 15), cantine=LYON)


def months_of(*numbers: int, cantine: str = LYON) -> list[MonthlyFigures]:
    return [figures(cantine, D(2026, n, 1)) for n in numbers]


@pytest.mark.parametrize(
    ("rows", "today", "missing", "upcoming"),
    [
        pytest.param(months_of(1, 2, 5, 6), D(2026, 7, 10), (3, 4), (7,), id="missing-months-named"),
        pytest.param(months_of(1, 2, 3), D(2026, 4, 10), (), (4, 5, 6, 7), id="future-months-are-not-missing"),
        pytest.param(months_of(1, 2, 3, 4, 5), D(2026, 7, 1), (6,), (7,), id="missing-the-day-after-the-month-ends"),
        pytest.param(months_of(1, 2, 3, 4, 5), D(2026, 6, 30), (), (6, 7), id="on-its-last-day-a-month-is-to-come"),
        pytest.param(months_of(1, 2, 3, 4, 5, 6, 7), D(2026, 7, 10), (), (7,),
                     id="a-month-not-over-is-to-come-even-with-figures"),
        pytest.param(months_of(1, 2, 4, 5, 6) + months_of(3, cantine=NANTES), D(2026, 7, 20), (3,), (7,),
                     id="another-cantines-figures-do-not-fill-a-gap"),
        pytest.param([], D(2026, 7, 20), (1, 2, 3, 4, 5, 6), (7,), id="no-figures-at-all"),
    ],
)
def test_month_statuses(
    rows: list[MonthlyFigures], today: dt.date, missing: tuple[int, ...], upcoming: tuple[int, ...]
) -> None:
    (report,) = build_draft(BI_LYON, dataset([BI_LYON], rows), today).cantines
    assert report.missing == tuple(D(2026, n, 1) for n in missing)
    assert report.upcoming == tuple(D(2026, n, 1) for n in upcoming)
    assert report.reported == 7 - len(missing) - len(upcoming)


def test_the_cantines_are_the_echeances_or_else_the_conventions() -> None:
    assert [c.name for c in build_draft(BI_LYON, dataset([BI_LYON]), TODAY).cantines] == [LYON]
    assert [c.name for c in build_draft(BI, dataset([BI]), TODAY).cantines] == [LYON, NANTES]


# -- totals and the previous period ----------------------------------------------------------

BI_APRIL = due("Bilan intermédiaire", D(2026, 4, 30), cantine=LYON)
TOTALS_ROWS = [
    figures(LYON, D(2026, 1, 1), 1000, guests=600, volunteers=10, volunteer_hours=Decimal("100.5"), events=2,
            local_share=Decimal("0.40")),
    figures(LYON, D(2026, 2, 1), 1200, guests=700, volunteers=20, volunteer_hours=Decimal(150), events=3,
            local_share=Decimal("0.50")),
    # March: no row at all (missing); April: a row with Convives left blank
    figures(LYON, D(2026, 4, 1), 1100, guests=None, volunteers=30, volunteer_hours=Decimal(120), events=0,
            local_share=Decimal("0.60")),
]


@pytest.mark.parametrize(
    ("key", "value", "months"),
    [
        pytest.param("meals", 3300, 3, id="repas-servis-summed-over-the-months-present"),
        pytest.param("guests", 1300, 2, id="a-blank-cell-is-not-a-zero"),
        pytest.param("volunteers", Decimal("20.0"), 3, id="benevoles-averaged-without-the-missing-month"),
        pytest.param("volunteer_hours", Decimal("370.5"), 3, id="heures-summed"),
        pytest.param("events", 5, 3, id="animations-summed-a-zero-month-counts"),
        pytest.param("local_share", Decimal("0.500"), 3, id="produits-locaux-averaged"),
    ],
)
def test_totals(key: str, value: Any, months: int) -> None:
    (report,) = build_draft(BI_APRIL, dataset([BI_APRIL], TOTALS_ROWS), D(2026, 5, 10)).cantines
    assert report.missing == (D(2026, 3, 1),)
    line = report.indicator(key)
    assert (line.value, line.months) == (value, months)


# BF_JUNE covers April–June 2026 (after a bilan due on 31 March); the previous period is January–March.
BI_MARCH = due("Bilan intermédiaire", D(2026, 3, 31), "Envoyée", cantine=LYON)
BF_JUNE = due("Rapport d'activité", D(2026, 6, 30), cantine=LYON)


@pytest.mark.parametrize(
    ("previous", "change", "on_average", "has_figures", "missing"),
    [
        pytest.param({1: 80, 2: 80, 3: 80}, Decimal("0.250"), False, True, (), id="same-month-counts-compare-totals"),
        pytest.param({1: 400, 2: 400, 3: 400}, Decimal("-0.750"), False, True, (), id="a-fall"),
        pytest.param({}, None, False, False, (1, 2, 3), id="no-previous-figures-no-change"),
        pytest.param({1: 80, 2: 80}, None, False, True, (3,),
                     id="two-months-against-three-are-not-compared"),
        pytest.param({1: 0, 2: 0, 3: 0}, None, False, True, (), id="nothing-to-divide-by"),
    ],
)
def test_change_against_the_previous_period(
    previous: dict[int, int], change: Decimal | None, on_average: bool, has_figures: bool, missing: tuple[int, ...]
) -> None:
    rows = [figures(LYON, D(2026, n, 1), meals) for n, meals in previous.items()]
    rows += [figures(LYON, D(2026, n, 1), 100) for n in (4, 5, 6)]
    (report,) = build_draft(BF_JUNE, dataset([BI_MARCH, BF_JUNE], rows), D(2026, 7, 2)).cantines
    assert [m.month for m in report.previous.months] == [D(2026, 1, 1), D(2026, 2, 1), D(2026, 3, 1)]
    meals = report.indicator("meals")
    assert meals.value == 300 and meals.previous == (sum(previous.values()) if previous else None)
    assert (meals.change, meals.change_on_average) == (change, on_average)
    assert report.previous.has_figures is has_figures
    assert report.previous.missing == tuple(D(2026, n, 1) for n in missing)
    assert report.previous.incomplete is (has_figures and bool(missing))


def test_a_mean_is_compared_with_the_previous_mean() -> None:
    rows = [figures(LYON, D(2026, n, 1), volunteers=20) for n in (1, 2, 3)]
    rows += [figures(LYON, D(2026, n, 1), volunteers=25) for n in (4, 5, 6)]
    (report,) = build_draft(BF_JUNE, dataset([BI_MARCH, BF_JUNE], rows), D(2026, 7, 2)).cantines
    volunteers = report.indicator("volunteers")
    assert (volunteers.value, volunteers.previous) == (Decimal("25.0"), Decimal("20.0"))
    assert volunteers.change == Decimal("0.250")
    assert not volunteers.change_on_average


YEAR_REPORT = due("Rapport d'activité", D(2026, 12, 31), cantine=LYON, agreement="CONV-LONG")


@pytest.mark.parametrize(
    ("previous_months", "comparable", "change", "on_average"),
    [
        pytest.param(12, True, Decimal("0.250"), False, id="twelve-against-twelve"),
        pytest.param(10, True, Decimal("0.250"), True, id="ten-against-twelve-by-monthly-average"),
        pytest.param(2, False, None, False, id="two-against-twelve-not-compared"),
    ],
)
def test_a_change_needs_both_periods_comparably_covered(
    previous_months: int, comparable: bool, change: Decimal | None, on_average: bool
) -> None:
    long = agreement(reference="CONV-LONG", starts_on=D(2025, 1, 1), ends_on=D(2026, 12, 31))
    interim = due("Bilan intermédiaire", D(2025, 12, 31), "Envoyée", cantine=LYON, agreement="CONV-LONG")
    rows = [figures(LYON, D(2025, n, 1), 80) for n in range(1, previous_months + 1)]
    rows += [figures(LYON, D(2026, n, 1), 100) for n in range(1, 13)]
    (report,) = build_draft(YEAR_REPORT, dataset([interim, YEAR_REPORT], rows, conventions=[long]), D(2027, 1, 5)).cantines
    meals = report.indicator("meals")
    assert (meals.comparable, meals.change, meals.change_on_average) == (comparable, change, on_average)
    from automations.cycle.drafts import evolution
    assert evolution(meals) == ("+25" + NBSP + "%" + (" (moyenne mensuelle)" if on_average else "") if comparable
                                else f"non comparable (12 mois renseignés contre {previous_months})")


def test_a_share_changes_in_percentage_points() -> None:
    rows = [figures(LYON, D(2026, n, 1), local_share=Decimal("0.40")) for n in (1, 2, 3)]
    rows += [figures(LYON, D(2026, n, 1), local_share=Decimal("0.45")) for n in (4, 5, 6)]
    (report,) = build_draft(BF_JUNE, dataset([BI_MARCH, BF_JUNE], rows), D(2026, 7, 2)).cantines
    share = report.indicator("local_share")
    assert share.in_points and share.change == Decimal("0.050")  # 40 % → 45 %: 5 points, not +12,5 %
    from automations.cycle.drafts import evolution
    assert evolution(share) == "+5" + NBSP + "points"


def test_the_title_names_the_cantines_and_the_partner_and_the_identity_is_to_complete() -> None:
    draft = build_draft(BI, dataset([BI]), D(2026, 6, 1))
    assert draft.title == f"Bilan intermédiaire – {LYON} et {NANTES} – {PARTNER} ({REF})"
    assert draft.identity == Identity()  # nothing in the data: « À compléter » in the documents
    network = Identity("Les Petites Cantines – Réseau", "123 456 789 00012", "1 rue de la Paix, Lyon", "Jeanne Martin")
    assert build_draft(BI, dataset([BI]), D(2026, 6, 1), network).identity == network
    from automations.domain.model import Application, Cantine
    from automations.domain.reference import Departement
    lyon = Cantine(LYON, "Ouverte", "Lyon", Departement("69", "Rhône", "Auvergne-Rhône-Alpes"), association="Association Lyon Cantine")
    carried = dataset([BI], conventions=[agreement(application="Candidature Lyon")], cantines=[lyon],
                      candidatures=[Application(title="Candidature Lyon", opportunity="AAP", status="Acceptée", carrier=LYON)])
    assert build_draft(BI, carried, D(2026, 6, 1), network).identity == Identity(name="Association Lyon Cantine")


def test_a_draft_without_any_figure_says_so() -> None:
    draft = build_draft(BI, dataset([BI]), D(2026, 8, 1))
    assert not draft.has_figures
    assert any("Aucun mois de la période n'a encore d'indicateurs" in note for note in draft.notes)


# -- versements ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payments", "total", "received", "pending", "remaining", "lines"),
    [
        pytest.param([due("Versement", D(2026, 2, 1), "Payée", amount=Decimal(8000)),
                      due("Versement", D(2026, 9, 1), amount=Decimal(12000))],
                     Decimal(20000), Decimal(8000), Decimal(12000), Decimal(12000), 2, id="paid-is-received"),
        pytest.param([due("Versement", D(2026, 2, 1), "Payée", amount=Decimal(8000)),
                      due("Versement", D(2026, 3, 1), "Payée", amount=Decimal("12000.00"))],
                     Decimal(20000), Decimal(20000), Decimal(0), Decimal(0), 2, id="all-received"),
        pytest.param([due("Versement", D(2026, 2, 1), "Annulée", amount=Decimal(8000))],
                     Decimal(20000), Decimal(0), Decimal(0), Decimal(20000), 0, id="a-cancelled-versement-is-left-out"),
        pytest.param([due("Versement", D(2026, 2, 1), "Payée", amount=Decimal(8000), agreement="CONV-AUTRE")],
                     Decimal(20000), Decimal(0), Decimal(0), Decimal(20000), 0, id="another-conventions-versement"),
        pytest.param([due("Versement", D(2026, 2, 1), "Payée", amount=Decimal(8000))],
                     None, Decimal(8000), Decimal(0), None, 1, id="no-total-amount-no-remaining"),
    ],
)
def test_payments(
    payments: list[DueItem], total: Decimal | None, received: Decimal, pending: Decimal,
    remaining: Decimal | None, lines: int,
) -> None:
    data = dataset([BI, *payments], conventions=[agreement(total_amount=total)])
    result = build_draft(BI, data, TODAY).payments
    assert (result.total, result.received, result.pending, result.remaining) == (total, received, pending, remaining)
    assert len(result.lines) == lines


def test_a_paid_versement_without_amount_and_a_missing_total_are_pointed_out() -> None:
    data = dataset([BI, due("Versement", D(2026, 2, 1), "Payée")], conventions=[agreement(total_amount=None)])
    notes = build_draft(BI, data, TODAY).notes
    assert any("n'a pas de Montant" in n for n in notes) and any("pas de Montant total" in n for n in notes)


# -- engagements -----------------------------------------------------------------------------

BF_DEC = due("Bilan final", D(2026, 12, 15), cantine=LYON)


@pytest.mark.parametrize(
    ("line", "others", "status", "label"),
    [
        pytest.param("Bilan intermédiaire à mi-parcours", [due("Bilan intermédiaire", D(2026, 6, 30), "Envoyée")],
                     MET, "Tenu", id="bilan-intermediaire-sent"),
        pytest.param("Un BILAN INTERMEDIAIRE", [due("Bilan intermédiaire", D(2026, 6, 30), "Acceptée")],
                     MET, "Tenu", id="bilan-intermediaire-accepted-any-case-or-accent"),
        pytest.param("Bilan intermédiaire à mi-parcours", [due("Bilan intermédiaire", D(2026, 6, 30))],
                     PENDING, "Pas encore fait", id="bilan-intermediaire-due-and-not-done"),
        pytest.param("Logo du partenaire sur les menus", [due("Visibilité partenaire", D(2026, 3, 1), "Acceptée")],
                     MET, "Tenu", id="logo-and-visibility-done"),
        pytest.param("Visibilité sur le site", [due("Visibilité partenaire", D(2026, 3, 1), "Envoyée"),
                                                due("Visibilité partenaire", D(2026, 9, 1))],
                     PARTLY_MET, "Tenu en partie (1 sur 2)", id="visibility-half-done"),
        pytest.param("Invitation à un repas", [due("Visite partenaire", D(2027, 2, 1))],
                     PLANNED, "Prévu après la période", id="visit-after-the-period"),
        pytest.param("Visite du partenaire", [due("Visite partenaire", D(2026, 5, 1), "Annulée")],
                     UNKNOWN, "À compléter", id="cancelled-visit-says-nothing"),
        pytest.param("Visite du partenaire", [due("Visite partenaire", D(2026, 5, 1), "Acceptée", cantine=NANTES)],
                     UNKNOWN, "À compléter", id="another-cantines-visit-says-nothing"),
        pytest.param("Logo du partenaire sur les menus", [], UNKNOWN, "À compléter", id="no-echeance-to-judge-by"),
        pytest.param("Former deux bénévoles", [due("Visibilité partenaire", D(2026, 3, 1), "Acceptée")],
                     UNKNOWN, "À compléter", id="not-in-the-data"),
        pytest.param("Bilan final détaillé", [], THIS_REPORT, "Objet du présent document", id="this-very-report"),
    ],
)
def test_commitment_status(line: str, others: list[DueItem], status: str, label: str) -> None:
    data = dataset([BF_DEC, *others], conventions=[agreement(commitments=line)])
    (commitment,) = build_draft(BF_DEC, data, TODAY).commitments
    assert (commitment.text, commitment.status, commitment.label) == (line, status, label)


def test_commitments_are_one_per_line_without_bullets() -> None:
    assert commitment_lines("- Logo sur les menus\n\n  • Invitation à un repas \n* Bilan") == [
        "Logo sur les menus", "Invitation à un repas", "Bilan",
    ]
    assert commitment_lines(None) == []


# -- déclinaisons ----------------------------------------------------------------------------


def test_rollouts_are_the_partners_realised_in_the_period_for_the_cantines() -> None:
    offers = [PartnerOffer("Dons de pain", PARTNER), PartnerOffer("Ateliers", "Autre partenaire")]
    rollouts = [
        OfferRollout("Dons de pain", LYON, "Réalisée", D(2026, 3, 1), Decimal(1800)),
        OfferRollout("Dons de pain", NANTES, "Réalisée", D(2026, 7, 15), Decimal("450.50")),  # last day
        OfferRollout("Dons de pain", LYON, "Planifiée", D(2026, 4, 1), Decimal(900)),
        OfferRollout("Dons de pain", LYON, "Réalisée", D(2026, 8, 1), Decimal(900)),  # after the period
        OfferRollout("Dons de pain", "Cantine Lille", "Réalisée", D(2026, 4, 1), Decimal(900)),
        OfferRollout("Ateliers", LYON, "Réalisée", D(2026, 4, 1), Decimal(900)),
        OfferRollout("Dons de pain", LYON, "Réalisée", None, Decimal(900)),
    ]
    draft = build_draft(BI, dataset([BI], offres=offers, declinaisons=rollouts), TODAY)
    assert [(r.cantine, r.on, r.value) for r in draft.rollouts.lines] == [
        (LYON, D(2026, 3, 1), Decimal(1800)), (NANTES, D(2026, 7, 15), Decimal("450.50")),
    ]
    assert draft.rollouts.total == Decimal("2250.50")
    assert any("sans Date prévue" in note for note in draft.notes)


# -- fingerprint -----------------------------------------------------------------------------


PAID_8000 = due("Versement", D(2026, 2, 1), "Payée", amount=Decimal(8000))


def fingerprint_data(**changes: Any) -> Dataset:
    rows = [figures(LYON, D(2026, n, 1), 100 + n) for n in (1, 2, 4, 5, 6)]
    offers = [PartnerOffer("Dons de pain", PARTNER)]
    rollouts = [OfferRollout("Dons de pain", LYON, "Réalisée", D(2026, 3, 1), Decimal(1800))]
    values: dict[str, Any] = dict(
        echeances=[BI_LYON, PAID_8000], indicateurs=rows, offres=offers, declinaisons=rollouts,
        conventions=[agreement(commitments="Logo sur les menus")],
    )
    values.update(changes)
    return dataset(**values)


def fingerprint(data: Dataset, today: dt.date = D(2026, 7, 3), item: DueItem = BI_LYON) -> str:
    return build_draft(item, data, today).figures_fingerprint


def test_same_figures_same_fingerprint_whatever_the_day_within_the_period() -> None:
    base = fingerprint(fingerprint_data())
    assert fingerprint(fingerprint_data(), D(2026, 7, 28)) == base
    assert build_draft(BI_LYON, fingerprint_data(), D(2026, 7, 28)).prepared_on == D(2026, 7, 28)
    # what the draft does not show: the partner's notes, the échéance's owner and workflow status
    assert fingerprint(fingerprint_data(partenaires=[Partner(PARTNER, notes="Autre note")])) == base
    moved = dataclasses.replace(BI_LYON, status="En préparation", owner_email="camille@example.org")
    assert fingerprint(fingerprint_data(echeances=[moved, PAID_8000]), item=moved) == base
    # the same amount written differently
    same = [due("Versement", D(2026, 2, 1), "Payée", amount=Decimal("8000.00"))]
    assert fingerprint(fingerprint_data(echeances=[BI_LYON, *same])) == base


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"indicateurs": [figures(LYON, D(2026, n, 1), 101 + n) for n in (1, 2, 4, 5, 6)]}, id="meals"),
        pytest.param({"indicateurs": [figures(LYON, D(2026, n, 1), 100 + n) for n in (1, 2, 3, 4, 5, 6)]},
                     id="a-missing-month-filled"),
        pytest.param({"echeances": [BI_LYON, due("Versement", D(2026, 2, 1), "Payée", amount=Decimal(8001))]},
                     id="a-versement"),
        pytest.param({"declinaisons": [OfferRollout("Dons de pain", LYON, "Réalisée", D(2026, 3, 1), Decimal(1900))]},
                     id="a-valued-rollout"),
        pytest.param({"conventions": [agreement(commitments="Logo sur les menus", total_amount=Decimal(25000))]},
                     id="the-convention-amount"),
        pytest.param({"conventions": [agreement(commitments="Logo sur les menus et le site")]}, id="an-engagement"),
    ],
)
def test_a_changed_figure_changes_the_fingerprint(changes: dict[str, Any]) -> None:
    assert fingerprint(fingerprint_data(**changes)) != fingerprint(fingerprint_data())


# -- rendering -------------------------------------------------------------------------------

RENDER_TODAY = D(2026, 5, 12)
RENDER_ITEM = due("Bilan intermédiaire", D(2026, 4, 30))


def render_data() -> Dataset:
    lyon = {1: 4000, 2: 4345, 4: 4000}  # March missing: 12 345 repas servis over three months
    rows = [figures(LYON, D(2026, n, 1), meals) for n, meals in lyon.items()]
    rows += [figures(NANTES, D(2026, n, 1), 500) for n in (1, 2, 3, 4)]
    rows += [figures(LYON, D(2025, n, 1), 3000) for n in (9, 10, 11, 12)]
    return dataset(
        [RENDER_ITEM, due("Versement", D(2026, 2, 1), "Payée", amount=Decimal(8000)),
         due("Visibilité partenaire", D(2026, 3, 1), "Acceptée")],
        rows,
        conventions=[agreement(commitments="Logo du partenaire sur les menus\nFormer deux bénévoles")],
        offres=[PartnerOffer("Dons de pain", PARTNER)],
        declinaisons=[OfferRollout("Dons de pain", NANTES, "Réalisée", D(2026, 2, 10), Decimal(1800))],
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Draft, Any]:
    draft = build_draft(RENDER_ITEM, render_data(), RENDER_TODAY)
    files = render_draft(draft, TEMPLATES, tmp_path_factory.mktemp("brouillons"), network_name="Les Petites Cantines")
    return draft, files


def blocks(document: Any) -> list[str]:
    """Every paragraph's text, table cells included (one entry per cell)."""
    texts: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            texts.append(block.text)
        elif isinstance(block, Table):
            texts.extend(cell.text for row in block.rows for cell in row.cells)
    return texts


def table_rows(document: Any) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for table in document.tables for row in table.rows]


def test_the_word_document_has_the_figures_in_french(rendered: tuple[Draft, Any]) -> None:
    draft, files = rendered
    assert files.docx.name == "CONV-2026-01_2026-04-30_bilan-intermediaire.docx"
    document = docx.Document(str(files.docx))
    texts = blocks(document)
    assert texts[0] == f"Bilan intermédiaire – {LYON} et {NANTES} – {PARTNER} (CONV-2026-01)"
    rows = table_rows(document)
    assert ["Repas servis", f"12{NNBSP}345", "3 sur 4", f"12{NNBSP}000", "+37,2\u00a0% (moyenne mensuelle)"] in rows
    assert ["Repas servis", f"2{NNBSP}000", "4 sur 4", "—", "—"] in rows  # Nantes: nothing before
    assert ["Montant total", f"20{NNBSP}000{NBSP}€"] in rows
    assert ["mars 2026", "manquant", "manquant", "manquant", "manquant", "manquant", "manquant"] in rows
    assert ["Logo du partenaire sur les menus", "Tenu", "Visibilité partenaire du 01/03/2026 : Acceptée"] in rows
    assert ["Former deux bénévoles", "À compléter", ""] in rows
    assert ["Dons de pain", NANTES, "10/02/2026", f"1{NNBSP}800{NBSP}€"] in rows
    text = "\n".join(texts)
    assert f"Reçu : 8{NNBSP}000{NBSP}€ sur 20{NNBSP}000{NBSP}€" in text
    assert f"reste à percevoir : 12{NNBSP}000{NBSP}€" in text
    assert "Mois manquants : mars 2026" in text
    assert "Du jeudi 1er janvier 2026 au jeudi 30 avril 2026 (4 mois" in text
    assert "{{" not in text and "{%" not in text
    assert document.core_properties.title == draft.title


def test_the_word_document_has_every_heading_and_highlights_what_is_to_complete(rendered: tuple[Draft, Any]) -> None:
    document = docx.Document(str(rendered[1].docx))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    for heading in ("Période couverte", "Indicateurs", "Engagements", "Versements",
                    "Dons et mécénat en nature valorisés", "À compléter", "Faits marquants", "Témoignages",
                    "Difficultés rencontrées", "Perspectives", LYON, NANTES):
        assert heading in headings
    highlighted = [
        r.text for p in document.paragraphs for r in p.runs if r.font.highlight_color == WD_COLOR_INDEX.YELLOW
    ]
    assert sum(t.startswith("À compléter : ") for t in highlighted) >= 5
    assert any(t.startswith("Mois manquants") for t in highlighted)


def test_a_partner_name_with_xml_characters_comes_out_intact(rendered: tuple[Draft, Any]) -> None:
    _, files = rendered
    document = docx.Document(str(files.docx))
    assert ["Partenaire", PARTNER] in table_rows(document)
    assert document.core_properties.subject == PARTNER
    assert f"| Partenaire | {PARTNER} |" in files.markdown.read_text(encoding="utf-8")


def test_the_chart_is_an_inline_picture_per_cantine(rendered: tuple[Draft, Any]) -> None:
    _, files = rendered
    document = docx.Document(str(files.docx))
    assert len(document.inline_shapes) == 2 == len(files.charts)
    assert all(shape.type == WD_INLINE_SHAPE.PICTURE for shape in document.inline_shapes)
    for chart in files.charts:
        assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with Image.open(chart) as image:
            image.verify()
    with zipfile.ZipFile(files.docx) as archive:
        media = [n for n in archive.namelist() if n.startswith("word/media/")]
        assert len(media) == 2 and all(archive.read(n)[:4] == b"\x89PNG" for n in media)


def test_every_xml_part_of_the_word_document_parses(rendered: tuple[Draft, Any]) -> None:
    with zipfile.ZipFile(rendered[1].docx) as archive:
        parts = [n for n in archive.namelist() if n.endswith((".xml", ".rels"))]
        assert "word/document.xml" in parts and "[Content_Types].xml" in parts
        for name in parts:
            ET.fromstring(archive.read(name))
        body_xml = archive.read("word/document.xml")
    ids = re.findall(rb'<wp:docPr id="(\d+)"', body_xml)
    assert len(ids) == len(set(ids)) == 2  # duplicate drawing ids make Word "repair" the file
    # what Word insists on: tables with rows, cells ending with a paragraph, the section last
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    body = ET.fromstring(body_xml).find(f"{w}body")
    assert body is not None and body[-1].tag == f"{w}sectPr" and body[-2].tag == f"{w}p"
    tables = list(body.iter(f"{w}tbl"))
    assert len(tables) == 9  # the association's identity, then the 8 of before
    for table in tables:
        assert table.findall(f"{w}tr")
        for cell in table.iter(f"{w}tc"):
            assert cell[-1].tag == f"{w}p"


def test_the_markdown_version_references_the_charts_and_names_missing_months(rendered: tuple[Draft, Any]) -> None:
    _, files = rendered
    text = files.markdown.read_text(encoding="utf-8")
    assert text.startswith(f"# Bilan intermédiaire – {LYON} et {NANTES} – {PARTNER} (CONV-2026-01)\n")
    assert "| SIRET | À compléter |" in text
    for chart in files.charts:
        assert f"]({chart.name})" in text and (files.markdown.parent / chart.name).is_file()
    assert "| mars 2026 | manquant | manquant |" in text
    assert "mois manquants :** mars 2026" in text
    assert f"| Repas servis | 12{NNBSP}345 | 3 sur 4 |" in text
    assert "## Dons et mécénat en nature valorisés" in text and "### Perspectives" in text
    assert "&amp;" not in text and "&lt;" not in text


def test_file_names_are_safe_and_tell_cantines_apart_when_the_convention_has_several() -> None:
    item = due("Rapport d'activité", D(2026, 12, 24), cantine="Cantine Lyon / Part-Dieu", agreement="CONV 2026/01")
    data = dataset([item], conventions=[agreement(reference="CONV 2026/01")])
    stem = "CONV-2026-01_2026-12-24_rapport-d-activite"
    assert file_stem(build_draft(item, data, TODAY)) == stem + "_cantine-lyon-part-dieu"
    data = dataset([item], conventions=[agreement(reference="CONV 2026/01", cantines=("Cantine Lyon / Part-Dieu",))])
    assert file_stem(build_draft(item, data, TODAY)) == stem


def test_templates_run_in_the_sandbox(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    (templates / "reports").mkdir(parents=True)
    hostile = docx.Document()
    hostile.add_paragraph("{{ draft.__class__.__mro__ }}")
    hostile.save(str(templates / "reports" / "bilan.docx"))
    (templates / "reports" / "bilan.md").write_text("{{ draft.__class__.__mro__ }}", encoding="utf-8")
    draft = build_draft(RENDER_ITEM, render_data(), RENDER_TODAY)
    with pytest.raises(TemplateFailure, match="bac à sable") as caught:
        render_draft(draft, templates, tmp_path / "out", network_name="Réseau")
    assert isinstance(caught.value.__cause__, SecurityError)
    assert caught.value.template == "reports/bilan.docx"


# -- the template itself ---------------------------------------------------------------------


def test_every_tag_of_the_committed_template_sits_in_one_run() -> None:
    """Word splits text into runs as it pleases; a tag split across runs is a tag docxtpl may not see."""
    with zipfile.ZipFile(TEMPLATES / "reports" / "bilan.docx") as archive:
        root = ET.fromstring(archive.read("word/document.xml"))
    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    tags = 0
    for run in root.iter(f"{w}r"):
        text = "".join(t.text or "" for t in run.iter(f"{w}t"))
        assert text.count("{{") == text.count("}}") and text.count("{%") == text.count("%}"), text
        tags += text.count("{{") + text.count("{%")
    assert tags > 50


def test_the_template_generator_writes_a_document_that_opens(tmp_path: Path) -> None:
    path = tmp_path / "modèle" / "bilan.docx"
    assert report_template.main([str(path)]) == 0
    document = docx.Document(str(path))
    assert document.paragraphs[0].text == "{{ draft.title }}"
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith((".xml", ".rels")):
                ET.fromstring(archive.read(name))


# -- the demo --------------------------------------------------------------------------------


def test_the_demo_has_drafts_due_and_they_render(tmp_path: Path) -> None:
    settings = load_settings(REPO / "config" / "demo.toml", {})
    today = D(2026, 11, 24)
    tables = {code: [Row(f"rec{i}", values, i + 2) for i, values in enumerate(rows)]
              for code, rows in demo_rows(today).items()}
    data = parse_dataset(tables, settings.schema, settings.reference, settings.timezone)
    due_items = drafts_due(data, today, horizon_days=45)
    assert len(due_items) >= 2
    assert all(item.type in REPORT_TYPES and not item.is_done for item in due_items)
    drafts = [build_draft(item, data, today) for item in due_items]
    interim = next(d for d in drafts if d.item.type == "Bilan intermédiaire" and d.agreement.reference == "CONV-2026-01")
    (canuts,) = interim.cantines
    assert canuts.missing == (D(2026, 6, 1),)  # the demo's « beaucoup » repas servis: a row skipped
    assert canuts.upcoming == (D(2026, 11, 1), D(2026, 12, 1))
    for draft in drafts:
        files = render_draft(draft, TEMPLATES, tmp_path, network_name=settings.network.name)
        charts = 0 if draft.financial else len(draft.cantines)  # a compte rendu financier has no chart
        assert len(docx.Document(str(files.docx)).inline_shapes) == charts
    assert (tmp_path / "CONV-2026-01_2026-12-24_bilan-intermediaire.docx").is_file()
    assert len(list(tmp_path.glob("*.docx"))) == len(drafts)
