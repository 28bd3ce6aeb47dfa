"""The spreadsheets behind the fake Google Sheets API: typed cells, A1 ranges, rendering, and the edits.

Cells hold typed values as Sheets does (numbers, strings, booleans; a date is a number with a date
format) and an optional number format. Values are rendered as the API does for `FORMATTED_VALUE`
(strings in the spreadsheet's locale: "1,5" in fr_FR, dates as dd/mm/yyyy), `UNFORMATTED_VALUE`
(numbers as numbers, dates as serial numbers or, with `dateTimeRenderOption=FORMATTED_STRING`, as
formatted strings) and `FORMULA` (like UNFORMATTED_VALUE: this fake keeps no formulas).

Simplifications, stated: `USER_ENTERED` input understands numbers, percentages, booleans and dates in
the spreadsheet's locale and a leading apostrophe, but stores formulas as text; `values:append` finds
the "table" as the block of non-blank rows starting at the first non-blank row at or below the range's
first row (a blank row ends it) and always starts writing at the range's first column; formats set by
`repeatCell` are kept per cell (only the number format matters to rendering); data validation rules
are accepted and not enforced.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

SERIAL_EPOCH = dt.datetime(1899, 12, 30)
DEFAULT_ROWS = 1000
DEFAULT_COLUMNS = 26
DATE_FORMAT = {"type": "DATE", "pattern": "dd/mm/yyyy"}
DATE_TIME_FORMAT = {"type": "DATE_TIME", "pattern": "dd/mm/yyyy hh:mm:ss"}
DATE_TYPES = frozenset({"DATE", "TIME", "DATE_TIME"})
LOCALES = {"fr_FR": (",", "\u202f"), "en_US": (".", ","), "en_GB": (".", ",")}
ENDPOINT = re.compile(r"^([A-Za-z]*)(\d*)$")
SIMPLE_TITLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SheetsError(Exception):
    """An error the API answers with Google's body: {"error": {"code", "message", "status"}}."""

    def __init__(self, code: int, status: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code, self.status, self.message, self.details = code, status, message, details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def invalid(message: str) -> SheetsError:
    return SheetsError(400, "INVALID_ARGUMENT", message)


@dataclass
class Cell:
    value: Any = None  # str | int | float | bool | None
    number_format: dict[str, str] | None = None


@dataclass
class FakeSheet:
    sheet_id: int
    title: str
    index: int
    row_count: int = DEFAULT_ROWS
    column_count: int = DEFAULT_COLUMNS
    frozen_rows: int = 0
    rows: list[list[Cell | None]] = field(default_factory=list)
    frozen_columns: int = 0
    hidden: bool = False
    # data validation rules set by `setDataValidation`: (r0, r1, c0, c1, rule), ends exclusive, None open
    validations: list[tuple[int, int | None, int, int | None, dict[str, Any]]] = field(default_factory=list)

    def validation_at(self, row: int, col: int) -> dict[str, Any] | None:
        """The data validation rule of one cell (0-based), the latest set over it."""
        for r0, r1, c0, c1, rule in reversed(self.validations):
            if r0 <= row and (r1 is None or row < r1) and c0 <= col and (c1 is None or col < c1):
                return rule
        return None

    def grid_data(self, r0: int, r1: int, c0: int, c1: int) -> dict[str, Any]:
        """A GridData of the range, holding only each cell's `dataValidation` (what a `fields` mask of
        `sheets.data.rowData.values.dataValidation` answers); trailing empty cells and rows left out."""
        rows: list[dict[str, Any]] = []
        for row in range(r0, r1):
            values: list[dict[str, Any]] = []
            for col in range(c0, c1):
                rule = self.validation_at(row, col)
                values.append({"dataValidation": json.loads(json.dumps(rule))} if rule else {})
            while values and not values[-1]:
                values.pop()
            rows.append({"values": values} if values else {})
        while rows and not rows[-1]:
            rows.pop()
        data: dict[str, Any] = {"rowData": rows} if rows else {}
        if r0:
            data["startRow"] = r0
        if c0:
            data["startColumn"] = c0
        return data

    def properties(self) -> dict[str, Any]:
        grid: dict[str, Any] = {"rowCount": self.row_count, "columnCount": self.column_count}
        if self.frozen_rows:
            grid["frozenRowCount"] = self.frozen_rows
        if self.frozen_columns:
            grid["frozenColumnCount"] = self.frozen_columns
        props = {"sheetId": self.sheet_id, "title": self.title, "index": self.index, "sheetType": "GRID",
                 "gridProperties": grid}
        if self.hidden:
            props["hidden"] = True
        return props

    def cell(self, row: int, col: int) -> Cell | None:
        if row < len(self.rows) and col < len(self.rows[row]):
            return self.rows[row][col]
        return None

    def cell_for_write(self, row: int, col: int) -> Cell:
        while len(self.rows) <= row:
            self.rows.append([])
        line = self.rows[row]
        while len(line) <= col:
            line.append(None)
        if line[col] is None:
            line[col] = Cell()
        return line[col]  # type: ignore[return-value]

    def row_is_blank(self, row: int, c0: int = 0, c1: int | None = None) -> bool:
        if row >= len(self.rows):
            return True
        return all(c is None or c.value in (None, "") for c in self.rows[row][c0:c1])


@dataclass
class FakeSpreadsheet:
    key: str
    title: str
    locale: str = "fr_FR"
    time_zone: str = "Europe/Paris"
    shared_with: dict[str, str] | None = None  # email -> "reader" | "writer"; None: anyone may edit
    sheets: list[FakeSheet] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        return {
            "spreadsheetId": self.key,
            "properties": {"title": self.title, "locale": self.locale, "timeZone": self.time_zone,
                           "autoRecalc": "ON_CHANGE"},
            "sheets": [{"properties": s.properties()} for s in self.sheets],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{self.key}/edit",
        }

    def sheet_by_title(self, title: str) -> FakeSheet | None:
        return next((s for s in self.sheets if s.title == title), None)

    def sheet_by_id(self, sheet_id: int) -> FakeSheet:
        for sheet in self.sheets:
            if sheet.sheet_id == sheet_id:
                return sheet
        raise invalid(f"No grid with id: {sheet_id}")

    def add_sheet(self, title: str, *, sheet_id: int | None = None, index: int | None = None,
                  rows: int = DEFAULT_ROWS, columns: int = DEFAULT_COLUMNS, frozen_rows: int = 0) -> FakeSheet:
        if any(s.title.casefold() == title.casefold() for s in self.sheets):
            raise invalid(f'A sheet with the name "{title}" already exists. Please enter another name.')
        if sheet_id is None:
            sheet_id = max((s.sheet_id for s in self.sheets), default=-1) + 1
        elif any(s.sheet_id == sheet_id for s in self.sheets):
            raise invalid(f"Sheet with id {sheet_id} already exists.")
        sheet = FakeSheet(sheet_id, title, 0, rows, columns, frozen_rows)
        position = len(self.sheets) if index is None else max(0, min(index, len(self.sheets)))
        self.sheets.insert(position, sheet)
        for number, each in enumerate(self.sheets):
            each.index = number
        return sheet


# -- A1 ranges ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class GridRange:
    """A parsed A1 range: 0-based rows and columns, ends exclusive, None when open."""

    sheet: FakeSheet
    r0: int
    c0: int
    r1: int | None
    c1: int | None
    single_cell: bool = False

    def rows_end(self) -> int:
        return self.sheet.row_count if self.r1 is None else self.r1

    def cols_end(self) -> int:
        return self.sheet.column_count if self.c1 is None else self.c1


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_index(letters: str) -> int:
    number = 0
    for char in letters.upper():
        number = number * 26 + ord(char) - 64
    return number - 1


def quote_title(title: str) -> str:
    return title if SIMPLE_TITLE.match(title) else "'" + title.replace("'", "''") + "'"


def a1(sheet: FakeSheet, r0: int, c0: int, r1: int, c1: int) -> str:
    """The A1 notation Google answers with: 'Title'!A1:C5 (one cell: 'Title'!A1)."""
    start = f"{column_letters(c0)}{r0 + 1}"
    end = f"{column_letters(c1 - 1)}{r1}"
    return f"{quote_title(sheet.title)}!{start}" + ("" if (r1 - r0, c1 - c0) == (1, 1) else f":{end}")


def parse_range(book: FakeSpreadsheet, text: str) -> GridRange:
    """Resolve an A1 range the way the API does, or raise 400 "Unable to parse range"."""
    error = invalid(f"Unable to parse range: {text}")
    title, bang, cells = text.rpartition("!")
    if not bang:
        sheet = book.sheet_by_title(_unquote_title(text))
        if sheet is not None:
            return GridRange(sheet, 0, 0, None, None)
        if not book.sheets:
            raise error
        sheet, cells = book.sheets[0], text
    else:
        found = book.sheet_by_title(_unquote_title(title))
        if found is None:
            raise error
        sheet = found
    start, colon, end = cells.partition(":")
    m0, m1 = ENDPOINT.match(start), ENDPOINT.match(end if colon else start)
    if not m0 or not m1 or not start or (colon and not end):
        raise error
    col0, row0 = m0.groups()
    col1, row1 = m1.groups()
    if not colon and not (col0 and row0):
        raise error  # "A" or "3" alone is not a range
    if colon and (bool(col0) != bool(col1) and not (col0 and row0)):
        raise error
    r0 = int(row0) - 1 if row0 else 0
    c0 = column_index(col0) if col0 else 0
    r1 = int(row1) if row1 else None
    c1 = column_index(col1) + 1 if col1 else None
    if r0 < 0 or (r1 is not None and r1 <= r0) or (c1 is not None and c1 <= c0):
        raise error
    grid = GridRange(sheet, r0, c0, r1, c1, single_cell=not colon)
    check_grid(grid, grid.rows_end(), grid.cols_end())
    return grid


def check_grid(grid: GridRange, rows_end: int, cols_end: int) -> None:
    sheet = grid.sheet
    if rows_end > sheet.row_count or cols_end > sheet.column_count or grid.r0 >= sheet.row_count:
        shown = a1(sheet, grid.r0, grid.c0, max(rows_end, grid.r0 + 1), max(cols_end, grid.c0 + 1))
        raise invalid(f"Range ({shown}) exceeds grid limits. Max rows: {sheet.row_count}, "
                      f"max columns: {sheet.column_count}")


def _unquote_title(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return text


# -- rendering ---------------------------------------------------------------------------------

def serial_of(value: dt.date | dt.datetime) -> float:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.combine(value, dt.time())
    delta = moment.replace(tzinfo=None) - SERIAL_EPOCH
    return delta.days + delta.seconds / 86400


def number_out(value: Any) -> Any:
    """Whole floats as ints, as the API writes them in JSON (46082, not 46082.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def render(cell: Cell | None, value_option: str, datetime_option: str, locale: str) -> Any:
    """One cell as the API answers it ("" for an empty cell)."""
    if cell is None or cell.value is None:
        return ""
    value, fmt = cell.value, cell.number_format or {}
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if value_option in ("UNFORMATTED_VALUE", "FORMULA"):
        if is_number and fmt.get("type") in DATE_TYPES and datetime_option == "FORMATTED_STRING":
            return format_number(value, fmt, locale)
        return number_out(value)
    if isinstance(value, bool):
        return ("VRAI" if value else "FAUX") if locale.startswith("fr") else ("TRUE" if value else "FALSE")
    if is_number:
        return format_number(value, fmt, locale)
    return str(value)


def format_number(value: float, fmt: Mapping[str, str], locale: str) -> str:
    decimal_sep, group_sep = LOCALES.get(locale, (".", ","))
    kind, pattern = fmt.get("type"), fmt.get("pattern", "")
    if kind in DATE_TYPES:
        return _format_date(SERIAL_EPOCH + dt.timedelta(days=float(value)), pattern or "dd/mm/yyyy")
    if kind == "PERCENT":
        decimals = _decimals(pattern)
        text = _grouped(value * 100, decimals, decimal_sep, "")
        return f"{text}\u202f%" if locale.startswith("fr") else f"{text}%"
    if kind == "CURRENCY":
        text = _grouped(value, _decimals(pattern) if pattern else 2, decimal_sep, group_sep)
        return f"{text}\u00a0€" if locale.startswith("fr") else f"€{text}"
    if kind == "NUMBER" and pattern:
        return _grouped(value, _decimals(pattern), decimal_sep, group_sep if "," in pattern else "")
    text = repr(number_out(float(value)) if isinstance(value, float) else value)
    return text.replace(".", decimal_sep)


def _decimals(pattern: str) -> int:
    _, dot, rest = pattern.partition(".")
    return len(re.match(r"[0#]*", rest).group(0)) if dot else 0  # type: ignore[union-attr]


def _grouped(value: float, decimals: int, decimal_sep: str, group_sep: str) -> str:
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", decimal_sep).replace("\0", group_sep)


def _format_date(moment: dt.datetime, pattern: str) -> str:
    moment = (moment + dt.timedelta(microseconds=500)).replace(microsecond=0)
    out, i = [], 0
    after_hours = False
    while i < len(pattern):
        for token, code in (("yyyy", "%Y"), ("dd", "%d"), ("hh", "%H"), ("ss", "%S"), ("mm", None)):
            if pattern.startswith(token, i):
                if token == "mm":
                    code = "%M" if after_hours else "%m"
                after_hours = token == "hh" or (after_hours and token == "mm")
                out.append(moment.strftime(code))  # type: ignore[arg-type]
                i += len(token)
                break
        else:
            out.append(pattern[i])
            i += 1
    return "".join(out)


# -- input -------------------------------------------------------------------------------------

def parse_user_entered(value: Any, locale: str) -> tuple[Any, dict[str, str] | None]:
    """What Sheets stores for a value typed by a user (valueInputOption=USER_ENTERED)."""
    if not isinstance(value, str):
        return value, None
    if value.startswith("'"):
        return value[1:], None  # the quote prefix forces text
    text = value.strip()
    if text == "":
        return None, None
    upper = text.upper()
    if upper in ("TRUE", "VRAI"):
        return True, None
    if upper in ("FALSE", "FAUX"):
        return False, None
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    local = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
    try:
        if iso:
            return serial_of(dt.date(int(iso[1]), int(iso[2]), int(iso[3]))), {"type": "DATE", "pattern": "yyyy-mm-dd"}
        if local:
            day, month = (local[1], local[2]) if locale.startswith("fr") else (local[2], local[1])
            return serial_of(dt.date(int(local[3]), int(month), int(day))), dict(DATE_FORMAT)
    except ValueError:
        return value, None
    decimal_sep, group_sep = LOCALES.get(locale, (".", ","))
    groups = {group_sep, " ", "\u00a0"} if decimal_sep == "," else {","}
    percent = text.endswith("%")
    body = text.rstrip("%").strip() if percent else text
    for sep in groups:
        body = re.sub(rf"(?<=\d){re.escape(sep)}(?=\d{{3}}(\D|$))", "", body)
    if re.fullmatch(rf"-?\d+({re.escape(decimal_sep)}\d+)?", body):
        number = float(body.replace(decimal_sep, "."))
        number = int(number) if number.is_integer() and decimal_sep not in body else number
        if percent:
            return number / 100, {"type": "PERCENT", "pattern": "0%"}
        return number, None
    return value, None


def stored(value: Any, input_option: str, locale: str) -> tuple[bool, Any, dict[str, str] | None]:
    """(write?, value, format) for one input value; null leaves the cell as it is."""
    if value is None:
        return False, None, None
    if isinstance(value, (dict, list)):
        raise invalid("Invalid values: a cell value must be a string, a number or a boolean")
    if input_option == "USER_ENTERED":
        parsed, fmt = parse_user_entered(value, locale)
        return True, parsed, fmt
    if value == "":
        return True, None, None
    return True, value, None


def typed_cell(value: Any) -> Cell | None:
    """A cell as a staff member would have typed it, from a Python value (dates get a date format)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return Cell(serial_of(value), dict(DATE_TIME_FORMAT))
    if isinstance(value, dt.date):
        return Cell(serial_of(value), dict(DATE_FORMAT))
    if isinstance(value, (bool, int, float, str)):
        return Cell(value)
    return Cell(float(value))  # Decimal


# -- edits -------------------------------------------------------------------------------------

def read_values(grid: GridRange, value_option: str, datetime_option: str, major: str, locale: str) -> list[list[Any]]:
    """The rendered values of a range, trailing empty rows and cells left out, as the API does."""
    sheet, r1, c1 = grid.sheet, min(grid.rows_end(), len(grid.sheet.rows)), grid.cols_end()
    matrix = [[render(sheet.cell(r, c), value_option, datetime_option, locale)
               for c in range(grid.c0, c1)] for r in range(grid.r0, r1)]
    if major == "COLUMNS":
        width = max((len(row) for row in matrix), default=0)
        matrix = [[row[c] for row in matrix] for c in range(width)]
    trimmed = [_rstrip(row) for row in matrix]
    while trimmed and not trimmed[-1]:
        trimmed.pop()
    return trimmed


def _rstrip(row: list[Any]) -> list[Any]:
    end = len(row)
    while end and row[end - 1] == "":
        end -= 1
    return row[:end]


def write_values(book: FakeSpreadsheet, grid: GridRange, values: Sequence[Sequence[Any]], input_option: str,
                 major: str = "ROWS", apply: bool = True) -> dict[str, Any]:
    """Write `values` from the range's top-left cell; returns Google's UpdateValuesResponse."""
    matrix = _matrix(values, major)
    height, width = len(matrix), max((len(row) for row in matrix), default=0)
    if not grid.single_cell:
        if (grid.r1 is not None and height > grid.r1 - grid.r0) or (grid.c1 is not None and width > grid.c1 - grid.c0):
            raise invalid(f"Requested writing within range [{a1(grid.sheet, grid.r0, grid.c0, grid.rows_end(), grid.cols_end())}],"
                          f" but tried writing to row [{grid.r0 + height}]")
    if height and width:
        check_grid(grid, grid.r0 + height, grid.c0 + width)
    if apply:
        for r, row in enumerate(matrix):
            for c, value in enumerate(row):
                write, typed, fmt = stored(value, input_option, book.locale)
                if write:
                    cell = grid.sheet.cell_for_write(grid.r0 + r, grid.c0 + c)
                    cell.value = typed
                    if fmt and not cell.number_format:
                        cell.number_format = fmt
    updated = a1(grid.sheet, grid.r0, grid.c0, grid.r0 + max(height, 1), grid.c0 + max(width, 1))
    return {"spreadsheetId": book.key, "updatedRange": updated, "updatedRows": height,
            "updatedColumns": width, "updatedCells": sum(len(row) for row in matrix)}


def append_values(book: FakeSpreadsheet, grid: GridRange, values: Sequence[Sequence[Any]], input_option: str,
                  insert_option: str, major: str = "ROWS") -> dict[str, Any]:
    """values:append: find the table from the range, write after its last row (inserting rows)."""
    sheet = grid.sheet
    matrix = _matrix(values, major)
    height, width = len(matrix), max((len(row) for row in matrix), default=0)
    c_end = grid.c1
    start = next((r for r in range(grid.r0, len(sheet.rows)) if not sheet.row_is_blank(r, grid.c0, c_end)), None)
    table_range = None
    if start is None:
        target = grid.r0
    else:
        end = start
        while end + 1 < len(sheet.rows) and not sheet.row_is_blank(end + 1, grid.c0, c_end):
            end += 1
        target = end + 1
        table_width = max(len(sheet.rows[r]) for r in range(start, end + 1))
        table_range = a1(sheet, start, grid.c0, end + 1, max(table_width, grid.c0 + 1))
    if insert_option == "INSERT_ROWS" and height:
        above = sheet.rows[target - 1] if 0 < target <= len(sheet.rows) else []

        def inherited() -> list[Cell | None]:  # inserted rows take the number formats of the row above
            return [Cell(None, dict(c.number_format)) if c and c.number_format else None for c in above]

        while len(sheet.rows) < target:
            sheet.rows.append([])
        sheet.rows[target:target] = [inherited() for _ in range(height)]
        sheet.row_count = max(sheet.row_count + height, target + height)
    else:
        sheet.row_count = max(sheet.row_count, target + height)
    sheet.column_count = max(sheet.column_count, grid.c0 + width)
    updates = write_values(book, GridRange(sheet, target, grid.c0, None, None, True), matrix, input_option)
    answer: dict[str, Any] = {"spreadsheetId": book.key, "updates": updates}
    if table_range:
        answer["tableRange"] = table_range
    return answer


def _matrix(values: Any, major: str) -> list[list[Any]]:
    if not isinstance(values, list) or not all(isinstance(row, list) for row in values):
        raise invalid("Invalid value at 'data.values': a list of lists is expected")
    if major == "COLUMNS":
        height = max((len(col) for col in values), default=0)
        return [[col[r] if r < len(col) else None for col in values] for r in range(height)]
    return [list(row) for row in values]


# -- spreadsheets:batchUpdate --------------------------------------------------------------------

def apply_requests(book: FakeSpreadsheet, requests: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Apply batchUpdate requests in order, all or none; returns the replies."""
    saved = [replace(sheet, rows=[list(row) for row in sheet.rows]) for sheet in book.sheets]  # requests
    replies = []  # replace cells rather than change them, so this copy is enough to undo them
    try:
        for number, request in enumerate(requests):
            if not isinstance(request, Mapping) or len(request) != 1:
                raise invalid(f"Invalid requests[{number}]: exactly one kind of request is expected")
            (kind, body), = request.items()
            handler = REQUESTS.get(kind)
            if handler is None:
                raise invalid(f'Invalid JSON payload received. Unknown name "{kind}" at \'requests[{number}]\': '
                              "Cannot find field.")
            try:
                replies.append(handler(book, body))
            except SheetsError as error:
                raise invalid(f"Invalid requests[{number}].{kind}: {error.message}") from None
    except BaseException:
        book.sheets = saved
        raise
    return replies


def _add_sheet(book: FakeSpreadsheet, body: Mapping[str, Any]) -> dict[str, Any]:
    props = body.get("properties") or {}
    grid = props.get("gridProperties") or {}
    sheet = book.add_sheet(props.get("title") or f"Feuille {len(book.sheets) + 1}", sheet_id=props.get("sheetId"),
                           index=props.get("index"), rows=grid.get("rowCount", DEFAULT_ROWS),
                           columns=grid.get("columnCount", DEFAULT_COLUMNS), frozen_rows=grid.get("frozenRowCount", 0))
    return {"addSheet": {"properties": sheet.properties()}}


def _delete_dimension(book: FakeSpreadsheet, body: Mapping[str, Any]) -> dict[str, Any]:
    span = body.get("range") or {}
    sheet = book.sheet_by_id(span.get("sheetId", 0))
    start, end = span.get("startIndex", 0), span.get("endIndex")
    dimension = span.get("dimension")
    size = sheet.row_count if dimension == "ROWS" else sheet.column_count
    end = size if end is None else end
    if dimension not in ("ROWS", "COLUMNS") or not 0 <= start < end or end > size:
        raise invalid(f"Invalid dimension range {dimension} [{start}, {end}) for a sheet of {size}")
    if end - start == size:
        raise invalid("You can't delete all the rows on the sheet." if dimension == "ROWS"
                      else "You can't delete all the columns on the sheet.")
    if dimension == "ROWS":
        del sheet.rows[start:end]
        sheet.row_count -= end - start
        sheet.frozen_rows = min(sheet.frozen_rows, sheet.row_count - 1)
    else:
        for row in sheet.rows:
            del row[start:end]
        sheet.column_count -= end - start
    return {}


def _append_dimension(book: FakeSpreadsheet, body: Mapping[str, Any]) -> dict[str, Any]:
    sheet = book.sheet_by_id(body.get("sheetId", 0))
    length = body.get("length", 0)
    if not isinstance(length, int) or length < 1:
        raise invalid("length must be at least 1")
    if body.get("dimension") == "ROWS":
        sheet.row_count += length
    elif body.get("dimension") == "COLUMNS":
        sheet.column_count += length
    else:
        raise invalid("dimension must be ROWS or COLUMNS")
    return {}


def _insert_dimension(book: FakeSpreadsheet, body: Mapping[str, Any]) -> dict[str, Any]:
    """Empty rows (or columns) inserted before `startIndex`, with the number formats of the row before
    (`inheritFromBefore`) or after them, as the Sheets UI's "insert rows" does."""
    span = body.get("range") or {}
    sheet = book.sheet_by_id(span.get("sheetId", 0))
    start, end, dimension = span.get("startIndex", 0), span.get("endIndex"), span.get("dimension")
    before = bool(body.get("inheritFromBefore"))
    size = sheet.row_count if dimension == "ROWS" else sheet.column_count
    if dimension not in ("ROWS", "COLUMNS") or not isinstance(end, int) or not 0 <= start < end or start > size:
        raise invalid(f"Invalid dimension range {dimension} [{start}, {end}) for a sheet of {size}")
    if before and start == 0:
        raise invalid("Cannot inherit properties from before if inserting at index 0.")
    count = end - start
    if dimension == "ROWS":
        source = start - 1 if before else start  # the row whose formats the new ones take (before insertion)
        model = [Cell(None, c.number_format) if c is not None and c.number_format else None
                 for c in (sheet.rows[source] if 0 <= source < len(sheet.rows) else [])]
        if start <= len(sheet.rows):
            sheet.rows[start:start] = [list(model) for _ in range(count)]
        sheet.row_count += count
    else:
        for row in sheet.rows:
            if start <= len(row):
                row[start:start] = [None] * count
        sheet.column_count += count
    return {}


def _update_cells(book: FakeSpreadsheet, body: Mapping[str, Any]) -> dict[str, Any]:
    """Cells from `start` (or the top left of `range`) set from RowData: with "userEnteredValue" in
    `fields`, each cell's value (a CellData without one empties the cell); with
    "userEnteredFormat.numberFormat", its number format. Nothing beyond the grid."""
    if "start" in body:
        where = body.get("start") or {}
        sheet = book.sheet_by_id(where.get("sheetId", 0))
        r0, c0 = where.get("rowIndex", 0), where.get("columnIndex", 0)
    else:
        where = body.get("range") or {}
        sheet = book.sheet_by_id(where.get("sheetId", 0))
        r0, c0 = where.get("startRowIndex", 0), where.get("startColumnIndex", 0)
    fields = [f.strip() for f in str(body.get("fields") or "").split(",") if f.strip()]
    if not fields:
        raise invalid("At least one field must be specified in 'fields'.")
    values = any(f in ("*", "userEnteredValue") for f in fields)
    formats = any(f in ("*", "userEnteredFormat", "userEnteredFormat.numberFormat") for f in fields)
    for i, row in enumerate(body.get("rows") or []):
        for j, data in enumerate((row or {}).get("values") or []):
            r, c = r0 + i, c0 + j
            if r >= sheet.row_count or c >= sheet.column_count:
                raise invalid(f"Range ('{sheet.title}'!R{r + 1}C{c + 1}) exceeds grid limits. "
                              f"Max rows: {sheet.row_count}, max columns: {sheet.column_count}")
            old = sheet.cell_for_write(r, c)
            value, fmt = old.value, old.number_format
            if values:
                entered = (data or {}).get("userEnteredValue") or {}
                if len(entered) > 1:
                    raise invalid("Only one value may be set in an ExtendedValue")
                kind, value = next(iter(entered.items()), (None, None))
                if kind not in (None, "stringValue", "numberValue", "boolValue", "formulaValue"):
                    raise invalid(f"Invalid value kind: {kind}")
            if formats:
                fmt = ((data or {}).get("userEnteredFormat") or {}).get("numberFormat")
            sheet.rows[r][c] = Cell(value, dict(fmt) if fmt else None)
    return {}


def _repeat_cell(book: FakeSpreadsheet, body: Mapping[str, Any]) -> dict[str, Any]:
    span = body.get("range") or {}
    sheet = book.sheet_by_id(span.get("sheetId", 0))
    fields = body.get("fields", "")
    fmt = ((body.get("cell") or {}).get("userEnteredFormat") or {}).get("numberFormat")
    if not fields:
        raise invalid("At least one field must be specified in 'fields'.")
    keeps_number_format = any(f.strip() in ("*", "userEnteredFormat", "userEnteredFormat.numberFormat")
                              for f in fields.split(","))
    if fmt is None or not keeps_number_format:
        return {}  # other formatting (bold, colours) is accepted and not kept
    r1 = span.get("endRowIndex", sheet.row_count)
    c1 = span.get("endColumnIndex", sheet.column_count)
    for r in range(span.get("startRowIndex", 0), min(r1, sheet.row_count)):
        for c in range(span.get("startColumnIndex", 0), min(c1, sheet.column_count)):
            old = sheet.cell_for_write(r, c)
            sheet.rows[r][c] = Cell(old.value, dict(fmt))
    return {}


# updateSheetProperties: the field paths the fake applies, and those it accepts without keeping them.
SHEET_PROPERTY_PATHS = ("title", "index", "hidden", "gridProperties.rowCount", "gridProperties.columnCount",
                        "gridProperties.frozenRowCount", "gridProperties.frozenColumnCount")
SHEET_PROPERTY_IGNORED = ("tabColor", "tabColorStyle", "rightToLeft", "gridProperties.hideGridlines",
                          "gridProperties.rowGroupControlAfter", "gridProperties.columnGroupControlAfter")


def field_mask(fields: Any, known: Sequence[str]) -> list[str]:
    """The leaf paths a FieldMask names: "a.b" or gspread's "a/b", "*" for every field, a message's
    name for every field under it."""
    paths = [f.strip().replace("/", ".") for f in str(fields or "").split(",") if f.strip()]
    if not paths:
        raise invalid("At least one field must be specified in 'fields'.")
    leaves: list[str] = []
    for path in paths:
        under = [k for k in known if path == "*" or k == path or k.startswith(path + ".")]
        if not under:
            raise invalid(f"Invalid field mask: '{path}' is not a field of the properties")
        leaves.extend(k for k in under if k not in leaves)
    return leaves


def _update_sheet_properties(book: FakeSpreadsheet, body: Mapping[str, Any]) -> dict[str, Any]:
    props = body.get("properties") or {}
    sheet = book.sheet_by_id(props.get("sheetId", 0))
    paths = field_mask(body.get("fields"), SHEET_PROPERTY_PATHS + SHEET_PROPERTY_IGNORED)
    grid = props.get("gridProperties") or {}
    # a field the mask names but the properties leave out is cleared, as a FieldMask update does
    for path in paths:
        name = path.removeprefix("gridProperties.")
        value = grid.get(name) if path.startswith("gridProperties.") else props.get(path)
        if path == "title":
            if not value:
                raise invalid("The sheet title cannot be empty.")
            if any(s.title.casefold() == str(value).casefold() and s is not sheet for s in book.sheets):
                raise invalid(f'A sheet with the name "{value}" already exists. Please enter another name.')
            sheet.title = str(value)
        elif path == "index":
            book.sheets.remove(sheet)
            book.sheets.insert(max(0, min(int(value or 0), len(book.sheets))), sheet)
            for number, each in enumerate(book.sheets):
                each.index = number
        elif path == "hidden":
            sheet.hidden = bool(value)
        elif path in ("gridProperties.rowCount", "gridProperties.columnCount"):
            if not isinstance(value, int) or value < 1:
                raise invalid(f"Invalid requests.updateSheetProperties: {name} must be at least 1")
            if name == "rowCount":
                sheet.row_count = value
                del sheet.rows[value:]  # rows beyond the new size are deleted with their values
                sheet.frozen_rows = min(sheet.frozen_rows, value - 1)
            else:
                sheet.column_count = value
                for row in sheet.rows:
                    del row[value:]
                sheet.frozen_columns = min(sheet.frozen_columns, value - 1)
        elif path == "gridProperties.frozenRowCount":
            sheet.frozen_rows = int(value or 0)
        elif path == "gridProperties.frozenColumnCount":
            sheet.frozen_columns = int(value or 0)
    return {}


def _set_data_validation(book: FakeSpreadsheet, body: Mapping[str, Any]) -> dict[str, Any]:
    where = body.get("range") or {}
    sheet = book.sheet_by_id(where.get("sheetId", 0))
    condition = (body.get("rule") or {}).get("condition") or {}
    if body.get("rule") is not None and not condition.get("type"):
        raise invalid("rule.condition.type is required")
    # kept (answered by spreadsheets.get when its `fields` ask for dataValidation), not enforced;
    # no rule clears the range: later entries win, an empty one stands for "none"
    sheet.validations.append((int(where.get("startRowIndex", 0)), where.get("endRowIndex"),
                              int(where.get("startColumnIndex", 0)), where.get("endColumnIndex"),
                              dict(body.get("rule") or {})))
    return {}


REQUESTS = {
    "addSheet": _add_sheet,
    "deleteDimension": _delete_dimension,
    "appendDimension": _append_dimension,
    "insertDimension": _insert_dimension,
    "updateCells": _update_cells,
    "repeatCell": _repeat_cell,
    "updateSheetProperties": _update_sheet_properties,
    "setDataValidation": _set_data_validation,
}
