"""French as staff and cantines read it: dates, amounts, numbers, delays and plurals (Babel, fr_FR).

The helpers every template (as Jinja filters) and every assembled sentence use, so that the French is
right in one place."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

LOCALE = "fr_FR"
NBSP = "\u00a0"


class FilterError(ValueError):
    """A filter given a value it cannot show (text to `euros`, a number to `date_longue`): a
    template slip, said in French, instead of a TypeError from deep inside Babel."""


def describe(value: object) -> str:
    """A value as a French sentence names it: « le texte « abc » », « une valeur de type list »."""
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:39] + "…"
        return f"le texte « {shown} »"
    if isinstance(value, bool):
        return f"la valeur {'vraie' if value else 'fausse'}"
    if isinstance(value, (int, float, Decimal)):
        return f"le nombre {value}"
    if isinstance(value, dt.date):
        return f"la date {value.isoformat()}"
    return f"une valeur de type {type(value).__name__}"


def expect(value: object, kinds: type | tuple[type, ...], filter_name: str, expected: str) -> None:
    """Raise FilterError unless `value` is one of `kinds` (a bool is never a number)."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise FilterError(f"le filtre « {filter_name} » attend {expected}, pas {describe(value)}")


def as_decimal(value: Decimal | int | float, filter_name: str) -> Decimal:
    """A finite number as a Decimal, or FilterError (NaN, infinity)."""
    expect(value, (Decimal, int, float), filter_name, "un nombre")
    amount = Decimal(str(value))
    if not amount.is_finite():
        raise FilterError(f"le filtre « {filter_name} » ne peut pas afficher {describe(value)}")
    return amount


def date_longue(value: dt.date | None) -> str:
    """ "lundi 2 mars 2026", "mardi 1er décembre 2026" """
    if value is None:
        return ""
    expect(value, dt.date, "date_longue", "une date")
    if isinstance(value, dt.datetime):
        value = value.date()
    day = "d'er'" if value.day == 1 else "d"
    return format_date(value, f"EEEE {day} MMMM y", locale=LOCALE)


def date_courte(value: dt.date | None) -> str:
    """ "02/03/2026" """
    if value is None:
        return ""
    expect(value, dt.date, "date_courte", "une date")
    return value.strftime("%d/%m/%Y")


def date_heure(value: dt.datetime | None) -> str:
    """ "lundi 2 mars 2026 à 07:30" """
    if value is None:
        return ""
    expect(value, dt.datetime, "date_heure", "une date et une heure")
    return format_datetime(value, "EEEE d MMMM y 'à' HH:mm", tzinfo=value.tzinfo, locale=LOCALE)


def euros(value: Decimal | int | float | None) -> str:
    """ "12 500 €", or "12 500,50 €" when there are cents (French spacing, non-breaking)."""
    if value is None:
        return ""
    amount = as_decimal(value, "euros")
    try:
        if amount == amount.to_integral_value():
            return format_decimal(amount, format="#,##0", locale=LOCALE) + NBSP + "€"
        return format_currency(amount, "EUR", locale=LOCALE)
    except ArithmeticError:  # beyond Decimal's precision (1E+300): no amount staff could mean
        raise FilterError(f"le filtre « euros » ne peut pas afficher {describe(value)}") from None


def nombre(value: Decimal | int | float | None) -> str:
    """ "1 234" or "1 234,5" """
    if value is None:
        return ""
    return format_decimal(as_decimal(value, "nombre"), locale=LOCALE)


def pourcent(value: Decimal | float | None) -> str:
    """A fraction as a French percentage: 0.45 → "45 %"."""
    if value is None:
        return ""
    return format_decimal(as_decimal(value, "pourcent") * 100, format="#,##0.#", locale=LOCALE) + NBSP + "%"


def delai(days: int) -> str:
    """A number of days from today in words: "aujourd'hui", "demain", "dans 7 jours", "il y a 3 jours"."""
    expect(days, int, "delai", "un nombre de jours")
    if days == 0:
        return "aujourd'hui"
    if days == 1:
        return "demain"
    if days == -1:
        return "hier"
    if days > 1:
        return f"dans {days} jours"
    return f"il y a {-days} jours"


def pluriel(count: int, singular: str, plural: str | None = None) -> str:
    """ "1 échéance", "3 échéances" """
    expect(count, int, "pluriel", "un nombre entier")
    word = singular if abs(count) <= 1 else (plural or singular + "s")
    return f"{count} {word}"


FILTERS = {
    "date_longue": date_longue,
    "date_courte": date_courte,
    "date_heure": date_heure,
    "euros": euros,
    "nombre": nombre,
    "pourcent": pourcent,
    "delai": delai,
    "pluriel": pluriel,
}
