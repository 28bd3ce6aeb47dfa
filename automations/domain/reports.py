"""Report drafts (bilans) for partners: which are due, and what each one holds (pure: no I/O).

A draft gathers what the coordinator used to collect by hand for a bilan: the association reporting,
the convention, the period it covers (a bilan final: the whole convention), each cantine's indicateurs
month by month (a month without figures is named as missing, never counted as zero; a month not over
is « à venir » and never counted), the totals against the previous period of the same length (a
change only when both periods are comparably covered; shares in percentage points), the engagements
and what the échéances say of them, the versements received, the partner's déclinaisons valued in
the period, and the action's budget (`budgets.py`): the whole of a compte rendu financier, a short
section of a bilan. Rendering (Word, Markdown, charts) lives in `cycle/drafts.py`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from automations.domain.budgets import DEFAULT_GAP_THRESHOLD, Budget, agreement_budget
from automations.domain.french import pluriel
from automations.domain.model import FINANCIAL_REPORT, Agreement, Dataset, DueItem, MonthlyFigures, Partner
from automations.domain.parsing import fold

REPORT_TYPES = ("Bilan intermédiaire", "Bilan final", "Rapport d'activité", "Compte rendu financier")
FINAL_REPORT = "Bilan final"  # covers the whole convention
HORIZON_DAYS = 45
DEFAULT_PERIOD_MONTHS = 12  # when the convention has no Date de début and nothing came before
PAID = "Payée"
CANCELLED = "Annulée"
PAYMENT = "Versement"
REALISED = "Réalisée"

# What a month of a period is: figures given, over without figures, or not over yet.
REPORTED, MISSING, UPCOMING = "reported", "missing", "upcoming"
# Where a period starts from.
FROM_CONVENTION, FROM_PREVIOUS, FROM_DEFAULT, WHOLE_AGREEMENT = "convention", "previous", "default", "whole"
# Two periods are compared when the one with fewer months of figures has at least 3/4 of the other's.
COMPARABLE_SHARE = Decimal(3) / 4
# What the data says of an engagement.
MET, PARTLY_MET, PENDING, PLANNED, THIS_REPORT, UNKNOWN = (
    "met", "partly_met", "pending", "planned", "this_report", "unknown"
)
TO_COMPLETE = "À compléter"


@dataclass(frozen=True)
class Indicator:
    key: str  # the MonthlyFigures field
    label: str
    kind: str  # "sum" over the months, or "mean" of the months
    precision: Decimal = Decimal("0.1")  # of a mean
    share: bool = False  # a fraction (0.45): its change is in percentage points


INDICATORS = (
    Indicator("meals", "Repas servis", "sum"),
    Indicator("guests", "Convives", "sum"),
    Indicator("volunteers", "Bénévoles actifs", "mean"),
    Indicator("volunteer_hours", "Heures de bénévolat", "sum"),
    Indicator("events", "Animations", "sum"),
    Indicator("local_share", "Produits locaux", "mean", Decimal("0.001"), share=True),
)

# Engagement lines are matched to échéance types by words (compared without case or accents), first rule first.
COMMITMENT_RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("bilan intermediaire",), "Bilan intermédiaire"),
    (("bilan final",), "Bilan final"),
    (("compte rendu financier",), "Compte rendu financier"),
    (("rapport d'activite",), "Rapport d'activité"),
    (("visibilite", "logo"), "Visibilité partenaire"),
    (("visite", "repas", "invitation"), "Visite partenaire"),
)


# -- the draft -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # the échéance's due date
    months: tuple[dt.date, ...]  # first day of every month the period touches
    basis: str  # FROM_CONVENTION, FROM_PREVIOUS or FROM_DEFAULT
    previous_title: str | None = None  # the échéance the period follows, when basis is FROM_PREVIOUS
    previous_due_on: dt.date | None = None


@dataclass(frozen=True)
class MonthLine:
    month: dt.date
    status: str  # REPORTED, MISSING or UPCOMING
    figures: MonthlyFigures | None = None

    def value(self, key: str) -> Any:
        return getattr(self.figures, key) if self.figures is not None else None


@dataclass(frozen=True)
class PreviousPeriod:
    """The months just before the period, as many as it has, to compare with."""

    months: tuple[MonthLine, ...]

    @property
    def missing(self) -> tuple[dt.date, ...]:
        return tuple(m.month for m in self.months if m.status == MISSING)

    @property
    def has_figures(self) -> bool:
        return any(m.status == REPORTED for m in self.months)

    @property
    def incomplete(self) -> bool:
        return self.has_figures and any(m.status != REPORTED for m in self.months)


@dataclass(frozen=True)
class IndicatorTotal:
    key: str
    label: str
    kind: str
    value: Decimal | int | None  # sum or mean over the months with a figure; None when there is none
    months: int  # how many months have a figure
    previous: Decimal | int | None
    previous_months: int
    change: Decimal | None  # 0.125 for +12.5 % (for a share: +12.5 points); None: nothing to compare
    change_on_average: bool = False  # a sum compared by monthly average: the month counts differ
    comparable: bool = True  # False: both periods have figures, too unevenly to compare them
    in_points: bool = False  # a share's change: the difference of the two fractions


@dataclass(frozen=True)
class CantineReport:
    name: str
    months: tuple[MonthLine, ...]
    indicators: tuple[IndicatorTotal, ...]
    previous: PreviousPeriod

    @property
    def missing(self) -> tuple[dt.date, ...]:
        return tuple(m.month for m in self.months if m.status == MISSING)

    @property
    def upcoming(self) -> tuple[dt.date, ...]:
        return tuple(m.month for m in self.months if m.status == UPCOMING)

    @property
    def reported(self) -> int:
        return sum(1 for m in self.months if m.status == REPORTED)

    @property
    def finished(self) -> int:
        """The months of the period that are over (with figures or missing)."""
        return sum(1 for m in self.months if m.status != UPCOMING)

    def indicator(self, key: str) -> IndicatorTotal:
        return next(i for i in self.indicators if i.key == key)


@dataclass(frozen=True)
class Commitment:
    text: str  # one line of the convention's Engagements
    status: str  # MET, PARTLY_MET, PENDING, PLANNED, THIS_REPORT or UNKNOWN
    label: str  # French, e.g. "Tenu", "À compléter"
    detail: str = ""  # French: the échéances it was judged on


@dataclass(frozen=True)
class PaymentLine:
    title: str
    due_on: dt.date
    amount: Decimal | None
    status: str
    received: bool
    done_on: dt.date | None = None


@dataclass(frozen=True)
class Payments:
    lines: tuple[PaymentLine, ...]
    received: Decimal
    pending: Decimal  # versements expected and not yet paid
    total: Decimal | None  # the convention's Montant total
    remaining: Decimal | None  # total − received, when the total is known


@dataclass(frozen=True)
class RolloutLine:
    offer: str
    cantine: str
    on: dt.date
    value: Decimal | None


@dataclass(frozen=True)
class Rollouts:
    lines: tuple[RolloutLine, ...]
    total: Decimal


@dataclass(frozen=True)
class Identity:
    """The association a bilan comes from, as far as the data says; None: « À compléter »."""

    name: str | None = None
    siret: str | None = None
    address: str | None = None
    signatory: str | None = None


@dataclass(frozen=True)
class Draft:
    item: DueItem
    agreement: Agreement
    partner: Partner | None
    period: Period
    cantines: tuple[CantineReport, ...]
    commitments: tuple[Commitment, ...]
    payments: Payments
    rollouts: Rollouts
    notes: tuple[str, ...]  # French warnings for whoever completes the draft
    prepared_on: dt.date
    figures_fingerprint: str
    identity: Identity = Identity()
    budget: Budget | None = None  # the convention's budget lines, planned and actual

    @property
    def financial(self) -> bool:
        """A compte rendu financier (CERFA 15059): a budget table, not a bilan of figures."""
        return self.item.type == FINANCIAL_REPORT

    @property
    def title(self) -> str:
        """ "Bilan final – Cantine des Canuts – Fondation Terre Commune (CONV-2026-01)" """
        who = french_list([c.name for c in self.cantines])
        parts = [self.item.type, *([who] if who else []), self.partner_name]
        return f"{' – '.join(parts)} ({self.agreement.reference})"

    @property
    def has_figures(self) -> bool:
        """Whether any cantine has a month of figures in the period; for a compte rendu financier,
        whether the convention has a budget."""
        if self.financial:
            return self.budget is not None
        return any(c.reported for c in self.cantines)

    @property
    def partner_name(self) -> str:
        return self.partner.name if self.partner is not None else self.agreement.partner


# -- which drafts ----------------------------------------------------------------------------


def drafts_due(dataset: Dataset, today: dt.date, horizon_days: int = HORIZON_DAYS) -> list[DueItem]:
    """The report échéances not done that fall due within `horizon_days` (overdue ones included)."""
    limit = today + dt.timedelta(days=horizon_days)
    known = {a.reference for a in dataset.conventions}
    due = [
        i for i in dataset.echeances
        if i.type in REPORT_TYPES and not i.is_done and i.due_on <= limit and i.agreement in known
    ]
    return sorted(due, key=lambda i: (i.due_on, i.agreement, i.key))


def build_drafts(
    dataset: Dataset, today: dt.date, horizon_days: int = HORIZON_DAYS, network: Identity = Identity(),
    gap_threshold: Decimal = DEFAULT_GAP_THRESHOLD,
) -> list[Draft]:
    """A draft for every report échéance due within the horizon; `gap_threshold`: the share of a
    budget line's planned amount beyond which its gap is listed for the cantine to explain."""
    by_month = figures_by_month(dataset.indicateurs)  # once for every draft: the Indicateurs are the largest table
    return [build_draft(item, dataset, today, network, gap_threshold, by_month=by_month)
            for item in drafts_due(dataset, today, horizon_days)]


