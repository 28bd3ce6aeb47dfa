"""Declared syncs between two tables: each cantine's own figures sheet into the hub, the hub's
matches back into each cantine's sheet, or a whole deployment into another (`cantines copy`).

A sync carries some columns (renamed if needed) from a source to a target, adds constant columns
(e.g. Cantine = "Lyon Vaise"), matches rows by key, and writes only the cells that differ after
normalisation. Rows are created (and, in `mirror` mode, deleted) on the target only. Each column has
one owner side (the source unless the sync says otherwise); its values flow from the owner to the
other side, never the other way. A snapshot of the values last agreed on (in the state store) tells
what changed since the last sync: a cell changed on both sides, or changed on the side that does not
own it, is reported as a data problem and neither side is overwritten, so no one's edit is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import InvalidValueError, SchemaError
from connectors.tables.base import Row, SchemaChanges, Table, Value, comparable, key_of

from automations.domain.model import DataProblem, of_row, row_label
from automations.cycle.writeback import write_tolerantly
from automations.domain.syncs import MIRROR, SOURCE, SyncSpec

@dataclass
class SyncResult:
    name: str
    created: int = 0
    updated: int = 0  # rows written on either side
    deleted: int = 0
    unchanged: int = 0
    conflicts: int = 0
    problems: list[DataProblem] = field(default_factory=list)
    snapshot: dict[str, dict[str, Value]] = field(default_factory=dict)  # what to store for next time

    @property
    def written(self) -> int:
        return self.created + self.updated + self.deleted


Snapshot = Mapping[str, Mapping[str, Value]]  # key text → column → value last agreed


def key_text(key: tuple) -> str:
    return "|".join("" if v is None else str(v) for v in key)


def _jsonable(value: Value) -> Value:
    value = comparable(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)  # Decimal, date, datetime: compared through their text form


def same(a: Value, b: Value) -> bool:
    return _jsonable(a) == _jsonable(b)


def run_sync(
    spec: SyncSpec,
    source: Table,
    target: Table,
    snapshot: Snapshot | None,
    *,
    source_label: str,
) -> SyncResult:
    """Sync `source` into `target` once; returns what was done and the snapshot to keep."""
    result = SyncResult(spec.name)
    rows = _source_rows(spec, source, source_label, result)
    target_rows = _target_rows(spec, target)
    target_keys: dict[str, str] = {}  # row id → key text, on each side, for rows a write refuses
    source_keys: dict[str, str] = {}
    previous = snapshot or {}
    creates: list[dict[str, Value]] = []
    target_updates: list[tuple[str, dict[str, Value]]] = []
    source_updates: list[tuple[str, dict[str, Value]]] = []
    for key, (source_row, wanted) in rows.items():
        text = key_text(key)
        current = target_rows.pop(key, None)
        if current is None:
            creates.append({**wanted, **spec.create_only})
            result.snapshot[text] = {c: _jsonable(v) for c, v in wanted.items()}
            continue
        target_keys[current.id] = text
        source_keys[source_row.id] = text
        agreed = dict(previous.get(text, {}))
        to_target: dict[str, Value] = {}
        to_source: dict[str, Value] = {}
        for column, value in wanted.items():
            other = current.fields.get(column)
            if column in spec.constants or column in spec.key:
                if not same(value, other):
                    to_target[column] = value
                agreed[column] = _jsonable(value)
                continue
            owner_value, other_value = (value, other) if spec.owner(column) == SOURCE else (other, value)
            if same(owner_value, other_value):
                agreed[column] = _jsonable(owner_value)
                continue
            last = previous.get(text, {}).get(column, _MISSING)
            other_changed = last is not _MISSING and not same(other_value, last)
            owner_changed = last is _MISSING or not same(owner_value, last)
            if last is _MISSING or not other_changed:
                # the side that does not own the column kept the last agreed value: follow the owner
                (to_target if spec.owner(column) == SOURCE else to_source)[column] = owner_value
                agreed[column] = _jsonable(owner_value)
            elif owner_changed:
                result.conflicts += 1
                result.problems.append(_conflict(spec, source_label, target, source_row, current, column,
                                                 value, other, both=True))
            elif spec.report_edits:
                result.problems.append(_conflict(spec, source_label, target, source_row, current, column,
                                                 value, other, both=False))
        if to_target:
            target_updates.append((current.id, to_target))
        if to_source:
            source_map = {t: s for t, s in spec.columns.items()}
            source_updates.append((source_row.id, {source_map[c]: v for c, v in to_source.items()}))
        if not to_target and not to_source:
            result.unchanged += 1
        result.snapshot[text] = agreed
    def refused(side: Table, keys: Mapping[str, str]) -> Callable[[Any, InvalidValueError], None]:
        def report(item: Any, exc: InvalidValueError) -> None:
            shown = "" if exc.value is None else str(exc.value)
            result.problems.append(DataProblem(side.spec.name, "", exc.column or "", shown, f"écriture refusée : {exc}"))
            # not written: the snapshot keeps what was agreed before, so the next run tries again
            text = keys.get(item[0]) if isinstance(item, tuple) else key_text(key_of(item, spec.key))
            if text is not None:
                if text in previous:
                    result.snapshot[text] = dict(previous[text])
                else:
                    result.snapshot.pop(text, None)
        return report

    result.updated = write_tolerantly(target.update, target_updates, refused(target, target_keys))
    result.updated += write_tolerantly(source.update, source_updates, refused(source, source_keys))
    result.created = write_tolerantly(target.create, creates, refused(target, {}))
    if spec.mode == MIRROR and target_rows:  # rows whose key left the source, in this sync's scope
        result.deleted = target.delete([row.id for row in target_rows.values()])
    return result


_MISSING = object()


class ReadOnce(Table):
    """A sync side read once per run: every sync into the same table (one per cantine sheet) reads
    what the first one read, plus the writes made through it since, instead of reading and
    normalising the whole table again. A deletion forgets what was read (row ids may shift)."""

    def __init__(self, table: Table):
        self.table = table
        self.spec = table.spec
        self.write_batch = table.write_batch
        self._rows: list[Row] | None = None
        self._index: dict[str, int] = {}  # row id → position in _rows
        # rows by the values of some columns (a sync's constants: « Cantine »), positions in _rows
        self._scopes: dict[tuple[str, ...], dict[tuple, list[int]]] = {}

    def absent_columns(self) -> tuple[str, ...]:
        return self.table.absent_columns()

    def _all(self) -> list[Row]:
        if self._rows is None:
            self._rows = self.table.read()
            self._index = {row.id: i for i, row in enumerate(self._rows)}
            self._scopes = {}
        return self._rows

    def read(self, columns: Sequence[str] | None = None) -> list[Row]:
        rows = self._all()
        if columns is None:
            return list(rows)
        return [Row(row.id, {c: row.fields.get(c) for c in columns}, row.position) for row in rows]

    def read_where(self, values: Mapping[str, Value]) -> list[Row]:
        """The rows whose columns hold `values` (compared after normalisation), all columns, in order."""
        rows = self._all()
        if not values:
            return list(rows)
        columns = tuple(sorted(values))
        if columns not in self._scopes:
            scope: dict[tuple, list[int]] = {}
            for position, row in enumerate(rows):
                scope.setdefault(self._scope_key(columns, row.fields), []).append(position)
            self._scopes[columns] = scope
        return [rows[i] for i in self._scopes[columns].get(self._scope_key(columns, values), [])]

    @staticmethod
    def _scope_key(columns: tuple[str, ...], fields: Mapping[str, Value]) -> tuple:
        return tuple(repr(_jsonable(fields.get(c))) for c in columns)

    def _file(self, position: int, row: Row, before: Row | None = None) -> None:
        for columns, scope in self._scopes.items():
            if before is not None:
                old = self._scope_key(columns, before.fields)
                if old == self._scope_key(columns, row.fields):
                    continue
                scope[old].remove(position)
            positions = scope.setdefault(self._scope_key(columns, row.fields), [])
            positions.append(position)
            if before is not None:
                positions.sort()  # rows keep their order

    def create(self, rows: Iterable[Mapping[str, Value]]) -> list[Row]:
        created = self.table.create(rows)
        if self._rows is not None:
            for row in created:
                self._index[row.id] = len(self._rows)
                self._rows.append(row)
                self._file(len(self._rows) - 1, row)
        return created

    def update(self, changes: Iterable[tuple[str, Mapping[str, Value]]]) -> int:
        changes = list(changes)
        done = self.table.update(changes)
        if self._rows is not None:
            for row_id, values in changes:
                index = self._index.get(row_id)
                if index is not None:
                    row = self._rows[index]
                    self._rows[index] = Row(row.id, {**row.fields, **values}, row.position)
                    self._file(index, self._rows[index], before=row)
        return done

    def delete(self, ids: Iterable[str]) -> int:
        self._rows = None
        return self.table.delete(ids)

    def ensure_schema(self) -> SchemaChanges:
        self._rows = None
        return self.table.ensure_schema()


def read_once(table: Table, opened: dict[tuple[int, Any], ReadOnce]) -> ReadOnce:
    """The run's one ReadOnce for `table`'s tab (`opened` keeps them for the run)."""
    holder = getattr(table, "store", None) or getattr(table, "book", None) or table
    return opened.setdefault((id(holder), table.spec), ReadOnce(table))


def _source_rows(
    spec: SyncSpec, source: Table, label: str, result: SyncResult
) -> dict[tuple, tuple[Row, dict[str, Value]]]:
    """Source rows in scope, mapped to target columns, by key; duplicates reported and skipped."""
    rows: dict[tuple, tuple[Row, dict[str, Value]]] = {}
    first_seen: dict[tuple, str] = {}
    names = list(dict.fromkeys([*spec.columns.values(), *spec.where]))
    source_rows = source.read_where(spec.where) if isinstance(source, ReadOnce) else source.read(names)
    require_columns(source, names, label)
    for row in source_rows:
        if any(not same(row.fields.get(column), value) for column, value in spec.where.items()):
            continue
        wanted = {target: row.fields.get(column) for target, column in spec.columns.items()}
        wanted.update(spec.constants)
        key = key_of(wanted, spec.key)
        where = row_label(source.spec, row)
        if all(part is None for part in key):
            continue  # a blank line
        if key in rows:
            result.problems.append(DataProblem(
                label, where, ", ".join(spec.columns.get(k, k) for k in spec.key), key_text(key),
                f"doublon {of_row(first_seen[key])} (même {', '.join(spec.key)}) : cette ligne n'est pas synchronisée",
            ))
            continue
        rows[key] = (row, wanted)
        first_seen[key] = where
    return rows


def _target_rows(spec: SyncSpec, target: Table) -> dict[tuple, Row]:
    """Target rows in this sync's scope (its constant columns match), by key."""
    names = list(dict.fromkeys([*spec.columns, *spec.constants]))
    rows: dict[tuple, Row] = {}
    target_rows = target.read_where(spec.constants) if isinstance(target, ReadOnce) else target.read(names)
    require_columns(target, names, target.spec.name)
    for row in target_rows:
        if any(not same(row.fields.get(column), value) for column, value in spec.constants.items()):
            continue
        rows.setdefault(key_of(row.fields, spec.key), row)
    return rows


