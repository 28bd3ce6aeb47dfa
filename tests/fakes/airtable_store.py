"""The data behind the fake Airtable (see `tests.fakes.airtable`): bases, tables, records, the Meta API.

Checks what Airtable checks (limits, field names, values for each field type, select options, record
ids in links, field options on creation) and answers with Airtable's error types.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import random
import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_PAGE_SIZE = 100
MAX_RECORDS_PER_REQUEST = 10
MAX_MERGE_FIELDS = 3
TEXT_TYPES = frozenset({"singleLineText", "multilineText", "richText", "email", "url", "phoneNumber"})
NUMBER_TYPES = frozenset({"number", "currency", "percent"})
SELECT_TYPES = frozenset({"singleSelect", "multipleSelects"})
FIELD_TYPES = TEXT_TYPES | NUMBER_TYPES | SELECT_TYPES | {"date", "dateTime", "checkbox", "multipleRecordLinks"}
NOT_PRIMARY = frozenset({"multipleRecordLinks", "checkbox"})
MERGEABLE = TEXT_TYPES | NUMBER_TYPES | SELECT_TYPES | {"date"}
DATE_FORMATS = {"local": "l", "friendly": "LL", "us": "M/D/YYYY", "european": "D/M/YYYY", "iso": "YYYY-MM-DD"}
TIME_FORMATS = {"12hour": "h:mma", "24hour": "HH:mm"}
CHOICE_COLORS = ("blueLight2", "cyanLight2", "tealLight2", "greenLight2", "yellowLight2", "orangeLight2",
                 "redLight2", "pinkLight2", "purpleLight2", "grayLight2")
ID_CHARS = string.ascii_letters + string.digits
RECORD_ID = re.compile(r"rec[A-Za-z0-9]{14}")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T.*)?")
WRITE_BODY_KEYS = {"records", "fields", "typecast", "returnFieldsByFieldId", "performUpsert"}


class AirtableError(Exception):
    """An answer with Airtable's error body."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(f"{status} {kind}: {message}")
        self.status = status
        self.kind = kind
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.kind, "message": self.message}}


def invalid_request(message: str) -> AirtableError:
    return AirtableError(422, "INVALID_REQUEST_UNKNOWN", f"Invalid request: {message}")


def invalid_value(field_name: str, detail: str = "") -> AirtableError:
    message = f'Field "{field_name}" cannot accept the provided value'
    return AirtableError(422, "INVALID_VALUE_FOR_COLUMN", message + (f": {detail}" if detail else ""))


@dataclass
class FakeField:
    id: str
    name: str
    type: str
    options: dict[str, Any] | None = None
    description: str | None = None

    def model(self) -> dict[str, Any]:
        """The field as the Meta API describes it."""
        out: dict[str, Any] = {"id": self.id, "name": self.name, "type": self.type}
        if self.description:
            out["description"] = self.description
        if self.options is not None:
            out["options"] = json.loads(json.dumps(self.options))
        return out

    @property
    def choices(self) -> list[str]:
        return [c["name"] for c in (self.options or {}).get("choices", [])]


@dataclass
class FakeRecord:
    id: str
    created_time: str
    values: dict[str, Any] = field(default_factory=dict)  # by field id; empty values are absent


@dataclass
class FakeTable:
    id: str
    name: str
    fields: list[FakeField]
    records: dict[str, FakeRecord] = field(default_factory=dict)  # in creation order
    view_id: str = ""
    description: str | None = None

    @property
    def primary(self) -> FakeField:
        return self.fields[0]

    def field(self, name_or_id: str) -> FakeField | None:
        for candidate in self.fields:
            if candidate.id == name_or_id or candidate.name == name_or_id:
                return candidate
        return None

    def model(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "primaryFieldId": self.primary.id,
            "fields": [f.model() for f in self.fields],
            "views": [{"id": self.view_id, "name": "Grid view", "type": "grid",
                       "visibleFieldIds": [f.id for f in self.fields]}],
        }
        if self.description:
            out["description"] = self.description
        return out


