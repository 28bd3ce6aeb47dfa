"""Weekly digests: one per cantine (only when it has something), one for the coordinator (pure).

A cantine's digest is built from that cantine's rows only: its new matches with their reasons, its
deadlines in the next 30 days, the partner offers proposed to it, its unanswered questions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from automations.domain.business_days import is_business_day
from automations.domain.matching import CollectiveSuggestion, Match
from automations.domain.model import Application, Cantine, Dataset, DueItem, Opportunity, Question
from automations.domain.offers import OfferProposal

WEEKDAYS = {
    "lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5, "dimanche": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6,
}
NEW_DAYS = 7
HORIZON_DAYS = 30
UNVISITED_DAYS = 90
PIPELINE_ORDER = ("À l'étude", "En rédaction", "Déposée", "En instruction", "Acceptée", "Refusée", "Sans suite")


def digest_day(today: dt.date, weekday: int) -> dt.date | None:
    """This week's digest day if it has come (a missed Monday is caught up on the next run), provided
    today is a business day; None on weekends and public holidays. Digests are keyed by week, so each
    goes out once."""
    if not is_business_day(today):
        return None
    return today - dt.timedelta(days=(today.weekday() - weekday) % 7)


def week_label(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-S{week:02d}"


@dataclass(frozen=True)
class CantineDigest:
    cantine: Cantine
    new_matches: tuple[Match, ...] = ()
    deadlines: tuple[DueItem, ...] = ()
    offers: tuple[tuple[str, str | None], ...] = ()  # (offer name, its description)
    questions: tuple[Question, ...] = ()

    @property
    def has_content(self) -> bool:
        return bool(self.new_matches or self.deadlines or self.offers or self.questions)


@dataclass(frozen=True)
class PipelineLine:
    status: str
    count: int
    requested: Decimal
    granted: Decimal


@dataclass(frozen=True)
class CoordinatorDigest:
    pipeline: tuple[PipelineLine, ...]
    overdue: tuple[DueItem, ...]
    suggestions: tuple[CollectiveSuggestion, ...]
    problems: int
    unvisited: tuple[tuple[Cantine, dt.date | None], ...]
    new_opportunities: tuple[Opportunity, ...]
    new_matches: int
    totals: dict[str, Decimal] = field(default_factory=dict)
    quota_notes: tuple[str, ...] = ()  # optional work that waited for the API budget this week


def first_proposed(dataset: Dataset) -> dict[str, dt.date]:
    """When each match was first proposed, from the Correspondances rows read."""
    return {r.key: r.proposed_on for r in dataset.correspondances if r.proposed_on is not None}


def is_new(match: Match, proposed: dict[str, dt.date], today: dt.date) -> bool:
    return proposed.get(match.key, today) > today - dt.timedelta(days=NEW_DAYS)


def cantine_digests(
    dataset: Dataset, matches: Sequence[Match], today: dt.date, proposals: Sequence[OfferProposal] = ()
) -> list[CantineDigest]:
    """One digest per cantine that wants emails and has something new or coming (`proposals`: the
    partner offers proposed by this very run, not yet in the Déclinaisons read)."""
    proposed = first_proposed(dataset)
    by_cantine: dict[str, list[Match]] = defaultdict(list)
    for match in matches:
        if is_new(match, proposed, today):
            by_cantine[match.cantine.name].append(match)
    horizon = today + dt.timedelta(days=HORIZON_DAYS)
    offers = {o.name: o for o in dataset.offres}
    digests = []
    for cantine in dataset.cantines:
        if not cantine.receives_emails or cantine.status == "Fermée":
            continue
        deadlines = tuple(sorted(
            (i for i in dataset.echeances if i.cantine == cantine.name and not i.is_done and today <= i.due_on <= horizon),
            key=lambda i: i.due_on,
        ))
        proposed_offers = tuple(
            (r.offer, offers[r.offer].description if r.offer in offers else None)
            for r in dataset.declinaisons if r.cantine == cantine.name and r.status == "Proposée"
        ) + tuple((p.offer.name, p.offer.description) for p in proposals if p.cantine.name == cantine.name)
        questions = tuple(q for q in dataset.questions if q.cantine == cantine.name and q.status != "Résolue")
        digest = CantineDigest(
            cantine, tuple(sorted(by_cantine.get(cantine.name, []), key=lambda m: -m.score)),
            deadlines, proposed_offers, questions,
        )
        if digest.has_content:
            digests.append(digest)
    return digests


def pipeline(applications: Sequence[Application]) -> tuple[PipelineLine, ...]:
    """Applications by status: how many, amounts requested and granted."""
    lines = []
    for status in PIPELINE_ORDER:
        group = [a for a in applications if a.status == status]
        if group:
            lines.append(PipelineLine(
                status, len(group),
                sum((a.amount_requested or Decimal(0) for a in group), Decimal(0)),
                sum((a.amount_granted or Decimal(0) for a in group), Decimal(0)),
            ))
    return tuple(lines)


def coordinator_digest(
    dataset: Dataset, matches: Sequence[Match], suggestions: Sequence[CollectiveSuggestion],
    problems: int, today: dt.date,
) -> CoordinatorDigest:
    """The week for the coordinator: pipeline, overdue items, suggestions, data problems, visits."""
    last_visit: dict[str, dt.date] = {}
    for visit in dataset.visites:
        last_visit[visit.cantine] = max(last_visit.get(visit.cantine, dt.date.min), visit.on)
    limit = today - dt.timedelta(days=UNVISITED_DAYS)
    unvisited = tuple(
        (c, last_visit.get(c.name)) for c in sorted(dataset.cantines, key=lambda c: (last_visit.get(c.name, dt.date.min), c.name))
        if c.status == "Ouverte" and last_visit.get(c.name, dt.date.min) <= limit
    )
    week_ago = today - dt.timedelta(days=NEW_DAYS)
    new_opportunities = tuple(
        o for o in dataset.opportunites
        if o.watch_status == "À qualifier" or (o.opens_on is not None and week_ago < o.opens_on <= today)
    )
    proposed = first_proposed(dataset)
    lines = pipeline(dataset.candidatures)
    return CoordinatorDigest(
        pipeline=lines,
        overdue=tuple(sorted((i for i in dataset.echeances if not i.is_done and i.due_on < today), key=lambda i: i.due_on)),
        suggestions=tuple(suggestions),
        problems=problems,
        unvisited=unvisited,
        new_opportunities=new_opportunities,
        new_matches=sum(1 for m in matches if is_new(m, proposed, today)),
        totals={
            "requested": sum((line.requested for line in lines), Decimal(0)),
            "granted": sum((line.granted for line in lines), Decimal(0)),
        },
    )
