"""French as staff and cantines read it: dates, amounts, numbers, delays and plurals (Babel, fr_FR).

The helpers every template (as Jinja filters) and every assembled sentence use, so that the French is
right in one place."""

from __future__ import annotations

import datetime as dt
import re
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


def montant(value: Decimal | int | float | None) -> str:
    """An amount as a financial report shows it, always with its cents: "12 500,00 €"."""
    if value is None:
        return ""
    amount = as_decimal(value, "montant")
    try:
        return format_currency(amount, "EUR", locale=LOCALE)
    except ArithmeticError:
        raise FilterError(f"le filtre « montant » ne peut pas afficher {describe(value)}") from None


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


# Words after which the rest of a phrase stays as it is in the plural: "mise à jour" → "mises à jour".
LINKS = frozenset({"à", "au", "aux", "de", "d'", "du", "des", "en", "et", "pour", "par", "sur", "sans", "avec", "la", "le", "les"})
INVARIABLE = frozenset({"déjà", "non", "bien", "très", "plus", "moins", "encore", "pas", "ne", "n'"})
VOWELS = "aeiouyàâäéèêëîïôöûüùœæ"
# h muet: the few words our texts put after "de" that elide ("d'hiver"); any other h does not.
H_MUET = ("hab", "hiver", "hôp", "hôt", "hist", "hom", "hon", "heur", "hélène", "hugo", "herb")


def pluriel(count: int, singular: str, plural: str | None = None) -> str:
    """ "1 échéance", "3 échéances", "0 ligne créée", "3 lignes créées", "2 mises à jour": the count and
    its phrase, in the plural from 2 (French: 0 and 1 are singular). Without `plural`, each word up to
    the first link word ("à", "de"…) takes its plural."""
    expect(count, int, "pluriel", "un nombre entier")
    return f"{nombre(count)} {accord(count, singular, plural)}"


def accord(count: int, singular: str, plural: str | None = None) -> str:
    """The phrase alone, agreed with the count: accord(3, "créée") → "créées"."""
    if abs(count) < 2:
        return singular
    if plural is not None:
        return plural
    words = singular.split(" ")
    for index, word in enumerate(words):
        if word.casefold() in LINKS or word.endswith("'"):
            break
        if word.casefold() not in INVARIABLE:
            words[index] = _plural_word(word)
    return " ".join(words)


def _plural_word(word: str) -> str:
    if not word or word[-1] in "sxz" or not word[-1].isalpha():
        return word
    if word.endswith(("au", "eau", "eu")):
        return word + "x"
    if word.endswith("al") and word not in ("festival", "bal", "carnaval"):
        return word[:-2] + "aux"
    return word + "s"


def _elides(word: str) -> bool:
    first = word[:1].casefold()
    return first in VOWELS or (first == "h" and word.casefold().startswith(H_MUET))


def de(name: str) -> str:
    """ "de" before a name, elided and contracted: "d'avril", "d'Ajaccio", "du Banquet" (Le Banquet),
    "des Lilas" (Les Lilas), "de La Marmite", "de l'Usine", "de Lyon"."""
    name = " ".join(str(name).split())
    lowered = name.casefold()
    if lowered.startswith("le "):
        return "du " + name[3:]
    if lowered.startswith("les "):
        return "des " + name[4:]
    if lowered.startswith(("la ", "l'", "l’")):
        return "de " + name  # "de La Marmite", "de l'Usine": the article of a name is kept as written
    return ("d'" + name) if _elides(name) else ("de " + name)


def a(name: str) -> str:
    """ "à" before a name, contracted: "au Banquet", "aux Lilas", "à La Marmite", "à Lyon"."""
    name = " ".join(str(name).split())
    lowered = name.casefold()
    if lowered.startswith("le "):
        return "au " + name[3:]
    if lowered.startswith("les "):
        return "aux " + name[4:]
    return "à " + name


def guillemets(text: object) -> str:
    """« text » with non-breaking spaces inside, so that no line starts with » or ends with «."""
    return f"«{NBSP}{' '.join(str(text).split())}{NBSP}»"


def liste(items: object, conjunction: str = "et") -> str:
    """ "a", "a et b", "a, b et c" """
    values = [str(item) for item in (items or [])]  # type: ignore[attr-defined]
    if len(values) < 2:
        return "".join(values)
    return f"{', '.join(values[:-1])} {conjunction} {values[-1]}"


def mois_annee(value: dt.date | None) -> str:
    """ "avril 2026" """
    if value is None:
        return ""
    return format_date(value, "MMMM y", locale=LOCALE)


_SPACE = r"(?:[ \t\u00a0\u202f]|&nbsp;|&#160;)"
_OPENING = re.compile(rf"«{_SPACE}*(?=\S)")
_CLOSING = re.compile(rf"(?<=\S){_SPACE}*»")
_BEFORE_PUNCTUATION = re.compile(rf"(?<=[^\s>]){_SPACE}+([:;?!])(?=[\s<]|$)")
_HTML_TEXT = re.compile(r"(<style\b.*?</style>|<[^>]*>)", flags=re.DOTALL | re.IGNORECASE)


def espaces_insecables(text: str, *, html: bool = False, ponctuation: bool = False) -> str:
    """French spacing that never breaks a line: a non-breaking space inside « » (and, with
    `ponctuation`, before : ; ? !), so that no line ends on « nor starts with ». In HTML only the text
    between tags changes."""
    def fix(segment: str) -> str:
        segment = _OPENING.sub("«" + NBSP, segment)
        segment = _CLOSING.sub(NBSP + "»", segment)
        return _BEFORE_PUNCTUATION.sub(NBSP + r"\1", segment) if ponctuation else segment

    if not html:
        return fix(text)
    return "".join(part if index % 2 else fix(part) for index, part in enumerate(_HTML_TEXT.split(text)))


FILTERS = {
    "date_longue": date_longue,
    "date_courte": date_courte,
    "date_heure": date_heure,
    "euros": euros,
    "montant": montant,
    "nombre": nombre,
    "pourcent": pourcent,
    "delai": delai,
    "pluriel": pluriel,
    "accord": accord,
    "de": de,
    "a": a,
    "guillemets": guillemets,
    "liste": liste,
    "mois_annee": mois_annee,
}
