"""The Airtable backend (pyairtable): one `AirtableBase` per base, one `AirtableTable` per table.

- Reads ask for the schema's columns only (`fields[]`), in pages of 100; values are normalised like the
  workbook's. Writes go in batches of 10. Row ids are Airtable record ids; rows have no position.
- Links: the domain sees the linked rows' names (their first column). The base maps names to record ids
  from the rows it has read in this run (a table read for its own sake, or once, its primary field
  only, the first time a link needs it); a name it does not know raises `UnknownLinkError` before
  anything is sent, so no record is ever created from a link.
- `upsert` reads first and sends only the rows whose cells differ, with `performUpsert` on the key, so
  that a request retried after a lost answer merges instead of creating a second record. Airtable merges
  on 1–3 text, number, select or date fields only: for another key (a link, four columns) new rows go
  in a plain create, which is never retried (see `airtable_http`), so it cannot duplicate either.
- `typecast` is sent only with rows that write a select value Airtable does not list yet, when the
  schema allows it or the column has no list of choices: the Meta API cannot add options to an existing
  field, typecast is the only way. Never otherwise: typecast would turn an unknown name in a link field
  into a new record and silently coerce a mistyped value instead of refusing it. Values outside a
  column's choices are refused before anything is sent.
- Writes need the base's schema (one Meta API request per run: the token needs schema.bases:read) to
  write each value in the JSON its field's actual type takes.
- Pacing, 429s, timeouts, retries: `airtable_http`. Field types, `ensure_all`, value conversion:
  `airtable_schema`. Errors as one line naming what to fix: `airtable_errors`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import requests
from pyairtable import Api

from connectors.errors import CantinesError, ConfigurationError, InvalidValueError, RowGoneError, SchemaError, UnknownLinkError
from connectors.tables.airtable.errors import (
    INIT_HINT, ITERATOR_EXPIRED, TOKEN_HELP, error_of, missing_fields, translate,
)
from connectors.tables.airtable.http import (
    MAX_RATE_LIMIT_WAIT, REQUESTS_PER_SECOND, RETRY_BACKOFF, PacedAdapter, base_pacer, shared_pacer,
)
from connectors.tables.pacing import Pacer
from connectors.tables.airtable.schema import (
    LINE_JOINER, LINK_FIELD, MERGEABLE_COLUMNS, MERGEABLE_FIELDS, RECORD_ID, SELECT_FIELDS, FieldInfo,
    SchemaReport, TableInfo, ensure_tables, from_airtable, text_of, to_airtable,
)
from connectors.tables.base import ColumnSpec, Row, SchemaChanges, Table, TableSpec, UpsertResult, Value
from connectors.tables.values import normalise

AIRTABLE_URL = "https://api.airtable.com"
AIRTABLE_WEB_URL = "https://airtable.com"  # where staff open a record
BASE_ID = re.compile(r"app[A-Za-z0-9]{14}")
PAGE_SIZE = 100  # Airtable's maximum
MAX_RECORDS_PER_REQUEST = 10  # a write request is all or nothing, 10 records at most
MAX_MERGE_FIELDS = 3  # performUpsert's maximum
MAX_LIST_RESTARTS = 3  # listings started again after their offset expired (a long 429 wait, a server restart)
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class _LinkIndex:
    """The names of one table's rows by record id, and the first record id of each name."""

    names: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def add(self, record_id: str, name: Value) -> None:
        """Record (or, with None, forget) the name of a record."""
        old = self.names.pop(record_id, None)
        if old is not None and self.ids.get(old) == record_id:
            del self.ids[old]
            other = next((i for i, n in self.names.items() if n == old), None)  # a namesake keeps the name
            if other is not None:
                self.ids[old] = other
        text = str(name).strip() if name is not None else ""
        if text:
            self.names[record_id] = text
            self.ids.setdefault(text, record_id)


