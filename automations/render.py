"""Render French emails and documents from templates staff may edit.

Templates run in Jinja2's ImmutableSandboxedEnvironment with StrictUndefined: a typo in a template
fails loudly instead of sending a blank, and a template cannot reach into Python. Subjects and text
parts render without escaping; HTML parts with autoescape.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal
from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateNotFound
from jinja2.sandbox import ImmutableSandboxedEnvironment

from connectors.errors import CantinesError, ConfigurationError


class TemplateFailure(CantinesError):
    """A template staff edited cannot render (an unknown variable, a syntax error): the message it
    makes is left out and reported; the other messages go on."""

LOCALE = "fr_FR"
NBSP = "\u00a0"


def date_longue(value: dt.date | None) -> str:
    """ "lundi 2 mars 2026", "mardi 1er décembre 2026" """
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    day = "d'er'" if value.day == 1 else "d"
    return format_date(value, f"EEEE {day} MMMM y", locale=LOCALE)


def date_courte(value: dt.date | None) -> str:
    """ "02/03/2026" """
    if value is None:
        return ""
    return value.strftime("%d/%m/%Y")


def date_heure(value: dt.datetime | None) -> str:
    """ "lundi 2 mars 2026 à 07:30" """
    if value is None:
        return ""
    return format_datetime(value, "EEEE d MMMM y 'à' HH:mm", tzinfo=value.tzinfo, locale=LOCALE)


def euros(value: Decimal | int | float | None) -> str:
    """ "12 500 €", or "12 500,50 €" when there are cents (French spacing, non-breaking)."""
    if value is None:
        return ""
    amount = Decimal(str(value))
    if amount == amount.to_integral_value():
        return format_decimal(amount, format="#,##0", locale=LOCALE) + NBSP + "€"
    return format_currency(amount, "EUR", locale=LOCALE)


def nombre(value: Decimal | int | float | None) -> str:
    """ "1 234" or "1 234,5" """
    if value is None:
        return ""
    return format_decimal(value, locale=LOCALE)


def pourcent(value: Decimal | float | None) -> str:
    """A fraction as a French percentage: 0.45 → "45 %"."""
    if value is None:
        return ""
    return format_decimal(Decimal(str(value)) * 100, format="#,##0.#", locale=LOCALE) + NBSP + "%"


def delai(days: int) -> str:
    """A number of days from today in words: "aujourd'hui", "demain", "dans 7 jours", "il y a 3 jours"."""
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


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def make_environment(folder: Path, *, autoescape: bool) -> ImmutableSandboxedEnvironment:
    """A sandboxed Jinja2 environment over `folder` with the French filters."""
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(folder)),
        undefined=StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env


class Renderer:
    """Renders `emails/<name>/subject.txt`, `body.txt` and `body.html` from the templates folder."""

    def __init__(self, templates: Path):
        self.templates = templates
        self.text_env = make_environment(templates, autoescape=False)
        self.html_env = make_environment(templates, autoescape=True)

    def email(self, name: str, context: dict[str, Any]) -> RenderedEmail:
        try:
            subject = self.text_env.get_template(f"emails/{name}/subject.txt").render(context)
            text = self.text_env.get_template(f"emails/{name}/body.txt").render(context)
            html = self.html_env.get_template(f"emails/{name}/body.html").render(context)
        except TemplateNotFound as exc:
            raise ConfigurationError(f"email template not found: {self.templates / exc.name}") from None
        except TemplateError as exc:
            where = f" (ligne {exc.lineno})" if getattr(exc, "lineno", None) else ""
            raise TemplateFailure(f"le modèle « {name} » ne peut pas être rendu{where} : {exc}") from exc
        text = re.sub(r"\n[ \t]*(\n[ \t]*)+\n", "\n\n", text)  # blocks left empty by conditions
        return RenderedEmail(subject=" ".join(subject.split()), text=text.strip() + "\n", html=html)
