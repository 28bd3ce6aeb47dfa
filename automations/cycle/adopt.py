"""`cantines adopt`, the reading part: survey an existing base (Airtable through its Meta API, a Google
spreadsheet's header rows and data validation, a workbook's header rows and data validations) without
writing anything to it, then propose the mapping (`automations.domain.adopt`) and write the file."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import range_boundaries

from connectors.errors import CantinesError, ConfigurationError
from connectors.tables.airtable.client import AirtableBase
from connectors.tables.sheets.auth import account_email
from connectors.tables.sheets.cells import quote_title
from connectors.tables.sheets.client import SENDING_ERRORS
from connectors.tables.sheets.errors import translate as sheets_error

from automations.cycle.backends import airtable_base, sheets_http
from automations.domain.adopt import FoundColumn, FoundTable, Proposal, Survey, propose
from automations.domain.adopt_file import render_toml, summary
from automations.settings import Settings

SAMPLE_ROWS = 200  # cells read per column to check types and find choices: the first rows of each table
AIRTABLE_SAMPLE = 100  # one page of records per table
VALIDATION_FIELDS = "sheets(properties(sheetId,title),data(startRow,startColumn,rowData(values(dataValidation))))"


@dataclass
class Adopted:
    proposal: Proposal
    text: str
    lines: list[str]


def adopt(settings: Settings, out: Path, *, force: bool = False, backend: str | None = None,
          generated: str = "") -> Adopted:
    """Survey the base the settings name, propose the mapping and write it to `out` (refused if `out`
    exists, unless `force`). Nothing is written to the base."""
    if out.exists() and not force:
        raise ConfigurationError(f"{out} existe déjà : relisez-le, ou relancez avec --force pour le remplacer")
    survey = survey_base(settings, backend or settings.tables.backend)
    if not any(t.columns for t in survey.tables):
        raise CantinesError(f"{survey.where} ne contient aucune table avec des colonnes : rien à faire correspondre"
                            + (f" ({'; '.join(f'« {t.name} » : {p}' for t in survey.tables for p in t.problems)})" if survey.tables else ""))
    proposal = propose(settings.base.shipped, survey)  # the shipped names, even once a mapping is declared
    text = render_toml(proposal, generated=generated)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return Adopted(proposal, text, summary(proposal))


def survey_base(settings: Settings, backend: str) -> Survey:
    if backend == "airtable":
        return survey_airtable(airtable_base(settings))
    if backend == "sheets":
        if not settings.sheets.spreadsheet:
            raise ConfigurationError("[sheets] spreadsheet: the key of the spreadsheet to adopt is not set")
        return survey_sheets(settings.sheets.spreadsheet, sheets_http(settings))
    return survey_workbook(settings.workbook.path)


# -- Airtable -----------------------------------------------------------------------------------

def survey_airtable(base: AirtableBase) -> Survey:
    """Tables, fields, field types, select options and links from the Meta API; the first records of each
    table for their cells. Reads only."""
    try:
        meta = base.call(lambda: base.api.request("GET", base.api.base(base.base_id).urls.tables))
        tables = meta.get("tables", [])
        names_by_id = {t["id"]: t["name"] for t in tables}
        found = []
        for table in tables:
            remote = base.api.table(base.base_id, table["id"])
            records = base.call(lambda: remote.all(page_size=AIRTABLE_SAMPLE, max_records=AIRTABLE_SAMPLE))
            found.append(_airtable_table(table, records, names_by_id))
    finally:
        base.close()
    return Survey(f"la base Airtable {base.base_id}", tuple(found))


def _airtable_table(table: Mapping[str, Any], records: Sequence[Mapping[str, Any]],
                    names_by_id: Mapping[str, str]) -> FoundTable:
    columns = []
    for spec in table.get("fields", []):
        options = spec.get("options") or {}
        choices = tuple(c.get("name", "") for c in options.get("choices", []) if c.get("name"))
        link = names_by_id.get(options.get("linkedTableId", "")) if spec.get("type") == "multipleRecordLinks" else None
        values = tuple(r.get("fields", {}).get(spec["name"]) for r in records if r.get("fields", {}).get(spec["name"]) not in (None, "", []))
        columns.append(FoundColumn(spec["name"], spec.get("type", ""), choices, link, values))
    return FoundTable(table["name"], tuple(columns), len(records))


# -- Google Sheets ------------------------------------------------------------------------------

def survey_sheets(key: str, http: Any) -> Survey:
    """Every tab's header row and first rows (one values:batchGet) and the data validation rules of its
    first data row (one spreadsheets.get with the `fields` that ask for them). Reads only."""
    where = f"le classeur Google {key}"
    account = account_email(getattr(http, "auth", None))
    try:
        meta = http.fetch_sheet_metadata(key, params={"fields": "properties.title,sheets.properties"})
        sheets = [s["properties"] for s in meta.get("sheets", [])]
        titles = [props["title"] for props in sheets]
        if not titles:
            return Survey(where, ())
        # whole tabs, as the backend reads them (a range beyond a tab's grid would be refused)
        values = http.values_batch_get(key, [quote_title(t) for t in titles],
                                       params={"valueRenderOption": "UNFORMATTED_VALUE",
                                               "dateTimeRenderOption": "SERIAL_NUMBER"})
        first_rows = [f"{quote_title(p['title'])}!2:2" for p in sheets
                      if int((p.get("gridProperties") or {}).get("rowCount", 1000)) >= 2]
        rules = http.fetch_sheet_metadata(key, params={"fields": VALIDATION_FIELDS, "ranges": first_rows}) \
            if first_rows else {}
    except SENDING_ERRORS as exc:
        raise sheets_error(exc, where=where, account=account) from exc
    validation: dict[str, dict[int, tuple[str, ...]]] = {}
    for sheet in rules.get("sheets", []):
        title = sheet["properties"]["title"]
        for data in sheet.get("data", []):
            for row in data.get("rowData", [])[:1]:
                for offset, cell in enumerate(row.get("values", [])):
                    choices = _listed(cell.get("dataValidation"))
                    if choices:
                        validation.setdefault(title, {})[data.get("startColumn", 0) + offset] = choices
    grids = [(r.get("values") or [])[:SAMPLE_ROWS + 1] for r in values.get("valueRanges", [])]
    found = [_grid_table(title, grid, validation.get(title, {})) for title, grid in zip(titles, grids)]
    return Survey(where, tuple(found))


def _listed(rule: Mapping[str, Any] | None) -> tuple[str, ...]:
    condition = (rule or {}).get("condition") or {}
    if condition.get("type") != "ONE_OF_LIST":
        return ()
    return tuple(str(v.get("userEnteredValue", "")) for v in condition.get("values", []) if v.get("userEnteredValue"))


# -- workbook -----------------------------------------------------------------------------------

def survey_workbook(path: Path) -> Survey:
    """Every sheet's header row, first rows and list data validations; the file is only read."""
    where = f"le classeur {path.name}"
    if not path.exists():
        raise ConfigurationError(f"[workbook] path: {path} does not exist (the workbook to adopt)")
    try:
        book = load_workbook(path, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
        raise CantinesError(f"{where} est illisible ({exc.__class__.__name__} : {exc})") from exc
    found = []
    try:
        for sheet in book.worksheets:
            grid = [list(row) for row in sheet.iter_rows(min_row=1, max_row=SAMPLE_ROWS + 1, values_only=True)]
            choices: dict[int, tuple[str, ...]] = {}
            for rule in sheet.data_validations.dataValidation:
                if rule.type != "list" or not rule.formula1 or not rule.formula1.startswith('"'):
                    continue  # a list from a range of cells is not read
                options = tuple(o.strip() for o in rule.formula1.strip('"').split(",") if o.strip())
                for cells in str(rule.sqref).split():
                    first_col, _, last_col, _ = range_boundaries(cells)
                    for col in range(first_col or 1, (last_col or first_col or 1) + 1):
                        choices[col - 1] = options
            found.append(_grid_table(sheet.title, grid, choices))
    finally:
        book.close()
    return Survey(where, tuple(found))


def _grid_table(title: str, grid: Sequence[Sequence[Any]], choices: Mapping[int, tuple[str, ...]]) -> FoundTable:
    """A tab as a table: its first row names the columns; the problems that prevent reading it, said."""
    header = list(grid[0]) if grid else []
    names = [str(v).strip() if v not in (None, "") else "" for v in header]
    while names and not names[-1]:
        names.pop()
    body = [row for row in grid[1:] if any(v not in (None, "") for v in row)]
    problems = []
    if not any(names):
        problems.append("pas de ligne d'en-tête (la première ligne doit nommer les colonnes)"
                        if body else "onglet vide")
        return FoundTable(title, (), len(body), tuple(problems))
    counts = Counter(n.casefold() for n in names if n)
    twice = sorted({n for n in names if n and counts[n.casefold()] > 1})
    if twice:
        problems.append("colonnes en double : " + ", ".join(f"« {n} »" for n in twice)
                        + " (seule la première est lue)")
    columns: list[FoundColumn] = []
    seen: set[str] = set()
    for index, name in enumerate(names):
        if not name or name.casefold() in seen:
            continue
        seen.add(name.casefold())
        values = tuple(_cell(row[index]) for row in body if index < len(row) and row[index] not in (None, ""))
        columns.append(FoundColumn(name, "", choices.get(index, ()), None, values))
    return FoundTable(title, tuple(columns), len(body), tuple(problems))


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date()
    return value

