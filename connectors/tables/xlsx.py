"""A lean view of an .xlsx file: each tab's cell values as plain rows, written back by patching only
the rows of the tabs that changed, every other part of the file (other tabs, formatting, validation
drop-downs, notes, column widths, frozen panes) kept as it was.

openpyxl builds an object per cell (some 400 bytes) and rewrites the whole file on save; a hub of a
thousand cantines has some 700,000 cells. Here a tab is parsed (openpyxl's own streaming parser)
only when read, its values kept as plain dicts, and a save rewrites the changed rows of the changed
tabs; new text is written as inline strings, so the shared strings table is never rewritten."""

from __future__ import annotations

import bisect
import datetime as dt
import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

from lxml import etree
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.reader.strings import read_string_table
from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_REVERSE, is_date_format, is_timedelta_format
from openpyxl.utils.cell import column_index_from_string, get_column_letter
from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH, from_excel, from_ISO8601, to_excel
from openpyxl.worksheet._reader import WorkSheetParser

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
OFFICE_DOCUMENT = REL + "/officeDocument"
COMMENTS = REL + "/comments"
_M = "{%s}" % MAIN
QUOTE = {'"': "&quot;"}  # escaped in text too: no text of ours can look like an attribute to the row patcher
# Text starting with these would be a formula when staff edit the cell (OWASP, CSV injection)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_SHEET_DATA = re.compile(rb"<(?:[\w.-]+:)?sheetData\b[^>]*?(/?)>")
_ROW_OPEN = re.compile(rb"<(?:[\w.-]+:)?row\b[^>]*?(/?)>")
_CELL_OPEN = re.compile(rb"<(?:[\w.-]+:)?c\b[^>]*?(/?)>")
_R_ATTR = re.compile(rb'\sr="([A-Z]*)(\d+)"')
_S_ATTR = re.compile(rb'\ss="(\d+)"')
_SPANS = re.compile(rb'\sspans="[^"]*"')
_FORMULA = re.compile(rb"<(?:[\w.-]+:)?f[\s>/]")
_DIMENSION = re.compile(rb'(<(?:[\w.-]+:)?dimension\b[^>]*\sref=")([^"]*)(")')


def _part(base: str, target: str) -> str:
    """A relationship's target as a path inside the zip."""
    if target.startswith("/"):
        return target[1:]
    return posixpath.normpath(posixpath.join(posixpath.dirname(base), target))


def _rels_of(part: str) -> str:
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")


