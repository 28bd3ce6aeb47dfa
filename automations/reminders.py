"""Deadline reminders: which reminders come due on a given day (pure functions, no I/O).

A rule fires once per (rule, row, due date, offset): its idempotency key. Offsets are days relative to
the due date, negative before it (-7: a week ahead), positive after it (+1: a day late). A reminder
fires on `due date + offset`; a run covers every firing day in (since, today], so a run that follows
a missed day still sends what came due, and the outbox's unique key makes sure it goes only once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .model import DueItem

ECHEANCE_RULE = "echeance"


@dataclass(frozen=True)
class Reminder:
    rule: str
    item: DueItem
    due_on: dt.date
    offset: int  # days relative to the due date
    fires_on: dt.date

    @property
    def key(self) -> str:
        """The idempotency key: moving the due date makes new reminders, nothing else does."""
        return f"reminder:{self.rule}:{self.item.key}:{self.due_on.isoformat()}:{self.offset:+d}"

    @property
    def overdue(self) -> bool:
        return self.offset > 0


def due_item_reminders(
    items: Iterable[DueItem],
    offsets: Sequence[int],
    today: dt.date,
    since: dt.date | None = None,
) -> list[Reminder]:
    """Reminders for échéances not yet done whose firing day is in (since, today].

    `since` defaults to the day before `today`: a daily run sends what fires today.
    """
    since = since if since is not None else today - dt.timedelta(days=1)
    reminders = []
    for item in items:
        if item.is_done:
            continue
        for offset in sorted(set(offsets)):
            fires_on = item.due_on + dt.timedelta(days=offset)
            if since < fires_on <= today:
                reminders.append(Reminder(ECHEANCE_RULE, item, item.due_on, offset, fires_on))
    reminders.sort(key=lambda r: (r.due_on, r.item.key, r.offset))
    return reminders
