"""Community life, decided: who is invited to each event, which event messages are due today, and
who has been seen lately. Pure: the cycle renders and queues what this module says is due.

- An invitation goes once to each invited cantine (its Email responsable, its Emails en copie in
  copy) or partner (its Email contact), as soon as a planned event is in the table and still to
  come. When its date, time, place or link changes, an update goes to the same people and replaces
  the event in their calendar (same UID, higher SEQUENCE); when it is « Annulé », a cancellation
  goes to those who were invited.
- Those registered (Inscriptions « Inscrit ») are reminded 7 days and 1 day before (the business day
  before when that day is a weekend or a holiday), once each.
- The first business day after the event, those present (or, when staff marked nobody, those
  registered) are thanked, with the follow-up document when one is given.
- The coordinator's digest shows the events of the next 30 days with their registrations, the
  attendance per cantine over the last 12 months, and the open cantines not seen at any event or
  visit for 6 months.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from automations.domain.business_days import business_day_on_or_after, business_day_on_or_before
from automations.domain.model import Cantine, Dataset, Event

REMINDER_DAYS = (7, 1)
UPCOMING_DAYS = 30
UNSEEN_DAYS = 183  # six months
ATTENDANCE_DAYS = 365
REGISTERED, PRESENT = "Inscrit", "Présent"
INVITATION, UPDATE, CANCELLATION, REMINDER, THANKS = "invitation", "mise-a-jour", "annulation", "rappel", "merci"


@dataclass(frozen=True)
class Invitee:
    """One invited cantine or partner: who the message goes to."""

    name: str  # the cantine's or the partner's name
    to: str
    cc: tuple[str, ...] = ()
    is_cantine: bool = True


@dataclass(frozen=True)
class EventMessage:
    """One event message due today (the cycle renders it)."""

    kind: str  # invitation, mise-a-jour, annulation, rappel, merci
    event: Event
    to: str
    cc: tuple[str, ...]
    name: str  # whom it addresses (cantine, partner or person)
    key: str  # idempotency key: ASCII, no line break
    days_before: int | None = None  # for reminders


def event_id(event: Event) -> str:
    """A stable short id for an event (its title is its key in the table)."""
    return hashlib.sha256(event.title.strip().encode("utf-8")).hexdigest()[:16]


def version(event: Event) -> str:
    """What a calendar shows of the event: a change of any of it is an update."""
    parts = [event.title, event.starts_at.isoformat(), event.ends_at.isoformat() if event.ends_at else "",
             event.place or "", event.link or ""]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:12]


def _person_id(text: str) -> str:
    return hashlib.sha256(text.strip().lower().encode("utf-8")).hexdigest()[:16]


def invitees(event: Event, dataset: Dataset) -> list[Invitee]:
    """Who the event is for: every open cantine wanting emails, the cantines named, or the partners named."""
    found: list[Invitee] = []
    if event.audience == "Partenaires":
        for name in event.partners:
            partner = dataset.partenaire(name)
            address = getattr(partner, "contact_email", None) if partner else None
            if address:
                found.append(Invitee(name, address, is_cantine=False))
        return found
    names = event.cantines if event.audience == "Certaines cantines" else tuple(
        c.name for c in dataset.cantines if c.status in ("Ouverte", "En montage"))
    for name in names:
        cantine = dataset.cantine(name)
        if cantine is None or not cantine.manager_email or not cantine.receives_emails:
            continue
        found.append(Invitee(name, cantine.manager_email, tuple(cantine.cc_emails)))
    return found


def event_messages(
    dataset: Dataset, today: dt.date, since: dt.date, *, invited_before: Callable[[str], bool] = lambda prefix: False,
) -> list[EventMessage]:
    """Every event message due in (since, today]. `invited_before(prefix)`: whether an invitation with
    this key prefix (any version) was queued before: an update or a cancellation goes only to them."""
    messages: list[EventMessage] = []
    for event in dataset.evenements:
        messages.extend(_for_event(event, dataset, today, since, invited_before))
    return messages


def invitation_prefix(event: Event, invitee: Invitee) -> str:
    return f"evenement:{event_id(event)}:invitation:{_person_id(invitee.to)}:"


def _for_event(
    event: Event, dataset: Dataset, today: dt.date, since: dt.date, invited_before: Callable[[str], bool],
) -> Iterator[EventMessage]:
    eid = event_id(event)
    start = event.starts_at.date()
    end = (event.ends_at or event.starts_at).date()
    people = invitees(event, dataset)
    if event.cancelled:
        for invitee in people:
            prefix = invitation_prefix(event, invitee)
            if today <= end and invited_before(prefix):
                yield EventMessage(CANCELLATION, event, invitee.to, invitee.cc, invitee.name,
                                   f"evenement:{eid}:annulation:{_person_id(invitee.to)}")
        return
    if today <= start:
        current = version(event)
        for invitee in people:
            prefix = invitation_prefix(event, invitee)
            kind = UPDATE if invited_before(prefix) else INVITATION
            yield EventMessage(kind, event, invitee.to, invitee.cc, invitee.name, prefix + current)
    registered = [r for r in dataset.inscriptions if r.event == event.title]
    for days in REMINDER_DAYS:
        due = business_day_on_or_before(start - dt.timedelta(days=days))
        if since < due <= today < start + dt.timedelta(days=1):
            for registration in registered:
                if registration.status in (None, REGISTERED):
                    yield EventMessage(REMINDER, event, registration.email, (), registration.name,
                                       f"evenement:{eid}:rappel-j{days}:{_person_id(registration.email)}", days)
    thank_on = business_day_on_or_after(end + dt.timedelta(days=1))
    if since < thank_on <= today:
        present = [r for r in registered if r.status == PRESENT]
        for registration in present or [r for r in registered if r.status in (None, REGISTERED)]:
            yield EventMessage(THANKS, event, registration.email, (), registration.name,
                               f"evenement:{eid}:merci:{_person_id(registration.email)}")


@dataclass(frozen=True)
class UpcomingEvent:
    event: Event
    registered: int
    invited: int


@dataclass(frozen=True)
class CommunitySummary:
    """For the coordinator's digest."""

    upcoming: tuple[UpcomingEvent, ...]
    attendance: tuple[tuple[str, int], ...]  # cantine → events attended in the last 12 months
    unseen: tuple[tuple[Cantine, dt.date | None], ...]  # open cantines not seen for 6 months, and when last


