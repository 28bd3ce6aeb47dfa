"""The embedded default backend: one local .xlsx workbook, one tab per table (openpyxl)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from connectors.errors import BackendError, SchemaError
from connectors.tables.base import ColumnSpec, Row, SchemaChanges, Table, TableSpec, Value
from connectors.tables.values import LIST_JOINER, normalise

NUMBER_FORMATS = {
    "date": "DD/MM/YYYY",
    "datetime": "DD/MM/YYYY HH:MM",
    "amount": '#,##0.##" €"',
    "percent": "0%",
}
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="2F5D50")
WORKER_HEADER_FILL = PatternFill("solid", fgColor="6B7B8C")


def header_key(name: object) -> str:
    """Header cells match column names whatever the case and surrounding spaces staff typed."""
    return " ".join(str(name).split()).casefold() if name is not None else ""


class WorkbookStore:
    """One .xlsx file holding many tables. Reloads when the file changed on disk; saves atomically."""

    def __init__(self, path: str | os.PathLike[str], *, timezone: ZoneInfo):
        self.path = Path(path)
        self.timezone = timezone
        self._book: Workbook | None = None
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.RLock()
        self._batch_depth = 0
        self._dirty = False
        self.saves = 0
        # Each tab's header cells and last used row, kept until the book is reloaded: openpyxl finds
        # them by walking every cell, which a run writing a tab in many calls cannot afford each time.
        self._headers: dict[str, list[tuple[int, object]]] = {}
        self._extents: dict[str, int] = {}

    def table(self, spec: TableSpec) -> WorkbookTable:
        return WorkbookTable(self, spec)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Save once at the end of the block instead of after every write."""
        with self._lock:
            self._batch_depth += 1
            try:
                yield
            finally:
                self._batch_depth -= 1
                if self._batch_depth == 0 and self._dirty:
                    self.save()

    def changed(self) -> None:
        """Called after each write: save now, or at the end of the current batch."""
        self._dirty = True
        if self._batch_depth == 0:
            self.save()

    def book(self) -> Workbook:
        """The workbook as it is now on disk (reloaded if someone saved it since we last read it,
        unless we hold unsaved changes of our own)."""
        with self._lock:
            stamp = self._disk_stamp()
            if self._book is None or (stamp != self._stamp and not self._dirty):
                if stamp is None:
                    self._book = openpyxl.Workbook()
                    self._book.remove(self._book.active)
                else:
                    try:
                        self._book = openpyxl.load_workbook(self.path)
                    except Exception as exc:  # openpyxl raises many types for a damaged file
                        raise BackendError(
                            f"Cannot open workbook {self.path}: {exc.__class__.__name__}: {exc}"
                        ) from exc
                self._stamp = stamp
                self._headers.clear()
                self._extents.clear()
            return self._book

    def save(self) -> None:
        """Write the workbook to a temporary file beside it, then rename it over the original."""
        with self._lock:
            book = self.book()
            if not book.worksheets:
                book.create_sheet("Feuil1")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}-", suffix=".xlsx.tmp", dir=self.path.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    book.save(handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._stamp = self._disk_stamp()
            self._dirty = False
            self.saves += 1

    def _disk_stamp(self) -> tuple[int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size)


