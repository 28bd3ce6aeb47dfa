"""A deployment's own names for a table: the table wrapper that translates them at the boundary.

A team that keeps its own base calls its tables, columns and choices its own way ("Réseau" for
Cantines, "Mail du/de la responsable" for « Email responsable », « Active » for « Ouverte »). The
worker's code reads the shipped names only; `MappedTable` sits between it and a backend's table
(workbook, Airtable, Google Sheets): rows read come out under the shipped column names with the shipped
choice wordings, rows written go in under the base's names and wordings. A column the base does not
have reads as empty and is never written; a table kept in several (« Cantines Nord », « Cantines Sud »)
is read from all of them, and new rows go to the first.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from connectors.errors import RowGoneError, SchemaError
from connectors.tables.base import Row, SchemaChanges, Table, TableSpec, UpsertResult, Value


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a wording (« projet » reads as « Projet »)."""
    text = unicodedata.normalize("NFKD", str(text).strip())
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).casefold().split())


@dataclass(frozen=True)
class TableNames:
    """One table's names in a deployment's base. Code names (the shipped schema's) on the left."""

    names: tuple[str, ...]  # the table (tab, sheet) names in the base; several: read from all
    columns: Mapping[str, str | None] = field(default_factory=dict)  # code → base name; None: no such column
    # code column → code choice → the base's wordings (the first is the one written)
    choices: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    absent: bool = False  # the base has no such table

    @property
    def identity(self) -> bool:
        return len(self.names) == 1 and not self.columns and not self.choices and not self.absent

    def column(self, code: str) -> str | None:
        """The base's name of column `code` (None: the base has no such column)."""
        return self.columns[code] if code in self.columns else code

    def has(self, code: str) -> bool:
        return self.column(code) is not None

    def choice(self, column: str, code: str) -> str:
        """The wording the base writes for choice `code` of `column`."""
        return self.choices.get(column, {}).get(code, (code,))[0]

    def reader(self, column: str) -> dict[str, str]:
        """Folded base wording → code wording, for one choice column (shipped wordings read as themselves
        unless the base uses them for another choice)."""
        table: dict[str, str] = {}
        wordings = self.choices.get(column, {})
        for code, words in wordings.items():
            for word in words:
                table.setdefault(fold(word), code)
        return table

    def spec(self, spec: TableSpec, name: str | None = None) -> TableSpec:
        """The table as it is in the base: its name, its columns renamed (those it lacks left out),
        its choices in its wordings (the written one first, then the others it reads)."""
        columns = []
        for column in spec.columns:
            renamed = self.column(column.name)
            if renamed is None:
                continue
            choices = column.choices
            mapped = self.choices.get(column.name)
            if mapped and choices:
                words: list[str] = []
                for code in choices:
                    words.extend(mapped.get(code, (code,)))
                choices = tuple(dict.fromkeys(words))
            columns.append(replace(column, name=renamed, choices=choices))
        key = tuple(self.column(k) or k for k in spec.key)
        return TableSpec(code=spec.code, name=name or self.names[0], columns=tuple(columns), key=key, owner=spec.owner)


IDENTITY = TableNames(names=())


