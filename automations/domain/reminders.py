"""Which reminders come due (pure functions of the data, the rules and the days covered).

A reminder is (rule, item, date, offset): its idempotency key. It fires on `date + offset`, moved to
the business day before when ahead of the date (never on a Sunday or a public holiday) and to the
business day after when late (never before the item is actually late). A run covers every firing
day in (since, today]: after a missed run, what came due in between goes out once, and when several
offsets of one item came due, only the latest is sent (one message, not a burst). Moving the date
makes new reminders; marking the item done stops them.

Business days are those of the recipients' calendar: a rule that writes to cantines follows the
calendars of the cantines concerned (Alsace-Moselle, the overseas départements); one that writes only
to staff follows the network's (the national calendar).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from automations.domain.business_days import (
    NATIONAL, Subdivisions, add_business_days, business_day_on_or_after, business_day_on_or_before, calendar_of,
)
from automations.domain.budgets import CHARGE, agreement_lines, heading_order, make_nature
from automations.domain.french import de
from automations.domain.model import (
    FINANCIAL_REPORT, Agreement, BudgetLine, Dataset, DueItem, MatchRecord, Opportunity, Partner,
)
from automations.domain.rules import Rule

ACTIVE_MATCH = "Active"


@dataclass(frozen=True)
class Subject:
    """What a reminder is about, whatever its table: a key, a title, a date, who it concerns."""

    source: str
    key: str
    title: str
    due_on: dt.date
    item: Any  # the domain object, for templates
    cantines: tuple[str, ...] = ()  # the cantines it concerns (one per message when sent to cantines)
    owner_email: str | None = None
    partner: str | None = None


@dataclass(frozen=True)
class Reminder:
    rule: Rule
    subject: Subject
    offset: int
    fires_on: dt.date

    @property
    def key(self) -> str:
        """The idempotency key: rule, row, date and offset."""
        return f"reminder:{self.rule.id}:{self.subject.key}:{self.subject.due_on.isoformat()}:{self.offset:+d}"

    @property
    def due_on(self) -> dt.date:
        return self.subject.due_on

    @property
    def overdue(self) -> bool:
        return self.offset > 0


def fire_date(due_on: dt.date, offset: int, *, business_days: bool = False, calendar: Subdivisions = NATIONAL) -> dt.date:
    """The day a reminder goes out, never on a weekend or a public holiday of `calendar`."""
    if business_days:
        if not offset:
            return business_day_on_or_before(due_on, calendar)
        return add_business_days(business_day_on_or_after(due_on, calendar), offset, calendar)
    nominal = due_on + dt.timedelta(days=offset)
    return business_day_on_or_before(nominal, calendar) if offset <= 0 else business_day_on_or_after(nominal, calendar)


def reminder_calendar(rule: Rule, subject: Subject, departements: dict[str, str]) -> Subdivisions:
    """The cantines' calendars when the rule writes to them, else the network's."""
    if "cantine" not in rule.recipients:
        return NATIONAL
    return calendar_of(departements[name] for name in subject.cantines if name in departements)


# -- sources: the items each kind of rule watches ----------------------------------------------


def _echeances(rule: Rule, dataset: Dataset) -> Iterator[Subject]:
    for item in dataset.echeances:
        if item.is_done or (rule.types and item.type not in rule.types):
            continue
        if rule.statuses and item.status not in rule.statuses:
            continue
        yield Subject("echeances", item.key, item.title, item.due_on, item, _echeance_cantines(item, dataset),
                      item.owner_email, _partner_of(dataset.convention(item.agreement)))


def _echeance_cantines(item: DueItem, dataset: Dataset) -> tuple[str, ...]:
    if item.cantine:
        return (item.cantine,)
    agreement = dataset.convention(item.agreement)
    return agreement.cantines if agreement else ()


def _partner_of(agreement: Agreement | None) -> str | None:
    return agreement.partner if agreement else None


def _candidatures(rule: Rule, dataset: Dataset) -> Iterator[Subject]:
    opportunities = {o.title: o for o in dataset.opportunites}
    cantine_names = {c.name for c in dataset.cantines}
    for application in dataset.candidatures:
        if rule.statuses and application.status not in rule.statuses:
            continue
        opportunity: Opportunity | None = opportunities.get(application.opportunity)
        due = application.internal_deadline or (opportunity.deadline if opportunity else None)
        if due is None:
            continue
        cantines = tuple(dict.fromkeys(
            [*application.cantines, *([application.carrier] if application.carrier in cantine_names else [])]
        ))
        yield Subject("candidatures", application.title, application.title, due, application, cantines,
                      application.owner_email, opportunity.partner if opportunity else None)


def _correspondances(rule: Rule, dataset: Dataset) -> Iterator[Subject]:
    opportunities = {o.title: o for o in dataset.opportunites}
    for record in dataset.correspondances:
        match: MatchRecord = record
        if match.state not in (None, ACTIVE_MATCH) or match.deadline is None or match.cantine is None:
            continue
        if rule.statuses and match.status not in rule.statuses:
            continue
        opportunity = opportunities.get(match.opportunity or "")
        yield Subject("correspondances", match.key, match.opportunity or match.key, match.deadline, match,
                      (match.cantine,), None, opportunity.partner if opportunity else None)


def _partenaires(rule: Rule, dataset: Dataset) -> Iterator[Subject]:
    for partner in dataset.partenaires:
        p: Partner = partner
        if p.next_action_on is None or p.status == "Écarté":
            continue
        if rule.statuses and p.status not in rule.statuses:
            continue
        title = f"{p.next_action or 'Prochaine action'} – {p.name}"
        yield Subject("partenaires", p.name, title, p.next_action_on, p, (), p.owner_email, p.name)


def _conventions(rule: Rule, dataset: Dataset) -> Iterator[Subject]:
    for agreement in dataset.conventions:
        if agreement.ends_on is None or (rule.statuses and agreement.status not in rule.statuses):
            continue
        yield Subject("conventions", agreement.reference, f"Convention {agreement.reference}", agreement.ends_on,
                      agreement, agreement.cantines, None, agreement.partner)


def _questions(rule: Rule, dataset: Dataset) -> Iterator[Subject]:
    for question in dataset.questions:
        if question.status == "Résolue" or question.answered_on is not None:
            continue
        if rule.statuses and question.status not in rule.statuses:
            continue
        # a question from the hotline mailbox holds line breaks: never in a key (it goes into a header)
        key = f"{question.cantine}|{question.asked_on.isoformat()}|{' '.join(question.question[:80].split())}"
        yield Subject("questions", key, f"Question {de(question.asker)}", question.asked_on, question,
                      (question.cantine,) if question.cantine else (), question.owner_email)


@dataclass(frozen=True)
class ActualsDue:
    """A compte rendu financier coming whose budget has no actual amount yet (« Montant réalisé »)."""

    report: DueItem
    lines: tuple[BudgetLine, ...]

    @property
    def agreement(self) -> str:
        return self.report.agreement

    @property
    def title(self) -> str:
        return self.report.title

    @property
    def internal_due_on(self) -> dt.date | None:
        return self.report.internal_due_on


def cerfa_order(line: BudgetLine) -> tuple[bool, tuple[int, str], str]:
    """Charges before produits, each by the CERFA's headings."""
    nature = make_nature(line.nature)
    return (nature.side != CHARGE, heading_order(nature), line.label or "")