def french_list(names: Sequence[str]) -> str:
    """ "A", "A et B", "A, B et C" """
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " et " + names[-1] if names else ""


def reporting_identity(agreement: Agreement, dataset: Dataset, network: Identity) -> Identity:
    """Who reports: the cantine's association when a cantine carried the application, else the network."""
    application = next((a for a in dataset.candidatures if a.title == agreement.application), None)
    carrier = dataset.cantine(application.carrier) if application is not None else None
    if carrier is not None:
        return Identity(name=carrier.association or carrier.name)
    return network


# -- what a draft holds ----------------------------------------------------------------------


def build_draft(
    item: DueItem, dataset: Dataset, today: dt.date, network: Identity = Identity(),
    gap_threshold: Decimal = DEFAULT_GAP_THRESHOLD, *, by_month: dict[tuple[str, dt.date], MonthlyFigures] | None = None,
) -> Draft:
    """Everything a bilan needs from the tables, for the échéance `item`, as of `today`; `network`:
    the network's own identity (from the settings), for the bilans it carries; `by_month`: the
    Indicateurs as `figures_by_month` indexes them (made here when not given)."""
    agreement = dataset.convention(item.agreement)
    if agreement is None:
        raise ValueError(f"unknown convention {item.agreement!r} for échéance {item.key!r}")
    notes: list[str] = []
    financial = item.type == FINANCIAL_REPORT  # a budget, not a bilan of figures: no note on indicateurs
    period = report_period(item, agreement, dataset.echeances)
    if period.basis == FROM_DEFAULT and not financial:
        notes.append(
            "La convention n'a pas de Date de début : la période couverte est, par défaut, "
            f"celle des {DEFAULT_PERIOD_MONTHS} mois qui précèdent l'échéance."
        )
    names = concerned_cantines(item, agreement)
    if not names and not financial:
        notes.append("Aucune cantine n'est liée à cette échéance ni à sa convention : pas d'indicateurs.")
    by_month = by_month if by_month is not None else figures_by_month(dataset.indicateurs)
    cantines = tuple(cantine_report(name, period, by_month, today) for name in names)
    if cantines and not any(c.reported for c in cantines) and not financial:
        notes.append(
            "Aucun mois de la période n'a encore d'indicateurs (mois à venir ou non saisis) : "
            "les totaux restent vides tant qu'ils ne sont pas renseignés."
        )
    commitments = tuple(
        commitment_status(line, item, agreement, names, dataset.echeances)
        for line in commitment_lines(agreement.commitments)
    )
    payments = agreement_payments(agreement, dataset.echeances)
    if any(line.received and line.amount is None for line in payments.lines):
        notes.append("Un versement marqué Payée n'a pas de Montant : il n'est pas compté dans le total reçu.")
    if payments.total is None:
        notes.append("La convention n'a pas de Montant total : le reste à percevoir n'est pas calculé.")
    rollouts, undated = partner_rollouts(agreement.partner, names, period, dataset)
    if undated:
        notes.append(
            f"{pluriel(undated, 'déclinaison réalisée')} sans Date prévue "
            + ("ne sont pas comptées : " if undated > 1 else "n'est pas comptée : ")
            + "renseignez leur date pour les rattacher à une période."
        )
    budget = agreement_budget(agreement, dataset, gap_threshold)
    notes.extend(budget_notes(item, budget))
    draft = Draft(
        item=item, agreement=agreement, partner=dataset.partenaire(agreement.partner), period=period,
        cantines=cantines, commitments=commitments, payments=payments, rollouts=rollouts, notes=tuple(notes),
        prepared_on=today, figures_fingerprint="", identity=reporting_identity(agreement, dataset, network),
        budget=budget,
    )
    return dataclasses.replace(draft, figures_fingerprint=figures_fingerprint(draft))


