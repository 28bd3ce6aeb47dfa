"""Which reminders fire on a given day (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from automations.model import DueItem
from automations.reminders import due_item_reminders

OFFSETS = [-30, -14, -7, -1, 1, 7]
DUE = dt.date(2026, 3, 31)


def item(status: str = "À venir", due: dt.date = DUE, done_on: dt.date | None = None, key: str = "C|Bilan||") -> DueItem:
    return DueItem(key=key, agreement="CONV-1", type="Bilan final", due_on=due, status=status, done_on=done_on)


@pytest.mark.parametrize(
    ("today", "offsets_fired"),
    [
        pytest.param(DUE - dt.timedelta(days=30), [-30], id="thirty-days-ahead"),
        pytest.param(DUE - dt.timedelta(days=14), [-14], id="two-weeks-ahead"),
        pytest.param(DUE - dt.timedelta(days=7), [-7], id="one-week-ahead"),
        pytest.param(DUE - dt.timedelta(days=1), [-1], id="the-day-before"),
        pytest.param(DUE, [], id="the-due-day-itself"),
        pytest.param(DUE + dt.timedelta(days=1), [1], id="one-day-late"),
        pytest.param(DUE + dt.timedelta(days=7), [7], id="one-week-late"),
        pytest.param(DUE - dt.timedelta(days=8), [], id="no-offset-that-day"),
        pytest.param(DUE + dt.timedelta(days=30), [], id="long-overdue-no-more-reminders"),
    ],
)
def test_each_offset_fires_on_its_day(today: dt.date, offsets_fired: list[int]) -> None:
    reminders = due_item_reminders([item()], OFFSETS, today)
    assert [r.offset for r in reminders] == offsets_fired
    for reminder in reminders:
        assert reminder.fires_on == today
        assert reminder.overdue == (reminder.offset > 0)


@pytest.mark.parametrize("status", ["Envoyée", "Acceptée", "Payée", "Annulée"])
def test_done_items_are_never_reminded(status: str) -> None:
    assert due_item_reminders([item(status)], OFFSETS, DUE - dt.timedelta(days=7)) == []


def test_fait_le_alone_marks_an_item_done() -> None:
    done = item("En préparation", done_on=DUE - dt.timedelta(days=10))
    assert due_item_reminders([done], OFFSETS, DUE - dt.timedelta(days=7)) == []


def test_a_window_covers_missed_days() -> None:
    today = DUE - dt.timedelta(days=6)
    fired = due_item_reminders([item()], OFFSETS, today, since=today - dt.timedelta(days=3))
    assert [r.offset for r in fired] == [-7]


def test_key_names_rule_item_due_date_and_offset() -> None:
    (reminder,) = due_item_reminders([item()], OFFSETS, DUE - dt.timedelta(days=7))
    assert reminder.key == "reminder:echeance:C|Bilan||:2026-03-31:-7"
    (moved,) = due_item_reminders([item(due=DUE + dt.timedelta(days=1))], OFFSETS, DUE - dt.timedelta(days=6))
    assert moved.key != reminder.key and moved.offset == reminder.offset
