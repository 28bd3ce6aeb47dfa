"""Write the worker's results into the tables staff read, changing only what differs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from connectors.tables.base import Table, Value, changed_fields, key_of


@dataclass
class WriteCounts:
    created: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.deleted


def replace_rows(
    table: Table,
    wanted: Iterable[Mapping[str, Value]],
    key: Sequence[str],
    *,
    keep: Sequence[str] = (),
) -> WriteCounts:
    """Make the table hold exactly `wanted` (by key): create, update the cells that differ, delete
    the rest. Columns in `keep` keep their current value on rows that stay (e.g. "Vu le")."""
    counts = WriteCounts()
    existing: dict[tuple, str] = {}
    current: dict[str, Mapping[str, Value]] = {}
    extra_ids: list[str] = []
    for row in table.read():
        k = key_of(row.fields, key)
        if k in existing:
            extra_ids.append(row.id)  # a duplicate the worker itself will not keep
            continue
        existing[k] = row.id
        current[row.id] = row.fields
    creates: list[Mapping[str, Value]] = []
    updates: list[tuple[str, dict[str, Value]]] = []
    seen: set[tuple] = set()
    for values in wanted:
        k = key_of(values, key)
        if k in seen:
            continue
        seen.add(k)
        row_id = existing.pop(k, None)
        if row_id is None:
            creates.append(values)
            continue
        fields = current[row_id]
        merged = dict(values)
        for column in keep:
            if fields.get(column) not in (None, "", []):
                merged[column] = fields[column]
        diff = changed_fields(fields, merged)
        if diff:
            updates.append((row_id, diff))
    if updates:
        counts.updated = table.update(updates)
    if creates:
        counts.created = len(table.create(creates))
    stale = list(existing.values()) + extra_ids
    if stale:  # last: on a workbook, deleting shifts the rows below
        counts.deleted = table.delete(stale)
    return counts
