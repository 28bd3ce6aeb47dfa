"""Airtable's side of the schema: field types for our column types, the Meta API's table model, and
cell values converted between the table interface and Airtable's JSON.

Column types map to Airtable field types as follows (`field_payload`):

    text → singleLineText          long_text → multilineText     email → email
    emails → multilineText (one address per line)               date → date (european format)
    datetime → dateTime (24 h, the base's time zone)             number → number (precision 2)
    integer → number (precision 0) amount → currency (€, precision 2)
    percent → percent (precision 1; Airtable stores the fraction: 0.35 is 35 %)
    checkbox → checkbox            choice → singleSelect          multi → multipleSelects
    link → multipleRecordLinks

Two exceptions, reported as notes by `ensure_all`:
- a `choice` or `multi` column with no choices in the schema (e.g. "Territoires éligibles": France, a
  région, a département…) becomes text (multilineText for `multi`, one value per line), because Airtable
  refuses a select field with no options and the values are an open list that the domain checks anyway.
  Staff may turn it into a select field in Airtable: writes follow the field's actual type.
- a table's first column is its primary field; Airtable refuses a link there, so a first column of type
  `link` (Déclinaisons, Indicateurs, Questions, Visites) becomes singleLineText holding the linked row's
  name; the backend still checks that name against the linked table.

Writes follow the type the field actually has in the base (from the Meta API), so a field staff made
by hand (a number where we would make currency, a select where we would make text) keeps working.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from connectors.errors import SchemaError
from connectors.tables.base import ColumnSpec, SchemaChanges, TableSpec, Value

TEXT_FIELDS = frozenset({"singleLineText", "multilineText", "richText", "email", "url", "phoneNumber"})
NUMBER_FIELDS = frozenset({"number", "currency", "percent"})
SELECT_FIELDS = frozenset({"singleSelect", "multipleSelects"})
LINK_FIELD = "multipleRecordLinks"
# Field types performUpsert can merge on (Airtable: text, number, select and date fields, not computed
# ones, not links), and our column types that land on them.
MERGEABLE_FIELDS = TEXT_FIELDS | NUMBER_FIELDS | SELECT_FIELDS | {"date"}
MERGEABLE_COLUMNS = frozenset({"text", "long_text", "email", "date", "number", "integer", "amount", "percent",
                               "choice"})
RECORD_ID = re.compile(r"rec[A-Za-z0-9]{14}")
MULTILINE_JOINER = "\n"
LINE_JOINER = ", "

SIMPLE_FIELDS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "text": ("singleLineText", None),
    "long_text": ("multilineText", None),
    "email": ("email", None),
    "emails": ("multilineText", None),
    "date": ("date", {"dateFormat": {"name": "european"}}),
    "number": ("number", {"precision": 2}),
    "integer": ("number", {"precision": 0}),
    "amount": ("currency", {"precision": 2, "symbol": "€"}),
    "percent": ("percent", {"precision": 1}),
    "checkbox": ("checkbox", {"color": "greenBright", "icon": "check"}),
}


@dataclass(frozen=True)
class FieldInfo:
    """One field of an Airtable table, as the Meta API describes it."""

    id: str
    name: str
    type: str
    choices: tuple[str, ...] = ()
    linked_table_id: str | None = None


@dataclass
class TableInfo:
    """One table of the base: its id, its primary field and its fields by name."""

    id: str
    name: str
    primary: str
    fields: dict[str, FieldInfo] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> TableInfo:
        fields = {f["name"]: field_from_api(f) for f in data.get("fields", [])}
        primary = next((f.name for f in fields.values() if f.id == data.get("primaryFieldId")), "")
        return cls(data["id"], data["name"], primary, fields)


def field_from_api(data: Mapping[str, Any]) -> FieldInfo:
    options = data.get("options") or {}
    return FieldInfo(
        id=data["id"], name=data["name"], type=data["type"],
        choices=tuple(c["name"] for c in options.get("choices", [])),
        linked_table_id=options.get("linkedTableId"),
    )


def field_payload(
    column: ColumnSpec, *, primary: bool, timezone: str, linked_table_id: str | None = None
) -> tuple[dict[str, Any], str | None]:
    """The Meta API field model that creates `column`, and a note when it is not the obvious type."""
    payload: dict[str, Any] = {"name": column.name}
    note = None
    kind = column.type
    if kind == "link" and primary:
        payload["type"] = "singleLineText"
        note = "champ principal en texte (le nom de la ligne liée) : Airtable n'accepte pas de lien en champ principal"
    elif kind == "link":
        payload["type"] = LINK_FIELD
        payload["options"] = {"linkedTableId": linked_table_id}
    elif kind in ("choice", "multi") and not column.choices:
        payload["type"] = "multilineText" if kind == "multi" else "singleLineText"
        note = ("texte, une valeur par ligne : le schéma ne donne pas de liste de choix"
                if kind == "multi" else "texte : le schéma ne donne pas de liste de choix")
    elif kind in ("choice", "multi"):
        payload["type"] = "singleSelect" if kind == "choice" else "multipleSelects"
        payload["options"] = {"choices": [{"name": choice} for choice in column.choices]}
    elif kind == "datetime":
        payload["type"] = "dateTime"
        payload["options"] = {
            "dateFormat": {"name": "european"}, "timeFormat": {"name": "24hour"}, "timeZone": timezone,
        }
    else:
        field_type, options = SIMPLE_FIELDS[kind]
        payload["type"] = field_type
        if options is not None:
            payload["options"] = options
    return payload, note


def compatible(column: ColumnSpec, field_type: str) -> bool:
    """Whether a field staff already have can hold the column's values (writes convert to its type)."""
    kind = column.type
    if kind == "link":
        return field_type == LINK_FIELD or field_type in TEXT_FIELDS
    if kind in ("text", "long_text", "email", "emails"):
        return field_type in TEXT_FIELDS
    if kind in ("choice", "multi"):
        return field_type in SELECT_FIELDS or field_type in TEXT_FIELDS
    if kind in ("number", "integer", "amount", "percent"):
        return field_type in NUMBER_FIELDS
    if kind in ("date", "datetime"):
        return field_type in ("date", "dateTime")
    return field_type == kind


