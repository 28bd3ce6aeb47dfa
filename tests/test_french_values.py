"""Values typed the French way in text columns (Sheets, Airtable): dates written out, amounts in k€/M€;
what could be read two ways is still refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from automations.domain.parsing import ValueProblem, parse_amount, parse_date, parse_month


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("15 mars 2026", dt.date(2026, 3, 15), id="day-month-year"),
        pytest.param("1er avril 2026", dt.date(2026, 4, 1), id="premier"),
        pytest.param("lundi 2 mars 2026", dt.date(2026, 3, 2), id="with-weekday"),
        pytest.param("Lundi 2 Mars 2026", dt.date(2026, 3, 2), id="capitals"),
        pytest.param("2 févr. 2026", dt.date(2026, 2, 2), id="abbreviated-month"),
        pytest.param("2 fev 2026", dt.date(2026, 2, 2), id="abbreviated-without-accent-or-dot"),
        pytest.param("15 août 2026", dt.date(2026, 8, 15), id="aout"),
        pytest.param("  3 déc. 2026 ", dt.date(2026, 12, 3), id="spaces"),
    ],
)
def test_written_dates_are_read(value: str, expected: dt.date) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("mardi 2 mars 2026", id="weekday-contradicts-the-date"),
        pytest.param("3er mars 2026", id="er-on-another-day"),
        pytest.param("31 févr. 2026", id="no-such-day"),
        pytest.param("15 mars 26", id="two-digit-year"),
        pytest.param("15 marsss 2026", id="unknown-month"),
        pytest.param("mars 2026", id="no-day"),
        pytest.param("demain 2 mars 2026", id="not-a-weekday"),
    ],
)
def test_ambiguous_written_dates_are_refused(value: str) -> None:
    with pytest.raises(ValueProblem) as info:
        parse_date(value)
    assert f"« {value.strip()} »" in str(info.value)


def test_a_contradicting_weekday_says_which_day_it_is() -> None:
    with pytest.raises(ValueProblem, match="le 2 n'est pas un mardi mais un lundi"):
        parse_date("mardi 2 mars 2026")


def test_a_written_first_of_the_month_is_a_month() -> None:
    assert parse_month("1er avril 2026") == dt.date(2026, 4, 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("15 k€", Decimal(15_000), id="k-euro"),
        pytest.param("15k€", Decimal(15_000), id="k-euro-no-space"),
        pytest.param("15 K", Decimal(15_000), id="capital-k-no-euro"),
        pytest.param("0,5 k€", Decimal(500), id="half-k"),
        pytest.param("1,2 M€", Decimal(1_200_000), id="m-euro"),
        pytest.param("1,2 M", Decimal(1_200_000), id="m-no-euro"),
        pytest.param("2 M EUR", Decimal(2_000_000), id="m-eur"),
        pytest.param("1,25 k€", Decimal(1250), id="decimals"),
        pytest.param("12 500 €", Decimal(12_500), id="plain-amount-still-read"),
    ],
)
def test_amounts_in_thousands_and_millions_are_read(value: str, expected: Decimal) -> None:
    amount = parse_amount(value)
    assert amount == expected and str(amount) == str(expected)  # "15000", never "1.5E+4"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("1.500 k€", id="dot-thousands-or-decimals"),
        pytest.param("15 m€", id="lower-case-m"),
        pytest.param("1,2,3 M€", id="two-commas"),
        pytest.param("k€", id="no-number"),
    ],
)
def test_ambiguous_multiplied_amounts_are_refused(value: str) -> None:
    with pytest.raises(ValueProblem, match="n'est pas un montant valide"):
        parse_amount(value)