def require_columns(table: Table, names: list[str], label: str) -> None:
    """A column the sync carries, deleted or renamed on one side, stops this sync (one error) instead
    of being read as empty cells and synced as such over the other side's values."""
    absent = [name for name in dict.fromkeys(names) if name in table.absent_columns()]
    if absent:
        columns = ", ".join(f"« {name} »" for name in absent)
        raise SchemaError(f"colonne(s) {columns} absente(s) de {label} : rien n'est synchronisé tant qu'elle(s) "
                          "manque(nt)")


def _conflict(
    spec: SyncSpec, source_label: str, target: Table, source_row: Row, target_row: Row, column: str,
    source_value: Value, target_value: Value, *, both: bool,
) -> DataProblem:
    owner = source_label if spec.owner(column) == SOURCE else target.spec.name
    shown = f"{_show(source_value)} dans {source_label}, {_show(target_value)} dans {target.spec.name}"
    if both:
        message = (f"conflit : la cellule a changé des deux côtés depuis la dernière synchronisation ({shown}) ; "
                   "aucune des deux n'a été écrasée : gardez la bonne valeur des deux côtés")
    else:
        message = (f"modifiée du côté qui ne possède pas la colonne ({shown}) : la colonne appartient à {owner}, "
                   f"corrigez-la là (ou remettez la valeur de {owner}) ; rien n'a été écrasé")
    return DataProblem(target.spec.name, row_label(target.spec, target_row), column, "", message)


def _show(value: Value) -> str:
    if value is None or value == "" or value == []:
        return "(vide)"
    if isinstance(value, (list, tuple)):
        return "« " + ", ".join(str(v) for v in value) + " »"
    return f"« {value} »"
