"""Community life: invitations calendars accept (and their updates and cancellations), J-7 and J-1
reminders, thank-yous, attendance and the cantines not seen for six months."""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy
from pathlib import Path

import icalendar
import pytest

from automations.cycle.events import calendar, when
from automations.cycle.messages import Network
from automations.cycle.run import REMINDERS, run_cycle
from automations.demo import write_demo_workbook
from automations.domain.events import (
    CANCELLATION, INVITATION, REMINDER, THANKS, UPDATE, community_summary, event_messages, invitees,
)
from automations.domain.model import Cantine, Dataset, Event, Partner, Registration, Visit
from automations.domain.reference import Departement
from automations.settings import Settings
from connectors.tables.workbook import WorkbookStore

from .conftest import PARIS

LYON = Departement("69", "Rhône", "Auvergne-Rhône-Alpes")


def cantine(name: str, email_address: str | None = None, *, status: str = "Ouverte", receives: bool = True) -> Cantine:
    return Cantine(name=name, status=status, city="Lyon", departement=LYON, manager_email=email_address,
                   cc_emails=(f"bureau@{name.split()[-1].lower()}.example",) if email_address else (),
                   receives_emails=receives)


CANTINES = [cantine("Cantine du Port", "port@c.example"), cantine("La Tablée", "tablee@c.example"),
            cantine("Cantine Fermée", "fermee@c.example", status="Fermée"),
            cantine("Sans Emails", "non@c.example", receives=False)]
SEMINAR = Event(title="Séminaire du réseau", type="Séminaire", audience="Toutes les cantines",
                starts_at=dt.datetime(2026, 12, 10, 9, 30, tzinfo=PARIS), ends_at=dt.datetime(2026, 12, 10, 17, 0, tzinfo=PARIS),
                place="Maison des associations, Lyon", status="Prévu")


def dataset(*events: Event, registrations: tuple[Registration, ...] = (), visits: tuple[Visit, ...] = ()) -> Dataset:
    return Dataset(cantines=list(CANTINES), evenements=list(events), inscriptions=list(registrations),
                   visites=list(visits), partenaires=[Partner(name="Fondation Terre", type="Fondation", status="Partenaire actif",
                                                              contact_email="contact@terre.example")])


def test_who_is_invited_follows_the_audience():
    assert [i.name for i in invitees(SEMINAR, dataset())] == ["Cantine du Port", "La Tablée"]  # open, wanting emails
    some = Event(title="Visio", type="Visio", audience="Certaines cantines", cantines=("La Tablée",),
                 starts_at=SEMINAR.starts_at)
    [one] = invitees(some, dataset())
    assert (one.name, one.to, one.cc) == ("La Tablée", "tablee@c.example", ("bureau@tablée.example",))
    partners = Event(title="Comité", type="Journée stratégique", audience="Partenaires", partners=("Fondation Terre",),
                     starts_at=SEMINAR.starts_at)
    assert [(i.to, i.is_cantine) for i in invitees(partners, dataset())] == [("contact@terre.example", False)]


def test_invitations_once_then_an_update_when_the_time_changes_then_a_cancellation():
    today = dt.date(2026, 11, 24)
    first = event_messages(dataset(SEMINAR), today, today - dt.timedelta(days=1))
    assert [(m.kind, m.to) for m in first] == [(INVITATION, "port@c.example"), (INVITATION, "tablee@c.example")]
    sent = {m.key for m in first}

    def invited(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in sent)

    again = event_messages(dataset(SEMINAR), today, today - dt.timedelta(days=1), invited_before=invited)
    assert {m.key for m in again} == sent  # the same keys: queued once
    moved = Event(**{**SEMINAR.__dict__, "starts_at": dt.datetime(2026, 12, 11, 9, 30, tzinfo=PARIS),
                     "ends_at": dt.datetime(2026, 12, 11, 17, 0, tzinfo=PARIS)})
    update = event_messages(dataset(moved), today, today - dt.timedelta(days=1), invited_before=invited)
    assert [m.kind for m in update] == [UPDATE, UPDATE] and not {m.key for m in update} & sent
    cancelled = Event(**{**SEMINAR.__dict__, "status": "Annulé"})
    cancel = event_messages(dataset(cancelled), today, today - dt.timedelta(days=1), invited_before=invited)
    assert [(m.kind, m.to) for m in cancel] == [(CANCELLATION, "port@c.example"), (CANCELLATION, "tablee@c.example")]
    assert event_messages(dataset(cancelled), today, today - dt.timedelta(days=1)) == []  # nobody was invited


