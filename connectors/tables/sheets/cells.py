"""Cells and A1 ranges for the Google Sheets backend: what a value becomes in a cell, and the ranges
and cell data of the requests that write cells, add rows and delete them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from connectors.tables.base import ColumnSpec, Value
from connectors.tables.values import LIST_JOINER, to_serial

def cell_value(column: ColumnSpec, value: Value, tz: ZoneInfo) -> Value:
    """What to store in a cell for a value crossing the interface (None: an empty cell).

    Dates go to date columns as serial numbers (and elsewhere as JJ/MM/AAAA text); lists are joined."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return LIST_JOINER.join(str(v) for v in value) or None
    if isinstance(value, bool):
        return value
    dated = column.type in ("date", "datetime")
    if isinstance(value, dt.datetime):
        local = (value.astimezone(tz).replace(tzinfo=None) if value.tzinfo else value).replace(microsecond=0)
        if column.type == "date":
            return int(to_serial(local.date()))
        return to_serial(local) if dated else local.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return int(to_serial(value)) if dated else value.strftime("%d/%m/%Y")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def value_ranges(cells: Mapping[tuple[str, int, int], Value]) -> list[dict[str, Any]]:
    """The ValueRanges of a values:batchUpdate for cells by (tab title, row, column): one per run of
    adjacent cells in a row. An empty cell is sent as "" (Google skips null)."""
    data = []
    keys = sorted(cells)
    start = 0
    while start < len(keys):
        title, row, first = keys[start]
        end = start + 1
        while end < len(keys) and keys[end] == (title, row, first + end - start):
            end += 1
        last = first + end - start - 1
        span = f"{column_letters(first)}{row}" + (f":{column_letters(last)}{row}" if last > first else "")
        values = ["" if cells[k] is None else cells[k] for k in keys[start:end]]
        data.append({"range": f"{quote_title(title)}!{span}", "majorDimension": "ROWS", "values": [values]})
        start = end
    return data


def quote_title(title: str) -> str:
    """A tab title as A1 notation wants it: 'Échéances', 'L''été'."""
    return "'" + title.replace("'", "''") + "'"


def column_letters(number: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell_data(value: Value) -> dict[str, Any]:
    """A cell's CellData for updateCells: text as stringValue, which Google stores as it is and never
    parses (as RAW input does); None or "" an empty cell."""
    if value is None or value == "":
        return {}
    if isinstance(value, bool):
        return {"userEnteredValue": {"boolValue": value}}
    if isinstance(value, (int, float)):
        return {"userEnteredValue": {"numberValue": value}}
    return {"userEnteredValue": {"stringValue": str(value)}}


def row_data(row: Sequence[Value]) -> dict[str, Any]:
    """A RowData for updateCells, from column A; trailing empty cells left out."""
    end = len(row)
    while end and row[end - 1] in (None, ""):
        end -= 1
    return {"values": [cell_data(v) for v in row[:end]]}


def runs(numbers: Sequence[int]) -> Iterator[tuple[int, int]]:
    """(first, last) of each run of consecutive numbers, from numbers sorted in decreasing order."""
    index = 0
    while index < len(numbers):
        last = first = numbers[index]
        index += 1
        while index < len(numbers) and numbers[index] == first - 1:
            first = numbers[index]
            index += 1
        yield first, last