def community_summary(dataset: Dataset, today: dt.date) -> CommunitySummary:
    by_title = {e.title: e for e in dataset.evenements}
    upcoming = tuple(
        UpcomingEvent(e, sum(1 for r in dataset.inscriptions if r.event == e.title and r.status in (None, REGISTERED, PRESENT)),
                      len(invitees(e, dataset)))
        for e in sorted(dataset.evenements, key=lambda e: e.starts_at)
        if not e.cancelled and today <= e.starts_at.date() <= today + dt.timedelta(days=UPCOMING_DAYS)
    )
    attended: Counter[str] = Counter()
    last_seen: dict[str, dt.date] = {}
    for registration in dataset.inscriptions:
        event = by_title.get(registration.event)
        if event is None or registration.status != PRESENT or not registration.cantine:
            continue
        day = event.starts_at.date()
        if day > today:
            continue
        if day >= today - dt.timedelta(days=ATTENDANCE_DAYS):
            attended[registration.cantine] += 1
        last_seen[registration.cantine] = max(day, last_seen.get(registration.cantine, day))
    for visit in dataset.visites:
        if visit.on <= today:
            last_seen[visit.cantine] = max(visit.on, last_seen.get(visit.cantine, visit.on))
    unseen = tuple(
        (c, last_seen.get(c.name)) for c in sorted(dataset.cantines, key=lambda c: c.name)
        if c.status == "Ouverte" and (last_seen.get(c.name) is None
                                      or last_seen[c.name] < today - dt.timedelta(days=UNSEEN_DAYS))
    )
    return CommunitySummary(upcoming, tuple(sorted(attended.items(), key=lambda kv: (-kv[1], kv[0]))), unseen)
