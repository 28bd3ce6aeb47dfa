"""The [[syncs]] of the settings: checked at start, each problem on one line naming the sync."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.tables.base import ColumnSpec, TableSpec

from automations.domain.schema import Schema
from automations.domain.syncs import MIRROR, SOURCE, TARGET, UPSERT, SyncSpec

SYNC_KEYS = {"name", "source", "target", "key", "columns", "constants", "where", "mode", "owners"}
REF_KEYS = {"workbook", "spreadsheet", "tab"}


@dataclass(frozen=True)
class TableRef:
    """One side of a sync: a table of the schema (by code), or a tab of another workbook or spreadsheet."""

    table: str | None = None  # a schema table code
    workbook: Path | None = None
    spreadsheet: str | None = None
    tab: str | None = None

    @property
    def external(self) -> bool:
        return self.table is None

    @property
    def label(self) -> str:
        if self.workbook is not None:
            return f"{self.workbook.name} › {self.tab}"
        if self.spreadsheet is not None:
            return f"Google Sheets {self.spreadsheet[:10]}… › {self.tab}"
        return str(self.table)


@dataclass(frozen=True)
class SyncDeclaration:
    spec: SyncSpec
    source: TableRef
    target: TableRef
    source_spec: TableSpec
    target_spec: TableSpec
    extra: dict[str, Any] = field(default_factory=dict)


def _ref(value: Any, where: str, base: Path, schema: Schema, problems: list[str]) -> TableRef | None:
    if isinstance(value, str):
        if value not in schema:
            problems.append(f"{where}: unknown table '{value}' (one of {', '.join(schema)})")
            return None
        return TableRef(table=value)
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a table name or {{ workbook = ..., tab = ... }} / {{ spreadsheet = ..., tab = ... }}")
        return None
    for key in sorted(set(value) - REF_KEYS):
        problems.append(f"{where}: unknown key '{key}'")
    if not isinstance(value.get("tab"), str) or not value["tab"].strip():
        problems.append(f"{where}: 'tab' (the tab's name) is required")
        return None
    if ("workbook" in value) == ("spreadsheet" in value):
        problems.append(f"{where}: give either 'workbook' (a path) or 'spreadsheet' (a Google Sheets key)")
        return None
    if "workbook" in value:
        return TableRef(workbook=(base / str(value["workbook"])).resolve(), tab=value["tab"])
    key = str(value["spreadsheet"]).strip()
    if not key or "/" in key or " " in key:
        problems.append(f"{where}: spreadsheet must be the key in the spreadsheet's URL "
                        "(the part between /d/ and /edit), not the URL itself")
        return None
    return TableRef(spreadsheet=key, tab=value["tab"])


def _external_spec(ref: TableRef, names: dict[str, str], other: TableSpec, key: list[str], name: str) -> TableSpec:
    """The spec of an external tab: the columns it carries, typed like their counterparts."""
    columns = []
    for own, counterpart in names.items():
        try:
            model = other.column(counterpart)
        except KeyError:
            model = ColumnSpec(own, "text")
        columns.append(ColumnSpec(own, model.type, choices=model.choices, link_table=model.link_table,
                                  multiple=model.multiple, owner=model.owner))
    return TableSpec(code=name, name=str(ref.tab), columns=tuple(columns), key=tuple(key) or (columns[0].name,))


def check_syncs(raw: Any, schema: Schema, base: Path) -> tuple[list[SyncDeclaration], list[str]]:
    """Validate every [[syncs]] entry; returns the declarations and the problems."""
    problems: list[str] = []
    declarations: list[SyncDeclaration] = []
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        return [], ["[[syncs]] must be a list of tables ([[syncs]] blocks)"]
    names: set[str] = set()
    for number, entry in enumerate(raw, start=1):
        where = f"[[syncs]] {number} ({entry.get('name', '?') if isinstance(entry, dict) else '?'})"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a table")
            continue
        for key in sorted(set(entry) - SYNC_KEYS):
            problems.append(f"{where}: unknown key '{key}'")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}: 'name' is required (snapshots are kept under it: do not rename a sync in use)")
            continue
        if name in names:
            problems.append(f"{where}: name '{name}' is used twice")
        names.add(name)
        source = _ref(entry.get("source"), f"{where} source", base, schema, problems)
        target = _ref(entry.get("target"), f"{where} target", base, schema, problems)
        if source is None or target is None:
            continue
        if source.external and target.external:
            problems.append(f"{where}: one side must be a table of the schema")
            continue
        mode = entry.get("mode", UPSERT)
        if mode not in (UPSERT, MIRROR):
            problems.append(f"{where}: mode must be '{UPSERT}' or '{MIRROR}'")
        constants = entry.get("constants", {})
        where_filter = entry.get("where", {})
        owners = entry.get("owners", {})
        for label, value in (("constants", constants), ("where", where_filter), ("owners", owners)):
            if not isinstance(value, dict):
                problems.append(f"{where}: '{label}' must be a table")
        if not all(isinstance(v, dict) for v in (constants, where_filter, owners)):
            continue
        target_schema = schema[target.table] if not target.external else None
        source_schema = schema[source.table] if not source.external else None
        columns = entry.get("columns")
        if columns is None:
            known = target_schema or source_schema
            assert known is not None
            columns = {c.name: c.name for c in known.columns if c.name not in constants}
        if not isinstance(columns, dict) or not columns:
            problems.append(f"{where}: 'columns' must map target columns to source columns")
            continue
        key = entry.get("key")
        if not isinstance(key, list) or not key or not all(isinstance(k, str) for k in key):
            problems.append(f"{where}: 'key' must list the target's key columns")
            continue
        for column in key:
            if column not in columns and column not in constants:
                problems.append(f"{where}: key column '{column}' is neither carried nor constant")
        for column, side in owners.items():
            if side not in (SOURCE, TARGET):
                problems.append(f"{where}: owners.{column} must be 'source' or 'target'")
        if target_schema is not None:
            for column in [*columns, *constants]:
                if column not in target_schema.column_names:
                    problems.append(f"{where}: target {target_schema.name} has no column '{column}'")
        if source_schema is not None:
            for column in [*columns.values(), *where_filter]:
                if column not in source_schema.column_names:
                    problems.append(f"{where}: source {source_schema.name} has no column '{column}'")
        if problems:
            continue
        source_key = [columns[k] for k in key if k in columns]
        source_spec = source_schema or _external_spec(
            source, {columns[t]: t for t in columns} | {w: w for w in where_filter if w not in columns.values()},
            target_schema, source_key, name,  # type: ignore[arg-type]
        )
        target_spec = target_schema or _external_spec(
            target, {t: columns[t] for t in columns} | {c: c for c in constants}, source_schema, list(key), name,  # type: ignore[arg-type]
        )
        spec = SyncSpec(
            name=name, key=tuple(key), columns=dict(columns), constants=dict(constants),
            where=dict(where_filter), mode=mode, owners=dict(owners),
        )
        declarations.append(SyncDeclaration(spec, source, target, source_spec, target_spec))
    return declarations, problems