class WorkbookTable(Table):
    """One tab of a workbook. Row ids are the row numbers staff see (valid until the next delete)."""

    def __init__(self, store: WorkbookStore, spec: TableSpec):
        self.store = store
        self.spec = spec

    # -- reading ---------------------------------------------------------------------------

    def _sheet(self, create: bool = False) -> Worksheet:
        book = self.store.book()
        if self.spec.name in book.sheetnames:
            return book[self.spec.name]
        wanted = header_key(self.spec.name)
        for name in book.sheetnames:
            if header_key(name) == wanted:
                return book[name]
        if create:
            return book.create_sheet(self.spec.name)
        raise SchemaError(
            f"Onglet « {self.spec.name} » absent du classeur {self.store.path.name} "
            f"(lancez `cantines init` ou ajoutez l'onglet)"
        )

    def _header(self, sheet: Worksheet) -> dict[str, int]:
        """Column index (1-based) of each schema column present in the header row."""
        positions: dict[str, int] = {}
        wanted = {header_key(c.name): c.name for c in self.spec.columns}
        cells = self.store._headers.get(sheet.title)
        if cells is None:
            cells = [(c.column, c.value) for c in next(sheet.iter_rows(min_row=1, max_row=1), ())]
            self.store._headers[sheet.title] = cells
        for column, value in cells:
            name = wanted.get(header_key(value))
            if name is not None and name not in positions:
                positions[name] = column
        return positions

    def read(self, columns: Sequence[str] | None = None) -> list[Row]:
        with self.store._lock:
            sheet = self._sheet()
            header = self._header(sheet)
            names = list(columns) if columns is not None else list(self.spec.column_names)
            specs = [self.spec.column(n) for n in names]
            tz = self.store.timezone
            rows: list[Row] = []
            for number, cells in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
                    continue  # blank rows staff leave between blocks
                fields: dict[str, Value] = {}
                for spec in specs:
                    index = header.get(spec.name)
                    raw = cells[index - 1] if index is not None and index - 1 < len(cells) else None
                    fields[spec.name] = normalise(spec, raw, tz)
                rows.append(Row(str(number), fields, number))
            return rows

    # -- writing ---------------------------------------------------------------------------

    def _cell_value(self, column: ColumnSpec, value: Value) -> Value:
        if value is None:
            return None
        if isinstance(value, (list, tuple)):
            return LIST_JOINER.join(str(v) for v in value) or None
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(self.store.timezone).replace(tzinfo=None)
            return value.replace(microsecond=0)
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return value

    def _write_cell(self, sheet: Worksheet, row: int, index: int, column: ColumnSpec, value: Value) -> None:
        cell = sheet.cell(row=row, column=index)
        cell.value = self._cell_value(column, value)
        fmt = NUMBER_FORMATS.get(column.type)
        if fmt and cell.value is not None:
            cell.number_format = fmt

    def _positions_for(self, sheet: Worksheet, names: Iterable[str]) -> dict[str, int]:
        header = self._header(sheet)
        missing = [n for n in names if n not in header]
        if missing:
            raise SchemaError(
                f"Colonne(s) {', '.join(f'« {m} »' for m in missing)} absente(s) de l'onglet "
                f"« {self.spec.name} » (lancez `cantines init`)"
            )
        return header

    def create(self, rows: Iterable[Mapping[str, Value]]) -> list[Row]:
        rows = list(rows)
        if not rows:
            return []
        with self.store._lock:
            sheet = self._sheet()
            header = self._positions_for(sheet, {n for r in rows for n in r})
            next_row = self._last_used_row(sheet) + 1
            self.store._extents[sheet.title] = next_row - 1 + len(rows)
            created = []
            for values in rows:
                for name, value in values.items():
                    self._write_cell(sheet, next_row, header[name], self.spec.column(name), value)
                created.append(Row(str(next_row), dict(values), next_row))
                next_row += 1
            self.store.changed()
            return created

    def update(self, changes: Iterable[tuple[str, Mapping[str, Value]]]) -> int:
        changes = list(changes)
        if not changes:
            return 0
        with self.store._lock:
            sheet = self._sheet()
            header = self._positions_for(sheet, {n for _, values in changes for n in values})
            for row_id, values in changes:
                for name, value in values.items():
                    self._write_cell(sheet, int(row_id), header[name], self.spec.column(name), value)
            self.store.changed()
            return len(changes)

    def delete(self, ids: Iterable[str]) -> int:
        numbers = sorted({int(i) for i in ids}, reverse=True)  # bottom up: numbers above stay valid
        if not numbers:
            return 0
        with self.store._lock:
            sheet = self._sheet()
            for number in numbers:
                sheet.delete_rows(number)
            self.store._extents.pop(sheet.title, None)
            self.store.changed()
            return len(numbers)

    def _last_used_row(self, sheet: Worksheet) -> int:
        known = self.store._extents.get(sheet.title)
        if known is not None:
            return known
        last = 1
        for number in range(sheet.max_row, 1, -1):
            if any(c.value not in (None, "") for c in sheet[number]):
                last = number
                break
        self.store._extents[sheet.title] = last
        return last

    # -- schema ----------------------------------------------------------------------------

    def ensure_schema(self) -> SchemaChanges:
        with self.store._lock:
            changes = SchemaChanges()
            book = self.store.book()
            try:
                sheet = self._sheet()
            except SchemaError:
                sheet = book.create_sheet(self.spec.name)
                sheet.freeze_panes = "A2"
                changes.created_table = True
            header = self._header(sheet)
            last = max((c.column for c in sheet[1] if c.value not in (None, "")), default=0)
            for column in self.spec.columns:
                if column.name in header:
                    continue
                last += 1
                self._add_header(sheet, last, column)
                changes.added_columns.append(column.name)
            self.store._headers.pop(sheet.title, None)
            if changes.changed:
                self.store.changed()
            return changes

    def _add_header(self, sheet: Worksheet, index: int, column: ColumnSpec) -> None:
        cell = sheet.cell(row=1, column=index, value=column.name)
        cell.font = HEADER_FONT
        cell.fill = WORKER_HEADER_FILL if column.owner == "worker" else HEADER_FILL
        letter = get_column_letter(index)
        width = 14 if column.type in ("date", "checkbox", "integer", "number", "amount", "percent") else 24
        if column.type == "long_text":
            width = 48
        sheet.column_dimensions[letter].width = max(width, len(column.name) + 4)
        if column.type == "choice" and column.choices:
            formula = '"' + ",".join(column.choices) + '"'
            if len(formula) <= 255 and not any("," in c or '"' in c for c in column.choices):
                validation = DataValidation(
                    type="list", formula1=formula, allow_blank=True, errorStyle="warning",
                    error=f"Valeurs attendues : {', '.join(column.choices)}", errorTitle=column.name,
                )
                validation.add(f"{letter}2:{letter}5000")
                sheet.add_data_validation(validation)