class Styles:
    """The cell formats (cellXfs) of styles.xml: which ones are dates (for reading), and new ones
    made on demand from an existing cell's format (for writing), each made once."""

    def __init__(self, data: bytes):
        self.root = etree.fromstring(data)
        self.xfs_node = self.root.find(_M + "cellXfs")
        if self.xfs_node is None:
            raise ValueError("styles.xml has no cellXfs")
        self.xfs = list(self.xfs_node)
        self.formats: dict[int, str] = dict(BUILTIN_FORMATS)
        self.numfmts_node = self.root.find(_M + "numFmts")
        if self.numfmts_node is not None:
            for fmt in self.numfmts_node:
                self.formats[int(fmt.get("numFmtId"))] = fmt.get("formatCode", "")
        self.date_ids: set[int] = set()
        self.timedelta_ids: set[int] = set()
        for index, xf in enumerate(self.xfs):
            code = self.formats.get(int(xf.get("numFmtId", 0)), "General")
            if is_date_format(code):
                self.date_ids.add(index)
                if is_timedelta_format(code):
                    self.timedelta_ids.add(index)
        self._known: dict[bytes, int] = {}
        for index, xf in enumerate(self.xfs):
            self._known.setdefault(etree.tostring(xf), index)
        self._made: dict[tuple, int] = {}
        self.changed = False

    def _format_id(self, code: str) -> int:
        if code in BUILTIN_FORMATS_REVERSE:
            return BUILTIN_FORMATS_REVERSE[code]
        for number, known in self.formats.items():
            if known == code and number >= 164:
                return number
        number = max([163, *self.formats]) + 1
        if self.numfmts_node is None:
            self.numfmts_node = etree.Element(_M + "numFmts")
            self.root.insert(0, self.numfmts_node)  # numFmts comes first in a stylesheet
        etree.SubElement(self.numfmts_node, _M + "numFmt", numFmtId=str(number), formatCode=code)
        self.numfmts_node.set("count", str(len(self.numfmts_node)))
        self.formats[number] = code
        return number

    def style(self, base: int, number_format: str | None, wrap: bool, quote: bool | None) -> int:
        """The index of `base`'s format with this number format, wrapped text (top-aligned) and quote
        prefix (None: as it is); made if the file has none such."""
        key = (base, number_format, wrap, quote)
        if key in self._made:
            return self._made[key]
        source = self.xfs[base] if 0 <= base < len(self.xfs) else self.xfs[0]
        xf = etree.fromstring(etree.tostring(source))
        if number_format is not None:
            xf.set("numFmtId", str(self._format_id(number_format)))
            xf.set("applyNumberFormat", "1")
        if wrap:
            for old in xf.findall(_M + "alignment"):
                xf.remove(old)
            xf.insert(0, etree.Element(_M + "alignment", wrapText="1", vertical="top"))
            xf.set("applyAlignment", "1")
        if quote is True:
            xf.set("quotePrefix", "1")
        elif quote is False and xf.get("quotePrefix") in ("1", "true"):
            del xf.attrib["quotePrefix"]
        data = etree.tostring(xf)
        index = self._known.get(data)
        if index is None:
            index = len(self.xfs)
            self.xfs_node.append(xf)
            self.xfs.append(xf)
            self.xfs_node.set("count", str(len(self.xfs)))
            self._known[data] = index
            code = self.formats.get(int(xf.get("numFmtId", 0)), "General")
            if is_date_format(code):
                self.date_ids.add(index)
            self.changed = True
        self._made[key] = index
        return index

    def quoted(self, index: int) -> bool:
        xf = self.xfs[index] if 0 <= index < len(self.xfs) else None
        return xf is not None and xf.get("quotePrefix") in ("1", "true")

    def to_bytes(self) -> bytes:
        return etree.tostring(self.root, xml_declaration=True, encoding="UTF-8", standalone=True)


class Edit:
    """A cell written by the worker: its value as it goes into the file, and its format."""

    __slots__ = ("value", "number_format", "wrap")

    def __init__(self, value: Any, number_format: str | None, wrap: bool):
        self.value, self.number_format, self.wrap = value, number_format, wrap


class Slot:
    """One row of a tab: where it came from in the file (None: new), its values by column, and the
    cells written since the file was read."""

    __slots__ = ("origin", "cells", "edits")

    def __init__(self, origin: int | None, cells: dict[int, Any]):
        self.origin = origin
        self.cells = cells
        self.edits: dict[int, Edit] | None = None


