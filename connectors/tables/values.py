"""Normalise cell values crossing the table interface, whatever the backend stored.

Backends hand raw cells to `normalise`; what can be converted without guessing is (a date cell to
`datetime.date`, a float to `Decimal`, "A, B" in a multiple-choice column to ["A", "B"]); anything else
(a date typed as text, "12 500 €") is passed on as text for the domain layer to parse and, if it must,
report as a data problem with a message staff can act on.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

from connectors.tables.base import NUMBER_TYPES, ColumnSpec, Value

SERIAL_EPOCH = dt.date(1899, 12, 30)  # day 0 of spreadsheet serial dates (Excel, Google Sheets)
# Serials that are dates: 1 (31/12/1899) to 31/12/9999, as in Excel. Any other number in a date
# column (-1, 3000000) is passed on as it is, for the domain to report.
SERIAL_MAX = (dt.date(9999, 12, 31) - SERIAL_EPOCH).days
LIST_SEPARATORS = re.compile(r"\s*[,;\n]\s*")
LIST_JOINER = ", "


def from_serial(serial: float) -> dt.datetime:
    """A spreadsheet serial number (days since 1899-12-30, fraction = time of day) as a naive datetime."""
    return dt.datetime.combine(SERIAL_EPOCH, dt.time()) + dt.timedelta(days=float(serial))


def is_serial_date(number: object) -> bool:
    """Whether a number read from a date column is a spreadsheet date (not NaN, 0, negative or huge)."""
    return isinstance(number, (int, float)) and not isinstance(number, bool) and 1 <= number < SERIAL_MAX + 1


def to_serial(value: dt.date | dt.datetime) -> float:
    """The spreadsheet serial number of a date or a naive datetime."""
    if isinstance(value, dt.datetime):
        delta = value - dt.datetime.combine(SERIAL_EPOCH, dt.time())
        return delta.days + delta.seconds / 86400
    return float((value - SERIAL_EPOCH).days)


def split_list(text: str) -> list[str]:
    """Split "A, B; C" (or one value per line) into ["A", "B", "C"]."""
    return [part for part in LIST_SEPARATORS.split(text.strip()) if part]


def to_decimal(number: int | float | Decimal) -> int | Decimal:
    """An int stays an int; a float becomes the Decimal of its shortest repr (0.1 → Decimal('0.1'))."""
    if isinstance(number, bool):
        return int(number)
    if isinstance(number, int):
        return number
    if isinstance(number, Decimal):
        return number
    return Decimal(repr(number))


def normalise(column: ColumnSpec, raw: Value, tz: ZoneInfo) -> Value:
    """The value of one cell as the interface promises it, or the raw text when it cannot be sure."""
    if raw is None:
        if column.type == "checkbox":
            return False  # an empty checkbox is an unticked one, in every backend
        return [] if column.is_list else None
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            return [] if column.is_list else (False if column.type == "checkbox" else None)
    kind = column.type
    if column.is_list:
        if isinstance(raw, (list, tuple)):
            return [str(v).strip() for v in raw if str(v).strip()]
        return split_list(str(raw))
    if kind == "link":  # a single link
        if isinstance(raw, (list, tuple)):
            items = [str(v).strip() for v in raw if str(v).strip()]
            return items[0] if len(items) == 1 else (items or None)
        return str(raw).strip()
    if kind == "date":
        if isinstance(raw, dt.datetime):
            try:
                return raw.astimezone(tz).date() if raw.tzinfo else raw.date()
            except OverflowError:  # an aware moment at the very end of year 9999
                return raw.date()
        if isinstance(raw, dt.date):
            return raw
        if is_serial_date(raw):
            return from_serial(raw).date()  # type: ignore[arg-type]
        return raw
    if kind == "datetime":
        if isinstance(raw, dt.datetime):
            return raw if raw.tzinfo else raw.replace(tzinfo=tz)
        if isinstance(raw, dt.date):
            return dt.datetime.combine(raw, dt.time(), tzinfo=tz)
        if is_serial_date(raw):
            return from_serial(raw).replace(tzinfo=tz)  # type: ignore[arg-type]
        return raw
    if kind in NUMBER_TYPES:
        if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
            number = to_decimal(raw)
            if (kind == "integer" and isinstance(number, Decimal) and number.is_finite()
                    and number.adjusted() < 18 and number == number.to_integral_value()):
                return int(number)
            return number
        return raw
    if kind == "checkbox":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, (int, float)):
            return bool(raw)
        return raw
    # text-like columns: a number typed in a text column (a postcode) comes back as its digits
    if isinstance(raw, bool):
        return "Oui" if raw else "Non"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, (int, float, Decimal)):
        return str(raw)
    if isinstance(raw, dt.datetime):
        return raw.isoformat()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    return raw