def budget_notes(item: DueItem, budget: Budget | None) -> list[str]:
    """What a compte rendu financier still lacks, for whoever completes it."""
    if item.type != FINANCIAL_REPORT:
        return []
    if budget is None:
        return ["Aucune ligne de budget pour cette convention (table Budgets) : le tableau financier est "
                "entièrement à compléter (prévu d'après la demande de subvention, réalisé d'après la comptabilité)."]
    notes = []
    missing = budget.charge_total.missing + budget.produit_total.missing
    if missing:
        notes.append(f"{pluriel(missing, 'ligne de budget')} sans Montant réalisé : les totaux réalisés restent "
                     "« À compléter » tant qu'elles ne sont pas renseignées (une ligne vide n'est pas comptée comme zéro).")
    if budget.subsidy_planned is None:
        notes.append(f"Aucune ligne « 74 – Subventions d'exploitation » au nom de {budget.funder} dans le budget : "
                     "la part de la subvention est calculée sur le Montant total de la convention.")
    return notes


def concerned_cantines(item: DueItem, agreement: Agreement) -> tuple[str, ...]:
    """The échéance's cantine, or else the convention's cantines."""
    return (item.cantine,) if item.cantine else tuple(dict.fromkeys(agreement.cantines))


def report_period(item: DueItem, agreement: Agreement, items: Iterable[DueItem]) -> Period:
    """From the convention's start, or the day after the previous report of the same scope, to the due date.

    A bilan final covers the whole convention: from its start to its end (or to the due date, when
    the convention has no end or ends after it).

    A previous report counts when it covered at least this one's cantines: one for the whole
    convention counts for a cantine's report; one for a single cantine counts for that cantine's
    next report (and for the whole convention's when that is the convention's only cantine)."""
    scope = set(concerned_cantines(item, agreement))
    previous = [
        other for other in items
        if other.agreement == item.agreement and other.key != item.key and other.type in REPORT_TYPES
        and other.status != CANCELLED and other.due_on < item.due_on
        and scope <= set(concerned_cantines(other, agreement))
    ]
    last = max(previous, key=lambda other: other.due_on, default=None)
    end = item.due_on
    if item.type == FINAL_REPORT and agreement.starts_on is not None:
        if agreement.ends_on is not None and agreement.ends_on < end:
            end = agreement.ends_on
        start = min(agreement.starts_on, end)
        return Period(start, end, month_range(month_start(start), month_start(end)), WHOLE_AGREEMENT)
    if last is not None and (agreement.starts_on is None or last.due_on >= agreement.starts_on):
        start, basis = last.due_on + dt.timedelta(days=1), FROM_PREVIOUS
    elif agreement.starts_on is not None:
        start, basis = agreement.starts_on, FROM_CONVENTION
    else:
        start, basis = add_months(month_start(end), 1 - DEFAULT_PERIOD_MONTHS), FROM_DEFAULT
    start = min(start, end)
    months = month_range(month_start(start), month_start(end))
    if basis == FROM_PREVIOUS:
        assert last is not None
        return Period(start, end, months, basis, last.title, last.due_on)
    return Period(start, end, months, basis)


