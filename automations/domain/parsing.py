"""Parse the values staff type into domain values; every failure says, in French, what is expected."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from email.utils import getaddresses

from email_validator import EmailNotValidError, validate_email

from connectors.tables.values import split_list

FRENCH_MONTHS = {
    "janvier": 1, "janv": 1, "fevrier": 2, "fevr": 2, "fev": 2, "mars": 3, "avril": 4, "avr": 4,
    "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "aout": 8, "septembre": 9, "sept": 9,
    "octobre": 10, "oct": 10, "novembre": 11, "nov": 11, "decembre": 12, "dec": 12,
}
TRUE_WORDS = {"oui", "o", "vrai", "x", "true", "yes", "y", "1", "✓", "✔", "☑", "coché", "coche"}
FALSE_WORDS = {"non", "n", "faux", "false", "no", "0", "☐", "-"}
SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
CURRENCY = r"€|euros?|eur"
# Dates outside these years are typing slips (9999, 0001, 2206): every later step (reminders,
# business days, French formatting) handles the dates in between.
FIRST_YEAR, LAST_YEAR = 1900, 2099
# A two-digit year is read as 20AA up to this one; beyond it (« 01/02/99 ») 1999 or 2099 is a guess.
LAST_SHORT_YEAR = 50
# Numbers beyond this are typing slips too (a budget of 1e300 €); every later sum stays exact.
NUMBER_LIMIT = Decimal(10) ** 12
ISO_TIME = r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"


class ValueProblem(ValueError):
    """A value that cannot be used; the message is French and says what is expected."""


SHOWN_LENGTH = 120  # a 100 000-character cell is quoted by its beginning


def clip(text: str, length: int = SHOWN_LENGTH) -> str:
    """`text`, cut to `length` characters with « … » when it is longer."""
    return text if len(text) <= length else text[: length - 1] + "…"


def show(value: object) -> str:
    """A value as staff typed it, for messages: « 31/02/2026 »."""
    if isinstance(value, (list, tuple)):
        value = ", ".join(str(v) for v in value)
    elif isinstance(value, dt.date):
        value = f"{value.day:02d}/{value.month:02d}/{value.year:04d}"  # strftime drops 0001's zeros
    try:
        text = str(value)
    except ValueError:  # an int of more than 4 300 digits
        text = "un nombre de plus de 4 300 chiffres"
    return f"« {clip(text)} »"


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a word."""
    text = unicodedata.normalize("NFKD", text.strip())
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).casefold().split())


