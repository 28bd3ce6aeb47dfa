"""Reminder messages as recipients read them: which cantine, which date each count refers to, and an
.ics only for a date still to come (issue #14)."""

from __future__ import annotations

import datetime as dt

from icalendar import Calendar

from automations.cycle.messages import reminder_messages
from automations.cycle.run import on_day
from automations.domain.model import Agreement, Dataset, DueItem
from automations.domain.reminders import due_reminders

from .conftest import PARIS
from .test_digests import NETWORK, RENDERER, RULES
from .test_matching import cantine

D = dt.date
NAMES = ("Cantine Bellevue", "La Louche Lilloise", "Cantine des Capucins")


def network_dataset(item: DueItem) -> Dataset:
    return Dataset(
        cantines=[cantine(n, manager_email=f"c{i}@example.org", receives_emails=True) for i, n in enumerate(NAMES)],
        conventions=[Agreement(reference="CONV-2026-06", partner="Agence Alimentation Demain", cantines=NAMES)],
        echeances=[item],
    )


def test_an_overdue_reminder_to_three_cantines_names_each_and_attaches_no_past_event() -> None:
    today = D(2026, 12, 1)
    item = DueItem(key="bilan", agreement="CONV-2026-06", type="Bilan final", status="En préparation",
                   due_on=today - dt.timedelta(days=1), owner_email="nour@example.org")
    dataset = network_dataset(item)
    messages, _ = reminder_messages(due_reminders(RULES, dataset, today), dataset, NETWORK, RENDERER, today)
    assert len(messages) == 3
    assert sorted(m.subject for m in messages) == sorted(
        f"En retard : Bilan final – CONV-2026-06 ({name}), attendu le 30/11/2026" for name in NAMES
    )
    for message in messages:
        assert message.attachments == ()
        assert "Ajouter à mon agenda" not in message.text and "Ajouter à mon agenda" not in message.html


def test_an_upcoming_reminder_attaches_an_event_titled_with_its_cantine() -> None:
    today = D(2026, 12, 1)
    item = DueItem(key="bilan", agreement="CONV-2026-06", type="Bilan final", status="À venir",
                   due_on=today + dt.timedelta(days=7), owner_email="nour@example.org")
    dataset = network_dataset(item)
    messages, _ = reminder_messages(due_reminders(RULES, dataset, today), dataset, NETWORK, RENDERER, today)
    summaries, uids = set(), set()
    for message in messages:
        (attachment,) = message.attachments
        event = Calendar.from_ical(attachment.content).walk("VEVENT")[0]
        summaries.add(str(event["SUMMARY"]))
        uids.add(str(event["UID"]))
        assert "Ajouter à mon agenda" in message.text
    assert summaries == {f"Bilan final – CONV-2026-06 ({name})" for name in NAMES}
    assert len(uids) == 3  # each cantine's calendar keeps its own event


def test_each_count_says_which_date_it_refers_to() -> None:
    today = D(2026, 12, 1)
    item = DueItem(key="bilan", agreement="CONV-2026-01", type="Bilan intermédiaire", status="À venir",
                   due_on=D(2026, 12, 31), internal_due_on=D(2026, 12, 26), cantine="Cantine Bellevue",
                   owner_email="camille@example.org")
    dataset = network_dataset(item)
    dataset.conventions = [Agreement(reference="CONV-2026-01", partner="Fondation", cantines=("Cantine Bellevue",))]
    messages, _ = reminder_messages(due_reminders(RULES, dataset, today), dataset, NETWORK, RENDERER, today)
    (message, *_) = messages
    assert "Date d'échéance : jeudi 31 décembre 2026 (dans 30 jours)" in message.text
    assert "Date interne : samedi 26 décembre 2026 (dans 25 jours)" in message.text


def test_a_preview_of_another_day_is_dated_that_day() -> None:
    now = dt.datetime(2026, 12, 1, 9, 15, tzinfo=PARIS)
    assert on_day(now, D(2027, 3, 15)) == dt.datetime(2027, 3, 15, 9, 15, tzinfo=PARIS)
    assert on_day(now, D(2026, 12, 1)) is now
