"""The embedded default backend: one local .xlsx workbook, one tab per table (openpyxl)."""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import io
import logging
import os
import re
import stat
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
from lxml import etree
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from connectors.errors import BackendError, ConfigurationError, SchemaError
from connectors.tables.base import ColumnSpec, Row, SchemaChanges, Table, TableSpec, Value
from connectors.tables.values import LIST_JOINER, normalise
from connectors.tables.xlsx import FORMULA_STARTS, Edit, Package, Sheet

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".xlsx.tmp"
NUMBER_FORMATS = {
    "date": "DD/MM/YYYY",
    "datetime": "DD/MM/YYYY HH:MM",
    "amount": '#,##0.##" €"',
    "percent": "0%",
}
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="2F5D50")
WORKER_HEADER_FILL = PatternFill("solid", fgColor="6B7B8C")
# A temporary copy older than this was left by a save that was killed (a save takes seconds).
STALE_TEMP_SECONDS = 3600
WRAPPED = Alignment(wrap_text=True, vertical="top")  # long texts (Raisons) readable in their cell
LONG_TEXT_WIDTH = 60


def header_key(name: object) -> str:
    """Header cells match column names whatever the case and surrounding spaces staff typed."""
    return " ".join(str(name).split()).casefold() if name is not None else ""


def _why_unreadable(exc: BaseException) -> str:
    """Why openpyxl could not open a file, in French (with the exception's name for whoever debugs)."""
    name = exc.__class__.__name__
    if isinstance(exc, zipfile.BadZipFile) or name == "InvalidFileException":
        return f"ce n'est pas un classeur .xlsx lisible (fichier endommagé ou d'un autre format ; {name})"
    if isinstance(exc, PermissionError):
        return f"accès refusé (le fichier est-il ouvert ailleurs ou protégé ? {name})"
    if isinstance(exc, KeyError):
        return f"le classeur est incomplet ou endommagé ({name} : {exc})"
    return f"{name} : {exc}"


class MissingWorkbookError(ConfigurationError, BackendError):
    """The workbook file does not exist (a wrong path in the settings, a file moved): nothing is read,
    and nothing is created there unless asked (`cantines init`, the demo)."""


