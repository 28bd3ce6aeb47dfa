"""Matching opportunities to cantines: every eligibility rule and its edge, the score, the reasons."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automations.domain.matching import (
    APPLIED, DEADLINE_PASSED, NO_LONGER, SET_ASIDE_STATE, Matcher, MatchingRules, collective_suggestions,
)
from automations.domain.model import Application, Cantine, Dataset, Opportunity
from automations.settings.files import load_reference

from .conftest import REPO

REFERENCE = load_reference(REPO / "config" / "departements.csv")
TODAY = dt.date(2026, 3, 6)
THEMES = ["Alimentation durable", "Lien social", "Lutte contre l'isolement", "Insertion", "Anti-gaspillage",
          "Éducation à l'alimentation", "Culture", "Économie sociale et solidaire"]
ANY_SCORE = MatchingRules(threshold=0)


def cantine(name: str = "Cantine des Canuts", dept: str = "69", **changes: Any) -> Cantine:
    departement = REFERENCE.departement(dept)
    assert departement is not None
    values: dict[str, Any] = dict(name=name, status="Ouverte", city="Lyon", departement=departement)
    values.update(changes)
    return Cantine(**values)


def opportunity(title: str = "AAP Manger ensemble", territories: tuple[str, ...] = ("France",), **changes: Any) -> Opportunity:
    resolved = tuple(REFERENCE.territory(t) for t in territories)
    assert all(resolved), territories
    values: dict[str, Any] = dict(
        title=title, partner="Fondation Terre Commune", territories=resolved,
        deadline=TODAY + dt.timedelta(days=60), watch_status="Pertinente",
    )
    values.update(changes)
    return Opportunity(**values)


def matches(cantines: list[Cantine], opportunities: list[Opportunity], rules: MatchingRules = ANY_SCORE,
            applications: list[Application] = ()) -> list:  # type: ignore[assignment]
    dataset = Dataset(cantines=cantines, opportunites=opportunities, candidatures=list(applications))
    return Matcher(dataset, TODAY, rules).matches()


@pytest.mark.parametrize(
    ("dept", "territories", "fits"),
    [
        pytest.param("69", ("France",), True, id="france-covers-all"),
        pytest.param("974", ("France",), True, id="france-covers-overseas"),
        pytest.param("69", ("Auvergne-Rhône-Alpes",), True, id="region-with-accents"),
        pytest.param("69", ("auvergne rhone alpes",), True, id="region-without-accents"),
        pytest.param("69", ("Bretagne",), False, id="other-region"),
        pytest.param("69", ("Rhône",), True, id="departement-by-name"),
        pytest.param("69", ("rhone",), True, id="departement-by-name-without-accent"),
        pytest.param("69", ("69",), True, id="departement-by-number"),
        pytest.param("69", ("38",), False, id="neighbouring-departement"),
        pytest.param("2A", ("2A",), True, id="corse-du-sud"),
        pytest.param("2B", ("2A",), False, id="haute-corse-is-not-corse-du-sud"),
        pytest.param("2B", ("Corse",), True, id="region-corse"),
        pytest.param("974", ("La Réunion",), True, id="overseas-region"),
        pytest.param("974", ("974",), True, id="overseas-number"),
        pytest.param("971", ("974",), False, id="other-overseas"),
        pytest.param("974", ("France métropolitaine",), False, id="mainland-excludes-overseas"),
        pytest.param("2A", ("France métropolitaine",), True, id="mainland-includes-corsica"),
        pytest.param("13", ("Bretagne", "13"), True, id="second-territory-covers"),
        pytest.param("13", (), True, id="no-territory-means-france"),
    ],
)
def test_territory(dept: str, territories: tuple[str, ...], fits: bool) -> None:
    found = matches([cantine(dept=dept)], [opportunity(territories=territories)])
    assert bool(found) == fits


def test_territory_reason_names_what_covers_the_cantine() -> None:
    (match,) = matches([cantine()], [opportunity(territories=("Auvergne-Rhône-Alpes",))])
    assert match.reasons.splitlines()[0] == "✓ Territoire : Rhône (69), couvert par «\u00a0Auvergne-Rhône-Alpes\u00a0»"


@pytest.mark.parametrize(
    ("changes_cantine", "changes_opportunity", "fits"),
    [
        pytest.param({"qpv": True}, {"qpv_only": True}, True, id="qpv-only-and-in-qpv"),
        pytest.param({"qpv": False}, {"qpv_only": True}, False, id="qpv-only-not-in-qpv"),
        pytest.param({"qpv": False}, {"qpv_only": False}, True, id="not-qpv-only"),
        pytest.param({"status": "En montage"}, {"stages": ("En montage",)}, True, id="stage-listed"),
        pytest.param({"status": "Ouverte"}, {"stages": ("En montage",)}, False, id="stage-not-listed"),
        pytest.param({"status": "En montage"}, {"stages": ()}, True, id="no-stage-means-all"),
        pytest.param({"status": "Fermée"}, {"stages": ()}, False, id="closed-cantine-never"),
        pytest.param({"status": "En pause"}, {"stages": ()}, False, id="paused-cantine-never"),
        pytest.param({}, {"deadline": TODAY + dt.timedelta(days=10)}, True, id="deadline-exactly-min-days"),
        pytest.param({}, {"deadline": TODAY + dt.timedelta(days=9)}, False, id="deadline-too-close"),
        pytest.param({}, {"deadline": TODAY}, False, id="deadline-day-itself"),
        pytest.param({}, {"deadline": TODAY - dt.timedelta(days=1)}, False, id="deadline-past"),
        pytest.param({}, {"deadline": TODAY - dt.timedelta(days=100), "recurrence": "Permanente"}, True, id="permanent-ignores-deadline"),
        pytest.param({}, {"deadline": None}, True, id="no-deadline-given"),
        pytest.param({}, {"watch_status": "Écartée"}, False, id="set-aside"),
        pytest.param({}, {"watch_status": "Archivée"}, False, id="archived"),
        pytest.param({}, {"watch_status": "À qualifier"}, True, id="to-qualify"),
    ],
)
def test_hard_rules(changes_cantine: dict, changes_opportunity: dict, fits: bool) -> None:
    assert bool(matches([cantine(**changes_cantine)], [opportunity(**changes_opportunity)])) == fits


def test_min_days_to_prepare_comes_from_the_rules() -> None:
    close = opportunity(deadline=TODAY + dt.timedelta(days=5))
    assert not matches([cantine()], [close])
    assert matches([cantine()], [close], MatchingRules(threshold=0, min_days_to_prepare=3))


@pytest.mark.parametrize("status", ["À l'étude", "Déposée", "Refusée", "Sans suite", "Acceptée"])
def test_an_existing_application_excludes_the_pair(status: str) -> None:
    application = Application(title="X", opportunity="AAP Manger ensemble", status=status, cantines=("Cantine des Canuts",))
    found = matches([cantine(), cantine("Cantine du Port", "13")], [opportunity()], applications=[application])
    assert [m.cantine.name for m in found] == ["Cantine du Port"]


def test_an_application_carried_by_the_cantine_excludes_it_too() -> None:
    application = Application(title="X", opportunity="AAP Manger ensemble", status="En rédaction", carrier="Cantine des Canuts")
    assert not matches([cantine()], [opportunity()], applications=[application])


def test_reasons_say_each_criterion_in_french() -> None:
    rich = cantine(themes=("Alimentation durable", "Lien social", "Culture"), needs=("Équipement de cuisine",),
                   annual_budget=Decimal(120000))
    opp = opportunity(territories=("Auvergne-Rhône-Alpes",), themes=("Lien social", "Alimentation durable"),
                      expenses=("Investissement",), amount_min=Decimal(5000), amount_max=Decimal(20000),
                      deadline=dt.date(2026, 3, 30))
    (match,) = matches([rich], [opp])
    lines = match.reasons.splitlines()
    assert lines[0] == "✓ Territoire : Rhône (69), couvert par «\u00a0Auvergne-Rhône-Alpes\u00a0»"
    assert "✓ Thématiques communes : Lien social et Alimentation durable (+35)" in lines
    assert "✓ Besoin couvert : Équipement de cuisine (dépenses d'investissement) (+20)" in lines
    assert "✓ Montant : 5\u202f000\u00a0€ à 20\u202f000\u00a0€, adapté à un budget annuel de 120\u202f000\u00a0€ (+20)" in lines
    assert "• Date limite dans 24 jours (lundi 30 mars 2026) (+4)" in lines
    assert match.score == round(35 + 20 + 20 + 4 + 7.5)
    assert sum(c.points for c in match.criteria) == pytest.approx(86.5)


@pytest.mark.parametrize(
    ("needs", "expenses", "line"),
    [
        pytest.param(("Fonctionnement",), ("Fonctionnement",), "✓ Besoin couvert : Fonctionnement", id="same-word-once"),
        pytest.param(("Emploi", "Formation"), ("Fonctionnement",),
                     "✓ Besoins couverts : Emploi et Formation (dépenses de fonctionnement)", id="grouped"),
        pytest.param(("Fonctionnement", "Équipement de cuisine"), ("Fonctionnement", "Investissement"),
                     "✓ Besoins couverts : Fonctionnement ; Équipement de cuisine (dépenses d'investissement)", id="two-kinds"),
        pytest.param(("Emploi",), ("Investissement",),
                     "✗ Besoins non couverts : la cantine cherche emploi, l'opportunité finance des dépenses d'investissement",
                     id="not-covered"),
    ],
)
def test_needs_reasons_read_well(needs: tuple[str, ...], expenses: tuple[str, ...], line: str) -> None:
    who = cantine(needs=needs)
    matcher = Matcher(Dataset(cantines=[who]), TODAY, ANY_SCORE)
    criterion = matcher._needs(opportunity(expenses=expenses), who)
    assert criterion.line == line


@pytest.mark.parametrize(
    ("budget", "low", "high", "fraction"),
    [
        pytest.param(100000, 5000, 20000, 1.0, id="fits"),
        pytest.param(100000, 60000, 80000, 0.0, id="minimum-over-half-the-budget"),
        pytest.param(100000, 1000, 150000, 0.5, id="maximum-over-the-budget"),
        pytest.param(100000, 100, 500, 0.25, id="too-small-to-matter"),
        pytest.param(None, 1000, 5000, 0.5, id="budget-unknown"),
        pytest.param(100000, None, None, 0.5, id="amount-unknown"),
    ],
)
def test_amount_fit(budget: int | None, low: int | None, high: int | None, fraction: float) -> None:
    dec = lambda v: None if v is None else Decimal(v)  # noqa: E731
    (match,) = matches([cantine(annual_budget=dec(budget))], [opportunity(amount_min=dec(low), amount_max=dec(high))])
    (amount,) = [c for c in match.criteria if c.name == "amount"]
    assert amount.fraction == fraction


def decided(status: str, on: dt.date, opportunity_title: str = "AAP 2025") -> Application:
    return Application(title=f"{status} {on}", opportunity=opportunity_title, status=status,
                       cantines=("Cantine des Canuts",), decided_on=on)


@pytest.mark.parametrize(
    ("history", "fraction", "line_start"),
    [
        pytest.param([], 0.5, "• Pas encore de candidature acceptée", id="no-history"),
        pytest.param([("Acceptée", dt.date(2025, 6, 1))], 1.0, "✓ Déjà soutenue par Fondation Terre Commune (candidature acceptée en 2025)", id="accepted"),
        pytest.param([("Refusée", dt.date(2026, 1, 10))], 0.0, "✗ Refus récent de Fondation Terre Commune (10/01/2026)", id="recent-refusal"),
        pytest.param([("Refusée", dt.date(2024, 1, 10))], 0.5, "• Pas encore", id="old-refusal-forgotten"),
        pytest.param([("Refusée", dt.date(2025, 6, 1)), ("Acceptée", dt.date(2025, 12, 1))], 1.0, "✓ Déjà soutenue", id="accepted-after-refusal"),
    ],
)
def test_partner_history(history: list[tuple[str, dt.date]], fraction: float, line_start: str) -> None:
    past = [opportunity(title="AAP 2025", deadline=dt.date(2025, 3, 1))]
    applications = [decided(status, on) for status, on in history]
    found = matches([cantine()], [opportunity(), *past], applications=applications)
    (match,) = [m for m in found if m.opportunity.title == "AAP Manger ensemble"]
    (criterion,) = [c for c in match.criteria if c.name == "history"]
    assert criterion.fraction == fraction
    assert criterion.line.startswith(line_start)


def test_threshold_filters_weak_matches() -> None:
    weak = opportunity(themes=("Culture",), expenses=("Investissement",))
    strong = opportunity(title="Forte", themes=("Lien social",), expenses=("Fonctionnement",))
    who = cantine(themes=("Lien social",), needs=("Emploi",))
    found = matches([who], [weak, strong], MatchingRules(threshold=50))
    assert [m.opportunity.title for m in found] == ["Forte"]


def test_collective_suggestion_needs_k_cantines() -> None:
    cantines = [cantine(f"C{i}", dept) for i, dept in enumerate(["69", "13", "33", "59"])]
    collective = opportunity(title="Collectif", collective=True, territories=("France",))
    regional = opportunity(title="Régional", collective=True, territories=("Rhône", "13"))
    found = matches(cantines, [collective, regional])
    (suggestion,) = collective_suggestions(found, MatchingRules(collective_min_cantines=3))
    assert suggestion.opportunity.title == "Collectif" and len(suggestion.cantines) == 4
    assert len(collective_suggestions(found, MatchingRules(collective_min_cantines=2))) == 2


def test_pair_state_explains_why_a_match_stopped() -> None:
    dataset = Dataset(
        cantines=[cantine(), cantine("Cantine du Port", "13")],
        opportunites=[opportunity("Passée", deadline=TODAY), opportunity("Écartée", watch_status="Écartée"),
                      opportunity("Bretonne", territories=("Bretagne",)), opportunity("Demandée")],
        candidatures=[Application(title="X", opportunity="Demandée", status="Déposée", cantines=("Cantine des Canuts",))],
    )
    matcher = Matcher(dataset, TODAY, ANY_SCORE)
    canuts = dataset.cantines[0]
    states = {o.title: matcher.pair_state(o, canuts) for o in dataset.opportunites}
    assert states == {"Passée": DEADLINE_PASSED, "Écartée": SET_ASIDE_STATE, "Bretonne": NO_LONGER, "Demandée": APPLIED}


# -- properties ------------------------------------------------------------------------------

DEPARTEMENTS = [d.code for d in REFERENCE.departements]
TERRITORY_NAMES = ["France", "France métropolitaine", *REFERENCE.regions, *DEPARTEMENTS,
                   *(d.name for d in REFERENCE.departements)]


@settings(max_examples=200, deadline=None)
@given(dept=st.sampled_from(DEPARTEMENTS), territories=st.lists(st.sampled_from(TERRITORY_NAMES), min_size=1, max_size=3))
def test_a_cantine_outside_the_territory_never_matches(dept: str, territories: list[str]) -> None:
    departement = REFERENCE.departement(dept)
    inside = any(REFERENCE.territory(t).covers(departement) for t in territories)  # type: ignore[union-attr]
    found = matches([cantine(dept=dept)], [opportunity(territories=tuple(territories))])
    assert bool(found) == inside


@settings(max_examples=200, deadline=None)
@given(
    cantine_themes=st.sets(st.sampled_from(THEMES)),
    opportunity_themes=st.sets(st.sampled_from(THEMES)),
    extra=st.sampled_from(THEMES),
    needs=st.sets(st.sampled_from(["Fonctionnement", "Emploi", "Investissement", "Équipement de cuisine"])),
)
def test_adding_a_shared_theme_never_lowers_the_score(
    cantine_themes: set[str], opportunity_themes: set[str], extra: str, needs: set[str]
) -> None:
    def score(c_themes: set[str], o_themes: set[str]) -> int:
        (match,) = matches(
            [cantine(themes=tuple(sorted(c_themes)), needs=tuple(sorted(needs)))],
            [opportunity(themes=tuple(sorted(o_themes)), expenses=("Fonctionnement",))],
        )
        return match.score

    assert score(cantine_themes | {extra}, opportunity_themes | {extra}) >= score(cantine_themes, opportunity_themes)