class Sheet:
    """One tab: its rows by row number, as the worker sees them now."""

    def __init__(self, title: str, part: str, rows: dict[int, Slot], notes: set[str]):
        self.title = title
        self.part = part
        self.rows = rows
        self.notes = notes  # the cells holding a note ("B1"): a note stays in its cell, it does not move with a row
        self.formulas = False  # staff typed formulas here: their references do not follow a row that moves
        self.extent: int | None = None
        self.dirty = False
        self.moved = False  # rows renumbered (a delete or a sort)
        self.compacted = False  # the values of rows not written let go (Package.refill reads them again)
        self.version = 0  # changes at every write: what was read before is stale
        self.reads: dict[Any, tuple[int, list[Any]]] = {}  # the last rows read, by columns asked, and their version

    def header(self) -> list[tuple[int, Any]]:
        slot = self.rows.get(1)
        return sorted(slot.cells.items()) if slot is not None else []

    def last_row(self) -> int:
        used = [n for n, s in self.rows.items() if n > 1 and any(v not in (None, "") for v in s.cells.values())]
        return max(used, default=1)

    def set(self, row: int, column: int, edit: Edit) -> None:
        slot = self.rows.get(row)
        if slot is None:
            slot = self.rows[row] = Slot(None, {})
        if slot.edits is None:
            slot.edits = {}
        slot.edits[column] = edit
        if edit.value is None:
            slot.cells.pop(column, None)
        else:
            slot.cells[column] = edit.value
        self.dirty = True
        self._changed()

    def rows_move_here(self) -> bool:
        """Whether rows can move (a delete, a sort) by patching: not when a data cell holds a note
        (it stays in its cell here) or the tab holds formulas (their references would not follow);
        openpyxl moves those, as it always did."""
        return not self.formulas and all(re.fullmatch(r"[A-Z]+1", ref) for ref in self.notes)

    def compact(self) -> None:
        """Let go of the values of the rows not written (the file holds them); the rows written stay."""
        for number, slot in self.rows.items():
            if slot.edits is None and slot.origin is not None and number != 1:
                slot.cells = None  # type: ignore[assignment]
        self.compacted = True
        self.reads.clear()

    def _changed(self) -> None:
        self.version += 1
        if self.reads:
            self.reads.clear()

    def saved(self) -> None:
        """The file now holds the rows as they are here."""
        if self.dirty:
            for number, slot in self.rows.items():
                slot.origin, slot.edits = number, None
            self.dirty = self.moved = False

    def delete(self, numbers: set[int]) -> None:
        """Remove these rows, the rows below moving up (as Excel's « Supprimer la ligne »)."""
        rows: dict[int, Slot] = {}
        gone = sorted(numbers)
        for number in sorted(self.rows):
            if number in numbers:
                continue
            shift = _count_below(gone, number)
            rows[number - shift] = self.rows[number]
        self.rows = rows
        self.dirty = self.moved = True
        self._changed()

    def reorder(self, mapping: dict[int, int]) -> None:
        """Move rows whole: row `old` becomes row `mapping[old]`."""
        moved = {new: self.rows[old] for old, new in mapping.items() if old in self.rows}
        for old in mapping:
            self.rows.pop(old, None)
        self.rows.update(moved)
        self.dirty = self.moved = True
        self._changed()


def _count_below(sorted_numbers: list[int], number: int) -> int:
    return bisect.bisect_left(sorted_numbers, number)


