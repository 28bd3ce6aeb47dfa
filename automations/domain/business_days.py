"""Business days in France: weekends and public holidays (the `holidays` package), so that nothing
goes out on a Sunday or on 14 July."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _french_holidays(year: int) -> dict[dt.date, str]:
    return dict(holidays.country_holidays("FR", years=year, language="fr"))


def holiday_name(day: dt.date) -> str | None:
    """The French public holiday on `day` ("Ascension"…), or None."""
    return _french_holidays(day.year).get(day)


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and holiday_name(day) is None


def business_day_on_or_before(day: dt.date) -> dt.date:
    """`day` if it is a business day, else the last business day before it."""
    while not is_business_day(day):
        day -= dt.timedelta(days=1)
    return day


def business_day_on_or_after(day: dt.date) -> dt.date:
    """`day` if it is a business day, else the first business day after it."""
    while not is_business_day(day):
        day += dt.timedelta(days=1)
    return day


def add_business_days(day: dt.date, count: int) -> dt.date:
    """The day `count` business days after `day` (before it when negative)."""
    step = 1 if count >= 0 else -1
    remaining = abs(count)
    while remaining:
        day += dt.timedelta(days=step)
        if is_business_day(day):
            remaining -= 1
    return day