@dataclass
class FakeBase:
    id: str
    tables: list[FakeTable] = field(default_factory=list)
    hits: collections.deque[float] = field(default_factory=collections.deque)
    blocked_until: float = float("-inf")

    def table(self, id_or_name: str) -> FakeTable | None:
        for table in self.tables:
            if table.id == id_or_name or table.name == id_or_name:
                return table
        return None


@dataclass
class _NewLink:
    """A name typecast into a link field with no matching record: Airtable creates the record."""

    name: str


class FakeStore:
    """Every base of the fake and what the REST and Meta APIs do to them (callers hold the lock)."""

    def __init__(self, *, seed: int = 0):
        self.bases: dict[str, FakeBase] = {}
        self._random = random.Random(seed)

    # -- records ---------------------------------------------------------------------------

    def list_records(self, table: FakeTable, options: dict[str, Any]) -> dict[str, Any]:
        if options.get("filterByFormula"):
            raise invalid_request("filterByFormula is not supported by this fake")
        page_size = _int_option(options, "pageSize", MAX_PAGE_SIZE)
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise invalid_request(f"pageSize must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        names = options.get("fields")
        wanted: set[str] | None = None
        if names is not None:
            wanted = set()
            for name in names:
                found = table.field(name)
                if found is None:
                    raise unknown_field(name)
                wanted.add(found.id)
        records = list(table.records.values())
        for order in reversed(options.get("sort") or []):
            found = table.field(order.get("field", ""))
            if found is None:
                raise unknown_field(order.get("field", ""))
            direction = order.get("direction", "asc")
            if direction not in ("asc", "desc"):
                raise invalid_request(f"sort direction must be asc or desc, got {direction!r}")
            present = [r for r in records if found.id in r.values]
            missing = [r for r in records if found.id not in r.values]
            present.sort(key=lambda r: _sort_key(r.values[found.id]), reverse=direction == "desc")
            records = present + missing  # empty cells last, whatever the direction
        if "maxRecords" in options:
            records = records[: _int_option(options, "maxRecords", len(records))]
        start = 0
        if options.get("offset"):
            _, _, after = str(options["offset"]).partition("/")
            ids = [r.id for r in records]
            if after not in ids:
                raise AirtableError(422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
                                    "The offset is not valid any more: start listing again")
            start = ids.index(after)
        page = records[start: start + page_size]
        by_id = bool(options.get("returnFieldsByFieldId"))
        out: dict[str, Any] = {"records": [self.record_json(table, r, wanted, by_id) for r in page]}
        if start + page_size < len(records):
            out["offset"] = f"itr{self.new_id('')}/{records[start + page_size].id}"
        return out

    def create(self, base: FakeBase, table: FakeTable, body: dict[str, Any]) -> dict[str, Any]:
        check_keys(body, WRITE_BODY_KEYS - {"performUpsert"})
        typecast = bool(body.get("typecast"))
        by_id = bool(body.get("returnFieldsByFieldId"))
        if "records" not in body:
            record = self.write(base, table, None, json_object(body.get("fields")), typecast=typecast)
            return self.record_json(table, record, None, by_id)
        items = _records_list(body, "create")
        for item in items:
            check_keys(item, {"fields"})
        planned = [self._coerce_all(base, table, json_object(i.get("fields")), typecast) for i in items]
        created = [self._apply(base, table, None, values, replace=False) for values in planned]
        return {"records": [self.record_json(table, r, None, by_id) for r in created]}

    def update(self, base: FakeBase, table: FakeTable, body: dict[str, Any], *, replace: bool) -> dict[str, Any]:
        check_keys(body, WRITE_BODY_KEYS)
        typecast = bool(body.get("typecast"))
        by_id = bool(body.get("returnFieldsByFieldId"))
        items = _records_list(body, "update")
        upsert = body.get("performUpsert")
        merge: list[FakeField] = []
        if upsert is not None:
            names = json_object(upsert).get("fieldsToMergeOn")
            if not isinstance(names, list) or not 1 <= len(names) <= MAX_MERGE_FIELDS:
                raise invalid_request(f"performUpsert.fieldsToMergeOn must name 1 to {MAX_MERGE_FIELDS} fields")
            for name in names:
                found = table.field(str(name))
                if found is None:
                    raise unknown_field(str(name))
                if found.type not in MERGEABLE:
                    raise invalid_request(f'field "{found.name}" ({found.type}) cannot be used in fieldsToMergeOn')
                merge.append(found)
        plan: list[tuple[FakeRecord | None, dict[str, Any]]] = []
        for item in items:
            check_keys(item, {"id", "fields"})
            values = self._coerce_all(base, table, json_object(item.get("fields")), typecast)
            if "id" in item:
                record = table.records.get(str(item["id"]))
                if record is None:  # deleted meanwhile: Airtable says so with a 422, not a 404
                    raise AirtableError(422, "ROW_DOES_NOT_EXIST",
                                        f"Record ID {item['id']} does not exist in this table")
            elif merge:
                missing = [f.name for f in merge if f.id not in values]
                if missing:
                    raise AirtableError(422, "INVALID_RECORDS",
                                        f"Every record needs the fields to merge on; missing: {', '.join(missing)}")
                matches = [r for r in table.records.values()
                           if all(_same(r.values.get(f.id), values[f.id]) for f in merge)]
                if len(matches) > 1:
                    raise AirtableError(422, "INVALID_RECORDS",
                                        "More than one record matches the fields to merge on")
                record = matches[0] if matches else None
            else:
                raise AirtableError(422, "INVALID_RECORDS", "Every record to update needs an id")
            plan.append((record, values))
        created: list[str] = []
        updated: list[str] = []
        written: list[FakeRecord] = []
        for record, values in plan:
            if record is None and merge:  # an earlier record of this request may have created it
                record = next((r for r in table.records.values()
                               if all(_same(r.values.get(f.id), values[f.id]) for f in merge)), None)
            result = self._apply(base, table, record, values, replace=replace)
            (updated if record is not None else created).append(result.id)
            written.append(result)
        out: dict[str, Any] = {"records": [self.record_json(table, r, None, by_id) for r in written]}
        if upsert is not None:
            out["createdRecords"] = created
            out["updatedRecords"] = updated
        return out

    def delete(self, base: FakeBase, table: FakeTable, ids: list[str]) -> dict[str, Any]:
        if not 1 <= len(ids) <= MAX_RECORDS_PER_REQUEST:
            raise AirtableError(422, "INVALID_RECORDS",
                                f"You can delete 1 to {MAX_RECORDS_PER_REQUEST} records per request, not {len(ids)}")
        for record_id in ids:
            if record_id not in table.records:
                raise AirtableError(404, "NOT_FOUND", f"Could not find record {record_id}")
        self.remove(base, table, ids)
        return {"records": [{"id": i, "deleted": True} for i in ids]}

    def remove(self, base: FakeBase, table: FakeTable, ids: Iterable[str]) -> None:
        gone = set(ids)
        for record_id in gone:
            table.records.pop(record_id, None)
        for other in base.tables:  # links to deleted records vanish, as in Airtable
            for link in other.fields:
                if link.type == "multipleRecordLinks" and (link.options or {}).get("linkedTableId") == table.id:
                    for record in other.records.values():
                        kept = [i for i in record.values.get(link.id, []) if i not in gone]
                        if kept:
                            record.values[link.id] = kept
                        else:
                            record.values.pop(link.id, None)

    def write(self, base: FakeBase, table: FakeTable, record: FakeRecord | None, fields: dict[str, Any],
               *, typecast: bool, replace: bool = False) -> FakeRecord:
        return self._apply(base, table, record, self._coerce_all(base, table, fields, typecast), replace=replace)

    def _coerce_all(self, base: FakeBase, table: FakeTable, fields: dict[str, Any], typecast: bool) -> dict[str, Any]:
        """Every value checked and converted to its stored form, keyed by field id (nothing applied yet)."""
        out: dict[str, Any] = {}
        for name, value in fields.items():
            found = table.field(name)
            if found is None:
                raise unknown_field(name)
            out[found.id] = self._coerce(base, found, value, typecast)
        return out

    def _coerce(self, base: FakeBase, fld: FakeField, value: Any, typecast: bool) -> Any:
        if value is None or value == "" or value == []:
            return None
        kind = fld.type
        if kind in TEXT_TYPES:
            if isinstance(value, str):
                return value
            if typecast and isinstance(value, (int, float, bool)):
                return str(value)
            raise invalid_value(fld.name)
        if kind in NUMBER_TYPES:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value
            if typecast and isinstance(value, str):
                try:
                    return float(value.replace(",", ".")) if "." in value or "," in value else int(value)
                except ValueError:
                    pass
            raise invalid_value(fld.name)
        if kind == "checkbox":
            if isinstance(value, bool):
                return value or None
            raise invalid_value(fld.name)
        if kind == "date":
            if isinstance(value, str) and ISO_DATE.fullmatch(value):
                try:
                    return dt.date.fromisoformat(value[:10]).isoformat()
                except ValueError:
                    pass
            raise invalid_value(fld.name, f"cannot parse date value {json.dumps(value, ensure_ascii=False)}")
        if kind == "dateTime":
            if isinstance(value, str):
                try:
                    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError:
                    pass
                else:
                    if moment.tzinfo is None:
                        moment = moment.replace(tzinfo=dt.timezone.utc)
                    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            raise invalid_value(fld.name, f"cannot parse date value {json.dumps(value, ensure_ascii=False)}")
        if kind in SELECT_TYPES:
            if kind == "singleSelect":
                names = [value] if isinstance(value, str) else None
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                names = value
            elif typecast and isinstance(value, str):
                names = [v.strip() for v in value.split(",") if v.strip()]
            else:
                names = None
            if names is None:
                raise invalid_value(fld.name)
            for name in names:
                if name not in fld.choices:
                    if not typecast:
                        raise AirtableError(422, "INVALID_MULTIPLE_CHOICE_OPTIONS",
                                            f'Insufficient permissions to create new select option ""{name}""')
                    options = fld.options if fld.options is not None else {"choices": []}
                    options.setdefault("choices", []).append(
                        {"id": self.new_id("sel"), "name": name,
                         "color": CHOICE_COLORS[len(options["choices"]) % len(CHOICE_COLORS)]})
                    fld.options = options
            return names[0] if kind == "singleSelect" else list(dict.fromkeys(names))
        if kind == "multipleRecordLinks":
            linked = base.table((fld.options or {}).get("linkedTableId", ""))
            assert linked is not None
            items = value if isinstance(value, list) else ([value] if typecast and isinstance(value, str) else None)
            if items is None:
                raise invalid_value(fld.name)
            out: list[Any] = []
            for item in items:
                if isinstance(item, dict) and "id" in item:
                    item = item["id"]
                if isinstance(item, str) and RECORD_ID.fullmatch(item):
                    if item not in linked.records:
                        raise invalid_value(fld.name, f'record ID "{item}" does not exist in table "{linked.name}"')
                    out.append(item)
                elif typecast and isinstance(item, str):
                    match = next((r.id for r in linked.records.values()
                                  if r.values.get(linked.primary.id) == item), None)
                    out.append(match if match is not None else _NewLink(item))
                else:
                    raise invalid_value(fld.name, f"{json.dumps(item, ensure_ascii=False)} is not a valid record ID")
            return out
        raise invalid_value(fld.name, f"field type {kind} is not supported by this fake")

    def _apply(self, base: FakeBase, table: FakeTable, record: FakeRecord | None, values: dict[str, Any],
               *, replace: bool) -> FakeRecord:
        if record is None:
            record = FakeRecord(self.new_id("rec"), _now_iso())
            table.records[record.id] = record
        if replace:
            for fld in table.fields:
                if fld.id not in values:
                    values[fld.id] = None
        for field_id, value in values.items():
            fld = next(f for f in table.fields if f.id == field_id)
            if fld.type == "multipleRecordLinks":
                self._set_links(base, table, record, fld, value or [])
            elif value is None:
                record.values.pop(field_id, None)
            else:
                record.values[field_id] = value
        return record

    def _set_links(self, base: FakeBase, table: FakeTable, record: FakeRecord, fld: FakeField,
                   items: list[Any]) -> None:
        options = fld.options or {}
        linked = base.table(options.get("linkedTableId", ""))
        assert linked is not None
        ids: list[str] = []
        for item in items:
            if isinstance(item, _NewLink):  # typecast: Airtable creates the record the name did not match
                new = FakeRecord(self.new_id("rec"), _now_iso(), {linked.primary.id: item.name})
                linked.records[new.id] = new
                item = new.id
            if item not in ids:
                ids.append(item)
        before = set(record.values.get(fld.id, []))
        if ids:
            record.values[fld.id] = ids
        else:
            record.values.pop(fld.id, None)
        inverse = options.get("inverseLinkFieldId")
        if not inverse:
            return
        for other_id in before - set(ids):
            other = linked.records.get(other_id)
            if other is not None:
                kept = [i for i in other.values.get(inverse, []) if i != record.id]
                if kept:
                    other.values[inverse] = kept
                else:
                    other.values.pop(inverse, None)
        for other_id in ids:
            other = linked.records[other_id]
            back = other.values.setdefault(inverse, [])
            if record.id not in back:
                back.append(record.id)

    def record_json(self, table: FakeTable, record: FakeRecord, wanted: set[str] | None,
                     by_id: bool) -> dict[str, Any]:
        return {"id": record.id, "createdTime": record.created_time,
                "fields": self.fields_json(table, record, wanted, by_id)}

    @staticmethod
    def fields_json(table: FakeTable, record: FakeRecord, wanted: set[str] | None, by_id: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for fld in table.fields:
            if (wanted is None or fld.id in wanted) and fld.id in record.values:
                value = record.values[fld.id]
                out[fld.id if by_id else fld.name] = list(value) if isinstance(value, list) else value
        return out

    # -- Meta API ----------------------------------------------------------------------------

    def create_table(self, base: FakeBase, body: dict[str, Any]) -> FakeTable:
        check_keys(body, {"name", "fields", "description"})
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise invalid_request("a table needs a name")
        if any(t.name.casefold() == name.casefold() for t in base.tables):
            raise AirtableError(422, "DUPLICATE_TABLE_NAME", f'A table named "{name}" already exists')
        specs = body.get("fields")
        if not isinstance(specs, list) or not specs:
            raise invalid_request("a table needs at least one field")
        if json_object(specs[0]).get("type") in NOT_PRIMARY:
            raise AirtableError(422, "INVALID_FIELD_TYPE_FOR_PRIMARY_FIELD",
                                f'Field type {specs[0].get("type")} cannot be the primary field')
        names = [json_object(spec).get("name") for spec in specs]
        for duplicate in sorted({n for n in names if isinstance(n, str) and names.count(n) > 1}):
            raise AirtableError(422, "DUPLICATE_OR_EMPTY_FIELD_NAME", f'A field named "{duplicate}" is given twice')
        table = FakeTable(self.new_id("tbl"), name, [], view_id=self.new_id("viw"),
                          description=body.get("description"))
        planned = [self._new_field(base, table, json_object(spec)) for spec in specs]
        base.tables.append(table)
        for fld in planned:
            self._add_field(base, table, fld)
        return table

    def create_field(self, base: FakeBase, table: FakeTable, body: dict[str, Any]) -> FakeField:
        fld = self._new_field(base, table, body)
        self._add_field(base, table, fld)
        return fld

    def _new_field(self, base: FakeBase, table: FakeTable, spec: dict[str, Any]) -> FakeField:
        check_keys(spec, {"name", "type", "options", "description"})
        name, kind = spec.get("name"), spec.get("type")
        if not isinstance(name, str) or not name.strip():
            raise AirtableError(422, "DUPLICATE_OR_EMPTY_FIELD_NAME", "A field needs a name")
        if table.field(name) is not None:
            raise AirtableError(422, "DUPLICATE_OR_EMPTY_FIELD_NAME", f'A field named "{name}" already exists')
        if kind not in FIELD_TYPES:
            raise AirtableError(422, "INVALID_FIELD_TYPE", f"Unsupported field type {kind!r}")
        options = self._field_options(base, table, str(kind), spec.get("options"))
        return FakeField(self.new_id("fld"), name, str(kind), options, spec.get("description"))

    def _add_field(self, base: FakeBase, table: FakeTable, fld: FakeField) -> None:
        if any(f.name == fld.name for f in table.fields):
            raise AirtableError(422, "DUPLICATE_OR_EMPTY_FIELD_NAME", f'A field named "{fld.name}" already exists')
        table.fields.append(fld)
        if fld.type != "multipleRecordLinks":
            return
        assert fld.options is not None
        linked = base.table(fld.options["linkedTableId"])
        assert linked is not None
        if linked is table:
            return  # a link to its own table has no inverse field
        name, number = table.name, 1
        while linked.field(name) is not None:  # Airtable names the inverse field after the table
            number += 1
            name = f"{table.name} {number}"
        inverse = FakeField(self.new_id("fld"), name, "multipleRecordLinks", {
            "linkedTableId": table.id, "isReversed": False, "prefersSingleRecordLink": False,
            "inverseLinkFieldId": fld.id,
        })
        fld.options["inverseLinkFieldId"] = inverse.id
        linked.fields.append(inverse)

    def _field_options(self, base: FakeBase, table: FakeTable, kind: str, options: Any) -> dict[str, Any] | None:
        def bad(message: str) -> AirtableError:
            return AirtableError(422, "INVALID_FIELD_TYPE_OPTIONS_FOR_CREATE", f"{kind}: {message}")

        if kind in TEXT_TYPES:
            if options:
                raise bad("takes no options")
            return None
        if not isinstance(options, dict):
            raise bad("options are required")
        if kind in NUMBER_TYPES:
            allowed = {"precision", "symbol"} if kind == "currency" else {"precision"}
            check_keys(options, allowed, error=bad)
            precision = options.get("precision")
            if not isinstance(precision, int) or not 0 <= precision <= 8:
                raise bad("precision must be an integer from 0 to 8")
            if kind == "currency":
                if not isinstance(options.get("symbol"), str) or not options["symbol"]:
                    raise bad("symbol is required")
                return {"precision": precision, "symbol": options["symbol"]}
            return {"precision": precision}
        if kind in ("date", "dateTime"):
            check_keys(options, {"dateFormat", "timeFormat", "timeZone"} if kind == "dateTime" else {"dateFormat"},
                        error=bad)
            out: dict[str, Any] = {"dateFormat": _format_option(options.get("dateFormat"), DATE_FORMATS, bad)}
            if kind == "dateTime":
                out["timeFormat"] = _format_option(options.get("timeFormat"), TIME_FORMATS, bad)
                zone = options.get("timeZone")
                if zone not in ("utc", "client"):
                    try:
                        ZoneInfo(str(zone))
                    except (ZoneInfoNotFoundError, ValueError):
                        raise bad(f"unknown timeZone {zone!r}") from None
                out["timeZone"] = zone
            return out
        if kind == "checkbox":
            check_keys(options, {"color", "icon"}, error=bad)
            if not isinstance(options.get("color"), str) or not isinstance(options.get("icon"), str):
                raise bad("color and icon are required")
            return {"color": options["color"], "icon": options["icon"]}
        if kind in SELECT_TYPES:
            check_keys(options, {"choices"}, error=bad)
            choices = options.get("choices")
            if not isinstance(choices, list) or not choices:
                raise bad("choices must list at least one option")
            out_choices: list[dict[str, str]] = []
            for index, choice in enumerate(choices):
                if not isinstance(choice, dict) or not isinstance(choice.get("name"), str) or not choice["name"]:
                    raise bad("every choice needs a name")
                if any(c["name"] == choice["name"] for c in out_choices):
                    raise bad(f"duplicate choice {choice['name']!r}")
                out_choices.append({"id": self.new_id("sel"), "name": choice["name"],
                                    "color": choice.get("color") or CHOICE_COLORS[index % len(CHOICE_COLORS)]})
            return {"choices": out_choices}
        if kind == "multipleRecordLinks":
            check_keys(options, {"linkedTableId", "viewIdForRecordSelection"}, error=bad)
            target = options.get("linkedTableId")
            linked = table if target == table.id else base.table(str(target))
            if linked is None or not str(target).startswith("tbl"):
                raise bad(f"linkedTableId {target!r} is not a table of this base")
            return {"linkedTableId": linked.id, "isReversed": False, "prefersSingleRecordLink": False}
        raise bad("unsupported")

    def new_id(self, prefix: str) -> str:
        return prefix + "".join(self._random.choice(ID_CHARS) for _ in range(14))


# -- helpers ---------------------------------------------------------------------------------

def model_not_found(status: int) -> AirtableError:
    return AirtableError(
        status, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
        "Invalid permissions, or the requested model was not found. Check that both your user and your token "
        "have the required permissions, and that the model names and/or ids are correct.",
    )


def unknown_field(name: str) -> AirtableError:
    return AirtableError(422, "UNKNOWN_FIELD_NAME", f'Unknown field name: "{name}"')


def json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_request("expected a JSON object")
    return value


def check_keys(value: dict[str, Any], allowed: set[str],
                error: Callable[[str], AirtableError] = invalid_request) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise error(f"unknown parameter(s) {', '.join(unknown)}")


def _records_list(body: dict[str, Any], action: str) -> list[dict[str, Any]]:
    items = body.get("records")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_RECORDS_PER_REQUEST:
        count = len(items) if isinstance(items, list) else 0
        raise AirtableError(422, "INVALID_RECORDS",
                            f"You can {action} 1 to {MAX_RECORDS_PER_REQUEST} records per request, not {count}")
    return [json_object(i) for i in items]


def _int_option(options: dict[str, Any], name: str, default: int) -> int:
    try:
        return int(options.get(name, default))
    except (TypeError, ValueError):
        raise invalid_request(f"{name} must be an integer") from None


def _format_option(value: Any, known: dict[str, str], bad: Callable[[str], AirtableError]) -> dict[str, str]:
    if not isinstance(value, dict) or value.get("name") not in known:
        raise bad(f"format name must be one of {', '.join(known)}")
    if "format" in value and value["format"] != known[value["name"]]:
        raise bad(f"format {value['format']!r} does not match {value['name']!r}")
    return {"name": value["name"], "format": known[value["name"]]}


def _same(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, list) or isinstance(wanted, list):
        return sorted(map(str, stored or [])) == sorted(map(str, wanted or []))
    return stored == wanted


def _sort_key(value: Any) -> Any:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return value


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