def figures_by_month(rows: Iterable[MonthlyFigures]) -> dict[tuple[str, dt.date], MonthlyFigures]:
    """Indicateurs by (cantine, first day of the month); the first row of a month wins."""
    index: dict[tuple[str, dt.date], MonthlyFigures] = {}
    for row in rows:
        index.setdefault((row.cantine, month_start(row.month)), row)
    return index


def month_lines(
    cantine: str, months: Sequence[dt.date], by_month: dict[tuple[str, dt.date], MonthlyFigures], today: dt.date
) -> tuple[MonthLine, ...]:
    """Each month once over (before `today`): with its figures, or missing; a month not over is
    upcoming, even with figures already typed (a part of a month is not counted as a month)."""
    lines = []
    for month in months:
        row = by_month.get((cantine, month))
        if month_end(month) >= today:
            lines.append(MonthLine(month, UPCOMING))
        elif row is not None:
            lines.append(MonthLine(month, REPORTED, row))
        else:
            lines.append(MonthLine(month, MISSING))
    return tuple(lines)


def cantine_report(
    name: str, period: Period, by_month: dict[tuple[str, dt.date], MonthlyFigures], today: dt.date
) -> CantineReport:
    """One cantine's months over the period, its totals, and the previous period of the same length."""
    months = month_lines(name, period.months, by_month, today)
    count = len(period.months)
    before = month_range(add_months(period.months[0], -count), add_months(period.months[0], -1))
    previous = PreviousPeriod(month_lines(name, before, by_month, today))
    return CantineReport(name, months, tuple(indicator_total(i, months, previous.months) for i in INDICATORS), previous)


