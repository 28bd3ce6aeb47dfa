"""A local stand-in for Airtable's REST API: records, the Meta API, its limits, error bodies and faults.

It answers like https://api.airtable.com/v0 for what cantines-worker uses, so the real pyairtable client
can be driven over real HTTP (`Api(TOKEN, endpoint_url=fake.url)`):

- records: list (GET, or POST `/listRecords`; `pageSize` ≤ 100, `offset`, `fields[]`, `sort`, `maxRecords`,
  `returnFieldsByFieldId`; `view` is ignored, `filterByFormula` is refused rather than ignored), get one,
  create, update and replace (PATCH/PUT), upsert (`performUpsert.fieldsToMergeOn`), delete; at most 10
  records per write; empty fields are omitted from answers, as Airtable does;
- Meta API: list tables, create a table, create a field; creating a link field also creates its inverse
  field in the linked table, as Airtable does, and links are kept symmetric;
- limits: more than `rate_limit` requests to one base within `rate_window` seconds answer 429 and keep
  answering 429 for `rate_penalty` seconds (Airtable's 30 s), measured on an injectable clock;
- faults for tests: `latency` added to every request, and `fail_next(...)`: forced status codes, or
  "drop" (close the connection without answering) and "drop-after" (apply the request, then close
  without answering: the client cannot know its write happened);
- a log of every request received (`requests(...)`, `count(...)`, `reset_counts()`).

Error bodies are Airtable's: `{"error": {"type": "...", "message": "..."}}`. Types and messages follow
Airtable's where known; a few messages for cases Airtable documents loosely are best guesses. Sources for
the ones that differ from a plain 404/422:

- updating (PATCH/PUT of `records`, with or without `performUpsert`) a record id the table no longer has
  answers 422 `ROW_DOES_NOT_EXIST` "Record ID recXXX does not exist in this table", not 404 (the error
  quoted in domdomegg/airtable-mcp-server#28, a batch update of a record deleted meanwhile); a single
  record's URL (`/v0/{base}/{table}/{recXXX}`) still answers 404 `NOT_FOUND`, as does a batch DELETE;
- an `offset` expires: "Iteration may timeout due to client inactivity or server restarts. In that case,
  the client will receive a 422 response with error message LIST_RECORDS_ITERATOR_NOT_AVAILABLE. It may
  then restart iteration from the beginning." (airtable.com/developers/web/api/list-records, quoted in
  simonw/airtable-export#7). Airtable does not say after how long: the fake lets an offset live
  `offset_lifetime` seconds of its clock (10 s by default, a guess shorter than the 30 s a 429 costs);
- `returnFieldsByFieldId` in a query string is "1"/"true" for ids and "0"/"false" for names: pyairtable
  sends `returnFieldsByFieldId=0` when asked for names explicitly (`Table.get(..., use_field_ids=False)`,
  pyairtable/api/params.py and tests/test_api_table.py).

Standalone: `python -m tests.fakes.airtable --port 8765` serves until interrupted.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .server import FakeServer, Handler
from .airtable_store import (
    MAX_PAGE_SIZE, MAX_RECORDS_PER_REQUEST, AirtableError, FakeBase, FakeStore, FakeTable, check_keys,
    invalid_request, json_object, model_not_found,
)

__all__ = ["BASE_ID", "MAX_PAGE_SIZE", "MAX_RECORDS_PER_REQUEST", "TOKEN", "FakeAirtable", "LoggedRequest"]

TOKEN = "patFakeAirtable.cantines-worker-tests"
BASE_ID = "appFakeCantines01"
RATE_LIMIT = 5
RATE_WINDOW = 1.0
RATE_PENALTY = 30.0
OFFSET_LIFETIME = 10.0  # seconds an offset stays usable: Airtable does not say, only that offsets expire
EPSILON = 1e-6  # clock comparisons: float sums of fake sleeps are not exact
SORT_PARAM = re.compile(r"sort\[(\d+)\]\[(field|direction)\]")
LIST_QUERY_KEYS = {"pageSize", "offset", "fields[]", "fields", "maxRecords", "view", "filterByFormula",
                   "returnFieldsByFieldId", "cellFormat", "timeZone", "userLocale", "recordMetadata[]"}
LIST_BODY_KEYS = {"pageSize", "offset", "fields", "sort", "maxRecords", "view", "filterByFormula",
                  "returnFieldsByFieldId", "cellFormat", "timeZone", "userLocale", "recordMetadata"}


# `[airtable]` settings for a deployment on the fake made with rate_limit=None: no pacing either
UNPACED = "requests_per_second = 1000"


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the fake received it, and the status it answered (None: connection dropped)."""

    method: str
    path: str
    kind: str
    base_id: str | None
    table: str | None
    query: Mapping[str, list[str]]
    body: Any
    status: int | None
    at: float = 0.0  # when the fake counted it for its rate limit (its clock; time.monotonic by default)

    @property
    def records(self) -> int:
        """How many records the request wrote or deleted."""
        if isinstance(self.body, dict) and isinstance(self.body.get("records"), list):
            return len(self.body["records"])
        return len(self.query.get("records[]", []))