class Package:
    """The parts of an .xlsx file the worker needs: tab names and parts, shared strings, formats."""

    def __init__(self, path: Any):
        self.path = path
        self.data = Path(path).read_bytes()  # the file as read: what a save patches, whatever happens on disk since
        with self._open() as archive:
            self.names = set(archive.namelist())
            root_rels = etree.fromstring(archive.read("_rels/.rels"))
            self.workbook_part = next(
                (_part("", r.get("Target")) for r in root_rels if r.get("Type") == OFFICE_DOCUMENT), "xl/workbook.xml")
            book = etree.fromstring(archive.read(self.workbook_part))
            rels_part = _rels_of(self.workbook_part)
            rels = etree.fromstring(archive.read(rels_part)) if rels_part in self.names else etree.Element("x")
            targets = {r.get("Id"): (r.get("Type", ""), _part(self.workbook_part, r.get("Target", ""))) for r in rels}
            self.sheets: list[tuple[str, str]] = []
            for sheet in book.iter(_M + "sheet"):
                kind, part = targets.get(sheet.get("{%s}id" % REL), ("", ""))
                if part in self.names:
                    self.sheets.append((sheet.get("name"), part))
            pr = book.find(_M + "workbookPr")
            self.epoch = CALENDAR_MAC_1904 if pr is not None and pr.get("date1904") in ("1", "true") else WINDOWS_EPOCH
            strings = next((p for k, p in targets.values() if k.endswith("/sharedStrings")), None)
            self.strings: list[str] = []
            if strings in self.names:
                with archive.open(strings) as src:
                    self.strings = read_string_table(src)
            styles = next((p for k, p in targets.values() if k.endswith("/styles")), None)
            if styles not in self.names:
                raise ValueError("no styles part")
            self.styles_part = styles
            self.styles = Styles(archive.read(styles))

    def _open(self) -> zipfile.ZipFile:
        return zipfile.ZipFile(io.BytesIO(self.data))

    def sheet(self, title: str, part: str) -> Sheet:
        """Read one tab's values."""
        with self._open() as archive:
            data = archive.read(part)
            rows = {number: Slot(number, values) for number, values in self._rows(data)}
            sheet = Sheet(title, part, rows, self._notes(archive, part))
        sheet.formulas = bool(_FORMULA.search(data))
        return sheet

    def refill(self, sheet: Sheet) -> None:
        """Read again the values of the rows `Sheet.compact` let go."""
        with self._open() as archive:
            values = dict(self._rows(archive.read(sheet.part)))
        for slot in sheet.rows.values():
            if slot.cells is None:
                slot.cells = values.get(slot.origin, {}) if slot.origin is not None else {}
        sheet.compacted = False

    def _rows(self, data: bytes) -> Iterator[tuple[int, dict[int, Any]]]:
        if _FORMULA.search(data):  # formulas staff typed: openpyxl's parser reads them as it always did
            parser = WorkSheetParser(io.BytesIO(data), self.strings, epoch=self.epoch,
                                     date_formats=self.styles.date_ids, timedelta_formats=self.styles.timedelta_ids)
            for number, cells in parser.parse():
                yield number, {c["column"]: c["value"] for c in cells if c["value"] is not None}
        else:
            yield from self._values(data)

    def _values(self, data: bytes) -> Iterator[tuple[int, dict[int, Any]]]:
        """Each row's number and values by column (as openpyxl's parser reads them, formulas aside)."""
        strings, dates, timedeltas, epoch = self.strings, self.styles.date_ids, self.styles.timedelta_ids, self.epoch
        columns: dict[str, int] = {}
        number = 0
        for _, row in etree.iterparse(io.BytesIO(data), events=("end",), tag=_M + "row", huge_tree=True):
            r = row.get("r")
            number = int(r) if r else number + 1
            values: dict[int, Any] = {}
            column = 0
            for cell in row.iterchildren(_M + "c"):
                ref = cell.get("r")
                if ref:
                    letters = ref.rstrip("0123456789")
                    column = columns.get(letters) or columns.setdefault(letters, column_index_from_string(letters))
                else:
                    column += 1
                kind = cell.get("t", "n")
                if kind == "inlineStr":
                    inline = cell.find(_M + "is")
                    if inline is not None:
                        values[column] = "".join(t.text or "" for t in inline.iterchildren(_M + "t")) + "".join(
                            t.text or "" for run in inline.iterchildren(_M + "r") for t in run.iterchildren(_M + "t"))
                    continue
                text = cell.findtext(_M + "v")
                if not text:
                    continue
                if kind == "n":
                    value: Any = float(text) if ("." in text or "E" in text or "e" in text) else int(text)
                    style = int(cell.get("s", 0))
                    if style in dates:
                        try:
                            value = from_excel(value, epoch, timedelta=style in timedeltas)
                        except (OverflowError, ValueError):
                            value = "#VALUE!"
                elif kind == "s":
                    value = strings[int(text)]
                elif kind == "b":
                    value = bool(int(text))
                elif kind == "d":
                    value = from_ISO8601(text)
                else:  # str, e
                    value = text
                values[column] = value
            row.clear()
            while row.getprevious() is not None:
                del row.getparent()[0]
            yield number, values

    def _notes(self, archive: zipfile.ZipFile, part: str) -> set[str]:
        rels_part = _rels_of(part)
        if rels_part not in self.names:
            return set()
        refs: set[str] = set()
        for rel in etree.fromstring(archive.read(rels_part)):
            if rel.get("Type") == COMMENTS:
                target = _part(part, rel.get("Target", ""))
                if target in self.names:
                    refs.update(c.get("ref", "") for c in etree.fromstring(archive.read(target)).iter(_M + "comment"))
        return refs

    def write(self, out: IO[bytes], sheets: list[Sheet]) -> None:
        """The file with these tabs' rows patched; every other part copied as it was."""
        patched = {s.part: s for s in sheets if s.dirty}
        with self._open() as archive, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            chain = next((n for n in self.names if n.endswith("/calcChain.xml")), None) if patched else None
            for info in archive.infolist():
                if chain is not None and info.filename == chain:
                    continue  # Excel's formula order: rebuilt by Excel, stale once cells change (openpyxl drops it too)
                if chain is not None and info.filename in ("[Content_Types].xml", _rels_of(self.workbook_part)):
                    data = re.sub(rb"<(?:[\w.-]+:)?(?:Override|Relationship)\b[^>]*calcChain\.xml\"[^>]*/>", b"",
                                  archive.read(info.filename))
                    target.writestr(_info_like(info), data)
                    continue
                if info.filename in patched:  # streamed, piece by piece: a large tab is never copied whole
                    with target.open(_info_like(info), "w", force_zip64=True) as stream:
                        for piece in patch_sheet(archive.read(info.filename), patched[info.filename], self.styles):
                            stream.write(piece)
                elif info.filename != self.styles_part:
                    target.writestr(_info_like(info), archive.read(info.filename))
            # last: patching the tabs may have added formats
            styles = archive.getinfo(self.styles_part)
            target.writestr(_info_like(styles), self.styles.to_bytes() if self.styles.changed else archive.read(styles))

    def saved(self, data: bytes) -> None:
        """The file as just written (what the next save patches)."""
        self.data = data
        self.styles.changed = False