def aggregate(indicator: Indicator, lines: Iterable[MonthLine]) -> tuple[Decimal | int | None, int]:
    """The sum or mean of an indicator over the months that have a figure for it, and their count."""
    values = [v for v in (line.value(indicator.key) for line in lines if line.status == REPORTED) if v is not None]
    if not values:
        return None, 0
    total = sum(values)
    if indicator.kind == "mean":
        return (Decimal(total) / len(values)).quantize(indicator.precision, ROUND_HALF_UP), len(values)
    return total, len(values)


def indicator_total(
    indicator: Indicator, months: Sequence[MonthLine], previous_months: Sequence[MonthLine]
) -> IndicatorTotal:
    """An indicator over the period, over the previous one, and the change between them.

    The change is shown only when both periods are comparably covered (the one with fewer months of
    figures has at least 3/4 of the other's); a sum is then compared on its monthly average when the
    counts differ (a missing month must not read as a fall). A share changes in percentage points."""
    value, count = aggregate(indicator, months)
    previous, previous_count = aggregate(indicator, previous_months)
    change, on_average, comparable = None, False, True
    if value is not None and previous is not None:
        comparable = min(count, previous_count) >= COMPARABLE_SHARE * max(count, previous_count)
    if value is not None and previous is not None and comparable:
        current, base = Decimal(value), Decimal(previous)
        if indicator.kind == "sum" and count != previous_count:
            current, base, on_average = current / count, base / previous_count, True
        if indicator.share:
            change = (current - base).quantize(Decimal("0.001"), ROUND_HALF_UP)
        elif base != 0:
            change = ((current - base) / base).quantize(Decimal("0.001"), ROUND_HALF_UP)
    return IndicatorTotal(
        indicator.key, indicator.label, indicator.kind, value, count, previous, previous_count, change, on_average,
        comparable, indicator.share,
    )


def commitment_lines(text: str | None) -> list[str]:
    """The convention's Engagements, one per line, without bullets."""
    lines = (line.strip().lstrip("-•*–·").strip() for line in (text or "").splitlines())
    return [line for line in lines if line]