class _Handler(Handler):
    do_PATCH = do_PUT = do_DELETE = Handler.do_GET


class FakeAirtable(FakeServer):
    """Airtable's REST API on 127.0.0.1, for tests (`with FakeAirtable() as fake:`) and local runs."""

    handler_class = _Handler
    thread_name = "fake-airtable"

    def __init__(
        self,
        *,
        token: str = TOKEN,
        bases: Iterable[str] = (BASE_ID,),
        clock: Callable[[], float] = time.monotonic,
        rate_limit: int | None = RATE_LIMIT,
        rate_window: float = RATE_WINDOW,
        rate_penalty: float = RATE_PENALTY,
        offset_lifetime: float | None = OFFSET_LIFETIME,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
    ):
        self.token = token
        self.store = FakeStore(seed=seed)
        self.bases = self.store.bases
        self.clock = clock
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.rate_penalty = rate_penalty
        self.offset_lifetime = offset_lifetime
        self._offsets: dict[str, float] = {}  # offsets given, and when (on `clock`)
        self.latency = latency
        self.log: list[LoggedRequest] = []
        self._faults: list[tuple[int | str | None, str | None]] = []
        self._lock = threading.RLock()
        self._listen_on(host, port)
        for base_id in bases:
            self.add_base(base_id)


    # -- what tests look at ----------------------------------------------------------------

    def requests(
        self, kind: str | None = None, *, method: str | None = None, table: str | None = None,
        status: int | None | str = "any",
    ) -> list[LoggedRequest]:
        """Logged requests, filtered by kind ("list", "create", "upsert"…), method, table and status."""
        with self._lock:
            return [
                r for r in self.log
                if (kind is None or r.kind == kind) and (method is None or r.method == method)
                and (table is None or r.table == table) and (status == "any" or r.status == status)
            ]

    def count(self, kind: str | None = None, **filters: Any) -> int:
        return len(self.requests(kind, **filters))

    def reset_counts(self) -> None:
        with self._lock:
            self.log.clear()

    def fail_next(self, *actions: int | str, method: str | None = None, after: int = 0) -> None:
        """Make the next matching requests fail: a status code (500, 429…), "drop" (close the connection
        without answering) or "drop-after" (apply the request, then close without answering); `after`:
        let that many matching requests through first."""
        for action in actions:
            if not isinstance(action, int) and action not in ("drop", "drop-after"):
                raise ValueError(f"unknown fault {action!r}")
        with self._lock:
            only = method.upper() if method else None
            self._faults.extend([(None, only)] * after)  # None: a request let through
            self._faults.extend((action, only) for action in actions)

    # -- setting data up directly (not counted, no limits) -----------------------------------

    def add_base(self, base_id: str) -> FakeBase:
        with self._lock:
            return self.bases.setdefault(base_id, FakeBase(base_id))

    def add_table(self, name: str, fields: Sequence[Mapping[str, Any]], *, base_id: str = BASE_ID) -> FakeTable:
        """Create a table from Airtable field models, as the Meta API would."""
        with self._lock:
            return self.store.create_table(self.bases[base_id], {"name": name, "fields": list(fields)})

    def add_records(self, table: str, rows: Iterable[Mapping[str, Any]], *, base_id: str = BASE_ID,
                    typecast: bool = False) -> list[str]:
        """Create records (values in Airtable's JSON form, by field name); returns their ids."""
        with self._lock:
            base = self.bases[base_id]
            target = self._table(base, table)
            return [self.store.write(base, target, None, dict(row), typecast=typecast).id for row in rows]

    def rows(self, table: str, *, base_id: str = BASE_ID) -> list[dict[str, Any]]:
        """Every record's non-empty values by field name, in creation order (with "id")."""
        with self._lock:
            target = self._table(self.bases[base_id], table)
            return [{"id": r.id, **self.store.fields_json(target, r, None, False)} for r in target.records.values()]

    def table_model(self, table: str, *, base_id: str = BASE_ID) -> dict[str, Any]:
        with self._lock:
            return self._table(self.bases[base_id], table).model()

    # -- HTTP --------------------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        method = handler.command.upper()
        split = urlsplit(handler.path)
        query = parse_qs(split.query, keep_blank_values=True)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        parts = [unquote(p) for p in split.path.split("/")[1:]]
        kind, base_id, table = _classify(method, parts)
        if kind == "update" and isinstance(body, dict) and "performUpsert" in body:
            kind = "upsert"
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(method)
        counted = self.clock()
        status: int | None
        payload: Any = None
        if isinstance(fault, int):
            error = _forced_error(fault)
            status, payload = error.status, error.body()
        elif fault == "drop":
            status = None
        else:
            with self._lock:
                counted = self.clock()  # as its rate limit counts it
                try:
                    status, payload = 200, self._answer(handler, method, parts, query, body)
                except AirtableError as error:
                    status, payload = error.status, error.body()
            if fault == "drop-after":
                status = None
        with self._lock:
            self.log.append(LoggedRequest(method, split.path, kind, base_id, table, query, body, status, counted))
        if status is None:
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _take_fault(self, method: str) -> int | str | None:
        with self._lock:
            for index, (action, only) in enumerate(self._faults):
                if only is None or only == method:
                    del self._faults[index]
                    return action
        return None

    def _answer(self, handler: _Handler, method: str, parts: list[str], query: dict[str, list[str]],
                body: Any) -> Any:
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            raise AirtableError(401, "AUTHENTICATION_REQUIRED", "Authentication required")
        if len(parts) < 3 or parts[0] != "v0":
            raise AirtableError(404, "NOT_FOUND", "Could not find what you are looking for")
        if parts[1] == "meta":
            if len(parts) < 5 or parts[2] != "bases" or parts[4] != "tables":
                raise AirtableError(404, "NOT_FOUND", "Could not find what you are looking for")
            base = self._base(parts[3])
            self._count_rate(base)
            if len(parts) == 5 and method == "GET":
                return {"tables": [t.model() for t in base.tables]}
            if len(parts) == 5 and method == "POST":
                return self.store.create_table(base, json_object(body)).model()
            if len(parts) == 7 and parts[6] == "fields" and method == "POST":
                table = base.table(parts[5])
                if table is None:
                    raise model_not_found(404)
                return self.store.create_field(base, table, json_object(body)).model()
            raise AirtableError(404, "NOT_FOUND", "Could not find what you are looking for")
        base = self._base(parts[1])
        self._count_rate(base)
        table = base.table(parts[2])
        if table is None:
            raise model_not_found(404)
        if len(parts) == 3:
            if method == "GET":
                return self._list(table, _list_options_from_query(query))
            if method == "POST":
                return self.store.create(base, table, json_object(body))
            if method in ("PATCH", "PUT"):
                return self.store.update(base, table, json_object(body), replace=method == "PUT")
            if method == "DELETE":
                return self.store.delete(base, table, query.get("records[]", []))
        elif len(parts) == 4 and parts[3] == "listRecords" and method == "POST":
            return self._list(table, _list_options_from_body(json_object(body)))
        elif len(parts) == 4:
            record = table.records.get(parts[3])
            if record is None:
                raise AirtableError(404, "NOT_FOUND", f"Could not find record {parts[3]}")
            if method == "GET":
                by_id = query.get("returnFieldsByFieldId", ["0"])[-1] in ("1", "true")
                return self.store.record_json(table, record, None, by_id)
            if method in ("PATCH", "PUT"):
                payload = json_object(body)
                check_keys(payload, {"fields", "typecast", "returnFieldsByFieldId"})
                record = self.store.write(base, table, record, json_object(payload.get("fields")),
                                     typecast=bool(payload.get("typecast")), replace=method == "PUT")
                return self.store.record_json(table, record, None, bool(payload.get("returnFieldsByFieldId")))
            if method == "DELETE":
                self.store.remove(base, table, [record.id])
                return {"id": record.id, "deleted": True}
        raise AirtableError(404, "NOT_FOUND", "Could not find what you are looking for")

    def _list(self, table: FakeTable, options: dict[str, Any]) -> dict[str, Any]:
        """A page of records; an offset older than `offset_lifetime` has expired, as Airtable's do."""
        offset = options.get("offset")
        if offset and self.offset_lifetime is not None:
            given = self._offsets.get(str(offset))
            if given is None or self.clock() - given > self.offset_lifetime + EPSILON:
                raise AirtableError(422, "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
                                    "LIST_RECORDS_ITERATOR_NOT_AVAILABLE")
        page = self.store.list_records(table, options)
        if page.get("offset"):
            self._offsets[page["offset"]] = self.clock()
        return page

    def expire_offsets(self) -> None:
        """Make every offset given so far expire, as a server restart would."""
        with self._lock:
            self._offsets.clear()

    def _base(self, base_id: str) -> FakeBase:
        base = self.bases.get(base_id)
        if base is None:
            raise model_not_found(403)
        return base

    def _table(self, base: FakeBase, name: str) -> FakeTable:
        table = base.table(name)
        if table is None:
            raise KeyError(name)
        return table

    def _count_rate(self, base: FakeBase) -> None:
        if self.rate_limit is None:
            return
        now = self.clock()
        if now < base.blocked_until - EPSILON:
            raise _rate_limited()
        while base.hits and base.hits[0] <= now - self.rate_window + EPSILON:
            base.hits.popleft()
        if len(base.hits) >= self.rate_limit:
            base.blocked_until = now + self.rate_penalty
            raise _rate_limited()
        base.hits.append(now)