def test_reminders_j7_and_j1_go_to_those_registered_on_business_days():
    saturday_event = Event(**{**SEMINAR.__dict__, "starts_at": dt.datetime(2026, 12, 14, 9, 30, tzinfo=PARIS), "ends_at": None})
    registrations = (Registration("Ana", SEMINAR.title, "ana@c.example", "Cantine du Port", "Inscrit"),
                     Registration("Léo", SEMINAR.title, "leo@c.example", "La Tablée", "Excusé"))
    data = dataset(saturday_event, registrations=registrations)
    due = {day: [m for m in event_messages(data, day, day - dt.timedelta(days=1)) if m.kind == REMINDER]
           for day in (dt.date(2026, 12, 7), dt.date(2026, 12, 11), dt.date(2026, 12, 13))}
    assert [(m.to, m.days_before) for m in due[dt.date(2026, 12, 7)]] == [("ana@c.example", 7)]
    # J-1 is Sunday 13: it goes on Friday 11, never on the weekend
    assert [(m.to, m.days_before) for m in due[dt.date(2026, 12, 11)]] == [("ana@c.example", 1)]
    assert due[dt.date(2026, 12, 13)] == []


def test_thanks_the_first_business_day_after_to_those_present():
    registrations = (Registration("Ana", SEMINAR.title, "ana@c.example", "Cantine du Port", "Présent"),
                     Registration("Léo", SEMINAR.title, "leo@c.example", "La Tablée", "Inscrit"),
                     Registration("Zoé", SEMINAR.title, "zoe@c.example", "La Tablée", "Absent"))
    day_after = dt.date(2026, 12, 11)
    thanks = [m for m in event_messages(dataset(SEMINAR, registrations=registrations), day_after, day_after - dt.timedelta(days=1))
              if m.kind == THANKS]
    assert [m.to for m in thanks] == ["ana@c.example"]
    nobody_marked = tuple(Registration(r.name, r.event, r.email, r.cantine, "Inscrit") for r in registrations)
    thanks = [m for m in event_messages(dataset(SEMINAR, registrations=nobody_marked), day_after, day_after - dt.timedelta(days=1))
              if m.kind == THANKS]
    assert len(thanks) == 3


def test_the_coordinator_sees_upcoming_events_attendance_and_cantines_not_seen():
    today = dt.date(2026, 11, 24)
    past = Event(title="Formation bilans", type="Formation", audience="Toutes les cantines",
                 starts_at=dt.datetime(2026, 9, 1, 14, 0, tzinfo=PARIS))
    registrations = (Registration("Ana", SEMINAR.title, "ana@c.example", "Cantine du Port", "Inscrit"),
                     Registration("Ana", past.title, "ana@c.example", "Cantine du Port", "Présent"))
    summary = community_summary(dataset(SEMINAR, past, registrations=registrations,
                                        visits=(Visit("Cantine Fermée", dt.date(2026, 11, 1)),)), today)
    [upcoming] = summary.upcoming
    assert (upcoming.event.title, upcoming.registered, upcoming.invited) == ("Séminaire du réseau", 1, 2)
    assert summary.attendance == (("Cantine du Port", 1),)
    assert [(c.name, last) for c, last in summary.unseen] == [("La Tablée", None), ("Sans Emails", None)]


def network() -> Network:
    return Network(name="Les Petites Cantines", coordinator_name="Camille", coordinator_email="coordination@example.org",
                   sender="robot@example.org", sender_name="Les Petites Cantines", reply_to="coordination@example.org",
                   signature="Camille")