class WorkbookStore:
    """One .xlsx file holding many tables. Reloads when the file changed on disk; saves atomically.

    Rows are read and written through a lean view of the file (connectors/tables/xlsx.py: values as
    plain rows, a save patching only the rows written); openpyxl loads the whole workbook only to
    change its structure (a new tab, a new column, its header's format and notes) or a file the lean
    view cannot patch, and that workbook is dropped once saved.

    With `create=False` a missing file is a MissingWorkbookError instead of a new empty workbook."""

    def __init__(self, path: str | os.PathLike[str], *, timezone: ZoneInfo, create: bool = True,
                 wall_clock: Callable[[], float] = time.time):
        self.path = Path(path)
        self.timezone = timezone
        self.create = create
        self.wall_clock = wall_clock  # only to age the temporary files of killed saves
        self._swept = False
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
        self._package: Package | None = None
        self._sheets: dict[str, Sheet] = {}

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

    def flush(self) -> None:
        """Save now what the open batch holds (a step that must know its rows are on disk)."""
        with self._lock:
            if self._dirty:
                self.save()

    def changed(self) -> None:
        """Called after each write: save now, or at the end of the current batch."""
        self._dirty = True
        if self._batch_depth == 0:
            self.save()

    def book(self) -> Workbook:
        """The whole workbook in openpyxl, as it is now on disk (reloaded if someone saved it since
        we last read it, unless we hold unsaved changes of our own). Rows written through the lean
        view are saved first."""
        with self._lock:
            self._sweep()
            if self._book is None and self._dirty:
                self.save()
            stamp = self._disk_stamp()
            if self._book is None or (stamp != self._stamp and not self._dirty):
                if stamp is None and not self.create:
                    raise MissingWorkbookError(
                        f"Classeur absent : {self.path} n'existe pas (vérifiez le chemin `[workbook] path` "
                        "des réglages ; `cantines init workbook` crée un classeur vide à cet endroit)"
                    )
                if stamp is None:
                    self._book = openpyxl.Workbook()
                    self._book.remove(self._book.active)
                else:
                    log.info("workbook %s loaded whole (openpyxl)", self.path.name)
                    try:
                        self._book = openpyxl.load_workbook(self.path)
                    except Exception as exc:  # openpyxl raises many types for a damaged file
                        raise BackendError(
                            f"Impossible d'ouvrir le classeur {self.path} : {_why_unreadable(exc)}"
                        ) from exc
                self._stamp = stamp
                self._headers.clear()
                self._extents.clear()
                self._package, self._sheets = None, {}
            return self._book

    def _sweep(self) -> None:
        if not self._swept:
            self._swept = True
            self.remove_stale_temp_files()

    def package(self) -> Package | None:
        """The lean view of the file as it is now on disk (reloaded if someone saved it since we
        last read it, unless we hold unsaved changes of our own); None while the whole workbook is
        loaded, or for a new file (openpyxl makes it) or one the lean view cannot patch."""
        with self._lock:
            self._sweep()
            if self._book is not None:
                if self._dirty:
                    return None
                self._book = None  # loaded for a structural change that changed nothing: dropped
            stamp = self._disk_stamp()
            if self._package is None or (stamp != self._stamp and not self._dirty):
                if stamp is None:
                    self.book()  # a new workbook (or MissingWorkbookError)
                    return None
                try:
                    self._package = Package(self.path)
                except (ValueError, KeyError, etree.XMLSyntaxError) as exc:
                    log.info("workbook %s read through openpyxl (%s: %s)", self.path.name, type(exc).__name__, exc)
                    self.book()
                    return None
                except Exception as exc:  # a damaged file raises many types
                    raise BackendError(
                        f"Impossible d'ouvrir le classeur {self.path} : {_why_unreadable(exc)}"
                    ) from exc
                self._stamp = stamp
                self._sheets = {}
            return self._package

    def release(self) -> None:
        """Forget the rows read but not written (a later read parses their tab again): what a run no
        longer reads need not stay in memory while it renders and sends its messages."""
        with self._lock:
            self._sheets = {title: sheet for title, sheet in self._sheets.items() if sheet.dirty}
            for sheet in self._sheets.values():
                sheet.compact()  # what was written stays until saved; the rest is in the file

    def sheet(self, name: str) -> Sheet | None:
        """A tab of the lean view, by name (whatever the case and spaces); None if absent."""
        package = self._package
        assert package is not None
        wanted = header_key(name)
        found = next((e for e in package.sheets if e[0] == name), None) or next(
            (e for e in package.sheets if header_key(e[0]) == wanted), None)
        if found is None:
            return None
        if found[0] not in self._sheets:
            self._sheets[found[0]] = package.sheet(*found)
        sheet = self._sheets[found[0]]
        if sheet.compacted:
            package.refill(sheet)
        return sheet

    def lock_file(self) -> Path | None:
        """The lock file Excel (`~$hub.xlsx`) or LibreOffice (`.~lock.hub.xlsx#`) keeps beside the
        workbook while someone has it open, if there is one."""
        name = self.path.name
        for candidate in (f"~${name}", f"~${name[2:]}", f".~lock.{name}#"):
            lock = self.path.with_name(candidate)
            if lock.exists():
                return lock
        return None

    def save(self) -> None:
        """Write the workbook to a temporary file beside it, then rename it over the original,
        keeping the original's permissions."""
        with self._lock:
            lock = self.lock_file()
            if lock is not None:
                log.warning("workbook %s is open in a spreadsheet application (%s): saving it there would "
                            "overwrite what the worker writes", self.path, lock.name)
            book = self._book
            if book is None and self._package is None:
                book = self.book()
            if book is not None and not book.worksheets:
                book.create_sheet("Feuil1")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self._temp_prefix, suffix=TEMP_SUFFIX, dir=self.path.parent)
            written = b""
            try:
                with os.fdopen(fd, "wb") as handle:
                    if book is not None:
                        book.save(handle)
                    else:
                        assert self._package is not None
                        buffer = io.BytesIO()
                        self._package.write(buffer, list(self._sheets.values()))
                        written = buffer.getvalue()
                        handle.write(written)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(tmp, self._file_mode())  # mkstemp makes it private (0600)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            self._stamp = self._disk_stamp()
            self._dirty = False
            self.saves += 1
            if book is not None:  # read back through the lean view from now on
                self._book, self._package, self._sheets = None, None, {}
                self._headers.clear()
                self._extents.clear()
            else:
                assert self._package is not None
                self._package.saved(written)
                for sheet in self._sheets.values():
                    sheet.saved()

    @property
    def _temp_prefix(self) -> str:
        return f".{self.path.stem}-"

    def remove_stale_temp_files(self) -> list[Path]:
        """Delete the temporary copies a killed save left beside this workbook: only files named as
        this store names them (`.<name>-….xlsx.tmp`) and older than an hour (a save running now in
        another process is left alone). Returns what was removed."""
        removed: list[Path] = []
        try:
            candidates = list(self.path.parent.glob(f"{glob.escape(self._temp_prefix)}*{TEMP_SUFFIX}"))
        except OSError:
            return removed
        limit = self.wall_clock() - STALE_TEMP_SECONDS
        ours = re.compile(re.escape(self._temp_prefix) + r"[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX))  # mkstemp's names
        for candidate in candidates:
            if not ours.fullmatch(candidate.name):
                continue  # another workbook's (".hub-2-…" for hub-2.xlsx) or not a temporary copy
            try:
                if candidate.is_file() and not candidate.is_symlink() and candidate.stat().st_mtime < limit:
                    candidate.unlink()
                    removed.append(candidate)
            except OSError as exc:  # not ours to fight over: say so and go on
                log.warning("cannot remove the stale temporary file %s: %s", candidate, exc)
        if removed:
            log.info("removed %d temporary file(s) left by an interrupted save of %s", len(removed), self.path.name)
        return removed
    def _file_mode(self) -> int:
        """The workbook's permissions: the existing file's, else what the umask gives a new file."""
        try:
            return stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            return 0o666 & ~umask

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
            "(redonnez-lui son nom ou rétablissez-le depuis l'historique des versions ; pour un classeur neuf, "
            "lancez `cantines init`, qui le crée vide)"
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

    def _lean(self) -> Sheet | None:
        """This tab in the lean view; None while the store holds the whole workbook in openpyxl."""
        if self.store.package() is None:
            return None
        sheet = self.store.sheet(self.spec.name)
        if sheet is None:
            raise SchemaError(
                f"Onglet « {self.spec.name} » absent du classeur {self.store.path.name} "
                "(redonnez-lui son nom ou rétablissez-le depuis l'historique des versions ; pour un classeur neuf, "
                "lancez `cantines init`, qui le crée vide)"
            )
        return sheet

    def _lean_header(self, sheet: Sheet) -> dict[str, int]:
        positions: dict[str, int] = {}
        wanted = {header_key(c.name): c.name for c in self.spec.columns}
        for column, value in sheet.header():
            name = wanted.get(header_key(value))
            if name is not None and name not in positions:
                positions[name] = column
        return positions

    def read(self, columns: Sequence[str] | None = None) -> list[Row]:
        with self.store._lock:
            lean = self._lean()
            if lean is not None:
                return self._read_lean(lean, columns)
            sheet = self._sheet()
            header = self._header(sheet)
            self._absent = tuple(name for name in self.spec.column_names if name not in header)
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

    def _read_lean(self, sheet: Sheet, columns: Sequence[str] | None) -> list[Row]:
        header = self._lean_header(sheet)
        self._absent = tuple(name for name in self.spec.column_names if name not in header)
        names = list(columns) if columns is not None else list(self.spec.column_names)
        # Read again with nothing written since (the syncs read the Indicateurs, then the load does):
        # the same rows, not normalised twice. Rows are frozen; their lists are the caller's own.
        cached = sheet.reads.get((self.spec, tuple(names)))
        if cached is not None and cached[0] == sheet.version:
            return list(cached[1])
        wanted = [(spec.name, spec, header.get(spec.name)) for spec in (self.spec.column(n) for n in names)]
        tz = self.store.timezone
        rows: list[Row] = []
        for number in sorted(sheet.rows):
            if number < 2:
                continue
            cells = sheet.rows[number].cells
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells.values()):
                continue  # blank rows staff leave between blocks
            fields = {name: normalise(spec, cells.get(index) if index is not None else None, tz)
                      for name, spec, index in wanted}
            rows.append(Row(str(number), fields, number))
        sheet.reads[(self.spec, tuple(names))] = (sheet.version, rows)
        return list(rows)

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

    def _edit(self, column: ColumnSpec, value: Value) -> Edit:
        written = self._cell_value(column, value)
        if isinstance(written, str):
            written = ILLEGAL_CHARACTERS_RE.sub("\ufffd", written)
        return Edit(written, NUMBER_FORMATS.get(column.type), column.type == "long_text")

    def _lean_positions(self, sheet: Sheet, names: Iterable[str]) -> dict[str, int]:
        header = self._lean_header(sheet)
        self._require(header, names)
        return header

    def _require(self, header: Mapping[str, int], names: Iterable[str]) -> None:
        missing = [n for n in names if n not in header]
        if missing:
            raise SchemaError(
                f"{'Colonnes' if len(missing) > 1 else 'Colonne'} {', '.join(f'« {m} »' for m in missing)} "
                f"{'absentes' if len(missing) > 1 else 'absente'} de l'onglet "
                f"« {self.spec.name} » (lancez `cantines init`)"
            )

    def _write_cell(self, sheet: Worksheet, row: int, index: int, column: ColumnSpec, value: Value) -> None:
        cell = sheet.cell(row=row, column=index)
        written = self._cell_value(column, value)
        if isinstance(written, str):
            # characters an .xlsx cannot hold (NUL, other controls) become U+FFFD instead of failing the save
            written = ILLEGAL_CHARACTERS_RE.sub("\ufffd", written)
        cell.value = written
        if isinstance(written, str):
            # text stays text: "=SOMME(…)" is no live formula, "#REF!" no error cell; the quote prefix
            # keeps Excel and LibreOffice from turning it into one when staff edit the cell
            cell.data_type = "s"
            cell.quotePrefix = written.startswith(FORMULA_STARTS) or written.strip().upper() in ERROR_CODES
        elif cell.quotePrefix:
            cell.quotePrefix = False
        fmt = NUMBER_FORMATS.get(column.type)
        if fmt and cell.value is not None:
            cell.number_format = fmt
        if column.type == "long_text":
            cell.alignment = WRAPPED

    def _positions_for(self, sheet: Worksheet, names: Iterable[str]) -> dict[str, int]:
        header = self._header(sheet)
        self._require(header, names)
        return header

    def create(self, rows: Iterable[Mapping[str, Value]]) -> list[Row]:
        rows = list(rows)
        if not rows:
            return []
        with self.store._lock:
            lean = self._lean()
            if lean is not None:
                header = self._lean_positions(lean, {n for r in rows for n in r})
                next_row = (lean.extent if lean.extent is not None else lean.last_row()) + 1
                lean.extent = next_row - 1 + len(rows)
                created = []
                for values in rows:
                    for name, value in values.items():
                        lean.set(next_row, header[name], self._edit(self.spec.column(name), value))
                    created.append(Row(str(next_row), dict(values), next_row))
                    next_row += 1
                self.store.changed()
                return created
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
            lean = self._lean()
            if lean is not None:
                header = self._lean_positions(lean, {n for _, values in changes for n in values})
                for row_id, values in changes:
                    for name, value in values.items():
                        lean.set(int(row_id), header[name], self._edit(self.spec.column(name), value))
                self.store.changed()
                return len(changes)
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
            lean = self._lean()
            if lean is not None and lean.rows_move_here():
                lean.delete(set(numbers))
                lean.extent = None
                self.store.changed()
                return len(numbers)
            sheet = self._sheet()
            for number in numbers:
                sheet.delete_rows(number)
            self.store._extents.pop(sheet.title, None)
            self.store.changed()
            return len(numbers)

    def sort_rows(self, key: Callable[[Mapping[str, Value]], Any]) -> bool:
        """Put the data rows in the order of `key` (over each row's schema values), each row moving
        whole: its other columns, staff's, and its cells' formats go with it. True if rows moved."""
        with self.store._lock:
            rows = [r for r in self.read()]
            order = sorted(rows, key=lambda r: key(r.fields))
            if [r.id for r in order] == [r.id for r in rows]:
                return False
            lean = self._lean()
            if lean is not None and lean.rows_move_here():
                targets = sorted(r.position for r in rows)
                lean.reorder({row.position: target for target, row in zip(targets, order)})
                self.store.changed()
                return True
            sheet = self._sheet()
            width = sheet.max_column
            saved = {
                r.position: [(c.value, c.data_type, c._style, c.comment) for c in sheet[r.position][:width]]
                for r in rows
            }
            for target, row in zip(sorted(r.position for r in rows), order):
                for index, (value, data_type, style, comment) in enumerate(saved[row.position], start=1):
                    cell = sheet.cell(row=target, column=index)
                    cell.value, cell._style, cell.comment = value, style, comment
                    cell.data_type = data_type  # text stays text: « =… » or « #REF! » never becomes live
            self.store.changed()
            return True

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
            lean = None
            try:
                lean = self._lean()
            except SchemaError:
                pass  # created below, through openpyxl
            if lean is not None:
                header = self._lean_header(lean)
                complete = all(c.name in header for c in self.spec.columns)
                noted = all(not c.note or f"{get_column_letter(header[c.name])}1" in lean.notes
                            for c in self.spec.columns if c.name in header)
                if complete and noted:
                    return SchemaChanges()
            return self._ensure_schema_full()

    def _ensure_schema_full(self) -> SchemaChanges:
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
            noted = False
            last = max((c.column for c in sheet[1] if c.value not in (None, "")), default=0)
            for column in self.spec.columns:
                if column.name in header:
                    if column.note and sheet.cell(row=1, column=header[column.name]).comment is None:
                        sheet.cell(row=1, column=header[column.name]).comment = header_note(column)
                        noted = True  # a note added to an existing header: staff keep the rest
                    continue
                last += 1
                self._add_header(sheet, last, column)
                changes.added_columns.append(column.name)
            self.store._headers.pop(sheet.title, None)
            if changes.changed or noted:
                self.store.changed()
            return changes

    def _add_header(self, sheet: Worksheet, index: int, column: ColumnSpec) -> None:
        cell = sheet.cell(row=1, column=index, value=column.name)
        cell.font = HEADER_FONT
        cell.fill = WORKER_HEADER_FILL if column.owner == "worker" else HEADER_FILL
        letter = get_column_letter(index)
        width = 14 if column.type in ("date", "checkbox", "integer", "number", "amount", "percent") else 24
        if column.type == "long_text":
            width = LONG_TEXT_WIDTH
        sheet.column_dimensions[letter].width = max(width, len(column.name) + 4)
        if column.note:
            cell.comment = header_note(column)
        if column.hidden:
            sheet.column_dimensions[letter].hidden = True
        if column.type == "choice" and column.choices:
            formula = '"' + ",".join(column.choices) + '"'
            if len(formula) <= 255 and not any("," in c or '"' in c for c in column.choices):
                validation = DataValidation(
                    type="list", formula1=formula, allow_blank=True, errorStyle="warning",
                    error=f"Valeurs attendues : {', '.join(column.choices)}", errorTitle=column.name,
                )
                validation.add(f"{letter}2:{letter}5000")
                sheet.add_data_validation(validation)


def header_note(column: ColumnSpec) -> Comment:
    """The column's meaning, as a note on its header cell (shown when staff hover it)."""
    note = Comment(column.note, "cantines-worker")
    note.width, note.height = 320, 120
    return note