# -- helpers ---------------------------------------------------------------------------------

def _classify(method: str, parts: list[str]) -> tuple[str, str | None, str | None]:
    """What kind of request this is, for the log: kind, base id, table (as named in the URL)."""
    if len(parts) >= 5 and parts[:3] == ["v0", "meta", "bases"]:
        if len(parts) == 5:
            return ("schema" if method == "GET" else "create-table"), parts[3], None
        return "create-field", parts[3], parts[5]
    if len(parts) < 3 or parts[0] != "v0":
        return "unknown", None, None
    base_id, table = parts[1], parts[2]
    if len(parts) == 4 and parts[3] == "listRecords":
        return "list", base_id, table
    if len(parts) == 4:
        return {"GET": "get", "DELETE": "delete"}.get(method, "update"), base_id, table
    kinds = {"GET": "list", "POST": "create", "PATCH": "update", "PUT": "update", "DELETE": "delete"}
    return kinds.get(method, "unknown"), base_id, table


def _forced_error(status: int) -> AirtableError:
    if status == 429:
        return _rate_limited()
    if status == 401:
        return AirtableError(401, "AUTHENTICATION_REQUIRED", "Authentication required")
    if status >= 500:
        return AirtableError(status, "SERVER_ERROR", "Try again. If the problem persists, contact support.")
    return AirtableError(status, "FORCED_ERROR", f"Forced HTTP {status}")