def parsed(attachment_bytes: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(attachment_bytes)


def test_the_ics_is_an_invitation_calendars_accept_with_paris_time_across_dst():
    spring = Event(title="Journée stratégique", type="Journée stratégique", audience="Toutes les cantines",
                   starts_at=dt.datetime(2027, 3, 28, 10, 0, tzinfo=PARIS),  # the day clocks go forward
                   ends_at=dt.datetime(2027, 3, 28, 16, 0, tzinfo=PARIS), place="Lyon")
    [message] = [m for m in event_messages(dataset(spring), dt.date(2027, 3, 1), dt.date(2027, 2, 28))
                 if m.to == "port@c.example"]
    now = dt.datetime(2027, 3, 1, 7, 30, tzinfo=PARIS)
    invitation = calendar(message, network(), PARIS, now)
    raw = invitation.content.decode()
    assert "METHOD:REQUEST" in raw and "BEGIN:VTIMEZONE" in raw and "TZID:Europe/Paris" in raw
    assert "DTSTART;TZID=Europe/Paris:20270328T100000" in raw
    event = parsed(invitation.content).walk("VEVENT")[0]
    assert event.decoded("dtstart").utcoffset() == dt.timedelta(hours=2)  # CEST already
    assert event.decoded("dtstart").astimezone(dt.timezone.utc).hour == 8
    assert str(event["organizer"]) == "mailto:coordination@example.org"
    assert {str(a) for a in event.get("attendee")} == {"mailto:port@c.example", "mailto:bureau@port.example"}
    # a later update keeps the UID and raises the SEQUENCE; the cancellation too
    later = calendar(message, network(), PARIS, now + dt.timedelta(days=2))
    cancel_message = type(message)(CANCELLATION, message.event, message.to, message.cc, message.name, "k")
    cancel = calendar(cancel_message, network(), PARIS, now + dt.timedelta(days=3))
    events = [parsed(c.content).walk("VEVENT")[0] for c in (invitation, later, cancel)]
    assert len({str(e["uid"]) for e in events}) == 1
    sequences = [int(e["sequence"]) for e in events]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3
    assert "METHOD:CANCEL" in cancel.content.decode() and str(events[2]["status"]) == "CANCELLED"
    assert when(spring, PARIS) == "dimanche 28 mars 2027, 10 h – 16 h"


def add_rows(settings: Settings, code: str, rows: list[dict]) -> None:
    store = WorkbookStore(settings.workbook.path, timezone=PARIS)
    table = store.table(settings.schema[code])
    table.ensure_schema()
    table.create(rows)


def set_event(settings: Settings, **changes: object) -> None:
    store = WorkbookStore(settings.workbook.path, timezone=PARIS)
    table = store.table(settings.schema["evenements"])
    [row] = table.read()
    table.update([(row.id, changes)])


def event_mails(settings: Settings) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted(Path(settings.mail.outbox_dir).glob("*.eml")):
        data = path.read_bytes()
        if b"X-Cantines-Kind: evenement-" in data:
            found.append(email.message_from_bytes(data, policy=policy.default))
    return found


def test_a_full_cycle_invites_updates_and_cancels_on_the_workbook(settings: Settings):
    today = dt.date(2026, 11, 24)
    write_demo_workbook(settings, today)
    add_rows(settings, "evenements", [{
        "Titre": "Visio bilans 2026", "Type": "Visio", "Public": "Certaines cantines",
        "Cantines invitées": ["Cantine du Port", "La Tablée de Vaise"],
        "Début": dt.datetime(2026, 12, 3, 14, 0, tzinfo=PARIS), "Fin": dt.datetime(2026, 12, 3, 15, 30, tzinfo=PARIS),
        "Lien visio": "https://visio.example.org/bilans", "Statut": "Prévu",
    }])
    clock = lambda: dt.datetime(2026, 11, 24, 7, 30, tzinfo=PARIS)  # noqa: E731
    run_cycle(settings, today=today, clock=clock, parts=frozenset({REMINDERS}))
    invitations = event_mails(settings)
    assert len(invitations) == 2 and all(str(m["X-Cantines-Kind"]) == "evenement-invitation" for m in invitations)
    raw = next(Path(settings.mail.outbox_dir).glob("*evenement*.eml")).read_bytes()
    assert re.search(rb'Content-Type: text/calendar; method="?REQUEST"?', raw)
    first = invitations[0]
    assert str(first["Subject"]) == "Invitation : Visio bilans 2026, jeudi 3 décembre 2026"
    body = first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Quand : jeudi 3 décembre 2026, 14 h – 15 h 30" in body and "https://visio.example.org/bilans" in body

    run_cycle(settings, today=today, clock=clock, parts=frozenset({REMINDERS}))
    assert len(event_mails(settings)) == 2  # never twice

    set_event(settings, **{"Début": dt.datetime(2026, 12, 3, 16, 0, tzinfo=PARIS),
                           "Fin": dt.datetime(2026, 12, 3, 17, 0, tzinfo=PARIS)})
    next_day = dt.date(2026, 11, 25)
    run_cycle(settings, today=next_day, clock=lambda: dt.datetime(2026, 11, 25, 7, 30, tzinfo=PARIS), parts=frozenset({REMINDERS}))
    updates = [m for m in event_mails(settings) if str(m["X-Cantines-Kind"]) == "evenement-mise-a-jour"]
    assert len(updates) == 2

    def ics(message: email.message.EmailMessage) -> icalendar.Event:
        part = next(p for p in message.iter_attachments() if p.get_content_type() == "text/calendar")
        return icalendar.Calendar.from_ical(part.get_payload(decode=True)).walk("VEVENT")[0]

    before, after = ics(invitations[0]), ics(next(m for m in updates if m["To"] == invitations[0]["To"]))
    assert str(before["uid"]) == str(after["uid"]) and int(after["sequence"]) > int(before["sequence"])
    assert after.decoded("dtstart") == dt.datetime(2026, 12, 3, 16, 0, tzinfo=PARIS)

    set_event(settings, Statut="Annulé")
    day3 = dt.date(2026, 11, 26)
    run_cycle(settings, today=day3, clock=lambda: dt.datetime(2026, 11, 26, 7, 30, tzinfo=PARIS), parts=frozenset({REMINDERS}))
    cancels = [m for m in event_mails(settings) if str(m["X-Cantines-Kind"]) == "evenement-annulation"]
    assert len(cancels) == 2 and str(ics(cancels[0])["status"]) == "CANCELLED"
    assert str(cancels[0]["Subject"]).startswith("Annulé : Visio bilans 2026")
