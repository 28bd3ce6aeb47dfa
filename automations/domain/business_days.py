"""Business days in France: weekends and public holidays (the `holidays` package), so that nothing
goes out on a Sunday or on 14 July.

The calendar is the national one, plus, for a cantine, its département's own days: Alsace-Moselle
(57, 67, 68) keeps Vendredi saint and the 26 December; each overseas département has its abolition
of slavery day (and Guadeloupe and Martinique more). A set of `subdivisions` (as `subdivision_of`
gives them) is a calendar: a day is a business day when it is one in every subdivision given."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache

import holidays

# départements whose calendar differs from the national one → the `holidays` subdivision code
SUBDIVISIONS = {
    "57": "57", "67": "6AE", "68": "6AE",  # Moselle; Bas-Rhin and Haut-Rhin (Alsace)
    "971": "971", "972": "972", "973": "973", "974": "974", "976": "976",
}
Subdivisions = tuple[str, ...]  # () is the national calendar
NATIONAL: Subdivisions = ()


def subdivision_of(departement_code: str) -> str | None:
    """The `holidays` subdivision of a département whose public holidays differ, else None."""
    return SUBDIVISIONS.get(departement_code)


def calendar_of(departement_codes: Iterable[str]) -> Subdivisions:
    """The calendar of cantines in these départements: every local calendar among them."""
    return tuple(sorted({s for code in departement_codes if (s := subdivision_of(code)) is not None}))


@lru_cache(maxsize=256)
def _french_holidays(year: int, subdivision: str | None = None) -> dict[dt.date, str]:
    return dict(holidays.country_holidays("FR", subdiv=subdivision, years=year, language="fr"))


def holiday_name(day: dt.date, subdivisions: Subdivisions = NATIONAL) -> str | None:
    """The French public holiday on `day` ("Ascension", "Vendredi saint" in Moselle…), or None."""
    for subdivision in (None, *subdivisions):
        name = _french_holidays(day.year, subdivision).get(day)
        if name is not None:
            return name
    return None


def is_business_day(day: dt.date, subdivisions: Subdivisions = NATIONAL) -> bool:
    return day.weekday() < 5 and holiday_name(day, subdivisions) is None


def business_day_on_or_before(day: dt.date, subdivisions: Subdivisions = NATIONAL) -> dt.date:
    """`day` if it is a business day, else the last business day before it."""
    while not is_business_day(day, subdivisions):
        day -= dt.timedelta(days=1)
    return day


def business_day_on_or_after(day: dt.date, subdivisions: Subdivisions = NATIONAL) -> dt.date:
    """`day` if it is a business day, else the first business day after it."""
    while not is_business_day(day, subdivisions):
        day += dt.timedelta(days=1)
    return day


def add_business_days(day: dt.date, count: int, subdivisions: Subdivisions = NATIONAL) -> dt.date:
    """The day `count` business days after `day` (before it when negative)."""
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    while remaining:
        day += dt.timedelta(days=step)
        if is_business_day(day, subdivisions):
            remaining -= 1
    return day
