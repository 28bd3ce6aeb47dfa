"""Which cantine fits which funding opportunity, with a score and reasons staff can check (pure).

An opportunity fits a cantine when it passes every hard rule (territory, quartier prioritaire, stage,
deadline, watch status, no application already). It is then scored from 0 to 100 on soft criteria
(shared themes, needs against the expenses funded, amount against the cantine's budget, time left,
the partner's history with the cantine); each criterion keeps its contribution and a French line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from automations.domain.model import Application, Cantine, Dataset, Opportunity
from automations.domain.reference import Territory
from automations.domain.french import accord, date_courte, date_longue, de, delai, euros, guillemets, liste

DEFAULT_WEIGHTS: dict[str, int] = {"themes": 35, "needs": 20, "amount": 20, "time": 10, "history": 15}
MATCHABLE_STATUSES = frozenset({"Ouverte", "En montage"})  # a cantine En pause or Fermée is not proposed
SET_ASIDE = frozenset({"Écartée", "Archivée"})
# Which kind of expense each need is: what a funder's "Dépenses" must include to cover it.
NEED_EXPENSES: dict[str, str] = {
    "Fonctionnement": "Fonctionnement", "Emploi": "Fonctionnement", "Formation": "Fonctionnement",
    "Communication": "Fonctionnement", "Investissement": "Investissement",
    "Équipement de cuisine": "Investissement",
}

# Why a match no longer holds (the Correspondances "État" column).
ACTIVE = "Active"
DEADLINE_PASSED = "Date limite passée"
SET_ASIDE_STATE = "Opportunité écartée"
APPLIED = "Candidature en cours"
NO_LONGER = "Ne correspond plus"


@dataclass(frozen=True)
class MatchingRules:
    """The knobs of matching, from the [matching] settings."""

    min_days_to_prepare: int = 10
    threshold: int = 50
    collective_min_cantines: int = 3
    refusal_memory_days: int = 365
    weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    # Opportunities imported automatically are proposed once staff set Statut veille to Pertinente
    # (or as soon as imported, when the settings say so), and never without a territory.
    imported_source: str = "Aides-territoires"
    match_unqualified_imports: bool = False

    @classmethod
    def from_settings(cls, section: Mapping[str, object], *, match_unqualified_imports: bool = False) -> MatchingRules:
        return cls(
            match_unqualified_imports=match_unqualified_imports,
            min_days_to_prepare=int(section["min_days_to_prepare"]),  # type: ignore[call-overload]
            threshold=int(section["threshold"]),  # type: ignore[call-overload]
            collective_min_cantines=int(section["collective_min_cantines"]),  # type: ignore[call-overload]
            refusal_memory_days=int(section["refusal_memory_days"]),  # type: ignore[call-overload]
            weights={**DEFAULT_WEIGHTS, **dict(section["weights"])},  # type: ignore[call-overload]
        )

    @property
    def total_weight(self) -> int:
        return sum(self.weights.values()) or 1


@dataclass(frozen=True)
class Criterion:
    """One soft criterion: its share of its weight (0 to 1), its points, and its French line."""

    name: str
    fraction: float
    points: float
    line: str


@dataclass(frozen=True)
class Match:
    opportunity: Opportunity
    cantine: Cantine
    score: int
    eligibility: tuple[str, ...]  # the hard rules passed, as French lines
    criteria: tuple[Criterion, ...]

    @property
    def key(self) -> str:
        return match_key(self.opportunity.title, self.cantine.name)

    @property
    def reasons(self) -> str:
        """One line per rule and criterion, as the Raisons column shows them."""
        lines = list(self.eligibility)
        for criterion in self.criteria:
            points = f" (+{criterion.points:.0f})" if criterion.points >= 0.5 else ""
            lines.append(criterion.line + points)
        return "\n".join(lines)


@dataclass(frozen=True)
class CollectiveSuggestion:
    """An opportunity open to a collective application that fits several cantines."""

    opportunity: Opportunity
    matches: tuple[Match, ...]  # best score first

    @property
    def cantines(self) -> tuple[str, ...]:
        return tuple(m.cantine.name for m in self.matches)

    @property
    def combined_budget(self) -> Decimal:
        return sum((m.cantine.annual_budget or Decimal(0) for m in self.matches), Decimal(0))


MATCH_KEY_LENGTH = 500  # a spreadsheet cell keeps 32 767 characters (Excel) or 50 000 (Sheets)


def match_key(opportunity: str, cantine: str) -> str:
    """The Correspondances key of an (opportunity, cantine) pair; beyond MATCH_KEY_LENGTH, its
    beginning and a hash of the whole, so that two long titles never share a key once stored."""
    key = f"{opportunity} → {cantine}"
    if len(key) <= MATCH_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{key[:MATCH_KEY_LENGTH - 34]}…~{digest}"


@dataclass
class History:
    """A partner's past decisions on a cantine's applications."""

    accepted: list[dt.date | None] = field(default_factory=list)
    refused: list[dt.date] = field(default_factory=list)


class Matcher:
    """Matches every opportunity against every cantine for one day; indexes are built once."""

    def __init__(self, dataset: Dataset, today: dt.date, rules: MatchingRules):
        self.dataset = dataset
        self.today = today
        self.rules = rules
        self.cantines = [c for c in dataset.cantines if c.status in MATCHABLE_STATUSES]
        self.by_region: dict[str, list[Cantine]] = defaultdict(list)
        self.by_departement: dict[str, list[Cantine]] = defaultdict(list)
        for cantine in self.cantines:
            self.by_region[cantine.region].append(cantine)
            self.by_departement[cantine.departement.code].append(cantine)
        self.opportunities = {o.title: o for o in dataset.opportunites}
        self.applied: set[tuple[str, str]] = set()
        self.history: dict[tuple[str, str], History] = defaultdict(History)
        for application in dataset.candidatures:
            self._index_application(application)
        self.expenses = {c.name: frozenset(NEED_EXPENSES[n] for n in c.needs if n in NEED_EXPENSES) for c in self.cantines}
        self.themes = {c.name: frozenset(c.themes) for c in self.cantines}
        self._euros: dict[object, str] = {}  # amounts recur across pairs: each formatted once

    def _index_application(self, application: Application) -> None:
        names = set(application.cantines)
        if application.carrier and application.carrier != "Réseau":
            names.add(application.carrier)
        opportunity = self.opportunities.get(application.opportunity)
        for name in names:
            self.applied.add((application.opportunity, name))  # whatever became of it
            if opportunity is None or opportunity.partner is None:
                continue
            decided = application.decided_on or application.submitted_on
            if application.status == "Acceptée":
                self.history[(opportunity.partner, name)].accepted.append(decided)
            elif application.status == "Refusée" and decided is not None:
                self.history[(opportunity.partner, name)].refused.append(decided)

    # -- hard rules ----------------------------------------------------------------------------

    def opportunity_state(self, opportunity: Opportunity) -> str:
        """ACTIVE if the opportunity itself can still be proposed, else why not."""
        if opportunity.watch_status in SET_ASIDE:
            return SET_ASIDE_STATE
        if opportunity.source == self.rules.imported_source:
            if not opportunity.territories:
                return NO_LONGER  # a territory the import could not place: staff fill it in first
            if opportunity.watch_status != "Pertinente" and not self.rules.match_unqualified_imports:
                return NO_LONGER
        if opportunity.recurrence != "Permanente" and opportunity.deadline is not None:
            if (opportunity.deadline - self.today).days < self.rules.min_days_to_prepare:
                return DEADLINE_PASSED
        return ACTIVE

    def covered(self, opportunity: Opportunity) -> list[tuple[Cantine, Territory]]:
        """The cantines in the opportunity's territory, each with the territory that covers it."""
        territories = opportunity.territories or (Territory("france", "France", "France"),)
        found: dict[str, tuple[Cantine, Territory]] = {}
        for territory in territories:
            if territory.kind == "france":
                candidates: Iterable[Cantine] = self.cantines
            elif territory.kind == "metropole":
                candidates = (c for c in self.cantines if not c.departement.code.startswith("97"))
            elif territory.kind == "region":
                candidates = self.by_region.get(territory.code, ())
            else:
                candidates = self.by_departement.get(territory.code, ())
            for cantine in candidates:
                found.setdefault(cantine.name, (cantine, territory))
        return list(found.values())

    def pair_state(self, opportunity: Opportunity, cantine: Cantine) -> str:
        """ACTIVE if the pair passes every hard rule, else why not (for matches that stopped holding)."""
        state = self.opportunity_state(opportunity)
        if state != ACTIVE:
            return state
        if (opportunity.title, cantine.name) in self.applied:
            return APPLIED
        if cantine.status not in MATCHABLE_STATUSES or not self._fits(opportunity, cantine):
            return NO_LONGER
        return ACTIVE

    def _fits(self, opportunity: Opportunity, cantine: Cantine) -> bool:
        return (
            any(c.name == cantine.name for c, _ in self.covered(opportunity))
            and (not opportunity.qpv_only or cantine.qpv)
            and (not opportunity.stages or cantine.status in opportunity.stages)
        )

    # -- matching ------------------------------------------------------------------------------

    def matches(self) -> list[Match]:
        """Every eligible pair scoring at least the threshold, best first within each opportunity."""
        results: list[Match] = []
        for opportunity in self.dataset.opportunites:
            if self.opportunity_state(opportunity) != ACTIVE:
                continue
            time = self._time(opportunity)
            for cantine, territory in self.covered(opportunity):
                if opportunity.qpv_only and not cantine.qpv:
                    continue
                if opportunity.stages and cantine.status not in opportunity.stages:
                    continue
                if (opportunity.title, cantine.name) in self.applied:
                    continue
                criteria = (
                    self._themes(opportunity, cantine), self._needs(opportunity, cantine),
                    self._amount(opportunity, cantine), time, self._history(opportunity, cantine),
                )
                score = round(sum(c.points for c in criteria) * 100 / self.rules.total_weight)
                if score < self.rules.threshold:
                    continue
                results.append(Match(opportunity, cantine, score, self._eligibility(opportunity, cantine, territory), criteria))
        results.sort(key=lambda m: (m.opportunity.title, -m.score, m.cantine.name))
        return results

    def _eligibility(self, opportunity: Opportunity, cantine: Cantine, territory: Territory) -> tuple[str, ...]:
        where = cantine.departement.label
        if territory.kind == "departement":
            lines = [f"✓ Territoire : {where}, dans le territoire éligible"]
        elif territory.kind == "france" and not opportunity.territories:
            lines = [f"✓ Territoire : {where}, opportunité sans restriction de territoire"]
        else:
            lines = [f"✓ Territoire : {where}, couvert par {guillemets(territory.label)}"]
        if opportunity.qpv_only:
            lines.append("✓ Quartier prioritaire : réservé aux QPV, la cantine en fait partie")
        if opportunity.stages:
            lines.append(f"✓ Stade : {cantine.status}, éligible")
        return tuple(lines)

    def _criterion(self, name: str, fraction: float, line: str) -> Criterion:
        return Criterion(name, fraction, fraction * self.rules.weights.get(name, 0), line)

    def _themes(self, opportunity: Opportunity, cantine: Cantine) -> Criterion:
        if not opportunity.themes:
            return self._criterion("themes", 0.5, "• Thématiques de l'opportunité non précisées")
        shared = [t for t in opportunity.themes if t in self.themes[cantine.name]]
        if not shared:
            return self._criterion("themes", 0.0, f"✗ Aucune thématique commune ({liste(opportunity.themes)})")
        label = accord(len(shared), "Thématique commune")
        return self._criterion("themes", min(len(shared), 2) / 2, f"✓ {label} : {liste(shared)}")

    def _needs(self, opportunity: Opportunity, cantine: Cantine) -> Criterion:
        if not opportunity.expenses:
            return self._criterion("needs", 0.5, "• Dépenses financées non précisées")
        if not cantine.needs:
            return self._criterion("needs", 0.5, "• Besoins de la cantine non renseignés")
        covered = [n for n in cantine.needs if NEED_EXPENSES.get(n) in opportunity.expenses]
        if covered:
            groups: dict[str, list[str]] = {}
            for need in covered:
                groups.setdefault(NEED_EXPENSES[need], []).append(need)
            # "Fonctionnement", not "Fonctionnement (Fonctionnement)"; "Emploi (dépenses de fonctionnement)"
            parts = [
                liste(needs) if needs == [expense] else f"{liste(needs)} (dépenses {de(expense.lower())})"
                for expense, needs in groups.items()
            ]
            label = accord(len(covered), "Besoin couvert")
            return self._criterion("needs", 1.0, f"✓ {label} : {' ; '.join(parts)}")
        expenses = liste([de(e.lower()) for e in opportunity.expenses])
        return self._criterion(
            "needs", 0.0,
            f"✗ Besoins non couverts : la cantine cherche {liste(cantine.needs).lower()}, "
            f"l'opportunité finance des dépenses {expenses}",
        )

    def _amount(self, opportunity: Opportunity, cantine: Cantine) -> Criterion:
        budget = cantine.annual_budget
        low, high = opportunity.amount_min, opportunity.amount_max
        if not budget or (low is None and high is None):
            return self._criterion("amount", 0.5, "• Montant ou budget annuel non renseigné")
        span = (
            f"{self._eur(low)} à {self._eur(high)}" if low is not None and high is not None
            else f"au moins {self._eur(low)}" if low is not None else f"jusqu'à {self._eur(high)}"
        )
        if low is not None and low > budget / 2:
            return self._criterion(
                "amount", 0.0, f"✗ Montant : {span}, plus de la moitié du budget annuel ({self._eur(budget)})"
            )
        if high is not None and high > budget:
            return self._criterion(
                "amount", 0.5, f"• Montant : {span}, un plafond au-dessus du budget annuel ({self._eur(budget)})"
            )
        if high is not None and high < budget / 100:
            return self._criterion("amount", 0.25, f"• Montant : {span}, moins de 1 % du budget annuel ({self._eur(budget)})")
        return self._criterion("amount", 1.0, f"✓ Montant : {span}, adapté à un budget annuel de {self._eur(budget)}")

    def _eur(self, value: object) -> str:
        text = self._euros.get(value)
        if text is None:
            text = self._euros[value] = euros(value)  # type: ignore[arg-type]
        return text

    def _time(self, opportunity: Opportunity) -> Criterion:
        if opportunity.recurrence == "Permanente":
            return self._criterion("time", 1.0, "✓ Opportunité permanente, sans date limite")
        if opportunity.deadline is None:
            return self._criterion("time", 0.5, "• Pas de date limite indiquée")
        days = (opportunity.deadline - self.today).days
        fraction = 1.0 if days >= 60 else 0.75 if days >= 30 else 0.4
        return self._criterion("time", fraction, f"• Date limite {delai(days)} ({date_longue(opportunity.deadline)})")

    def _history(self, opportunity: Opportunity, cantine: Cantine) -> Criterion:
        partner = opportunity.partner
        if partner is None:
            return self._criterion("history", 0.5, "• Partenaire non renseigné")
        past = self.history.get((partner, cantine.name))
        recent = self.today - dt.timedelta(days=self.rules.refusal_memory_days)
        refusals = sorted(d for d in (past.refused if past else []) if d >= recent)
        accepted = [d for d in (past.accepted if past else [])]
        if refusals and not any(d is not None and d > refusals[-1] for d in accepted):
            return self._criterion("history", 0.0, f"✗ Refus récent {de(partner)} ({date_courte(refusals[-1])})")
        if accepted:
            years = sorted({d.year for d in accepted if d is not None})
            when = f" ({accord(len(years), 'candidature acceptée')} en {liste(map(str, years))})" if years else ""
            return self._criterion("history", 1.0, f"✓ Déjà soutenue par {partner}{when}")
        return self._criterion("history", 0.5, f"• Pas encore de candidature acceptée par {partner}")


def collective_suggestions(matches: Iterable[Match], rules: MatchingRules) -> list[CollectiveSuggestion]:
    """Opportunities open to collective applications that fit at least K cantines."""
    by_opportunity: dict[str, list[Match]] = defaultdict(list)
    for match in matches:
        if match.opportunity.collective:
            by_opportunity[match.opportunity.title].append(match)
    suggestions = [
        CollectiveSuggestion(group[0].opportunity, tuple(sorted(group, key=lambda m: (-m.score, m.cantine.name))))
        for group in by_opportunity.values()
        if len(group) >= max(rules.collective_min_cantines, 1)
    ]
    suggestions.sort(key=lambda s: (s.opportunity.deadline or dt.date.max, s.opportunity.title))
    return suggestions