class AirtableBase:
    """One Airtable base: the pyairtable client, the pacer every request to the base waits for, the
    base's schema (Meta API, read once) and the name ↔ record id index of every table read so far."""

    def __init__(
        self,
        token: str,
        base_id: str,
        *,
        specs: Iterable[TableSpec] = (),
        timezone: ZoneInfo = ZoneInfo("Europe/Paris"),
        endpoint_url: str = AIRTABLE_URL,
        timeout: tuple[float, float] = (10.0, 60.0),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        pacer: Pacer | None = None,
        requests_per_second: int = REQUESTS_PER_SECOND,
        retry_backoff: Sequence[float] = RETRY_BACKOFF,
        max_rate_limit_wait: float = MAX_RATE_LIMIT_WAIT,
    ):
        if not token:
            raise ConfigurationError(f"AIRTABLE_TOKEN is not set: {TOKEN_HELP}")
        if not BASE_ID.fullmatch(base_id):
            raise ConfigurationError(f"'{base_id}' is not an Airtable base id (appXXXXXXXXXXXXXX, in the base's URL)")
        self.base_id = base_id
        self.timezone = timezone
        self.max_rate_limit_wait = max_rate_limit_wait
        # the process-wide pacer of this base, unless the caller brings its own (tests, with a fake clock)
        self.pacer = pacer or (base_pacer(requests_per_second, clock=clock, sleep=sleep)
                               if clock is not time.monotonic or sleep is not time.sleep
                               else shared_pacer(f"{endpoint_url}|{base_id}", requests_per_second))
        # pyairtable's own retries are off: the adapter paces and retries (see airtable_http)
        self.api = Api(token, endpoint_url=endpoint_url, timeout=timeout, retry_strategy=None)  # type: ignore[arg-type]
        adapter = PacedAdapter(self.pacer, sleep=sleep, backoff=retry_backoff, max_rate_limit_wait=max_rate_limit_wait)
        self.adapter = adapter  # counts the requests sent (`adapter.requests`)
        self.api.session.mount("https://", adapter)
        self.api.session.mount("http://", adapter)
        self.specs: dict[str, TableSpec] = {spec.code: spec for spec in specs}
        self._meta_url = self.api.base(base_id).urls.tables
        self._schema: dict[str, TableInfo] | None = None
        self._links: dict[str, _LinkIndex] = {}
        self._tables: dict[str, AirtableTable] = {}
        self._lock = threading.RLock()

    def table(self, spec: TableSpec) -> AirtableTable:
        """The table of `spec` in this base (links from it resolve among the base's specs)."""
        with self._lock:
            self.specs.setdefault(spec.code, spec)
            if spec.code not in self._tables:
                self._tables[spec.code] = AirtableTable(self, spec)
            return self._tables[spec.code]

    def close(self) -> None:
        self.api.session.close()

    def call(self, send: Callable[[], T], *, table: TableSpec | None = None,
             sent: Sequence[Mapping[str, Value]] = ()) -> T:
        """Run one pyairtable call; a failure becomes one of our errors, naming what to fix."""
        try:
            return send()
        except requests.RequestException as exc:
            raise translate(exc, base_id=self.base_id, table=table, sent=sent,
                            max_rate_limit_wait=self.max_rate_limit_wait, fields_of=self._fields_of) from exc

    def list_all(self, spec: TableSpec, fields: list[str]) -> list[dict[str, Any]]:
        """Every record of `spec`'s table (only `fields`), page after page; a listing whose offset expired
        meanwhile (Airtable's 422 LIST_RECORDS_ITERATOR_NOT_AVAILABLE, e.g. after a 30 s 429 wait) is
        started again from the first page, a few times at most."""
        remote = self.api.table(self.base_id, spec.name)

        def listing() -> list[dict[str, Any]]:
            for restart in range(MAX_LIST_RESTARTS + 1):
                try:
                    return remote.all(page_size=PAGE_SIZE, fields=fields)
                except requests.HTTPError as exc:
                    expired = exc.response is not None and error_of(exc.response)[0] == ITERATOR_EXPIRED
                    if not expired or restart == MAX_LIST_RESTARTS:
                        raise
                    log.info("Airtable: the listing of %s expired midway; reading it again from the start", spec.name)
            raise AssertionError("unreachable")

        return self.call(listing, table=spec)

    def _fields_of(self, name: str) -> set[str] | None:
        """The fields of the base's table `name` as they are now (None: no such table)."""
        info = self.schema(force=True).get(name)
        return set(info.fields) if info is not None else None

    # -- schema ----------------------------------------------------------------------------

    def schema(self, *, force: bool = False) -> dict[str, TableInfo]:
        """The base's tables by name (one Meta API request, then cached)."""
        with self._lock:
            if self._schema is None or force:
                data = self.call(lambda: self.api.request("GET", self._meta_url))
                self._schema = {t["name"]: TableInfo.from_api(t) for t in data.get("tables", [])}
            return self._schema

    def table_url(self, spec: TableSpec) -> str | None:
        """The table's page in Airtable (its records' pages are below it): the base's schema gives the
        table's id (one Meta API request per base, which writes need anyway); None if it cannot be had."""
        try:
            info = self.schema().get(spec.name)
        except CantinesError:
            return None  # a token without the schema scope: rows without links, the run goes on
        return f"{AIRTABLE_WEB_URL}/{self.base_id}/{info.id}" if info is not None else None

    def table_info(self, spec: TableSpec) -> TableInfo:
        info = self.schema().get(spec.name)
        if info is None:
            raise SchemaError(f"Table « {spec.name} » absente de la base Airtable {self.base_id} ({INIT_HINT})")
        return info

    def ensure_all(self, specs: Iterable[TableSpec] | None = None) -> SchemaReport:
        """Create the missing tables and fields of `specs` (every known spec when None); see `ensure_tables`."""
        with self._lock:
            wanted = list(specs) if specs is not None else list(self.specs.values())
            for spec in wanted:
                self.specs.setdefault(spec.code, spec)
            report = ensure_tables(self, wanted)
            if report.changed:
                self._schema = None  # inverse link fields appeared in linked tables: read it again when needed
            return report

    def create_table(self, name: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
        return self.call(lambda: self.api.request("POST", self._meta_url, json={"name": name, "fields": fields}))

    def create_field(self, table_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self.call(lambda: self.api.request("POST", f"{self._meta_url}/{table_id}/fields", json=payload))

    def link_target(self, column: ColumnSpec, spec: TableSpec) -> TableSpec:
        target = self.specs.get(column.link_table or "")
        if target is None:
            raise ConfigurationError(f"column '{column.name}' of '{spec.name}' links to table '{column.link_table}', "
                                     f"which is not in Airtable base {self.base_id}")
        return target

    # -- links -----------------------------------------------------------------------------

    def remember(self, spec: TableSpec, records: Iterable[Mapping[str, Any]], *, complete: bool) -> None:
        """Index the names of records just read or written (`complete`: every record of the table)."""
        with self._lock:
            index = _LinkIndex() if complete else self._links.get(spec.code)
            if index is None:
                return  # never read: the first link to it reads it whole
            for record in records:
                if complete or spec.primary in record.get("fields", {}):
                    index.add(record["id"], record.get("fields", {}).get(spec.primary))
            self._links[spec.code] = index

    def forget(self, spec: TableSpec, ids: Iterable[str]) -> None:
        with self._lock:
            index = self._links.get(spec.code)
            for record_id in ids if index is not None else ():
                index.add(record_id, None)

    def _index(self, target: TableSpec, *, refresh: bool = False) -> _LinkIndex:
        with self._lock:
            if refresh or target.code not in self._links:
                records = self.list_all(target, [target.primary])
                self.remember(target, records, complete=True)
            return self._links[target.code]

    def names_for(self, target: TableSpec, ids: set[str]) -> dict[str, str]:
        """The names of records of `target` by id (read once if needed, again if one is new)."""
        if not ids:
            return {}
        index = self._index(target)
        if not ids <= index.names.keys():
            index = self._index(target, refresh=True)
        return dict(index.names)

    def record_ids(self, target: TableSpec, names: Sequence[str], *, table: TableSpec, column: ColumnSpec) -> list[str]:
        """The record ids of the rows of `target` named `names`; UnknownLinkError if one has no row."""
        index = self._index(target)
        if not all(name in index.ids for name in names):
            index = self._index(target, refresh=True)  # a row staff added since
        unknown = [name for name in names if name not in index.ids]
        if unknown:
            raise UnknownLinkError(
                f"« {unknown[0]} » n'existe pas dans la table « {target.name} » (colonne « {column.name} » de la "
                f"table « {table.name} ») : rien n'a été écrit", table=table.name, column=column.name, value=unknown[0],
            )
        return [index.ids[name] for name in names]


@dataclass
class _Outgoing:
    """One row as it will be sent: fields in Airtable's JSON, whether it needs typecast, its record id."""

    fields: dict[str, Any]
    typecast: bool
    id: str | None = None

    def record(self) -> dict[str, Any]:
        return {"id": self.id, "fields": self.fields} if self.id else {"fields": self.fields}


class AirtableTable(Table):
    """One table of an Airtable base. Row ids are record ids; rows have no position."""

    write_batch = MAX_RECORDS_PER_REQUEST

    def __init__(self, base: AirtableBase, spec: TableSpec):
        self.base = base
        self.spec = spec
        self._remote = base.api.table(base.base_id, spec.name)
        # The records of the last read, until this table is written: a run that reads a table, then
        # compares before writing it back, pays the reading requests once.
        self._cached: tuple[frozenset[str], list[dict[str, Any]]] | None = None

    def _records(self, names: list[str]) -> list[dict[str, Any]]:
        if self._cached is not None and set(names) <= self._cached[0]:
            return self._cached[1]
        records = self.base.list_all(self.spec, names)
        self._cached = (frozenset(names), records)
        return records

    def forget(self) -> None:
        """Drop the cached records (after a write, or to see staff edits made since the last read)."""
        self._cached = None

    def read(self, columns: Sequence[str] | None = None) -> list[Row]:
        names = list(columns) if columns is not None else list(self.spec.column_names)
        try:
            records = self._records(names)
            self._absent: tuple[str, ...] = ()
        except SchemaError:  # a field deleted or renamed: read the others, say which are absent
            fields = self.base._fields_of(self.spec.name)
            if fields is None or not any(n in fields for n in names):
                raise
            self._absent = tuple(n for n in self.spec.column_names if n not in fields)
            names = [n for n in names if n in fields]
            records = self._records(names)
        specs = [self.spec.column(n) for n in names]
        if self.spec.primary in names:
            self.base.remember(self.spec, records, complete=True)
        link_names: dict[str, dict[str, str]] = {}
        for column in specs:
            if column.type == "link":
                ids = {i for r in records for i in as_list(r["fields"].get(column.name)) if is_record_id(i)}
                link_names[column.name] = self.base.names_for(self.base.link_target(column, self.spec), ids)
        tz = self.base.timezone
        table_url = self.base.table_url(self.spec)
        rows = []
        for record in records:
            values: dict[str, Value] = {}
            for column in specs:
                raw = record["fields"].get(column.name)
                if column.name in link_names and isinstance(raw, list):
                    raw = [link_names[column.name].get(i, i) for i in raw]
                values[column.name] = normalise(column, from_airtable(column, raw, tz), tz)
            rows.append(Row(record["id"], values, url=f"{table_url}/{record['id']}" if table_url else None))
        return rows

    def create(self, rows: Iterable[Mapping[str, Value]]) -> list[Row]:
        rows = [dict(r) for r in rows]
        if not rows:
            return []
        outgoing = [self._outgoing(values, drop_empty=True) for values in rows]
        self.forget()
        records = self._send(rows, outgoing, lambda chunk, typecast: self._remote.batch_create(
            [o.fields for o in chunk], typecast=typecast))
        self.base.remember(self.spec, records, complete=False)
        return [Row(record["id"], values) for record, values in zip(records, rows)]

    def update(self, changes: Iterable[tuple[str, Mapping[str, Value]]]) -> int:
        changes = [(row_id, dict(values)) for row_id, values in changes]
        if not changes:
            return 0
        outgoing = [self._outgoing(values, record_id=row_id) for row_id, values in changes]
        self.forget()

        def send(items: list[tuple[str, dict[str, Value]]], out: list[_Outgoing]) -> None:
            records = self._send([values for _, values in items], out, lambda chunk, typecast:
                                 self._remote.batch_update([o.record() for o in chunk], typecast=typecast))
            self.base.remember(self.spec, records, complete=False)

        try:
            send(changes, outgoing)
        except RowGoneError:
            # staff deleted some of these rows since the worker read them: update the others (again: a
            # PATCH sets the same values twice), and tell the caller which are gone
            present = self._present_ids()
            kept = [i for i, (row_id, _) in enumerate(changes) if row_id in present]
            gone = [row_id for row_id, _ in changes if row_id not in present]
            if kept:
                send([changes[i] for i in kept], [outgoing[i] for i in kept])
            self.base.forget(self.spec, gone)
            raise RowGoneError(f"Airtable: {len(gone)} row(s) of « {self.spec.name} » deleted meanwhile, not updated",
                               ids=gone, written=len(kept)) from None
        return len(changes)

    def delete(self, ids: Iterable[str]) -> int:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return 0
        self.forget()
        try:
            deleted = self.base.call(lambda: self._remote.batch_delete(ids), table=self.spec)
        except RowGoneError:  # some were deleted meanwhile: delete the others
            present = self._present_ids()
            rest = [i for i in ids if i in present]
            deleted = self.base.call(lambda: self._remote.batch_delete(rest), table=self.spec) if rest else []
        self.base.forget(self.spec, ids)
        return len(deleted)

    def _present_ids(self) -> set[str]:
        """The ids of the table's records now (read again: the cache may hold rows deleted since)."""
        self.forget()
        return {r["id"] for r in self.base.list_all(self.spec, [self.spec.primary])}

    def upsert(self, rows: Iterable[Mapping[str, Value]], key: Sequence[str]) -> UpsertResult:
        """Like `Table.upsert` (read, then send only what differs), with `performUpsert` on `key` when
        Airtable can merge on it, so a retried request cannot create a row twice."""
        key = tuple(key)
        rows = [dict(r) for r in rows]
        try:
            return self._upsert(rows, key)
        except RowGoneError:  # a row deleted since the read: read again, and create it if still wanted
            self.forget()
            return self._upsert(rows, key)

    def _upsert(self, rows: list[dict[str, Value]], key: tuple[str, ...]) -> UpsertResult:
        info = self.base.table_info(self.spec)
        plan = self.plan_upsert(rows, key)
        if not self._mergeable(key, info):
            if plan.updates:
                self.update(plan.updates)
            if plan.creates:
                plan.result.created = self.create(plan.creates)
            return plan.result
        if not plan.updates and not plan.creates:
            return plan.result
        for values in plan.creates:
            if any(values.get(name) in (None, "", []) for name in key):
                raise ValueError(f"upsert to {self.spec.name}: a new row has no value for a key column of {key}")
        outgoing = [self._outgoing(diff, record_id=row_id) for row_id, diff in plan.updates]
        outgoing += [self._outgoing(values, drop_empty=True) for values in plan.creates]
        self.forget()
        records = self._send(
            [diff for _, diff in plan.updates] + list(plan.creates), outgoing,
            lambda chunk, typecast: self._remote.batch_upsert(
                [o.record() for o in chunk], key_fields=list(key), typecast=typecast)["records"],
        )
        self.base.remember(self.spec, records, complete=False)
        created = records[len(plan.updates):]
        plan.result.created = [Row(record["id"], dict(values)) for record, values in zip(created, plan.creates)]
        return plan.result

    def ensure_schema(self) -> SchemaChanges:
        return self.base.ensure_all([self.spec]).tables[self.spec.name]

    # -- writing helpers -------------------------------------------------------------------

    def _mergeable(self, key: tuple[str, ...], info: TableInfo) -> bool:
        """Whether Airtable can merge on `key`: 1 to 3 columns of text, number, select or date fields."""
        if not 1 <= len(key) <= MAX_MERGE_FIELDS:
            return False
        for name in key:
            found = info.fields.get(name)
            if found is None or found.type not in MERGEABLE_FIELDS:
                return False
            if self.spec.column(name).type not in MERGEABLE_COLUMNS:
                return False
        return True

    def _outgoing(self, values: Mapping[str, Value], *, record_id: str | None = None,
                  drop_empty: bool = False) -> _Outgoing:
        """One row in the JSON its fields' actual types take, and whether it needs typecast."""
        info = self.base.table_info(self.spec)
        if any(name not in info.fields for name in values):
            raise missing_fields(self.spec, [n for n in values if n not in info.fields], lambda _: set(info.fields))
        fields: dict[str, Any] = {}
        typecast = False
        for name, value in values.items():
            column, found = self.spec.column(name), info.fields[name]
            if column.type == "link":
                out = self._link_value(column, value, found)
            else:
                out = to_airtable(column, value, found.type, self.base.timezone)
                if found.type in SELECT_FIELDS and out:
                    typecast = self._new_choices(column, found, as_list(out)) or typecast
            if out is None and drop_empty:
                continue
            fields[name] = out
        return _Outgoing(fields, typecast, record_id)

    def _link_value(self, column: ColumnSpec, value: Value, found: FieldInfo) -> Any:
        names = [text_of(v, self.base.timezone).strip() for v in as_list(value) if v is not None]
        names = [n for n in names if n]
        if not names:
            return None
        ids = self.base.record_ids(self.base.link_target(column, self.spec), names, table=self.spec, column=column)
        return ids if found.type == LINK_FIELD else LINE_JOINER.join(names)  # a link kept as text (primary field)

    def _new_choices(self, column: ColumnSpec, found: FieldInfo, values: list[Any]) -> bool:
        """Whether `values` need options Airtable does not list yet; refuses those the schema does not allow."""
        new = [v for v in values if v not in found.choices]
        for value in new:
            if column.choices and value not in column.choices:
                raise InvalidValueError(
                    f"« {value} » n'est pas un choix de la colonne « {column.name} » (table « {self.spec.name} ») ; "
                    f"choix possibles : {', '.join(column.choices)}",
                    table=self.spec.name, column=column.name, value=value,
                )
        return bool(new)

    def _send(self, rows: list[Mapping[str, Value]], outgoing: list[_Outgoing],
              send: Callable[[list[_Outgoing], bool], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """Send the rows in two calls at most (those without typecast, then those that need it);
        returns Airtable's records in the order of `outgoing`."""
        results: dict[int, dict[str, Any]] = {}
        for typecast in (False, True):
            indexes = [i for i, o in enumerate(outgoing) if o.typecast == typecast]
            if indexes:
                chunk, sent = [outgoing[i] for i in indexes], [rows[i] for i in indexes]
                results.update(zip(indexes, self.base.call(lambda: send(chunk, typecast), table=self.spec, sent=sent)))
        return [results[i] for i in range(len(outgoing))]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def is_record_id(value: Any) -> bool:
    return isinstance(value, str) and RECORD_ID.fullmatch(value) is not None
