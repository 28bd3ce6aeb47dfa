"""The table schema (`config/schema.toml`, read by `automations.settings.files`) as the specs the table
backends understand."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.errors import ConfigurationError
from connectors.tables.base import COLUMN_TYPES, ColumnSpec, TableSpec

OWNERS = ("staff", "worker")
COLUMN_KEYS = {"name", "type", "required", "choices", "owner", "table", "multiple", "optional", "note", "hidden"}
TABLE_KEYS = {"name", "owner", "key", "columns"}


@dataclass(frozen=True)
class Schema(Mapping[str, TableSpec]):
    """Every table of the deployment, by code name (`cantines`, `echeances`…)."""

    tables: Mapping[str, TableSpec]

    def __getitem__(self, code: str) -> TableSpec:
        return self.tables[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    def by_name(self, name: str) -> TableSpec:
        """The table staff call `name` (e.g. "Échéances")."""
        for spec in self.tables.values():
            if spec.name == name:
                return spec
        raise KeyError(name)


def schema_from_toml(raw: Mapping[str, Any], source: str) -> Schema:
    """Check the schema as read from its file (`source` names it in problems); every problem at once."""
    problems: list[str] = []
    tables: dict[str, TableSpec] = {}
    for code, table in (raw.get("tables") or {}).items():
        where = f"{source}: [tables.{code}]"
        for unknown in sorted(set(table) - TABLE_KEYS):
            problems.append(f"{where}: unknown key '{unknown}'")
        owner = table.get("owner", "staff")
        if owner not in OWNERS:
            problems.append(f"{where}: owner must be one of {', '.join(OWNERS)}, not '{owner}'")
        columns: list[ColumnSpec] = []
        for position, col in enumerate(table.get("columns") or [], start=1):
            cwhere = f"{where} column {position} ({col.get('name', '?')})"
            for unknown in sorted(set(col) - COLUMN_KEYS):
                problems.append(f"{cwhere}: unknown key '{unknown}'")
            if not isinstance(col.get("name"), str) or not col["name"].strip():
                problems.append(f"{cwhere}: 'name' is required")
                continue
            if col.get("type") not in COLUMN_TYPES:
                problems.append(f"{cwhere}: type must be one of {', '.join(sorted(COLUMN_TYPES))}")
                continue
            if col["type"] == "link" and not col.get("table"):
                problems.append(f"{cwhere}: a link column needs 'table'")
            col_owner = col.get("owner", owner)
            if col_owner not in OWNERS:
                problems.append(f"{cwhere}: owner must be one of {', '.join(OWNERS)}")
            columns.append(
                ColumnSpec(
                    name=col["name"],
                    type=col["type"],
                    required=bool(col.get("required", False)),
                    choices=tuple(col.get("choices", ())),
                    owner=col_owner,
                    link_table=col.get("table"),
                    multiple=bool(col.get("multiple", False)),
                    optional=bool(col.get("optional", False)),
                    note=str(col.get("note", "")),
                    hidden=bool(col.get("hidden", False)),
                )
            )
        if not columns:
            problems.append(f"{where}: no columns")
            continue
        names = [c.name for c in columns]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"{where}: column '{dup}' is declared twice")
        key = tuple(table.get("key") or (columns[0].name,))
        for name in key:
            if name not in names:
                problems.append(f"{where}: key column '{name}' is not a column")
        tables[code] = TableSpec(
            code=code, name=table.get("name", code), columns=tuple(columns), key=key, owner=owner
        )
    for code, spec in tables.items():
        for column in spec.columns:
            if column.type == "link" and column.link_table not in tables:
                problems.append(
                    f"{source}: [tables.{code}] column '{column.name}' links to unknown table "
                    f"'{column.link_table}'"
                )
    if problems:
        raise ConfigurationError(problems)
    return Schema(tables)