def _info_like(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    copy = zipfile.ZipInfo(info.filename, date_time=info.date_time)
    copy.compress_type = zipfile.ZIP_DEFLATED
    copy.external_attr = info.external_attr
    return copy


def patch_sheet(data: bytes, sheet: Sheet, styles: Styles) -> Iterator[bytes]:
    """The tab's XML, in pieces, with its rows as `sheet` holds them: untouched rows copied
    (renumbered if they moved), written cells replaced, new rows appended; everything outside the
    rows kept (the dimension updated)."""
    found = _SHEET_DATA.search(data)
    if found is None:
        raise ValueError(f"no sheetData in {sheet.part}")
    head = data[:found.start()]
    if found.group(1):  # <sheetData/>: no rows yet
        inner, tail, opening = b"", data[found.end():], found.group(0)[:-2] + b">"
        closing = b"</" + opening[1:].split(b" ")[0].split(b">")[0] + b">"
    else:
        end = data.rfind(b"sheetData>")
        close_start = data.rfind(b"</", found.end(), end)
        inner, tail = data[found.end():close_start], data[end + len(b"sheetData>"):]
        opening, closing = found.group(0), data[close_start:end + len(b"sheetData>")]
    originals = dict(_split_rows(inner))
    del inner
    dimension = _DIMENSION.search(head)
    if dimension is not None:
        max_column = max((max(slot.edits) for slot in sheet.rows.values() if slot.edits), default=1)
        first = dimension.group(2).split(b":")[0] or b"A1"
        column = get_column_letter(max(max_column, _ref_column(dimension.group(2)))).encode()
        ref = first + b":" + column + str(max(sheet.rows, default=1)).encode()
        head = head[:dimension.start(2)] + ref + head[dimension.end(2):]
    yield head
    yield opening
    for number in sorted(sheet.rows):
        slot = sheet.rows[number]
        raw = originals.get(slot.origin) if slot.origin is not None else None
        if slot.edits is None and raw is not None:
            yield raw if slot.origin == number else _renumber(raw, number)
        elif raw is not None or slot.edits:
            yield _patched_row(raw, number, slot.edits or {}, styles)
    yield closing
    yield tail


def _ref_column(ref: bytes) -> int:
    match = re.match(rb"([A-Z]+)", ref.split(b":")[-1])
    return column_index_from_string(match.group(1).decode()) if match else 1


def _split_rows(inner: bytes) -> Iterator[tuple[int, bytes]]:
    position = 0
    counter = 0
    while True:
        found = _ROW_OPEN.search(inner, position)
        if found is None:
            return
        if found.group(1):
            end = found.end()
        else:
            close = re.compile(rb"</(?:[\w.-]+:)?row>").search(inner, found.end())
            end = close.end() if close else len(inner)
        raw = inner[found.start():end]
        number = _R_ATTR.search(found.group(0))
        counter = int(number.group(2)) if number else counter + 1  # a row without r follows the previous one
        if number is None:
            raw = re.sub(rb"^<((?:[\w.-]+:)?row)\b", b'<\\1 r="%d"' % counter, raw, count=1)
        yield counter, raw
        position = end


def _renumber(raw: bytes, number: int) -> bytes:
    row = str(number).encode()
    return _R_ATTR.sub(lambda m: b' r="' + m.group(1) + row + b'"', raw)


def _cells(raw: bytes) -> tuple[bytes, list[tuple[int, bytes]], bytes]:
    """A row's opening tag, its cells (column, raw XML) and what follows them."""
    opening = _ROW_OPEN.match(raw)
    assert opening is not None
    if opening.group(1):
        return opening.group(0)[:-2] + b">", [], b""
    body_end = raw.rfind(b"</")
    position = opening.end()
    cells: list[tuple[int, bytes]] = []
    column = 0
    while True:
        found = _CELL_OPEN.search(raw, position, body_end)
        if found is None:
            break
        if found.group(1):
            end = found.end()
        else:
            end = re.compile(rb"</(?:[\w.-]+:)?c>").search(raw, found.end()).end()
        ref = _R_ATTR.search(found.group(0))
        column = column_index_from_string(ref.group(1).decode()) if ref and ref.group(1) else column + 1
        cells.append((column, raw[found.start():end]))
        position = end
    return opening.group(0), cells, raw[position:body_end]


def _patched_row(raw: bytes | None, number: int, edits: dict[int, Edit], styles: Styles) -> bytes:
    if raw is None:
        opening, cells, rest = b'<row r="%d">' % number, [], b""
    else:
        opening, cells, rest = _cells(raw)
        opening = _SPANS.sub(b"", _renumber(opening, number))
    row_style = _S_ATTR.search(opening)
    default_style = int(row_style.group(1)) if row_style and b"customFormat=\"1\"" in opening else 0
    out = [opening]
    kept = {column: cell for column, cell in cells}
    for column in sorted(set(kept) | set(edits)):
        if column not in edits:
            out.append(_renumber(kept[column], number))
            continue
        old = kept.get(column)
        style = _S_ATTR.search(_CELL_OPEN.match(old).group(0)) if old is not None else None
        out.append(_cell_xml(get_column_letter(column) + str(number), edits[column],
                             int(style.group(1)) if style else default_style, styles))
    out.append(rest)
    out.append(b"</row>")
    return b"".join(out)


def _cell_xml(ref: str, edit: Edit, base: int, styles: Styles) -> bytes:
    value = edit.value
    quote: bool | None = None
    if isinstance(value, str):
        quote = value.startswith(FORMULA_STARTS) or value.strip().upper() in ERROR_CODES
    elif styles.quoted(base):
        quote = False
    number_format = edit.number_format if value is not None else None
    style = styles.style(base, number_format, edit.wrap, quote) if (number_format or edit.wrap or quote is not None) else base
    s = f' s="{style}"' if style else ""
    if value is None:
        return f'<c r="{ref}"{s}/>'.encode()
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'.encode()
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return f'<c r="{ref}"{s}><v>{to_excel(value)}</v></c>'.encode()
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"{s}><v>{value!r}</v></c>'.encode()
    text = str(value)
    space = ' xml:space="preserve"' if text != text.strip() or "\n" in text else ""
    return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{escape(text, QUOTE)}</t></is></c>'.encode()