def _budgets(rule: Rule, dataset: Dataset) -> Iterator[Subject]:
    """Each compte rendu financier not done whose convention has a budget with its actual column
    still empty: the cantine is asked for its expenses (an empty budget asks for nothing: the
    draft says what is missing)."""
    types = rule.types or (FINANCIAL_REPORT,)
    for item in dataset.echeances:
        if item.is_done or item.type not in types or (rule.statuses and item.status not in rule.statuses):
            continue
        agreement = dataset.convention(item.agreement)
        lines = tuple(agreement_lines(agreement, dataset.budgets)) if agreement is not None else ()
        if not lines or any(line.actual is not None for line in lines):
            continue
        lines = tuple(sorted(lines, key=cerfa_order))
        yield Subject("budgets", item.key, item.title, item.due_on, ActualsDue(item, lines),
                      _echeance_cantines(item, dataset), item.owner_email, _partner_of(agreement))


SOURCES = {
    "echeances": _echeances, "budgets": _budgets, "candidatures": _candidatures, "correspondances": _correspondances,
    "partenaires": _partenaires, "conventions": _conventions, "questions": _questions,
}


def subjects(rule: Rule, dataset: Dataset) -> Iterable[Subject]:
    """The items a rule keeps alive (not done, of its types and statuses)."""
    return SOURCES[rule.source](rule, dataset)


def due_reminders(
    rules: Sequence[Rule], dataset: Dataset, today: dt.date, since: dt.date | None = None
) -> list[Reminder]:
    """Every reminder whose firing day is in (since, today]; one per (rule, item): the latest offset.

    `since` is the day of the last run (default: yesterday, for a daily run)."""
    since = since if since is not None else today - dt.timedelta(days=1)
    departements = {c.name: c.departement.code for c in dataset.cantines}
    reminders: list[Reminder] = []
    for rule in rules:
        for subject in subjects(rule, dataset):
            latest: Reminder | None = None
            calendar = reminder_calendar(rule, subject, departements)
            for offset in rule.offsets:
                fires_on = fire_date(subject.due_on, offset, business_days=rule.business_days, calendar=calendar)
                if since < fires_on <= today and (latest is None or offset > latest.offset):
                    latest = Reminder(rule, subject, offset, fires_on)
            if latest is not None:
                reminders.append(latest)
    reminders.sort(key=lambda r: (r.due_on, r.rule.id, r.subject.key))
    return reminders