# -- ensuring the schema ------------------------------------------------------------------------

@dataclass
class SchemaReport:
    """What `ensure_tables` did, table by table (it never deletes or renames anything), and what to know."""

    tables: dict[str, SchemaChanges] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(changes.changed for changes in self.tables.values())

    def lines(self) -> list[str]:
        """One French line per created table, per table with added fields, and per note."""
        out = []
        for name, changes in self.tables.items():
            if changes.created_table:
                out.append(f"Créée : table « {name} » ({len(changes.added_columns)} champs)")
            elif changes.added_columns:
                out.append(f"« {name} » : champs ajoutés : {', '.join(changes.added_columns)}")
        return out + [f"Note : {note}" for note in self.notes]


class SchemaHost(Protocol):
    """What ensuring needs from a base: its schema, two Meta API calls and the specs of linked tables."""

    base_id: str
    timezone: ZoneInfo

    def schema(self, *, force: bool = False) -> dict[str, TableInfo]: ...
    def create_table(self, name: str, fields: list[dict[str, Any]]) -> dict[str, Any]: ...
    def create_field(self, table_id: str, payload: dict[str, Any]) -> dict[str, Any]: ...
    def link_target(self, column: ColumnSpec, spec: TableSpec) -> TableSpec: ...


def ensure_tables(host: SchemaHost, wanted: Sequence[TableSpec]) -> SchemaReport:
    """Create the missing tables and fields of `wanted`, tables before the tables linking to them.

    A new table is created with all its fields in one request; fields missing from an existing table
    are added one request each. Never deletes, renames or retypes anything; notes what staff should
    know (a link kept as text, a field of another type than expected, choices Airtable lacks)."""
    schema = host.schema(force=True)
    report = SchemaReport({spec.name: SchemaChanges() for spec in wanted})
    deferred: list[tuple[TableSpec, ColumnSpec]] = []  # links to tables of a cycle not created yet
    for spec in targets_first(wanted):
        info = schema.get(spec.name)
        payloads = []
        for position, column in enumerate(spec.columns):
            if info is not None and column.name in info.fields:
                report.notes.extend(existing_notes(spec, column, info.fields[column.name]))
                continue
            primary = info is None and position == 0
            linked = None
            if column.type == "link" and not primary:
                linked = linked_table_id(host, spec, column, schema, wanted)
                if linked is None:
                    deferred.append((spec, column))
                    continue
            payload, note = field_payload(column, primary=primary, timezone=host.timezone.key,
                                          linked_table_id=linked)
            payloads.append(payload)
            if note:
                report.notes.append(f"« {spec.name} » / « {column.name} » : {note}")
        changes = report.tables[spec.name]
        if info is None:
            schema[spec.name] = TableInfo.from_api(host.create_table(spec.name, payloads))
            changes.created_table = True
        else:
            for payload in payloads:
                info.fields[payload["name"]] = field_from_api(host.create_field(info.id, payload))
        changes.added_columns.extend(p["name"] for p in payloads)
    for spec, column in deferred:
        payload, _ = field_payload(column, primary=False, timezone=host.timezone.key,
                                   linked_table_id=linked_table_id(host, spec, column, schema, ()))
        info = schema[spec.name]
        info.fields[column.name] = field_from_api(host.create_field(info.id, payload))
        report.tables[spec.name].added_columns.append(column.name)
    return report