def commitment_status(
    text: str, item: DueItem, agreement: Agreement, cantines: Sequence[str], items: Iterable[DueItem]
) -> Commitment:
    """What the échéances say of one engagement; "À compléter" when they say nothing."""
    folded = fold(text)
    kind = next((kind for words, kind in COMMITMENT_RULES if any(w in folded for w in words)), None)
    if kind is None:
        return Commitment(text, UNKNOWN, TO_COMPLETE)
    related = sorted(
        (other for other in items
         if other.agreement == agreement.reference and other.type == kind and other.status != CANCELLED
         and (other.cantine is None or other.cantine in cantines)),
        key=lambda other: (other.due_on, other.key),
    )
    if not related:
        return Commitment(text, UNKNOWN, TO_COMPLETE, f"aucune échéance « {kind} » dans la convention")
    detail = " ; ".join(
        f"{other.type} du {other.due_on.strftime('%d/%m/%Y')} : {other.status}" for other in related
    )
    if [other.key for other in related] == [item.key]:  # its own workflow status is no figure
        own = f"{item.type} du {item.due_on.strftime('%d/%m/%Y')}"
        return Commitment(text, THIS_REPORT, "Objet du présent document", own)
    done = [other for other in related if other.is_done]
    if done and len(done) == len(related):
        return Commitment(text, MET, "Tenu", detail)
    if done:
        return Commitment(text, PARTLY_MET, f"Tenu en partie ({len(done)} sur {len(related)})", detail)
    if any(other.due_on <= item.due_on for other in related):
        return Commitment(text, PENDING, "Pas encore fait", detail)
    return Commitment(text, PLANNED, "Prévu après la période", detail)


def agreement_payments(agreement: Agreement, items: Iterable[DueItem]) -> Payments:
    """The convention's versements: received (Payée, with their Montant) against its Montant total."""
    lines = tuple(
        PaymentLine(i.title, i.due_on, i.amount, i.status, i.status == PAID, i.done_on)
        for i in sorted(items, key=lambda i: (i.due_on, i.key))
        if i.agreement == agreement.reference and i.type == PAYMENT and i.status != CANCELLED
    )
    received = sum((line.amount or Decimal(0) for line in lines if line.received), Decimal(0))
    pending = sum((line.amount or Decimal(0) for line in lines if not line.received), Decimal(0))
    total = agreement.total_amount
    return Payments(lines, received, pending, total, total - received if total is not None else None)


def partner_rollouts(
    partner: str, cantines: Sequence[str], period: Period, dataset: Dataset
) -> tuple[Rollouts, int]:
    """The partner's déclinaisons realised in the period for these cantines, and how many have no date."""
    offers = {o.name for o in dataset.offres if o.partner == partner}
    realised = [
        r for r in dataset.declinaisons if r.offer in offers and r.cantine in cantines and r.status == REALISED
    ]
    lines = tuple(sorted(
        (RolloutLine(r.offer, r.cantine, r.planned_on, r.value) for r in realised
         if r.planned_on is not None and period.start <= r.planned_on <= period.end),
        key=lambda line: (line.on, line.cantine, line.offer),
    ))
    total = sum((line.value or Decimal(0) for line in lines), Decimal(0))
    return Rollouts(lines, total), sum(1 for r in realised if r.planned_on is None)


# -- fingerprint -----------------------------------------------------------------------------


def figures_fingerprint(draft: Draft) -> str:
    """A stable hash of every figure a draft shows: not of `today`, nor of how it is rendered, nor of
    what it does not show (the échéance's owner or workflow status, the partner's notes)."""
    item = draft.item
    payload = {
        "item": [item.key, item.title, item.type, item.due_on, item.cantine],
        "partner": draft.partner_name,
        **{name: plain(getattr(draft, name)) for name in (
            "agreement", "period", "cantines", "commitments", "payments", "rollouts", "notes", "identity", "budget",
        )},
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=plain_scalar)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plain(value: Any) -> Any:
    """Dataclasses as dicts and tuples as lists, recursively, for JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def plain_scalar(value: Any) -> str:
    """The JSON text of a Decimal or a date."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 1800 and 1800.00 are the same figure
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot fingerprint {type(value).__name__}")


# -- months ----------------------------------------------------------------------------------


def month_start(day: dt.date) -> dt.date:
    """The first day of the month of `day`."""
    return day.replace(day=1)


def add_months(month: dt.date, count: int) -> dt.date:
    """The first day of the month `count` months after `month` (before, when negative)."""
    index = month.year * 12 + month.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(month: dt.date) -> dt.date:
    """The last day of the month of `month`."""
    return add_months(month_start(month), 1) - dt.timedelta(days=1)


def month_range(first: dt.date, last: dt.date) -> tuple[dt.date, ...]:
    """Every first-of-month from `first` to `last` included."""
    months = []
    month = month_start(first)
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return tuple(months)
