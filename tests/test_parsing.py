"""Parsing the values staff type into domain values, and the French messages when they cannot be used."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from automations.domain.parsing import (
    ValueProblem,
    parse_amount,
    parse_bool,
    parse_choice,
    parse_date,
    parse_datetime,
    parse_email,
    parse_emails,
    parse_integer,
    parse_month,
    parse_multi,
    parse_number,
    parse_percent,
    show,
)

PARIS = dt.timezone(dt.timedelta(hours=1))
STATUSES = ("Ouverte", "En montage", "En pause", "Fermée")
NEEDS = ("Fonctionnement", "Investissement", "Équipement de cuisine", "Emploi")


def assert_exact_decimal(result: Decimal, expected: Decimal) -> None:
    """Equal value and type: Decimal("1.5") must not come back as the float 1.5 or the int 15."""
    assert isinstance(result, Decimal)
    assert result == expected


# -- dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(dt.date(2026, 3, 2), dt.date(2026, 3, 2), id="real-date"),
        pytest.param(dt.datetime(2026, 3, 2, 23, 30), dt.date(2026, 3, 2), id="real-datetime-keeps-its-day"),
        pytest.param("2026-03-02", dt.date(2026, 3, 2), id="iso"),
        pytest.param("2026-3-2", dt.date(2026, 3, 2), id="iso-without-zeros"),
        pytest.param("2026-03-02T10:00:00", dt.date(2026, 3, 2), id="iso-with-time"),
        pytest.param("02/03/2026", dt.date(2026, 3, 2), id="jj-mm-aaaa-is-day-first"),
        pytest.param("2/3/2026", dt.date(2026, 3, 2), id="j-m-aaaa"),
        pytest.param("02-03-26", dt.date(2026, 3, 2), id="jj-mm-aa-dashes"),
        pytest.param("02.03.2026", dt.date(2026, 3, 2), id="jj-mm-aaaa-dots"),
        pytest.param("  13/12/2026 ", dt.date(2026, 12, 13), id="surrounding-spaces"),
        pytest.param("29/02/2028", dt.date(2028, 2, 29), id="leap-day"),
    ],
)
def test_parse_date(value: object, expected: dt.date) -> None:
    result = parse_date(value)
    assert result == expected
    assert type(result) is dt.date


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "31/02/2026", "« 31/02/2026 » n'est pas une date valide (attendu : JJ/MM/AAAA)", id="no-31-february"
        ),
        pytest.param(
            "29/02/2026", "« 29/02/2026 » n'est pas une date valide (attendu : JJ/MM/AAAA)", id="not-a-leap-year"
        ),
        pytest.param(
            "2026-13-01", "« 2026-13-01 » n'est pas une date valide (attendu : JJ/MM/AAAA)", id="month-13"
        ),
        pytest.param("demain", "« demain » n'est pas une date valide (attendu : JJ/MM/AAAA)", id="word"),
        pytest.param("02/03", "« 02/03 » n'est pas une date valide (attendu : JJ/MM/AAAA)", id="no-year"),
        pytest.param(
            "01/02/99",
            "« 01/02/99 » : l'année sur deux chiffres est ambiguë (attendu : JJ/MM/AAAA, l'année en entier)",
            id="two-digit-year-1999-or-2099",
        ),
        pytest.param(
            "2027-03-02T99:99", "« 2027-03-02T99:99 » n'est pas une date valide (attendu : JJ/MM/AAAA)",
            id="iso-with-impossible-time",
        ),
        pytest.param(
            "2027-03-02Tn'importe quoi", "« 2027-03-02Tn'importe quoi » n'est pas une date valide (attendu : JJ/MM/AAAA)",
            id="iso-with-text-after",
        ),
        pytest.param(
            "01/01/0001",
            "« 01/01/0001 » est hors des dates possibles (attendu : une date entre 1900 et 2099, JJ/MM/AAAA)",
            id="year-1-is-not-missing",
        ),
        pytest.param(
            dt.date(1, 1, 1),
            "« 01/01/0001 » est hors des dates possibles (attendu : une date entre 1900 et 2099, JJ/MM/AAAA)",
            id="real-date-year-1",
        ),
        pytest.param(
            "9999-12-31",
            "« 9999-12-31 » est hors des dates possibles (attendu : une date entre 1900 et 2099, JJ/MM/AAAA)",
            id="year-9999",
        ),
        pytest.param(-1, "« -1 » n'est pas une date valide (attendu : JJ/MM/AAAA)", id="negative-serial-left-as-number"),
        pytest.param(3000000, "« 3000000 » n'est pas une date valide (attendu : JJ/MM/AAAA)", id="huge-serial"),
    ],
)
def test_parse_date_problem(value: object, message: str) -> None:
    with pytest.raises(ValueProblem) as info:
        parse_date(value)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("03/2026", dt.date(2026, 3, 1), id="mm-aaaa"),
        pytest.param("3/2026", dt.date(2026, 3, 1), id="m-aaaa"),
        pytest.param("mars 2026", dt.date(2026, 3, 1), id="french-name"),
        pytest.param("Février 2026", dt.date(2026, 2, 1), id="french-name-accent-capital"),
        pytest.param("févr. 2026", dt.date(2026, 2, 1), id="french-abbreviation"),
        pytest.param("août 2026", dt.date(2026, 8, 1), id="aout"),
        pytest.param("2026-03", dt.date(2026, 3, 1), id="iso-month"),
        pytest.param("15/03/2026", dt.date(2026, 3, 1), id="mid-month-text"),
        pytest.param(dt.date(2026, 3, 15), dt.date(2026, 3, 1), id="mid-month-date"),
        pytest.param(dt.datetime(2026, 3, 31, 12), dt.date(2026, 3, 1), id="datetime"),
    ],
)
def test_parse_month(value: object, expected: dt.date) -> None:
    assert parse_month(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("13/2026", id="month-13"),
        pytest.param("00/2026", id="month-0"),
        pytest.param("2026-13", id="iso-month-13"),
        pytest.param("brumaire 2026", id="unknown-month-name"),
        pytest.param("31/02/2026", id="invalid-date"),
    ],
)
def test_parse_month_problem(value: str) -> None:
    with pytest.raises(ValueProblem) as info:
        parse_month(value)
    assert str(info.value).startswith(f"« {value} » n'est pas un mois valide (attendu : ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-03-02T07:30:00", dt.datetime(2026, 3, 2, 7, 30, tzinfo=PARIS), id="naive-iso-gets-tz"),
        pytest.param(
            "2026-03-02T07:30:00+00:00",
            dt.datetime(2026, 3, 2, 7, 30, tzinfo=dt.timezone.utc),
            id="aware-iso-keeps-its-tz",
        ),
        pytest.param("02/03/2026 07h30", dt.datetime(2026, 3, 2, 7, 30, tzinfo=PARIS), id="french-07h30"),
        pytest.param(dt.date(2026, 3, 2), dt.datetime(2026, 3, 2, 0, 0, tzinfo=PARIS), id="date-is-midnight"),
    ],
)
def test_parse_datetime(value: object, expected: dt.datetime) -> None:
    result = parse_datetime(value, PARIS)
    assert result == expected
    assert result.tzinfo is not None
    assert result.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("32/01/2026 10:00", "n'est pas une date et heure valide", id="day-32"),
        pytest.param("2027-03-02T99:99", "n'est pas une date et heure valide", id="hour-99"),
        pytest.param("9999-12-31T10:00", "est hors des dates possibles", id="year-9999"),
        pytest.param(dt.datetime(1, 1, 1, 10), "est hors des dates possibles", id="real-datetime-year-1"),
    ],
)
def test_parse_datetime_problem(value: object, message: str) -> None:
    with pytest.raises(ValueProblem, match=message):
        parse_datetime(value, PARIS)


# -- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("12 500 €", Decimal("12500"), id="space-thousands-euro-sign"),
        pytest.param("12\u202f500 €", Decimal("12500"), id="narrow-nbsp-thousands"),
        pytest.param("12\u00a0500\u00a0€", Decimal("12500"), id="nbsp-thousands"),
        pytest.param("12 500 EUR", Decimal("12500"), id="eur-code"),
        pytest.param("12 500 euros", Decimal("12500"), id="euros-word"),
        pytest.param("1,5", Decimal("1.5"), id="decimal-comma-not-15"),
        pytest.param("1 500,50", Decimal("1500.50"), id="french-thousands-and-cents"),
        pytest.param("1.500,50", Decimal("1500.50"), id="dot-thousands-comma-cents"),
        pytest.param("1,500.50", Decimal("1500.50"), id="english-format"),
        pytest.param("12.500", Decimal("12500"), id="dot-as-thousands"),
        pytest.param("1.500.000", Decimal("1500000"), id="several-dot-thousands"),
        pytest.param("12500.5", Decimal("12500.5"), id="dot-decimal"),
        pytest.param("12.50", Decimal("12.50"), id="two-decimals-are-cents"),
        pytest.param("+100", Decimal("100"), id="plus-sign"),
        pytest.param(12500, Decimal("12500"), id="int"),
        pytest.param(12500.5, Decimal("12500.5"), id="float"),
        pytest.param(Decimal("0"), Decimal("0"), id="zero"),
    ],
)
def test_parse_amount(value: object, expected: Decimal) -> None:
    assert_exact_decimal(parse_amount(value), expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(-5, "« -5 » est un montant négatif (attendu : un montant positif)", id="negative-number"),
        pytest.param(
            "-1 500 €", "« -1 500 € » est un montant négatif (attendu : un montant positif)", id="negative-text"
        ),
        pytest.param(
            "abc",
            "« abc » n'est pas un montant valide (attendu : un nombre d'euros, par exemple 12 500 €)",
            id="letters",
        ),
        pytest.param(
            "1,2,3",
            "« 1,2,3 » n'est pas un montant valide (attendu : un nombre d'euros, par exemple 12 500 €)",
            id="several-commas",
        ),
        pytest.param(
            "1.50.0",
            "« 1.50.0 » n'est pas un montant valide (attendu : un nombre d'euros, par exemple 12 500 €)",
            id="dots-not-in-thousands",
        ),
        pytest.param(
            True,
            "« True » n'est pas un montant valide (attendu : un nombre d'euros, par exemple 12 500 €)",
            id="checkbox",
        ),
        pytest.param(
            "12€50",
            "« 12€50 » n'est pas un montant valide (attendu : un nombre d'euros, par exemple 12 500 €)",
            id="euro-sign-between-digits-is-not-1250",
        ),
        pytest.param(
            1e300, "« 1e+300 » est trop grand (attendu : un nombre de moins de 13 chiffres, par exemple 12 500)",
            id="huge-float",
        ),
        pytest.param(
            "1" * 100_000, f"« {'1' * 119}… » est trop grand (attendu : un nombre de moins de 13 chiffres, "
            "par exemple 12 500)", id="100k-digits-quoted-by-their-beginning",
        ),
        pytest.param(
            float("nan"), "« nan » n'est pas un nombre (attendu : par exemple 12 ou 1,5)", id="nan",
        ),
        pytest.param(
            float("inf"), "« inf » n'est pas un nombre (attendu : par exemple 12 ou 1,5)", id="infinity",
        ),
    ],
)
def test_parse_amount_problem(value: object, message: str) -> None:
    with pytest.raises(ValueProblem) as info:
        parse_amount(value)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("1,5", Decimal("1.5"), id="decimal-comma"),
        pytest.param("1 500", Decimal("1500"), id="space-thousands"),
        pytest.param("-2,5", Decimal("-2.5"), id="negative-allowed"),
        pytest.param("12.5", Decimal("12.5"), id="dot-decimal"),
        pytest.param(1.1, Decimal("1.1"), id="float-by-its-repr"),
        pytest.param(3, Decimal("3"), id="int"),
    ],
)
def test_parse_number(value: object, expected: Decimal) -> None:
    assert_exact_decimal(parse_number(value), expected)


@pytest.mark.parametrize(
    "value",
    [pytest.param("abc", id="letters"), pytest.param(True, id="bool"), pytest.param("1,5,0", id="two-commas")],
)
def test_parse_number_problem(value: object) -> None:
    with pytest.raises(ValueProblem, match=r"n'est pas un nombre"):
        parse_number(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(12.0, 12, id="whole-float"),
        pytest.param("12", 12, id="text"),
        pytest.param("1 200", 1200, id="space-thousands"),
        pytest.param("12,0", 12, id="comma-zero"),
        pytest.param(Decimal("3.00"), 3, id="decimal"),
        pytest.param(0, 0, id="zero"),
    ],
)
def test_parse_integer(value: object, expected: int) -> None:
    result = parse_integer(value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("12,5", "« 12,5 » n'est pas un nombre entier", id="fraction"),
        pytest.param(
            -1, "« -1 » est négatif (attendu : un nombre positif ou zéro)", id="negative"
        ),
        pytest.param("abc", "« abc » n'est pas un nombre (attendu : par exemple 12 ou 1,5)", id="letters"),
    ],
)
def test_parse_integer_problem(value: object, message: str) -> None:
    with pytest.raises(ValueProblem) as info:
        parse_integer(value)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(0.45, Decimal("0.45"), id="fraction"),
        pytest.param(45, Decimal("0.45"), id="above-one-is-percent"),
        pytest.param("45 %", Decimal("0.45"), id="percent-sign"),
        pytest.param("45%", Decimal("0.45"), id="percent-sign-no-space"),
        pytest.param("0,45", Decimal("0.45"), id="french-fraction"),
        pytest.param("12,5 %", Decimal("0.125"), id="french-decimal-percent"),
        pytest.param("100 %", Decimal("1"), id="hundred-percent"),
        pytest.param(0, Decimal("0"), id="zero"),
    ],
)
def test_parse_percent(value: object, expected: Decimal) -> None:
    assert_exact_decimal(parse_percent(value), expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(150, "« 150 » n'est pas un pourcentage entre 0 et 100 %", id="over-100"),
        pytest.param("150 %", "« 150 % » n'est pas un pourcentage entre 0 et 100 %", id="over-100-sign"),
        pytest.param(-0.1, "« -0.1 » n'est pas un pourcentage entre 0 et 100 %", id="negative"),
        pytest.param("abc", "« abc » n'est pas un pourcentage (attendu : par exemple 45 %)", id="letters"),
    ],
)
def test_parse_percent_problem(value: object, message: str) -> None:
    with pytest.raises(ValueProblem) as info:
        parse_percent(value)
    assert str(info.value) == message


# -- checkboxes, emails, choices -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("oui", True, id="oui"),
        pytest.param("Oui", True, id="Oui"),
        pytest.param("non", False, id="non"),
        pytest.param("NON", False, id="NON"),
        pytest.param("x", True, id="x"),
        pytest.param("X", True, id="X-capital"),
        pytest.param("vrai", True, id="vrai"),
        pytest.param("faux", False, id="faux"),
        pytest.param("1", True, id="one"),
        pytest.param("0", False, id="zero"),
        pytest.param(True, True, id="True"),
        pytest.param(False, False, id="False"),
        pytest.param(None, False, id="None-unchecked"),
        pytest.param("", False, id="empty-unchecked"),
        pytest.param(" oui ", True, id="spaces"),
    ],
)
def test_parse_bool(value: object, expected: bool) -> None:
    assert parse_bool(value) is expected


@pytest.mark.parametrize("value", [pytest.param("peut-être", id="peut-etre"), pytest.param("2", id="two")])
def test_parse_bool_problem(value: str) -> None:
    with pytest.raises(ValueProblem) as info:
        parse_bool(value)
    assert str(info.value) == f"« {value} » n'est pas une case à cocher (attendu : oui ou non)"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("jeanne@exemple.fr", "jeanne@exemple.fr", id="plain"),
        pytest.param("Jeanne Martin <jeanne@exemple.fr>", "jeanne@exemple.fr", id="display-name"),
        pytest.param("  jeanne@exemple.fr ", "jeanne@exemple.fr", id="spaces"),
        pytest.param("jeanne@EXEMPLE.FR", "jeanne@exemple.fr", id="domain-lowercased"),
    ],
)
def test_parse_email(value: str, expected: str) -> None:
    assert parse_email(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("marie.dupont@", id="no-domain"),
        pytest.param("marie.dupont", id="no-at"),
        pytest.param("marie dupont@exemple.fr", id="space-in-local-part"),
    ],
)
def test_parse_email_problem(value: str) -> None:
    with pytest.raises(ValueProblem) as info:
        parse_email(value)
    assert str(info.value) == f"« {value} » n'est pas une adresse email valide (attendu : prenom.nom@exemple.fr)"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("a@exemple.fr, b@exemple.fr", ("a@exemple.fr", "b@exemple.fr"), id="comma"),
        pytest.param("a@exemple.fr;b@exemple.fr", ("a@exemple.fr", "b@exemple.fr"), id="semicolon"),
        pytest.param("a@exemple.fr\nb@exemple.fr", ("a@exemple.fr", "b@exemple.fr"), id="newline"),
        pytest.param(
            "a@exemple.fr ; Bruno <b@exemple.fr>,\nc@exemple.fr",
            ("a@exemple.fr", "b@exemple.fr", "c@exemple.fr"),
            id="mixed-with-display-name",
        ),
        pytest.param(["a@exemple.fr", "b@exemple.fr"], ("a@exemple.fr", "b@exemple.fr"), id="list"),
        pytest.param("a@exemple.fr", ("a@exemple.fr",), id="one"),
        pytest.param('"Martin, Jeanne" <jeanne@exemple.fr>', ("jeanne@exemple.fr",), id="outlook-quoted-comma"),
        pytest.param(
            '"Martin, Jeanne" <jeanne@exemple.fr>, "Dupont; Jean" <jean@exemple.fr>\nc@exemple.fr',
            ("jeanne@exemple.fr", "jean@exemple.fr", "c@exemple.fr"),
            id="outlook-list",
        ),
        pytest.param("a@exemple.fr, A@EXEMPLE.FR", ("a@exemple.fr", "A@exemple.fr"), id="local-part-case-kept"),
    ],
)
def test_parse_emails(value: object, expected: tuple[str, ...]) -> None:
    assert parse_emails(value) == expected


def test_an_unquoted_name_with_a_comma_is_refused_with_the_way_to_write_it() -> None:
    with pytest.raises(ValueProblem) as info:
        parse_emails("Dupont, Jean <jean@exemple.fr>")
    assert str(info.value).startswith("« Dupont » n'est pas une adresse email valide (un nom qui contient une virgule")


def test_parse_emails_names_the_bad_address() -> None:
    with pytest.raises(ValueProblem) as info:
        parse_emails("a@exemple.fr, marie.dupont@")
    assert str(info.value).startswith("« marie.dupont@ » n'est pas une adresse email valide")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("Ouverte", "Ouverte", id="exact"),
        pytest.param("en montage", "En montage", id="case"),
        pytest.param("EN   MONTAGE", "En montage", id="case-and-spaces"),
        pytest.param("fermee", "Fermée", id="accent"),
        pytest.param(" En pause ", "En pause", id="surrounding-spaces"),
    ],
)
def test_parse_choice(value: str, expected: str) -> None:
    assert parse_choice(value, STATUSES) == expected


def test_parse_choice_unknown_lists_the_choices() -> None:
    with pytest.raises(ValueProblem) as info:
        parse_choice("Fermé définitivement", STATUSES)
    assert str(info.value) == (
        "« Fermé définitivement » n'est pas une valeur possible (attendu : Ouverte, En montage, En pause, Fermée)"
    )


def test_parse_choice_without_choices_accepts_any_text() -> None:
    assert parse_choice("  Lyon   8e ", ()) == "Lyon 8e"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("Emploi, Investissement", ("Emploi", "Investissement"), id="comma-text"),
        pytest.param("Emploi; investissement", ("Emploi", "Investissement"), id="semicolon-and-case"),
        pytest.param("Emploi\nFonctionnement", ("Emploi", "Fonctionnement"), id="newline"),
        pytest.param("Emploi, emploi, EMPLOI", ("Emploi",), id="dedupe-case-insensitive"),
        pytest.param(["Emploi", "Emploi", "investissement"], ("Emploi", "Investissement"), id="list-dedupe"),
        pytest.param(["equipement de cuisine"], ("Équipement de cuisine",), id="list-accent"),
        pytest.param("", (), id="empty"),
    ],
)
def test_parse_multi(value: object, expected: tuple[str, ...]) -> None:
    assert parse_multi(value, NEEDS) == expected


def test_parse_multi_unknown_item() -> None:
    with pytest.raises(ValueProblem) as info:
        parse_multi("Emploi, Loyer", NEEDS)
    assert str(info.value).startswith("« Loyer » n'est pas une valeur possible (attendu : Fonctionnement, ")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(dt.date(2026, 2, 28), "« 28/02/2026 »", id="date-in-french-order"),
        pytest.param(["A", "B"], "« A, B »", id="list"),
        pytest.param("x", "« x »", id="text"),
    ],
)
def test_show(value: object, expected: str) -> None:
    assert show(value) == expected
