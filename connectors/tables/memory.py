"""A table kept in memory: for tests and simulations, like Django's locmem mail backend.

It normalises values like the real backends and counts the write calls it receives, so tests can
check that a run with nothing new writes nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from connectors.tables.base import Row, SchemaChanges, Table, TableSpec, Value
from connectors.tables.values import normalise


class MemoryTable(Table):
    def __init__(self, spec: TableSpec, *, timezone: ZoneInfo = ZoneInfo("Europe/Paris")):
        self.spec = spec
        self.timezone = timezone
        self.rows: dict[str, dict[str, Value]] = {}
        self.write_calls = 0
        self._ids = itertools.count(1)

    def read(self, columns: Sequence[str] | None = None) -> list[Row]:
        names = list(columns) if columns is not None else list(self.spec.column_names)
        return [
            Row(row_id, {n: normalise(self.spec.column(n), fields.get(n), self.timezone) for n in names})
            for row_id, fields in self.rows.items()
        ]

    def create(self, rows: Iterable[Mapping[str, Value]]) -> list[Row]:
        created = []
        for values in rows:
            row_id = f"mem{next(self._ids)}"
            self.rows[row_id] = dict(values)
            created.append(Row(row_id, dict(values)))
        if created:
            self.write_calls += 1
        return created

    def update(self, changes: Iterable[tuple[str, Mapping[str, Value]]]) -> int:
        count = 0
        for row_id, values in changes:
            self.rows[row_id].update(values)
            count += 1
        if count:
            self.write_calls += 1
        return count

    def delete(self, ids: Iterable[str]) -> int:
        count = sum(1 for row_id in list(ids) if self.rows.pop(row_id, None) is not None)
        if count:
            self.write_calls += 1
        return count

    def ensure_schema(self) -> SchemaChanges:
        return SchemaChanges()
