"""Weekly digests: one per cantine (only when it has something), one for the coordinator (pure).

A cantine's digest is built from that cantine's rows only: its new matches with their reasons, its
échéances overdue and those due in the next 30 days, the partner offers proposed to it, its unanswered
questions. The coordinator's lists the new matches by opportunity, the open questions with their age,
the échéances overdue and coming with their cantine and partner, and the opportunities still worth
qualifying (deadline not passed). Each line carries where it lives (`link`) when the backend gave one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from automations.domain.business_days import is_business_day
from automations.domain.matching import CollectiveSuggestion, Match
from automations.domain.model import Application, Cantine, Dataset, DueItem, Opportunity, Question
from automations.domain.offers import OfferProposal

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
class DueLine:
    """An échéance as a digest shows it: whom it concerns, which partner, where it lives."""

    item: DueItem
    cantines: tuple[str, ...]
    partner: str | None
    days: int  # from today: negative when overdue
    link: str | None = None

    @property
    def due_on(self) -> dt.date:
        return self.item.due_on

    @property
    def title(self) -> str:
        return self.item.title

    @property
    def key(self) -> str:
        return self.item.key


@dataclass(frozen=True)
class QuestionLine:
    """An open question and how long it has waited."""

    question: Question
    days_open: int
    link: str | None = None


@dataclass(frozen=True)
class OpportunityMatches:
    """An opportunity and the cantines newly matched to it, best score first."""

    opportunity: Opportunity
    matches: tuple[Match, ...]
    link: str | None = None  # the opportunity's page, else its row


@dataclass(frozen=True)
class CantineDigest:
    cantine: Cantine
    new_matches: tuple[Match, ...] = ()
    deadlines: tuple[DueLine, ...] = ()  # due in the next 30 days
    offers: tuple[tuple[str, str | None], ...] = ()  # (offer name, its description)
    questions: tuple[QuestionLine, ...] = ()
    overdue: tuple[DueLine, ...] = ()  # not done and past their date

    @property
    def has_content(self) -> bool:
        return bool(self.new_matches or self.deadlines or self.offers or self.questions or self.overdue)


@dataclass(frozen=True)
class PipelineLine:
    status: str
    count: int
    requested: Decimal
    granted: Decimal


@dataclass(frozen=True)
class CoordinatorDigest:
    pipeline: tuple[PipelineLine, ...]
    overdue: tuple[DueLine, ...]
    suggestions: tuple[CollectiveSuggestion, ...]
    problems: int
    unvisited: tuple[tuple[Cantine, dt.date | None], ...]
    new_opportunities: tuple[Opportunity, ...]  # new or to qualify, deadline not passed
    new_matches: int
    totals: dict[str, Decimal] = field(default_factory=dict)
    community: Any = None  # automations.domain.events.CommunitySummary: events, attendance, cantines unseen
    matches_by_opportunity: tuple[OpportunityMatches, ...] = ()
    questions: tuple[QuestionLine, ...] = ()  # open, oldest first
    upcoming: tuple[DueLine, ...] = ()  # due in the next 30 days
    opportunity_links: dict[str, str] = field(default_factory=dict)  # title → page or row
    quota_notes: tuple[str, ...] = ()  # optional work that waited for the API budget this week
    checks: tuple[Any, ...] = ()  # DataProblem: the subsidy checks (signature, CER, budget, versements)


def first_proposed(dataset: Dataset) -> dict[str, dt.date]:
    """When each match was first proposed, from the Correspondances rows read."""
    return {r.key: r.proposed_on for r in dataset.correspondances if r.proposed_on is not None}


def is_new(match: Match, proposed: dict[str, dt.date], today: dt.date) -> bool:
    return proposed.get(match.key, today) > today - dt.timedelta(days=NEW_DAYS)


def due_line(item: DueItem, dataset: Dataset, today: dt.date) -> DueLine:
    """An échéance with its cantine (or its convention's cantines), its partner and its row's link."""
    agreement = dataset.convention(item.agreement)
    cantines = (item.cantine,) if item.cantine else (agreement.cantines if agreement else ())
    return DueLine(item, tuple(cantines), agreement.partner if agreement else None, (item.due_on - today).days,
                   dataset.link("echeances", item.key))


def question_line(question: Question, dataset: Dataset, today: dt.date) -> QuestionLine:
    return QuestionLine(question, (today - question.asked_on).days, dataset.link("questions", question_key(question)))


def question_key(question: Question) -> str:
    """The Questions row's key text (Cantine|Posée le|Question), as `key_text` makes it."""
    return f"{question.cantine}|{question.asked_on.isoformat()}|{question.question}"


def is_open(question: Question) -> bool:
    return question.status != "Résolue" and question.answered_on is None


def opportunity_link(opportunity: Opportunity, dataset: Dataset) -> str | None:
    """The opportunity's own page when it has one, else its row in the tables."""
    return opportunity.link or dataset.link("opportunites", opportunity.title)


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
    open_items = sorted(
        (due_line(i, dataset, today) for i in dataset.echeances if not i.is_done and i.due_on <= horizon),
        key=lambda line: (line.due_on, line.key),
    )
    digests = []
    for cantine in dataset.cantines:
        if not cantine.receives_emails or cantine.status == "Fermée":
            continue
        # a convention-wide échéance concerns each of its cantines; its partner and title are shared
        own = [line for line in open_items if cantine.name in line.cantines]
        deadlines = tuple(line for line in own if line.days >= 0)
        overdue = tuple(line for line in own if line.days < 0)
        proposed_offers = tuple(
            (r.offer, offers[r.offer].description if r.offer in offers else None)
            for r in dataset.declinaisons if r.cantine == cantine.name and r.status == "Proposée"
        ) + tuple((p.offer.name, p.offer.description) for p in proposals if p.cantine.name == cantine.name)
        questions = tuple(
            question_line(q, dataset, today) for q in sorted(dataset.questions, key=lambda q: q.asked_on)
            if q.cantine == cantine.name and is_open(q)
        )
        digest = CantineDigest(
            cantine, tuple(sorted(by_cantine.get(cantine.name, []), key=lambda m: -m.score)),
            deadlines, proposed_offers, questions, overdue,
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
    """The week for the coordinator: pipeline, new matches, open questions, échéances overdue and
    coming, suggestions, opportunities to qualify, data problems, visits."""
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
        if (o.deadline is None or o.deadline > today)  # due today or past: too late to qualify and apply
        and (o.watch_status == "À qualifier" or (o.opens_on is not None and week_ago < o.opens_on <= today))
    )
    proposed = first_proposed(dataset)
    lines = pipeline(dataset.candidatures)
    fresh: dict[str, list[Match]] = defaultdict(list)
    opportunities: dict[str, Opportunity] = {}
    for match in matches:
        if is_new(match, proposed, today):
            fresh[match.opportunity.title].append(match)
            opportunities[match.opportunity.title] = match.opportunity
    by_opportunity = tuple(
        OpportunityMatches(opportunities[title], tuple(sorted(group, key=lambda m: (-m.score, m.cantine.name))),
                           opportunity_link(opportunities[title], dataset))
        for title, group in sorted(fresh.items(), key=lambda kv: (
            opportunities[kv[0]].deadline or dt.date.max, -max(m.score for m in kv[1]), kv[0]))
    )
    open_items = sorted(
        (due_line(i, dataset, today) for i in dataset.echeances if not i.is_done),
        key=lambda line: (line.due_on, line.key),
    )
    horizon = today + dt.timedelta(days=HORIZON_DAYS)
    return CoordinatorDigest(
        pipeline=lines,
        overdue=tuple(line for line in open_items if line.days < 0),
        upcoming=tuple(line for line in open_items if 0 <= line.days and line.due_on <= horizon),
        matches_by_opportunity=by_opportunity,
        questions=tuple(
            question_line(q, dataset, today) for q in sorted(dataset.questions, key=lambda q: q.asked_on) if is_open(q)
        ),
        opportunity_links={
            o.title: link for o in new_opportunities if (link := opportunity_link(o, dataset)) is not None
        },
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