def _rate_limited() -> AirtableError:
    return AirtableError(429, "RATE_LIMIT_REACHED", "Rate limit exceeded. Please try again later")


def _list_options_from_query(query: dict[str, list[str]]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    sort: dict[int, dict[str, str]] = {}
    for key, values in query.items():
        if m := SORT_PARAM.fullmatch(key):
            sort.setdefault(int(m[1]), {})[m[2]] = values[-1]
        elif key not in LIST_QUERY_KEYS:
            raise invalid_request(f"unknown parameter {key}")
        elif key in ("fields[]", "fields"):
            options["fields"] = values
        else:
            options[key] = values[-1]
    if sort:
        options["sort"] = [sort[i] for i in sorted(sort)]
    options["returnFieldsByFieldId"] = options.get("returnFieldsByFieldId") in ("1", "true")
    return options


def _list_options_from_body(body: dict[str, Any]) -> dict[str, Any]:
    check_keys(body, LIST_BODY_KEYS)
    return dict(body)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a fake Airtable until interrupted (Ctrl-C or SIGTERM)."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.airtable", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default=TOKEN, help="the bearer token it accepts (default: %(default)s)")
    parser.add_argument("--base", action="append", help=f"a base id it holds (repeatable; default {BASE_ID})")
    parser.add_argument("--no-rate-limit", action="store_true", help="never answer 429")
    args = parser.parse_args(argv)
    fake = FakeAirtable(token=args.token, bases=args.base or (BASE_ID,), host=args.host, port=args.port,
                        rate_limit=None if args.no_rate_limit else RATE_LIMIT)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with fake:
        print(f"Fake Airtable on {fake.url} (token {args.token}, bases {', '.join(fake.bases)})", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
