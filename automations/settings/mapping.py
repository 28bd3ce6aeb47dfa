"""A deployment's own names for its base (`[tables] mapping = "mapping.toml"`): the file, checked
against the shipped schema, and everything that turns the worker's names into the base's.

The format is fixed in the README (« Use your existing base »): left, the worker's names (the keys of
config/schema.toml's [tables], its column names and choice wordings); right, the base's. A table left
out keeps its shipped name and columns; a column left out its shipped name; a choice its wording.
Every problem of the file is reported at once, in English like other settings errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from connectors.errors import ConfigurationError
from connectors.tables.base import TableSpec
from connectors.tables.mapped import TableNames, fold

from automations.domain.model import DataProblem
from automations.domain.schema import Schema
from automations.settings.files import read_toml

TABLE_KEYS = {"name", "absent", "columns", "choices"}
QUOTED = re.compile(r"« ([^«»]+?) »")


@dataclass(frozen=True)
class BaseNames:
    """Every table's names in the deployment's base, by code name; the shipped names where the
    mapping says nothing (the identity when there is no mapping file)."""

    shipped: Schema
    tables: Mapping[str, TableNames] = field(default_factory=dict)
    source: Path | None = None

    def of(self, code: str) -> TableNames:
        return self.tables.get(code) or TableNames(names=(self.shipped[code].name,))

    @property
    def identity(self) -> bool:
        return all(self.of(code).identity and self.of(code).names == (self.shipped[code].name,)
                   for code in self.shipped)

    # -- names -----------------------------------------------------------------------------

    def table_name(self, code: str) -> str:
        """What staff call the table: its name in the base (its names, when kept in several)."""
        return " / ".join(self.of(code).names)

    def column_name(self, code: str, column: str) -> str:
        """What staff call a column: its name in the base; the shipped name when the base has none."""
        return self.of(code).column(column) or column

    def choice_name(self, code: str, column: str, choice: str) -> str:
        return self.of(code).choice(column, choice)

    def absent_tables(self) -> frozenset[str]:
        return frozenset(code for code, names in self.tables.items() if names.absent)

    def unmapped(self) -> dict[str, frozenset[str]]:
        """Code table → code columns the base does not have (mapped to false)."""
        return {code: frozenset(c for c, name in names.columns.items() if name is None)
                for code, names in self.tables.items() if any(n is None for n in names.columns.values())}

    # -- schemas ---------------------------------------------------------------------------

    def domain_schema(self) -> Schema:
        """The shipped schema as the worker's code reads it (shipped columns and choices), each table
        named as staff know it, so that every message about a table uses their name."""
        return Schema({code: replace(spec, name=self.table_name(code)) for code, spec in self.shipped.items()})

    def base_specs(self, code: str) -> list[TableSpec]:
        """The table as it is in the base, one spec per table it is kept in (none when absent)."""
        names = self.of(code)
        if names.absent:
            return []
        return [names.spec(self.shipped[code], name) for name in names.names]

    def base_schema(self) -> Schema:
        """The deployment's schema: every table the base has, renamed (its first table when several)."""
        return Schema({code: self.base_specs(code)[0] for code in self.shipped if self.base_specs(code)})

    # -- what staff read -------------------------------------------------------------------

    def code_of(self, table_name: str) -> str | None:
        for code in self.shipped:
            if self.table_name(code) == table_name:
                return code
        return None

    def text(self, code: str | None, text: str, column: str | None = None) -> str:
        """`text` with the column names it quotes (« Nom ») in the base's names; with `column`, that
        column's choices too (« Ouverte », and the list after « attendu : »)."""
        if code is None or code not in self.shipped or text is None:
            return text
        names = self.of(code)
        if not names.columns and not names.choices:
            return text
        choices = names.choices.get(column or "", {})
        if choices:
            try:
                shipped = self.shipped[code].column(column or "").choices
            except KeyError:
                shipped = ()
            if shipped:
                text = text.replace(", ".join(shipped), ", ".join(names.choice(column or "", c) for c in shipped))

        def rename(match: re.Match[str]) -> str:
            word = match.group(1)
            if word in choices:
                return f"« {names.choice(column or '', word)} »"
            if word in names.columns and names.columns[word] is not None:
                return f"« {names.columns[word]} »"
            return match.group(0)

        return QUOTED.sub(rename, text)

    def problem(self, problem: DataProblem) -> DataProblem:
        """A data problem in the base's names: its column, and the names its message quotes."""
        if problem.named:
            return problem
        code = self.code_of(problem.table)
        if code is None:
            return replace(problem, named=True)
        column = problem.column
        try:
            self.shipped[code].column(column)
            shown = self.column_name(code, column)
        except KeyError:
            shown, column = column, None  # already a base name (a value the backend refused)
        return replace(problem, column=shown, message=self.text(code, problem.message, column), named=True)

    def problems(self, problems: Iterable[DataProblem]) -> list[DataProblem]:
        return [self.problem(p) for p in problems]


def load_mapping(path: Path, shipped: Schema) -> BaseNames:
    """Read and check a mapping file against the shipped schema; every problem at once."""
    return mapping_from_toml(read_toml(path, "[tables] mapping: file"), shipped, path.name, path)