def in_range(day: dt.date, value: object) -> dt.date:
    """`day` if its year is one staff can mean; a ValueProblem naming the years accepted otherwise."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueProblem(
            f"{show(value)} est hors des dates possibles (attendu : une date entre {FIRST_YEAR} et "
            f"{LAST_YEAR}, JJ/MM/AAAA)"
        )
    return day


def parse_date(value: object) -> dt.date:
    """A date from a real date, ISO text (2026-03-02) or JJ/MM/AAAA (also with - or ., or JJ/MM/AA)."""
    if isinstance(value, dt.datetime):
        return in_range(value.date(), value)
    if isinstance(value, dt.date):
        return in_range(value, value)
    text = str(value).strip()
    day: dt.date | None = None
    try:
        if m := re.fullmatch(rf"(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})(?:[T ]{ISO_TIME})?", text):
            day = dt.date(int(m[1]), int(m[2]), int(m[3]))
            if m[4] is not None:  # the time must be one too: « 2027-03-02T99:99 » is no date
                dt.time(int(m[4]), int(m[5]), int(m[6] or 0))
        elif m := re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})", text):
            if len(m[3]) == 2 and int(m[3]) > LAST_SHORT_YEAR:
                raise ValueProblem(
                    f"{show(value)} : l'année sur deux chiffres est ambiguë (attendu : JJ/MM/AAAA, "
                    "l'année en entier)"
                )
            year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
            day = dt.date(year, int(m[2]), int(m[1]))
    except ValueError as exc:
        if isinstance(exc, ValueProblem):
            raise
        day = None
    if day is None:
        day = _written_date(text)
    if day is None:
        raise ValueProblem(f"{show(value)} n'est pas une date valide (attendu : JJ/MM/AAAA)")
    return in_range(day, value)


FRENCH_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
WRITTEN_DATE = re.compile(r"(?:([a-z]+)\.?,?\s+)?(\d{1,2})(er)?\s+([a-z]+)\.?\s+(\d{4})")


def _written_date(text: str) -> dt.date | None:
    """A date written out the French way: "15 mars 2026", "1er avril 2026", "lundi 2 mars 2026",
    "2 févr. 2026". A weekday that does not match the date, or "3er", makes it ambiguous: None."""
    m = WRITTEN_DATE.fullmatch(fold(text))
    if not m or m[4] not in FRENCH_MONTHS or (m[3] and m[2] != "1"):
        return None
    if m[1] and m[1] not in FRENCH_WEEKDAYS:
        return None
    try:
        day = dt.date(int(m[5]), FRENCH_MONTHS[m[4]], int(m[2]))
    except ValueError:
        return None
    if m[1] and FRENCH_WEEKDAYS[day.weekday()] != m[1]:
        raise ValueProblem(
            f"« {text} » est ambiguë : le {day.day} n'est pas un {m[1]} mais un {FRENCH_WEEKDAYS[day.weekday()]} "
            "(attendu : JJ/MM/AAAA)"
        )
    return day


def parse_month(value: object) -> dt.date:
    """The first day of a month, from a date, "03/2026", "2026-03" or "mars 2026"."""
    if not isinstance(value, (dt.date, dt.datetime)):
        text = fold(str(value))
        if m := re.fullmatch(r"(\d{1,2})[/.\-](\d{4})", text):
            month, year = int(m[1]), int(m[2])
        elif m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
            year, month = int(m[1]), int(m[2])
        elif (m := re.fullmatch(r"([a-z]+)\.?\s+(\d{4})", text)) and m[1] in FRENCH_MONTHS:
            month, year = FRENCH_MONTHS[m[1]], int(m[2])
        else:
            try:
                return parse_date(value).replace(day=1)
            except ValueProblem:
                raise ValueProblem(
                    f"{show(value)} n'est pas un mois valide (attendu : le 1er du mois, JJ/MM/AAAA, ou MM/AAAA)"
                ) from None
        if not 1 <= month <= 12:
            raise ValueProblem(f"{show(value)} n'est pas un mois valide (attendu : MM/AAAA)")
        return in_range(dt.date(year, month, 1), value)
    return parse_date(value).replace(day=1)


def parse_datetime(value: object, tz: dt.tzinfo) -> dt.datetime:
    """A timezone-aware date-time from a real one, ISO text, or JJ/MM/AAAA HH:MM."""
    if isinstance(value, dt.datetime):
        in_range(value.date(), value)
        return value if value.tzinfo else value.replace(tzinfo=tz)
    if isinstance(value, dt.date):
        return dt.datetime.combine(in_range(value, value), dt.time(), tzinfo=tz)
    text = str(value).strip()
    parsed: dt.datetime | None = None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        if m := re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})[ T]+(\d{1,2})[:h](\d{2})", text):
            try:
                parsed = dt.datetime(int(m[3]), int(m[2]), int(m[1]), int(m[4]), int(m[5]))
            except ValueError:
                pass
    if parsed is None:
        raise ValueProblem(f"{show(value)} n'est pas une date et heure valide (attendu : JJ/MM/AAAA HH:MM)")
    in_range(parsed.date(), value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


def _decimal_text(text: str, *, amount: bool) -> Decimal:
    # the currency in any case ("€", "EUR", "euros": never "12 500 euros" → "12500os"), and Swiss '
    text = SPACES.sub("", text)
    if re.search(rf"\d({CURRENCY})\d", text, flags=re.IGNORECASE):
        raise InvalidOperation  # « 12€50 »: 12,50 € or 1 250 €? never a guess
    text = re.sub(rf"{CURRENCY}|'", "", text, flags=re.IGNORECASE)
    if text.startswith("+"):
        text = text[1:]
    if "," in text and "." in text:
        decimal_sep = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        text = text.replace(thousands, "").replace(decimal_sep, ".")
    elif "," in text:
        if text.count(",") > 1:
            raise InvalidOperation
        text = text.replace(",", ".")
    elif text.count(".") > 1 or (amount and re.fullmatch(r"-?\d{1,3}\.\d{3}", text)):
        # "1.500.000" or, for euros, "12.500": dots as thousands separators
        if not re.fullmatch(r"-?\d{1,3}(\.\d{3})+", text):
            raise InvalidOperation
        text = text.replace(".", "")
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        raise InvalidOperation
    return Decimal(text)


def bounded(number: Decimal, value: object) -> Decimal:
    """`number` if it is finite and within NUMBER_LIMIT; a ValueProblem otherwise."""
    if not number.is_finite():
        raise ValueProblem(f"{show(value)} n'est pas un nombre (attendu : par exemple 12 ou 1,5)")
    if abs(number) >= NUMBER_LIMIT:
        raise ValueProblem(
            f"{show(value)} est trop grand (attendu : un nombre de moins de 13 chiffres, par exemple 12 500)"
        )
    return number


def parse_number(value: object) -> Decimal:
    """A number from a number or French text ("1,5", "1 500")."""
    if isinstance(value, bool):
        raise ValueProblem(f"{show(value)} n'est pas un nombre")
    if isinstance(value, (int, Decimal)):
        return bounded(Decimal(value), value)
    if isinstance(value, float):
        return bounded(Decimal(repr(value)), value)
    try:
        number = _decimal_text(str(value), amount=False)
    except InvalidOperation:
        raise ValueProblem(f"{show(value)} n'est pas un nombre (attendu : par exemple 12 ou 1,5)") from None
    return bounded(number, value)


def parse_integer(value: object) -> int:
    """A whole number (a count of meals, of volunteers…)."""
    number = parse_number(value)
    if number != number.to_integral_value():
        raise ValueProblem(f"{show(value)} n'est pas un nombre entier")
    if number < 0:
        raise ValueProblem(f"{show(value)} est négatif (attendu : un nombre positif ou zéro)")
    return int(number)


# "15 k€", "1,2 M€", "15k", "2 M EUR": thousands and millions of euros
MULTIPLIED_AMOUNT = re.compile(r"(-?[\d\s\u00a0\u202f.,]*\d)\s*([kKM])\s*(?:€|euros?|eur)?", flags=re.IGNORECASE)
MULTIPLIERS = {"k": Decimal(1000), "m": Decimal(1_000_000)}


def _multiplied_amount(text: str) -> Decimal | None:
    m = MULTIPLIED_AMOUNT.fullmatch(text.strip())
    if not m or (m[2] == "m"):  # a lower-case m is not a million (mètres? milliers?): ambiguous
        return None
    number = SPACES.sub("", m[1])
    if re.search(r"\.\d{3}$", number) or number.count(",") + number.count(".") > 1:
        return None  # "1.500 k€": thousands separator or decimals? ambiguous
    try:
        return _decimal_text(number, amount=False) * MULTIPLIERS[m[2].lower()]
    except InvalidOperation:
        return None


def parse_amount(value: object) -> Decimal:
    """An amount in euros from a number or French text ("12 500 €", "1 500,50", "12.500", "15 k€",
    "1,2 M€")."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        amount = parse_number(value)
    elif (multiplied := _multiplied_amount(str(value))) is not None:
        amount = multiplied.quantize(Decimal(1)) if multiplied == multiplied.to_integral_value() else multiplied
    else:
        try:
            amount = _decimal_text(str(value), amount=True)
        except InvalidOperation:
            raise ValueProblem(
                f"{show(value)} n'est pas un montant valide (attendu : un nombre d'euros, par exemple 12 500 €)"
            ) from None
        amount = bounded(amount, value)
    if amount < 0:
        raise ValueProblem(f"{show(value)} est un montant négatif (attendu : un montant positif)")
    return amount


