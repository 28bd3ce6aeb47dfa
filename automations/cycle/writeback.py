"""Write the worker's results into the tables staff read, changing only what differs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import InvalidValueError, RowGoneError
from connectors.tables.base import Row, Table, Value, changed_fields, key_of

from automations.domain.model import DataProblem


@dataclass
class WriteCounts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    refused: list[DataProblem] = field(default_factory=list)  # rows the backend would not take

    def refuse(self, table: Table) -> Callable[[Any, InvalidValueError], None]:
        """A `write_tolerantly` callback: each refused row becomes a data problem, the others go on."""
        def refused(_row: Any, exc: InvalidValueError) -> None:
            shown = "" if exc.value is None else str(exc.value)
            self.refused.append(DataProblem(table.spec.name, "", exc.column or "", shown, f"écriture refusée : {exc}"))
        return refused

    @property
    def total(self) -> int:
        return self.created + self.updated + self.deleted


def rows_by_key(table: Table, key: Sequence[str]) -> tuple[dict[tuple, Row], list[str]]:
    """The table's first row for each key, and the ids of the later rows with a key already seen."""
    first: dict[tuple, Row] = {}
    duplicates: list[str] = []
    for row in table.read():
        k = key_of(row.fields, key)
        if k in first:
            duplicates.append(row.id)
        else:
            first[k] = row
    return first, duplicates


def unique_by_key(wanted: Iterable[Mapping[str, Value]], key: Sequence[str]) -> Iterator[tuple[tuple, Mapping[str, Value]]]:
    """Each wanted row with its key, the first of each key only."""
    seen: set[tuple] = set()
    for values in wanted:
        k = key_of(values, key)
        if k not in seen:
            seen.add(k)
            yield k, values


def replace_rows(
    table: Table,
    wanted: Iterable[Mapping[str, Value]],
    key: Sequence[str],
    *,
    keep: Sequence[str] = (),
    delete: bool = True,
) -> WriteCounts:
    """Make the table hold exactly `wanted` (by key): create, update the cells that differ, delete
    the rest (unless `delete` is false). Columns in `keep` keep their current value on rows that stay."""
    counts = WriteCounts()
    existing, extra_ids = rows_by_key(table, key)  # duplicates: rows the worker itself will not keep
    creates: list[Mapping[str, Value]] = []
    updates: list[tuple[str, dict[str, Value]]] = []
    full: dict[str, Mapping[str, Value]] = {}  # the whole wanted row of each update, should its row vanish
    for k, values in unique_by_key(wanted, key):
        row = existing.pop(k, None)
        if row is None:
            creates.append(values)
            continue
        row_id, fields = row.id, row.fields
        merged = dict(values)
        for column in keep:
            if fields.get(column) not in (None, "", []):
                merged[column] = fields[column]
        diff = changed_fields(fields, merged)
        if diff:
            updates.append((row_id, diff))
            full[row_id] = merged
    counts.updated = write_tolerantly(table.update, updates, counts.refuse(table), recreate(full, creates))
    counts.created = write_tolerantly(table.create, creates, counts.refuse(table))
    stale = [row.id for row in existing.values()] + extra_ids if delete else []
    if stale:  # last: on a workbook, deleting shifts the rows below
        counts.deleted = table.delete(stale)
    return counts


def upsert_results(
    table: Table,
    wanted: Iterable[Mapping[str, Value]],
    key: Sequence[str],
    *,
    staff_columns: Sequence[str],
    first_seen: str,
    updated: str,
    today: object,
    stale: Callable[[Mapping[str, Value]], Mapping[str, Value]],
) -> WriteCounts:
    """Write the worker's results into a table staff annotate, without ever losing their work.

    New rows are created (with the staff columns' initial values given in `wanted`, and `first_seen`
    set to today); on existing rows only the worker's columns that differ are updated (and `updated`
    set to today); staff columns are never overwritten; rows no longer wanted are never deleted, but
    get the worker-column values `stale(fields)` returns (e.g. État = "Date limite passée").
    """
    counts = WriteCounts()
    existing, _ = rows_by_key(table, key)
    creates: list[Mapping[str, Value]] = []
    updates: list[tuple[str, dict[str, Value]]] = []
    protected = set(staff_columns) | {first_seen, updated}
    full: dict[str, Mapping[str, Value]] = {}  # the whole wanted row of each update, should its row vanish
    for k, values in unique_by_key(wanted, key):
        row = existing.pop(k, None)
        if row is None:
            creates.append({**values, first_seen: today, updated: today})
            continue
        diff = changed_fields(row.fields, {n: v for n, v in values.items() if n not in protected})
        if diff:
            updates.append((row.id, {**diff, updated: today}))
            full[row.id] = {**values, first_seen: today, updated: today}
    for row in existing.values():  # no longer wanted: if staff deleted it meanwhile, so be it
        diff = changed_fields(row.fields, {n: v for n, v in stale(row.fields).items() if n not in protected})
        if diff:
            updates.append((row.id, {**diff, updated: today}))
    counts.updated = write_tolerantly(table.update, updates, counts.refuse(table), recreate(full, creates))
    counts.created = write_tolerantly(table.create, creates, counts.refuse(table))
    return counts


def recreate(full: Mapping[str, Mapping[str, Value]], creates: list[Mapping[str, Value]]) -> Callable[[list[str]], None]:
    """A `write_tolerantly` callback for updates: a row deleted meanwhile that is still wanted is created
    again (added to `creates`, written after the updates)."""
    def gone(ids: list[str]) -> None:
        creates.extend(full[i] for i in ids if i in full)
    return gone


def write_tolerantly(
    write: Callable[[list[Any]], Any], items: Sequence[Any], refused: Callable[[Any, InvalidValueError], None],
    gone: Callable[[list[str]], None] | None = None,
) -> int:
    """Write `items` in as few calls as the backend takes all or nothing (`Table.write_batch` rows:
    10 on Airtable, all of them on a workbook or a spreadsheet); a call the backend refuses is
    written row by row, so that one bad value costs only its own row (given to `refused`), never
    the others nor a duplicate. Rows deleted meanwhile (an update of a row staff just deleted) are
    not refusals: their ids go to `gone`."""
    size = getattr(getattr(write, "__self__", None), "write_batch", None) or max(len(items), 1)
    done = 0

    def attempt(chunk: list[Any]) -> None:
        nonlocal done
        try:
            write(chunk)
            done += len(chunk)
        except RowGoneError as exc:  # the backend wrote the others
            done += exc.written
            if gone is not None:
                gone(exc.ids)

    for start in range(0, len(items), size):
        chunk = list(items[start:start + size])
        try:
            attempt(chunk)
            continue
        except InvalidValueError:
            pass
        for item in chunk:
            try:
                attempt([item])
            except InvalidValueError as exc:
                refused(item, exc)
    return done