class MappedTable(Table):
    """A table read and written under the shipped names, held in one or several tables of a base
    under that base's names. `spec` is the shipped one (its `name` is what staff call the table);
    `parts` are the backend's tables, each opened with the base's spec (`TableNames.spec`)."""

    def __init__(self, spec: TableSpec, names: TableNames, parts: Sequence[Table]):
        self.spec = spec
        self.names = names
        self.parts = list(parts)
        self.write_batch = min((p.write_batch for p in self.parts if p.write_batch), default=None)
        self._readers = {c.name: names.reader(c.name) for c in spec.columns
                         if c.type in ("choice", "multi") and c.name in names.choices}
        self._absent: tuple[str, ...] = ()

    # -- names -----------------------------------------------------------------------------

    def _id(self, index: int, row_id: str) -> str:
        return row_id if len(self.parts) == 1 else f"{index}:{row_id}"

    def _split(self, row_id: str) -> tuple[int, str]:
        if len(self.parts) == 1:
            return 0, row_id
        index, _, inner = str(row_id).partition(":")
        return int(index), inner

    def _choice_in(self, column: str, value: Value) -> Value:
        reader = self._readers.get(column)
        if not reader or value is None:
            return value
        if isinstance(value, (list, tuple)):
            return [reader.get(fold(v), v) if isinstance(v, str) else v for v in value]
        return reader.get(fold(value), value) if isinstance(value, str) else value

    def _choice_out(self, column: str, value: Value) -> Value:
        if column not in self.names.choices or value is None:
            return value
        if isinstance(value, (list, tuple)):
            return [self.names.choice(column, v) if isinstance(v, str) else v for v in value]
        return self.names.choice(column, value) if isinstance(value, str) else value

    def fields_in(self, fields: Mapping[str, Value], names: Sequence[str]) -> dict[str, Value]:
        """A row read from the base, under the shipped names and wordings."""
        out: dict[str, Value] = {}
        for code in names:
            renamed = self.names.column(code)
            out[code] = None if renamed is None else self._choice_in(code, fields.get(renamed))
        return out

    def fields_out(self, values: Mapping[str, Value]) -> dict[str, Value]:
        """A row to write, under the base's names and wordings; columns the base lacks are dropped."""
        out: dict[str, Value] = {}
        for code, value in values.items():
            renamed = self.names.column(code)
            if renamed is not None:
                out[renamed] = self._choice_out(code, value)
        return out

    # -- the table interface ---------------------------------------------------------------

    def read(self, columns: Sequence[str] | None = None) -> list[Row]:
        names = list(columns) if columns is not None else list(self.spec.column_names)
        present = [n for n in (self.names.column(c) for c in names) if n is not None]
        rows: list[Row] = []
        absent: list[str] = []
        for index, part in enumerate(self.parts):
            for row in part.read(present):
                rows.append(Row(self._id(index, row.id), self.fields_in(row.fields, names), row.position, row.url))
            gone = set(part.absent_columns())
            absent.extend(c.name for c in self.spec.columns if self.names.column(c.name) in gone)
        self._absent = tuple(dict.fromkeys(absent))
        return rows

    def absent_columns(self) -> tuple[str, ...]:
        return self._absent

    def create(self, rows: Iterable[Mapping[str, Value]]) -> list[Row]:
        rows = [dict(r) for r in rows]
        if not rows:
            return []
        if not self.parts:
            raise SchemaError(f"« {self.spec.name} » : cette base n'a pas cette table (absent = true)")
        created = self.parts[0].create([self.fields_out(r) for r in rows])
        return [Row(self._id(0, row.id), values, row.position, row.url) for row, values in zip(created, rows)]

    def update(self, changes: Iterable[tuple[str, Mapping[str, Value]]]) -> int:
        by_part: dict[int, list[tuple[str, dict[str, Value]]]] = {}
        for row_id, values in changes:
            index, inner = self._split(row_id)
            by_part.setdefault(index, []).append((inner, self.fields_out(values)))
        return self._each(by_part, lambda part, items: part.update(items))

    def delete(self, ids: Iterable[str]) -> int:
        by_part: dict[int, list[str]] = {}
        for row_id in ids:
            index, inner = self._split(row_id)
            by_part.setdefault(index, []).append(inner)
        return self._each(by_part, lambda part, items: part.delete(items))

    def _each(self, by_part: Mapping[int, list[Any]], write: Callable[[Table, list[Any]], int]) -> int:
        done = 0
        for index, items in by_part.items():
            try:
                done += write(self.parts[index], items)
            except RowGoneError as exc:
                raise RowGoneError(str(exc), ids=[self._id(index, i) for i in exc.ids],
                                   written=done + exc.written) from None
        return done

    def upsert(self, rows: Iterable[Mapping[str, Value]], key: Sequence[str]) -> UpsertResult:
        if len(self.parts) != 1:
            return super().upsert(rows, key)  # planned over every part; new rows go to the first
        rows = [dict(r) for r in rows]
        base_key = [self.names.column(k) or k for k in key]
        result = self.parts[0].upsert([self.fields_out(r) for r in rows], base_key)
        names = list(self.spec.column_names)
        return UpsertResult(
            created=[Row(r.id, self.fields_in(r.fields, names), r.position, r.url) for r in result.created],
            updated=[Row(r.id, self.fields_in(r.fields, names), r.position, r.url) for r in result.updated],
            unchanged=result.unchanged,
        )

    def ensure_schema(self) -> SchemaChanges:
        changes = SchemaChanges()
        for part in self.parts:
            done = part.ensure_schema()
            changes.created_table = changes.created_table or done.created_table
            changes.added_columns.extend(done.added_columns)
        return changes

    def sort_rows(self, key: Callable[[Mapping[str, Value]], Any]) -> bool:
        """Sort each part whose backend can (a workbook's tab), by `key` over the shipped names."""
        names = list(self.spec.column_names)
        moved = False
        for part in self.parts:
            sort = getattr(part, "sort_rows", None)
            if sort is not None:
                moved = sort(lambda fields: key(self.fields_in(fields, names))) or moved
        return moved


def unwrap(table: Table) -> list[Table]:
    """The backend tables behind `table` (itself when it is not mapped)."""
    return list(table.parts) if isinstance(table, MappedTable) else [table]