def linked_table_id(host: SchemaHost, spec: TableSpec, column: ColumnSpec, schema: Mapping[str, TableInfo],
                    pending: Iterable[TableSpec]) -> str | None:
    """The id of the table `column` links to; None if it is about to be created; else SchemaError."""
    target = host.link_target(column, spec)
    info = schema.get(target.name)
    if info is not None:
        return info.id
    if any(p.code == target.code for p in pending):
        return None
    raise SchemaError(f"Table « {target.name} » (liée par « {column.name} » de « {spec.name} ») absente de la "
                      f"base Airtable {host.base_id} (lancez `cantines init airtable`)")


def targets_first(specs: Sequence[TableSpec]) -> list[TableSpec]:
    """`specs` ordered so that a table comes after the tables it links to (cycles broken anywhere)."""
    by_code = {spec.code: spec for spec in specs}
    order: list[TableSpec] = []
    seen: set[str] = set()

    def visit(spec: TableSpec) -> None:
        if spec.code in seen:
            return
        seen.add(spec.code)
        for column in spec.columns:
            if column.type == "link" and column.link_table in by_code:
                visit(by_code[column.link_table])
        order.append(spec)

    for spec in specs:
        visit(spec)
    return order


def existing_notes(spec: TableSpec, column: ColumnSpec, found: FieldInfo) -> list[str]:
    """What staff should know about a field that exists already (it is never changed)."""
    where = f"« {spec.name} » / « {column.name} »"
    if not compatible(column, found.type):
        return [f"{where} : champ Airtable de type {found.type}, qui ne convient pas à une colonne {column.type} "
                "(les valeurs écrites pourront être refusées)"]
    missing = [c for c in column.choices if c not in found.choices] if found.type in SELECT_FIELDS else []
    if missing:
        return [f"{where} : choix absents d'Airtable, ajoutés à la première écriture qui les utilise : "
                f"{', '.join(missing)}"]
    return []


# -- values ------------------------------------------------------------------------------------

def from_airtable(column: ColumnSpec, raw: Any, tz: ZoneInfo) -> Value:
    """Airtable's JSON value of a cell, with what JSON cannot carry restored (dates, a missing checkbox),
    ready for `values.normalise`. Links are mapped to names by the caller."""
    if column.type == "checkbox":
        return bool(raw) if raw is None or isinstance(raw, bool) else raw  # Airtable omits unticked boxes
    if isinstance(raw, str) and column.type in ("date", "datetime"):
        moment = parse_iso(raw)
        if isinstance(moment, dt.datetime):
            try:
                moment = moment.astimezone(tz) if moment.tzinfo else moment.replace(tzinfo=tz)
            except OverflowError:  # 31/12/9999 23:59 UTC is in year 10000 in Paris: the text, to report
                return raw
        if moment is not None:
            return moment
    return raw


def parse_iso(text: str) -> dt.date | dt.datetime | None:
    """An Airtable date ("2026-03-02") or date-time ("2026-03-02T06:30:00.000Z"), or None."""
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def to_airtable(column: ColumnSpec, value: Value, field_type: str, tz: ZoneInfo) -> Any:
    """A value of the table interface in the JSON the field's actual type takes (links excepted).

    What cannot be converted without guessing (a date typed as text) is sent as it is, so that
    Airtable's refusal names the value."""
    if value is None or value == "" or (isinstance(value, (list, tuple)) and not value):
        return False if field_type == "checkbox" else None
    if field_type == "multipleSelects":
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    if isinstance(value, (list, tuple)):
        if field_type == "singleSelect" and len(value) == 1:
            return str(value[0])
        joiner = MULTILINE_JOINER if field_type in ("multilineText", "richText") else LINE_JOINER
        return joiner.join(text_of(v, tz) for v in value)
    if field_type in TEXT_FIELDS or field_type == "singleSelect":
        return text_of(value, tz)
    if field_type in NUMBER_FIELDS:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return value
    if field_type == "date":
        if isinstance(value, dt.datetime):
            return (value.astimezone(tz) if value.tzinfo else value).date().isoformat()
        return value.isoformat() if isinstance(value, dt.date) else value
    if field_type == "dateTime":
        if isinstance(value, dt.datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=tz)
        elif isinstance(value, dt.date):
            moment = dt.datetime.combine(value, dt.time(), tzinfo=tz)
        else:
            return value
        return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return jsonable(value)


def text_of(value: Value, tz: ZoneInfo) -> str:
    """A value written into a text field."""
    if isinstance(value, bool):
        return "Oui" if value else "Non"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return (value.astimezone(tz) if value.tzinfo else value).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def jsonable(value: Value) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