def parse_percent(value: object) -> Decimal:
    """A share as a fraction (0.45) from 0,45, 45, "45 %" or "45%": numbers above 1 are percents."""
    text = str(value)
    percent_sign = isinstance(value, str) and "%" in text
    try:
        number = parse_number(text.replace("%", "")) if isinstance(value, str) else parse_number(value)
    except ValueProblem:
        raise ValueProblem(f"{show(value)} n'est pas un pourcentage (attendu : par exemple 45 %)") from None
    if percent_sign or number > 1:
        number = number / 100
    if not 0 <= number <= 1:
        raise ValueProblem(f"{show(value)} n'est pas un pourcentage entre 0 et 100 %")
    return number


WEB_LINK = re.compile(r"(?:https?://[^\s/?#]+|mailto:[^\s@]+@)\S*", re.IGNORECASE)


def parse_link(value: object) -> str:
    """A link that may become an email's href: http(s) or mailto only (never « javascript:… »)."""
    text = str(value).strip()
    if not WEB_LINK.fullmatch(text):
        raise ValueProblem(
            f"{show(value)} n'est pas un lien web (attendu : une adresse commençant par https://) : "
            "il n'est pas repris dans les emails"
        )
    return text


def parse_bool(value: object) -> bool:
    """A checkbox: a real checkbox, or oui/non, x, vrai/faux, 1/0."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    word = str(value).strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS or word == "":
        return False
    raise ValueProblem(f"{show(value)} n'est pas une case à cocher (attendu : oui ou non)")


def parse_email(value: object) -> str:
    """One email address, checked for shape (not for deliverability); a display name is dropped:
    "Jeanne Martin <jeanne@…>", '"Martin, Jeanne" <jeanne@…>' (as Outlook copies it)."""
    text = str(value).strip()
    pairs = [pair for pair in getaddresses([text]) if any(pair)]
    unquoted = re.sub(r'"[^"]*"', "", text)  # a group ("Bcc: y@…") or a header pasted in is no address
    try:
        if len(pairs) != 1 or not pairs[0][1] or ":" in unquoted.split("<")[0] or any(c in text for c in "\r\n\t"):
            raise EmailNotValidError(text)
        return validate_email(pairs[0][1], check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueProblem(
            f"{show(value)} n'est pas une adresse email valide (attendu : prenom.nom@exemple.fr)"
        ) from None


# a comma, semicolon or new line outside double quotes: '"Martin, Jeanne" <jeanne@…>, paul@…' is two
ADDRESS_SEPARATOR = re.compile(r'[,;\n\r]+(?=(?:[^"]*"[^"]*")*[^"]*$)')


def parse_emails(value: object) -> tuple[str, ...]:
    """Several addresses in one cell, separated by commas, semicolons or new lines; a display name with
    a comma must be quoted, as Outlook and Gmail copy it ('"Martin, Jeanne" <jeanne@…>')."""
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = [piece.strip() for piece in ADDRESS_SEPARATOR.split(str(value)) if piece.strip()]
    addresses: list[str] = []
    for item in items:
        try:
            address = parse_email(item)
        except ValueProblem:
            if "<" not in item and "@" not in item and len(items) > 1:
                raise ValueProblem(
                    f"{show(item)} n'est pas une adresse email valide (un nom qui contient une virgule "
                    f"s'écrit entre guillemets : \"Martin, Jeanne\" <jeanne.martin@exemple.fr>)"
                ) from None
            raise
        if address not in addresses:
            addresses.append(address)
    return tuple(addresses)


def parse_choice(value: object, choices: Sequence[str]) -> str:
    """One of the choices, forgiving case, accents and spaces ("en montage" → "En montage")."""
    text = " ".join(str(value).split())
    if not choices or text in choices:
        return text
    folded = {fold(c): c for c in choices}
    if fold(text) in folded:
        return folded[fold(text)]
    numbered = numbered_choice(text, choices)
    if numbered is not None:
        return numbered
    examples = [c for c in choices if NUMBERED.match(c)][:2]
    if len(examples) == 2:  # a long numbered list (the CERFA's headings): examples and numbers, not every wording
        numbers = [NUMBERED.match(c).group(1) for c in choices if NUMBERED.match(c)]  # type: ignore[union-attr]
        raise ValueProblem(
            f"{show(value)} n'est pas une rubrique connue (attendu : une rubrique comme « {examples[0]} », "
            f"son numéro seul ({NUMBERED.match(examples[0]).group(1)}) ou un numéro de compte qui commence par "  # type: ignore[union-attr]
            f"ce numéro ; les rubriques : {', '.join(numbers)}"
            + "".join(f", « {c} »" for c in choices if not NUMBERED.match(c)) + ")"
        )
    raise ValueProblem(f"{show(value)} n'est pas une valeur possible (attendu : {', '.join(choices)})")


NUMBERED = re.compile(r"^(\d+)\s*[-–—.:]?\s*(.*)$")


def numbered_choice(text: str, choices: Sequence[str]) -> str | None:
    """A numbered choice (« 60 – Achats ») given by its number, by an account number under it
    (« 6061 », « 6061 Fournitures »), by its words alone (« Achats ») or with another dash (« 60 - Achats »); None if none
    or several fit."""
    numbers = {}
    for choice in choices:
        match = NUMBERED.match(choice)
        if match and match.group(2):
            numbers[match.group(1)] = (choice, fold(match.group(2)))
    if not numbers:
        return None
    match = NUMBERED.match(text)
    if match:
        digits, words = match.group(1), fold(match.group(2))
        fits = [c for n, (c, label) in numbers.items()  # an account number's own wording is not the heading's
                if digits.startswith(n) and (not words or words == label or len(digits) > len(n))]
        return fits[0] if len(fits) == 1 else None
    fits = [c for c, label in numbers.values() if label == fold(text)]
    return fits[0] if len(fits) == 1 else None


def parse_multi(value: object, choices: Sequence[str]) -> tuple[str, ...]:
    """Several choices (a list, or text separated by commas or semicolons)."""
    items = value if isinstance(value, (list, tuple)) else split_list(str(value))
    result: list[str] = []
    for item in items:
        choice = parse_choice(item, choices)
        if choice not in result:
            result.append(choice)
    return tuple(result)