def mapping_from_toml(raw: Mapping[str, Any], shipped: Schema, source: str, path: Path | None = None) -> BaseNames:
    problems: list[str] = []
    for key in sorted(set(raw) - {"tables"}):
        problems.append(f"{source}: unknown key '{key}' (only [tables.…] sections)")
    given = raw.get("tables", {})
    if not isinstance(given, dict):
        problems.append(f"{source}: [tables] must be a table of tables")
        given = {}
    tables: dict[str, TableNames] = {}
    for code, entry in given.items():
        where = f"{source}: [tables.{code}]"
        if code not in shipped:
            problems.append(f"{where}: unknown table (one of {', '.join(shipped)})")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a table")
            continue
        names = _table(code, entry, shipped[code], where, problems)
        if names is not None:
            tables[code] = names
    seen: dict[str, str] = {}
    for code in shipped:
        names = tables.get(code) or TableNames(names=(shipped[code].name,))
        if names.absent:
            continue
        for name in names.names:
            other = seen.setdefault(fold(name), code)
            if other != code:
                problems.append(f"{source}: table name '{name}' is given to both [tables.{other}] and [tables.{code}]")
    if problems:
        raise ConfigurationError(problems)
    return BaseNames(shipped, tables, path)


def _table(code: str, entry: Mapping[str, Any], spec: TableSpec, where: str, problems: list[str]) -> TableNames | None:
    for key in sorted(set(entry) - TABLE_KEYS):
        problems.append(f"{where}: unknown key '{key}' (expected {', '.join(sorted(TABLE_KEYS))})")
    absent = entry.get("absent", False)
    if not isinstance(absent, bool):
        problems.append(f"{where} absent: expected true or false")
        absent = False
    if absent and spec.owner == "worker":
        problems.append(f"{where} absent: the worker writes this table ({spec.name}) and creates it; "
                        "it cannot be absent (give it a name instead)")
        absent = False
    name = entry.get("name", spec.name)
    names = [name] if isinstance(name, str) else name
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        problems.append(f"{where} name: expected a table name, or a non-empty list of names")
        names = [spec.name]
    if len({fold(n) for n in names}) != len(names):
        problems.append(f"{where} name: a table name is listed twice")
    columns = _columns(entry.get("columns", {}), spec, where, problems)
    choices = _choices(entry.get("choices", {}), spec, where, problems)
    result = TableNames(names=tuple(n.strip() for n in names), columns=columns, choices=choices, absent=absent)
    used: dict[str, str] = {}
    for column in spec.columns:
        base = result.column(column.name)
        if base is None:
            continue
        other = used.setdefault(fold(base), column.name)
        if other != column.name:
            problems.append(f"{where}.columns: '{base}' names both '{other}' and '{column.name}' in this base")
    return result


def _columns(given: Any, spec: TableSpec, where: str, problems: list[str]) -> dict[str, str | None]:
    where = f"{where}.columns"
    if not isinstance(given, dict):
        problems.append(f"{where}: expected a table of \"shipped name\" = \"name in this base\" (or false)")
        return {}
    columns: dict[str, str | None] = {}
    for code, name in given.items():
        try:
            column = spec.column(code)
        except KeyError:
            problems.append(f"{where}: unknown column '{code}' of {spec.code} (one of {', '.join(spec.column_names)})")
            continue
        if name is False:
            reason = ("its first column (what links name)" if code == spec.primary else
                      "a key column" if code in spec.key else
                      "a required column" if column.required else None)
            if reason is not None:
                problems.append(f"{where} '{code}': cannot be false: it is {reason}; map it to a column of this base")
                continue
            columns[code] = None
        elif isinstance(name, str) and name.strip():
            columns[code] = name.strip()
        else:
            problems.append(f"{where} '{code}': expected the column's name in this base, or false, got {name!r}")
    return columns


def _choices(given: Any, spec: TableSpec, where: str, problems: list[str]) -> dict[str, dict[str, tuple[str, ...]]]:
    where = f"{where}.choices"
    if not isinstance(given, dict):
        problems.append(f"{where}: expected [..choices.\"Column\"] tables")
        return {}
    result: dict[str, dict[str, tuple[str, ...]]] = {}
    for code, wordings in given.items():
        cwhere = f"{where}.\"{code}\""
        try:
            column = spec.column(code)
        except KeyError:
            problems.append(f"{cwhere}: unknown column of {spec.code}")
            continue
        if column.type not in ("choice", "multi") or not column.choices:
            problems.append(f"{cwhere}: '{code}' has no choices to map (it is a {column.type} column)")
            continue
        if not isinstance(wordings, dict):
            problems.append(f"{cwhere}: expected \"shipped choice\" = \"wording in this base\" lines")
            continue
        mapped: dict[str, tuple[str, ...]] = {}
        for choice, words in wordings.items():
            if choice not in column.choices:
                problems.append(f"{cwhere}: unknown choice '{choice}' (one of {', '.join(column.choices)})")
                continue
            listed = [words] if isinstance(words, str) else words
            if not isinstance(listed, list) or not listed or not all(isinstance(w, str) and w.strip() for w in listed):
                problems.append(f"{cwhere} '{choice}': expected a wording, or a non-empty list of wordings")
                continue
            mapped[choice] = tuple(w.strip() for w in listed)
        used: dict[str, str] = {}
        for choice in column.choices:
            for word in mapped.get(choice, (choice,)):
                other = used.setdefault(fold(word), choice)
                if other != choice:
                    problems.append(f"{cwhere}: '{word}' stands for both '{other}' and '{choice}'")
        if mapped:
            result[code] = mapped
    return result
