"""What `ensure_schema` sends to a spreadsheet, planned without I/O: new tabs, new header columns (after
the last header cell), their formats. Nothing is ever deleted or renamed.

New date, amount and percent columns get a number format over the whole column, so the serial numbers
and plain numbers the backend writes (valueInputOption=RAW) show as dates, euros and percentages; choice
columns get a drop-down that warns (does not refuse) on other values; header cells are coloured like the
workbook's (grey for the columns the worker writes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.tables.base import ColumnSpec, SchemaChanges, TableSpec

NEW_TAB_ROWS = 1000
NEW_TAB_COLUMNS = 26
NUMBER_FORMATS = {
    "date": {"type": "DATE", "pattern": "dd/mm/yyyy"},
    "datetime": {"type": "DATE_TIME", "pattern": "dd/mm/yyyy hh:mm"},
    "amount": {"type": "CURRENCY", "pattern": '#,##0.00 "€"'},
    "percent": {"type": "PERCENT", "pattern": "0%"},
}
HEADER_COLOUR = {"red": 0x2F / 255, "green": 0x5D / 255, "blue": 0x50 / 255}  # the workbook's 2F5D50
WORKER_HEADER_COLOUR = {"red": 0x6B / 255, "green": 0x7B / 255, "blue": 0x8C / 255}
WHITE = {"red": 1.0, "green": 1.0, "blue": 1.0}


def header_key(name: object) -> str:
    """Header cells match column names whatever the case and surrounding spaces (as in the workbook)."""
    return " ".join(str(name).split()).casefold() if name is not None else ""


@dataclass
class SchemaPlan:
    """One `spreadsheets:batchUpdate` (structure first, then formats) and the header cells to write."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[tuple[str, int, str]] = field(default_factory=list)  # (tab title, column 1-based, name)
    changes: dict[str, SchemaChanges] = field(default_factory=dict)  # by table code
    new_tabs: dict[str, str] = field(default_factory=dict)  # table name -> title of the tab to create


def plan_schema(
    specs: Iterable[TableSpec],
    sheets: Sequence[Mapping[str, Any]],
    headers: Mapping[str, Sequence[Any]],
    resolve: Callable[[str], str | None],
) -> SchemaPlan:
    """What to send so that every table of `specs` has its tab and every column its header cell.

    `sheets`: the spreadsheet's sheet properties (sheetId, title, gridProperties); `headers`: the first
    row of each existing tab, by title; `resolve(name)`: the title of the tab standing for a table."""
    plan = SchemaPlan()
    structure: list[dict[str, Any]] = []
    formats: list[dict[str, Any]] = []
    by_title = {props["title"]: props for props in sheets}
    next_id = max((int(props.get("sheetId", 0)) for props in sheets), default=0) + 1
    for spec in specs:
        changes = plan.changes.setdefault(spec.code, SchemaChanges())
        title = resolve(spec.name) or plan.new_tabs.get(spec.name)
        if title is None:
            title = plan.new_tabs[spec.name] = spec.name
            sheet_id, next_id = next_id, next_id + 1
            structure.append({"addSheet": {"properties": {
                "sheetId": sheet_id, "title": title,
                "gridProperties": {"rowCount": NEW_TAB_ROWS, "columnCount": max(NEW_TAB_COLUMNS, len(spec.columns)),
                                   "frozenRowCount": 1},
            }}})
            by_title[title] = {"sheetId": sheet_id, "title": title,
                               "gridProperties": {"columnCount": max(NEW_TAB_COLUMNS, len(spec.columns))}}
            changes.created_table = True
            new_columns = list(enumerate(spec.columns, start=1))
        else:
            props = by_title[title]
            sheet_id = int(props.get("sheetId", 0))
            header = list(headers.get(title, ()))
            present = {header_key(v) for v in header if header_key(v)}
            last = max((i for i, v in enumerate(header, start=1) if header_key(v)), default=0)
            missing = [c for c in spec.columns if header_key(c.name) not in present]
            new_columns = [(last + i, c) for i, c in enumerate(missing, start=1)]
            columns = int((props.get("gridProperties") or {}).get("columnCount", NEW_TAB_COLUMNS))
            if new_columns and new_columns[-1][0] > columns:
                structure.append({"appendDimension": {"sheetId": sheet_id, "dimension": "COLUMNS",
                                                      "length": new_columns[-1][0] - columns}})
                props.setdefault("gridProperties", {})["columnCount"] = new_columns[-1][0]
        for index, column in new_columns:
            plan.headers.append((title, index, column.name))
            changes.added_columns.append(column.name)
            formats.extend(column_formats(sheet_id, index - 1, column))
    plan.requests = structure + formats
    return plan


def column_formats(sheet_id: int, col: int, column: ColumnSpec) -> list[dict[str, Any]]:
    """Formatting requests for a new column (0-based `col`): its header cell, its number format, choices."""
    header_range = {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 1,
                    "startColumnIndex": col, "endColumnIndex": col + 1}
    body_range = {"sheetId": sheet_id, "startRowIndex": 1, "startColumnIndex": col, "endColumnIndex": col + 1}
    colour = WORKER_HEADER_COLOUR if column.owner == "worker" else HEADER_COLOUR
    requests: list[dict[str, Any]] = [{"repeatCell": {
        "range": header_range,
        "cell": {"userEnteredFormat": {"backgroundColor": colour,
                                       "textFormat": {"bold": True, "foregroundColor": WHITE}}},
        "fields": "userEnteredFormat(backgroundColor,textFormat)",
    }}]
    number_format = NUMBER_FORMATS.get(column.type)
    if number_format:
        requests.append({"repeatCell": {
            "range": body_range,
            "cell": {"userEnteredFormat": {"numberFormat": dict(number_format)}},
            "fields": "userEnteredFormat.numberFormat",
        }})
    if column.type == "choice" and column.choices:
        requests.append({"setDataValidation": {
            "range": body_range,
            "rule": {"condition": {"type": "ONE_OF_LIST",
                                   "values": [{"userEnteredValue": choice} for choice in column.choices]},
                     "strict": False, "showCustomUi": True,
                     "inputMessage": f"Valeurs attendues : {', '.join(column.choices)}"},
        }})
    return requests
