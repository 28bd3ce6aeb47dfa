"""The table interface every backend (workbook, Airtable, Google Sheets) implements."""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# Column types a schema may use; backends map them to their native types.
COLUMN_TYPES = frozenset(
    {
        "text",
        "long_text",
        "email",
        "emails",
        "date",
        "datetime",
        "number",
        "integer",
        "amount",
        "percent",
        "checkbox",
        "choice",
        "multi",
        "link",
    }
)
LIST_TYPES = frozenset({"multi", "emails"})  # and links with multiple = true
NUMBER_TYPES = frozenset({"number", "integer", "amount", "percent"})

Value = Any  # str | int | Decimal | bool | date | datetime | list[str] | None


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its name as staff see it, its type, and who writes it."""

    name: str
    type: str
    required: bool = False
    choices: tuple[str, ...] = ()
    owner: str = "staff"
    link_table: str | None = None
    multiple: bool = False
    optional: bool = False  # may be missing from a deployment's table: read as empty, nothing waits for it
    note: str = ""  # what the column means, shown on its header where the backend can (a cell note)
    hidden: bool = False  # a technical column staff need not see (hidden where the backend can)

    @property
    def is_list(self) -> bool:
        return self.type in LIST_TYPES or (self.type == "link" and self.multiple)


@dataclass(frozen=True)
class TableSpec:
    """One table: its code name, its name as staff see it, its columns and key."""

    code: str
    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    owner: str = "staff"

    def column(self, name: str) -> ColumnSpec:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def primary(self) -> str:
        """The first column: what links from other tables name."""
        return self.columns[0].name


@dataclass(frozen=True)
class Row:
    """One row: a backend id (stable until the next delete) and its values by column name."""

    id: str
    fields: Mapping[str, Value]
    position: int | None = None  # the row number staff see, where the backend has one
    url: str | None = None  # where staff open it (an Airtable record, a Sheet row), where the backend knows

    def get(self, name: str, default: Value = None) -> Value:
        return self.fields.get(name, default)


@dataclass
class UpsertResult:
    """What an upsert did, row by row."""

    created: list[Row] = field(default_factory=list)
    updated: list[Row] = field(default_factory=list)
    unchanged: int = 0

    @property
    def written(self) -> int:
        return len(self.created) + len(self.updated)


@dataclass
class SchemaChanges:
    """What `ensure_schema` added (never removes anything)."""

    created_table: bool = False
    added_columns: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.created_table or bool(self.added_columns)


class Table(abc.ABC):
    """A table of rows with named columns, in some backend."""

    spec: TableSpec
    # The most rows one write request may carry and still be all or nothing (None: any number).
    write_batch: int | None = None

    @abc.abstractmethod
    def read(self, columns: Sequence[str] | None = None) -> list[Row]:
        """All rows, with the columns asked for (all known columns when None), values normalised."""

    def absent_columns(self) -> tuple[str, ...]:
        """The schema's columns this table lacks in its backend, as found by the last `read` (which
        returns them empty): a deleted or renamed column, not a column of empty cells."""
        return getattr(self, "_absent", ())

    @abc.abstractmethod
    def create(self, rows: Iterable[Mapping[str, Value]]) -> list[Row]:
        """Append new rows; returns them with their ids."""

    @abc.abstractmethod
    def update(self, changes: Iterable[tuple[str, Mapping[str, Value]]]) -> int:
        """Set the given fields of the rows with the given ids; other fields are left alone."""

    @abc.abstractmethod
    def delete(self, ids: Iterable[str]) -> int:
        """Delete the rows with the given ids; returns how many were deleted."""

    @abc.abstractmethod
    def ensure_schema(self) -> SchemaChanges:
        """Create the table and any missing column; keep everything else."""

    def upsert(self, rows: Iterable[Mapping[str, Value]], key: Sequence[str]) -> UpsertResult:
        """Create rows whose key is new, update only the cells that differ on the others."""
        plan = self.plan_upsert(rows, key)
        if plan.updates:
            self.update(plan.updates)
        if plan.creates:
            plan.result.created = self.create(plan.creates)
        return plan.result

    def plan_upsert(self, rows: Iterable[Mapping[str, Value]], key: Sequence[str]) -> UpsertPlan:
        """Read the table and sort `rows` into creates, updates (the differing cells only) and unchanged."""
        key = tuple(key)
        existing: dict[tuple, Row] = {}
        for row in self.read():
            existing.setdefault(key_of(row.fields, key), row)
        plan = UpsertPlan()
        seen: set[tuple] = set()
        for values in rows:
            k = key_of(values, key)
            if k in seen:
                raise ValueError(f"duplicate key {k!r} in upsert to {self.spec.name}")
            seen.add(k)
            current = existing.get(k)
            if current is None:
                plan.creates.append(values)
                continue
            diff = changed_fields(current.fields, values)
            if diff:
                plan.updates.append((current.id, diff))
                plan.result.updated.append(Row(current.id, {**current.fields, **diff}, current.position))
            else:
                plan.result.unchanged += 1
        return plan


@dataclass
class UpsertPlan:
    """What an upsert will send: rows to create, (id, differing cells) to update, and the result so far."""

    creates: list[Mapping[str, Value]] = field(default_factory=list)
    updates: list[tuple[str, dict[str, Value]]] = field(default_factory=list)
    result: UpsertResult = field(default_factory=UpsertResult)


def key_of(values: Mapping[str, Value], key: Sequence[str]) -> tuple:
    """The comparable key of a row: normalised values of the key columns."""
    return tuple(comparable(values.get(name)) for name in key)


def comparable(value: Value) -> Value:
    """A form of a value in which equal cells compare equal (1 == 1.0, '' == None, [] == None)."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))  # Decimal compares and hashes by numeric value: 1 == 1.0
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (list, tuple)):
        return tuple(comparable(v) for v in value)
    return value


def changed_fields(current: Mapping[str, Value], wanted: Mapping[str, Value]) -> dict[str, Value]:
    """The fields of `wanted` whose value differs from `current` after normalisation."""
    return {name: value for name, value in wanted.items() if comparable(current.get(name)) != comparable(value)}
