"""The days and times the settings give for the worker's jobs ("weekdays", "lundi", "07:30")."""

from __future__ import annotations

import datetime as dt

from automations.domain.weekdays import WEEKDAYS


def parse_days(text: str) -> tuple[int, ...]:
    """ "daily", "weekdays" (lundi–vendredi), or one day name in French or English."""
    word = text.strip().lower()
    if word in ("daily", "tous les jours", "chaque jour"):
        return tuple(range(7))
    if word in ("weekdays", "jours ouvrés", "semaine"):
        return tuple(range(5))
    if word in WEEKDAYS:
        return (WEEKDAYS[word],)
    raise ValueError(f"'{text}' is not daily, weekdays or a day name")


def parse_time(text: str) -> dt.time:
    hours, _, minutes = text.strip().partition(":")
    return dt.time(int(hours), int(minutes or 0))
