"""The Google Sheets backend: one spreadsheet, opened by key, holding several tables (one tab each).

Google allows 60 read and 60 write requests a minute per service account, so a book sends few:
- reading: ONE `values:batchGet` for every tab of the book's tables (on the first read of any of them,
  or `prefetch()`), with `valueRenderOption=UNFORMATTED_VALUE` and `dateTimeRenderOption=SERIAL_NUMBER`:
  numbers arrive as numbers whatever the spreadsheet's locale (never "1,5" to be parsed), dates as serial
  numbers. The book then answers reads from what it read plus its own writes, until `refresh()`. A tab
  named differently (case, spaces) or missing costs one `spreadsheets.get` to find out;
- writing: inside `batch()` writes to all the book's tables are buffered and `flush()`ed as at most
  two requests for the whole spreadsheet: ONE `values:batchUpdate` for every changed cell, and ONE
  `spreadsheets:batchUpdate` that adds every tab's new rows (`insertDimension` right after the last
  row read, then `updateCells` with their values), gives their date cells a date format
  (`repeatCell`) and deletes rows from the bottom up; it needs the tabs' ids (one `spreadsheets.get`,
  once per book). With only a Journal line to add, a cycle writes one request. Outside a batch each
  write is sent at once.

Values are written as they are, never reinterpreted: changed cells with `valueInputOption=RAW`, new
rows as `stringValue`/`numberValue`/`boolValue` cells ("01000" stays text, so does "1,5" or "=A1"),
numbers as numbers, a date as its serial number with a date format: `ensure_schema` gives one to the
date columns it creates, and the flush to the date cells of the rows it adds (rows inserted under the
header do not take the column's format); a cell it updates keeps its format. USER_ENTERED would parse
text as if typed in the spreadsheet's locale: "01000" would become 1000 and "1/2" a date, unless every
string were prefixed with an apostrophe.

The header row names the columns (case and spaces tolerated); columns staff add or reorder are kept.
Row ids are sheet row numbers (`Row.id == str(Row.position)`), valid until the next deletion. New
rows are inserted right after the last row the book read (not where `values:append` would guess the
end of a "table": a blank row staff leave between blocks, a column of drop-downs prepared down the
sheet, would move them), so their ids are known before the flush; a row staff add at the bottom
meanwhile stays below them. They take the formats and drop-downs of the row above (of the row
below when only the header is above).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import requests
from google.auth import exceptions as auth_exceptions
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from connectors.tables.base import Row, SchemaChanges, Table, TableSpec, Value
from connectors.tables.sheets.auth import account_email, load_credentials
from connectors.tables.sheets.cells import cell_value, quote_title, row_data, runs, value_ranges
from connectors.tables.sheets.errors import is_missing_range, missing_columns, missing_tab, translate
from connectors.tables.sheets.http import SheetsHTTPClient
from connectors.tables.sheets.schema import NUMBER_FORMATS, header_key, plan_schema
from connectors.tables.values import normalise

__all__ = ["SheetsBook", "SheetsTable", "connect"]

READ_PARAMS = {"valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER",
               "majorDimension": "ROWS"}
VALUE_INPUT_OPTION = "RAW"
METADATA_PARAMS = {"includeGridData": "false", "fields": "properties.title,sheets.properties"}
SHEETS_WEB_URL = "https://docs.google.com/spreadsheets/d"  # where staff open a spreadsheet
SENDING_ERRORS = (APIError, requests.RequestException, auth_exceptions.GoogleAuthError)
T = TypeVar("T")


def connect(credentials_text: str, *, endpoint_url: str | None = None, **options: Any) -> SheetsHTTPClient:
    """The HTTP client of one service account (GOOGLE_SERVICE_ACCOUNT_JSON's text); share it between
    the books of a run, so that they share its quota pacing."""
    return SheetsHTTPClient(load_credentials(credentials_text), endpoint_url=endpoint_url, **options)


class _Tab:
    """What a book knows of one tab: its title and cells (as read, plus its own writes) and what is pending."""

    def __init__(self, title: str, rows: Iterable[Sequence[Value]]):
        self.title = title
        self.rows: list[list[Value]] = [list(row) for row in rows]  # rows[0] is sheet row 1: the header
        self.flushed = len(self.rows)  # rows beyond are new rows not yet appended
        self.deleted: set[int] = set()  # row numbers to delete at the next flush

    def header(self) -> list[Value]:
        return self.rows[0] if self.rows else []

    def positions(self, spec: TableSpec) -> dict[str, int]:
        """Column number (1-based) of each of the table's columns present in the header row."""
        wanted = {header_key(c.name): c.name for c in spec.columns}
        positions: dict[str, int] = {}
        for index, cell in enumerate(self.header(), start=1):
            name = wanted.get(header_key(cell))
            if name is not None and name not in positions:
                positions[name] = index
        return positions

    def blank(self, number: int) -> bool:
        return all(v is None or (isinstance(v, str) and not v.strip()) for v in self.rows[number - 1])

    def set(self, number: int, col: int, value: Value) -> None:
        row = self.rows[number - 1]
        row.extend([None] * (col - len(row)))
        row[col - 1] = value

    def settle(self) -> None:
        """The flush went as predicted: apply the deletions, and everything is now in the sheet."""
        for number in sorted(self.deleted, reverse=True):
            del self.rows[number - 1]
        self.deleted.clear()
        while len(self.rows) > 1 and all(v in (None, "") for v in self.rows[-1]):
            self.rows.pop()  # Google leaves trailing empty rows out of what it answers
        self.flushed = len(self.rows)


class SheetsBook:
    """One spreadsheet (by key) holding many tables; reads once, buffers writes in `batch()`.

    Make one per run (or `refresh()` it): it answers reads from what it read. Thread-safe."""

    def __init__(self, spreadsheet_key: str, *, http: HTTPClient, timezone: ZoneInfo, label: str | None = None):
        if not spreadsheet_key or "/" in spreadsheet_key:
            raise ValueError(f"not a spreadsheet key: {spreadsheet_key!r} (the id in the spreadsheet's URL)")
        self.key = spreadsheet_key
        self.http = http
        self.timezone = timezone
        self.label = label  # how messages name the spreadsheet ("Cantine de Lyon"), beside its key
        self.account_email = account_email(getattr(http, "auth", None))
        self._specs: dict[str, TableSpec] = {}
        self._tabs: dict[str, _Tab | None] = {}  # by table name; None: the spreadsheet has no such tab
        self._sheets: dict[str, dict[str, Any]] | None = None  # sheet properties by title, once asked
        self._title: str | None = None
        self._cells: dict[tuple[str, int, int], Value] = {}  # (tab title, row, column) -> value to write
        self._depth = 0
        self._lock = threading.RLock()

    @property
    def where(self) -> str:
        """The spreadsheet as messages name it."""
        name = self.label or self._title
        return f"« {name} » ({self.key})" if name else self.key

    def table(self, spec: TableSpec) -> SheetsTable:
        """The table `spec` in its tab; its tab is read with the others, in the book's one batchGet."""
        with self._lock:
            self._specs.setdefault(spec.name, spec)
        return SheetsTable(self, spec)

    def prefetch(self, specs: Iterable[TableSpec] | None = None) -> None:
        """Read now, in one request, the tabs of `specs` (default: every table of the book) not read yet."""
        with self._lock:
            wanted = list(specs) if specs is not None else list(self._specs.values())
            for spec in wanted:
                self._specs.setdefault(spec.name, spec)
            self._load(wanted)

    def refresh(self) -> None:
        """Send buffered writes, then forget what was read: the next read asks Google again."""
        with self._lock:
            self.flush()
            self._tabs.clear()
            self._sheets = None

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Buffer writes to every table of the book and send them at the end of the block, in one request
        per kind (the outermost block sends). If the block raises, nothing buffered is sent."""
        with self._lock:
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._forget()
                raise
            self._depth -= 1
            if self._depth == 0:
                self.flush()

    def flush(self) -> None:
        """Send buffered writes: changed cells (one values:batchUpdate), then new rows, their date
        formats and deleted rows, bottom up (one spreadsheets:batchUpdate)."""
        with self._lock:
            if not self._cells and not any(t and (len(t.rows) > t.flushed or t.deleted) for t in self._tabs.values()):
                return
            try:
                self._write_cells()
                self._restructure()
            except BaseException:
                self._forget()  # some writes may have been applied: read everything again next time
                raise
            for tab in self._tabs.values():
                if tab is not None:
                    tab.settle()

    def ensure_all(self, specs: Iterable[TableSpec]) -> dict[str, SchemaChanges]:
        """Create missing tabs and missing header columns (after the last header cell) for every table;
        never delete or rename anything. Returns what changed, by table code."""
        specs = list(specs)
        with self._lock:
            for spec in specs:
                self._specs.setdefault(spec.name, spec)
            self._fetch_metadata()
            assert self._sheets is not None
            titles = {spec.name: self._resolve(spec.name) for spec in specs}
            headers: dict[str, list[Value]] = {}
            unread = []
            for name, title in titles.items():
                tab = self._tabs.get(name)
                if tab is not None and tab.title == title:
                    headers[title] = tab.header()
                elif title is not None and title not in unread:
                    unread.append(title)
            if unread:
                answer = self._send(lambda: self.http.values_batch_get(
                    self.key, [f"{quote_title(t)}!1:1" for t in unread], params=dict(READ_PARAMS)))
                for title, found in zip(unread, answer.get("valueRanges", [])):
                    headers[title] = (found.get("values") or [[]])[0]
            plan = plan_schema(specs, list(self._sheets.values()), headers, self._resolve)
            if plan.requests:
                self._send(lambda: self.http.batch_update(self.key, {"requests": plan.requests}))
                self._sheets = None  # new tabs and columns: ask again when ids are needed
            if plan.headers:
                cells = {(title, 1, col): name for title, col, name in plan.headers}
                self._send(lambda: self.http.values_batch_update(
                    self.key, body={"valueInputOption": VALUE_INPUT_OPTION, "data": value_ranges(cells)}))
            for spec in specs:
                if spec.name in plan.new_tabs:
                    self._tabs[spec.name] = _Tab(plan.new_tabs[spec.name], [list(spec.column_names)])
                elif (tab := self._tabs.get(spec.name)) is not None:
                    if not tab.rows:
                        tab.rows.append([])
                        tab.flushed += 1
                    for title, col, name in plan.headers:
                        if title == tab.title:
                            tab.set(1, col, name)
            return plan.changes

    # -- inside ----------------------------------------------------------------------------

    def row_url(self, title: str, number: int) -> str | None:
        """The row's place in the spreadsheet, when the tab's id is already known; no request for it."""
        sheet = (self._sheets or {}).get(title)
        if sheet is None or "sheetId" not in sheet:
            return None
        return f"{SHEETS_WEB_URL}/{self.key}/edit#gid={sheet['sheetId']}&range=A{number}"

    def _tab(self, spec: TableSpec) -> _Tab:
        if spec.name not in self._tabs:
            self._specs.setdefault(spec.name, spec)
            self._load(list(self._specs.values()))  # every table of the book not read yet, in one request
        tab = self._tabs[spec.name]
        if tab is None:
            raise missing_tab(spec.name, self.where)
        return tab

    def _load(self, specs: Sequence[TableSpec]) -> None:
        names = list(dict.fromkeys(spec.name for spec in specs if spec.name not in self._tabs))
        if not names:
            return
        titles = {name: (self._resolve(name) if self._sheets is not None else name) for name in names}
        try:
            grids = self._batch_get([t for t in titles.values() if t is not None])
        except APIError as exc:
            if not is_missing_range(exc):
                raise translate(exc, where=self.where, account=self.account_email) from exc
            self._fetch_metadata()  # a tab is missing, or named a little differently: find out which
            titles = {name: self._resolve(name) for name in names}
            grids = self._send(lambda: self._batch_get([t for t in titles.values() if t is not None]))
        except SENDING_ERRORS as exc:
            raise translate(exc, where=self.where, account=self.account_email) from exc
        for name, title in titles.items():
            self._tabs[name] = _Tab(title, grids[title]) if title is not None else None

    def _batch_get(self, titles: list[str]) -> dict[str, list[list[Value]]]:
        if not titles:
            return {}
        unique = list(dict.fromkeys(titles))
        answer = self.http.values_batch_get(self.key, [quote_title(t) for t in unique], params=dict(READ_PARAMS))
        found = answer.get("valueRanges") or []
        return {title: (found[i].get("values") or []) if i < len(found) else [] for i, title in enumerate(unique)}

    def _fetch_metadata(self) -> None:
        data = self._send(lambda: self.http.fetch_sheet_metadata(self.key, params=dict(METADATA_PARAMS)))
        self._title = (data.get("properties") or {}).get("title") or self._title
        self._sheets = {s["properties"]["title"]: s["properties"] for s in data.get("sheets", [])}

    def _resolve(self, name: str) -> str | None:
        """The title of the tab standing for table `name`: the same, or the same but for case and spaces."""
        assert self._sheets is not None
        if name in self._sheets:
            return name
        wanted = header_key(name)
        return next((title for title in self._sheets if header_key(title) == wanted), None)

    def _send(self, call: Callable[[], T], *, tab: str | None = None) -> T:
        try:
            return call()
        except SENDING_ERRORS as exc:
            raise translate(exc, where=self.where, account=self.account_email, tab=tab) from exc

    def _changed(self) -> None:
        if self._depth == 0:
            self.flush()

    def _forget(self) -> None:
        self._tabs.clear()
        self._cells.clear()

    def _write_cells(self) -> None:
        if not self._cells:
            return
        data = value_ranges(self._cells)
        self._send(lambda: self.http.values_batch_update(
            self.key, body={"valueInputOption": VALUE_INPUT_OPTION, "data": data}))
        self._cells.clear()

    def _restructure(self) -> None:
        """One spreadsheets:batchUpdate: each tab's new rows inserted after its last row and filled,
        their date cells given a date format (rows inserted under the header do not take the
        column's), then the deletions, bottom up (the new rows are below every deleted one)."""
        added = [(name, tab) for name, tab in self._tabs.items() if tab is not None and len(tab.rows) > tab.flushed]
        deleting = [tab for tab in self._tabs.values() if tab is not None and tab.deleted]
        if not added and not deleting:
            return
        titles = {tab.title for _, tab in added} | {tab.title for tab in deleting}
        if self._sheets is None or not titles <= set(self._sheets):
            self._fetch_metadata()
        assert self._sheets is not None
        if not titles <= set(self._sheets):
            raise missing_tab(min(titles - set(self._sheets)), self.where)
        requests_: list[dict[str, Any]] = []
        for name, tab in added:
            sheet_id = self._sheets[tab.title]["sheetId"]
            first, count = tab.flushed, len(tab.rows) - tab.flushed  # 0-based index of the first new row
            requests_.append({"insertDimension": {
                "range": {"sheetId": sheet_id, "dimension": "ROWS", "startIndex": first, "endIndex": first + count},
                "inheritFromBefore": first > 1}})  # the last data row's formats; not the header's
            requests_.append({"updateCells": {
                "start": {"sheetId": sheet_id, "rowIndex": first, "columnIndex": 0},
                "rows": [row_data(row) for row in tab.rows[first:]], "fields": "userEnteredValue"}})
            for col, fmt in self._date_columns(name):
                requests_.append({"repeatCell": {
                    "range": {"sheetId": sheet_id, "startRowIndex": first, "endRowIndex": first + count,
                              "startColumnIndex": col - 1, "endColumnIndex": col},
                    "cell": {"userEnteredFormat": {"numberFormat": fmt}}, "fields": "userEnteredFormat.numberFormat"}})
        for tab in deleting:
            for first_row, last_row in runs(sorted(tab.deleted, reverse=True)):  # bottom up: the rows above keep their numbers
                requests_.append({"deleteDimension": {"range": {
                    "sheetId": self._sheets[tab.title]["sheetId"], "dimension": "ROWS",
                    "startIndex": first_row - 1, "endIndex": last_row}}})
        self._send(lambda: self.http.batch_update(self.key, {"requests": requests_}))

    def _date_columns(self, name: str) -> list[tuple[int, dict[str, str]]]:
        """(column number, number format) of the date and date-time columns of table `name`'s tab."""
        spec, tab = self._specs.get(name), self._tabs.get(name)
        if spec is None or tab is None:
            return []
        positions = tab.positions(spec)
        return [(positions[c.name], dict(NUMBER_FORMATS[c.type])) for c in spec.columns
                if c.type in ("date", "datetime") and c.name in positions]


class SheetsTable(Table):
    """One tab of a spreadsheet. Row ids are the row numbers staff see (valid until the next delete)."""

    def __init__(self, book: SheetsBook, spec: TableSpec):
        self.book = book
        self.spec = spec

    def read(self, columns: Sequence[str] | None = None) -> list[Row]:
        names = list(columns) if columns is not None else list(self.spec.column_names)
        specs = [self.spec.column(n) for n in names]
        with self.book._lock:
            tab = self.book._tab(self.spec)
            positions = tab.positions(self.spec)
            self._absent = tuple(name for name in self.spec.column_names if name not in positions)
            tz = self.book.timezone
            rows: list[Row] = []
            for number in range(2, len(tab.rows) + 1):
                if number in tab.deleted or tab.blank(number):
                    continue  # blank rows staff leave between blocks
                cells = tab.rows[number - 1]
                fields: dict[str, Value] = {}
                for column in specs:
                    index = positions.get(column.name)
                    raw = cells[index - 1] if index is not None and index <= len(cells) else None
                    fields[column.name] = normalise(column, raw, tz)
                rows.append(Row(str(number), fields, number, url=self.book.row_url(tab.title, number)))
            return rows

    def create(self, rows: Iterable[Mapping[str, Value]]) -> list[Row]:
        rows = list(rows)
        if not rows:
            return []
        with self.book._lock:
            tab = self.book._tab(self.spec)
            positions = self._positions(tab, {name for values in rows for name in values})
            created = []
            for values in rows:
                line: list[Value] = []
                tab.rows.append(line)
                number = len(tab.rows)
                for name, value in values.items():
                    tab.set(number, positions[name], cell_value(self.spec.column(name), value, self.book.timezone))
                created.append(Row(str(number), dict(values), number))
            self.book._changed()
            return created

    def update(self, changes: Iterable[tuple[str, Mapping[str, Value]]]) -> int:
        changes = list(changes)
        if not changes:
            return 0
        with self.book._lock:
            tab = self.book._tab(self.spec)
            positions = self._positions(tab, {name for _, values in changes for name in values})
            for row_id, values in changes:
                number = self._row_number(tab, row_id)
                for name, value in values.items():
                    cell = cell_value(self.spec.column(name), value, self.book.timezone)
                    tab.set(number, positions[name], cell)
                    if number <= tab.flushed:  # a row still to append carries its new values itself
                        self.book._cells[(tab.title, number, positions[name])] = cell
            self.book._changed()
            return len(changes)

    def delete(self, ids: Iterable[str]) -> int:
        ids = list(ids)
        if not ids:
            return 0
        with self.book._lock:
            tab = self.book._tab(self.spec)
            numbers = {self._row_number(tab, row_id) for row_id in ids} - tab.deleted
            tab.deleted |= numbers
            if numbers:
                self.book._changed()
            return len(numbers)

    def ensure_schema(self) -> SchemaChanges:
        return self.book.ensure_all([self.spec])[self.spec.code]

    def _positions(self, tab: _Tab, names: Iterable[str]) -> dict[str, int]:
        names = set(names)
        positions = tab.positions(self.spec)
        missing = [n for n in self.spec.column_names if n in names and n not in positions]
        unknown = sorted(names - set(self.spec.column_names))
        if unknown:
            raise KeyError(unknown[0])
        if missing:
            raise missing_columns(missing, tab.title, self.book.where)
        return positions

    @staticmethod
    def _row_number(tab: _Tab, row_id: str) -> int:
        try:
            number = int(row_id)
        except (TypeError, ValueError):
            number = 0
        if not 2 <= number <= len(tab.rows):
            raise ValueError(f"no row {row_id!r} in tab « {tab.title} » (ids are row numbers from a read)")
        return number
