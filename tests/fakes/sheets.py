"""A local stand-in for the Google Sheets v4 API: spreadsheets by key, sharing, quotas, error bodies, faults.

It answers like https://sheets.googleapis.com for what cantines-worker uses, so the real gspread
client can be driven over real HTTP (the backend's HTTP client rewrites Google's URLs to `fake.url`):

- `spreadsheets.get` (properties, sheets and their `gridProperties`; `fields` is ignored: the whole
  metadata is answered, except that a `fields` naming `dataValidation` adds each sheet's GridData with
  its cells' data validation rules, for the `ranges` asked (only their sheets) or every used row),
  `spreadsheets:batchUpdate` (`addSheet`, `deleteDimension`, `appendDimension`, `insertDimension` (new
  rows take the number formats of the row before, or after), `updateCells` (values as stringValue,
  numberValue, boolValue; number formats), `repeatCell` (number formats), `updateSheetProperties`,
  `setDataValidation` (rules kept, not enforced); all requests applied or none);
- `updateSheetProperties` applies what its `fields` mask names (title, index, hidden, and the
  gridProperties rowCount, columnCount, frozenRowCount, frozenColumnCount; "*", a message's name for
  all its fields), with paths written "gridProperties.rowCount" or, as gspread writes them (`resize`,
  `freeze`: gspread/worksheet.py), "gridProperties/rowCount": Google applies those, as burnash/gspread's
  cassettes record (tests/cassettes/WorksheetTest.test_resize.json: rowCount 1000 → 1010, columnCount
  26 → 36, read back so; WorksheetTest.test_freeze.json: frozenRowCount 2, frozenColumnCount 1, then both
  0 and gone from the metadata); shrinking deletes the rows and columns beyond, with their values (a
  guess from the Sheets UI; no cassette shows it); an unknown path is refused (a guess too);
- a ValueRange's `"majorDimension": null` means ROWS: gspread's own `Worksheet.update` sends it
  (`body={"values": values, "majorDimension": major_dimension}`, None by default) and Google answers 200
  (tests/cassettes/WorksheetTest.test_get_all_records.json: PUT values/'Sheet1'!A1:D4 with
  `"majorDimension": null`, 200, 16 cells updated);
- `values.get`, `values:batchGet` (`ranges`, `valueRenderOption`, `dateTimeRenderOption`,
  `majorDimension`), `values.update`, `values:batchUpdate`, `values:append` (`valueInputOption`
  RAW/USER_ENTERED, `insertDataOption`); see `sheets_store` for how cells are stored and rendered;
- accounts: a spreadsheet is shared with a list of emails (reader or writer) or with anyone; the caller
  is known from its bearer token: a token issued by the fake's OAuth endpoint (`token_uri`, where
  google-auth's service-account credentials exchange their signed JWT), a token from `token_for(email)`,
  or a self-signed service-account JWT. Any other token, or none, is an anonymous caller, accepted on
  spreadsheets shared with anyone;
- quotas: `read_quota` read requests and `write_quota` write requests per account within any
  `quota_window` seconds (60 and 60 per minute, as Google's per-user quotas), on an injectable clock;
  beyond, 429 RESOURCE_EXHAUSTED (refused requests do not count);
- faults for tests: `latency` before every answer, `fail_next(...)` (forced status codes, or "drop":
  close the connection without answering), optionally for one kind of request only;
- a log of every request (`requests(...)`, `count(kind)`, `counts()`, `reset_counts()`), kinds: "get",
  "batchUpdate", "values.get", "batchGet", "values.update", "values.batchUpdate", "append", and
  google-auth's "token" and "allowedLocations" (its regional access boundary lookup, answered with no
  restriction), which `counts()` leaves out unless asked.

Error bodies are Google's: `{"error": {"code": 403, "message": "...", "status": "PERMISSION_DENIED"}}`.

Standalone: `python -m tests.fakes.sheets --port 8766 --spreadsheet KEY --tab Indicateurs` serves until
interrupted.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import functools
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
from .sheets_store import (
    Cell,
    FakeSpreadsheet, SheetsError, a1, append_values, apply_requests, invalid, parse_range, read_values,
    typed_cell, write_values,
)

__all__ = ["FakeSheets", "LoggedRequest", "SheetsError", "service_account_info"]

SPREADSHEET_KEY = "1FakeCantinesHubSpreadsheetKey0123456789abc"
TOKEN_PREFIX = "ya29.fake."
QUOTA_PER_MINUTE = 60
QUOTA_WINDOW = 60.0
EPSILON = 1e-6
READ_KINDS = frozenset({"get", "values.get", "batchGet"})
AUTH_KINDS = frozenset({"token", "allowedLocations"})  # google-auth's requests, not the Sheets API's
ALLOWED_LOCATIONS = re.compile(r"/v1/projects/[^/]+/serviceAccounts/([^/]+)/allowedLocations")
VALUE_RENDER = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")
DATETIME_RENDER = ("SERIAL_NUMBER", "FORMATTED_STRING")
MAJOR = ("ROWS", "COLUMNS", "DIMENSION_UNSPECIFIED")
INPUT = ("RAW", "USER_ENTERED")
INSERT = ("OVERWRITE", "INSERT_ROWS")
ROUTES = [
    (re.compile(r"/v4/spreadsheets/([^/:]+)"), {"GET": "get"}),
    (re.compile(r"/v4/spreadsheets/([^/:]+):batchUpdate"), {"POST": "batchUpdate"}),
    (re.compile(r"/v4/spreadsheets/([^/:]+)/values:batchGet"), {"GET": "batchGet"}),
    (re.compile(r"/v4/spreadsheets/([^/:]+)/values:batchUpdate"), {"POST": "values.batchUpdate"}),
    (re.compile(r"/v4/spreadsheets/([^/:]+)/values/(.+):append"), {"POST": "append"}),
    (re.compile(r"/v4/spreadsheets/([^/:]+)/values/(.+)"), {"GET": "values.get", "PUT": "values.update"}),
]
FORCED = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                             "login cookie or other valid authentication credential."),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    500: ("INTERNAL", "Internal error encountered."),
    502: ("UNAVAILABLE", "Bad gateway."),
    503: ("UNAVAILABLE", "The service is currently unavailable."),
    504: ("DEADLINE_EXCEEDED", "The service did not answer in time."),
}


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the fake received it, and the status it answered (None: connection dropped)."""

    method: str
    path: str
    kind: str
    key: str | None
    query: Mapping[str, list[str]]
    body: Any
    status: int | None
    account: str | None


class _Handler(Handler):
    do_PATCH = do_PUT = do_DELETE = Handler.do_GET


class FakeSheets(FakeServer):
    """Google Sheets v4 on 127.0.0.1, for tests (`with FakeSheets() as fake:`) and local runs."""

    handler_class = _Handler
    thread_name = "fake-sheets"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        read_quota: int | None = QUOTA_PER_MINUTE,
        write_quota: int | None = QUOTA_PER_MINUTE,
        quota_window: float = QUOTA_WINDOW,
        latency: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.clock = clock
        self.read_quota = read_quota
        self.write_quota = write_quota
        self.quota_window = quota_window
        self.latency = latency
        self.sleep = sleep
        self.spreadsheets: dict[str, FakeSpreadsheet] = {}
        self.revoked: set[str] = set()  # service accounts whose token requests fail (a deleted key)
        self.log: list[LoggedRequest] = []
        self._hits: dict[tuple[str | None, str], collections.deque[float]] = collections.defaultdict(collections.deque)
        self._faults: list[tuple[int | str | SheetsError, str | None]] = []
        self._lock = threading.RLock()
        self._listen_on(host, port)


    @property
    def token_uri(self) -> str:
        """Where service-account credentials get their access tokens (put it in the JSON's token_uri)."""
        return f"{self.url}/token"

    # -- setting data up directly (not counted, no quota) ------------------------------------

    def add_spreadsheet(
        self,
        key: str = SPREADSHEET_KEY,
        *,
        title: str | None = None,
        tabs: Mapping[str, Sequence[Sequence[Any]]] | None = None,
        shared_with: Iterable[str] | Mapping[str, str] | None = None,
        locale: str = "fr_FR",
        rows: int = 1000,
        columns: int = 26,
    ) -> FakeSpreadsheet:
        """A spreadsheet with tabs of Python values (dates get a date format, as if typed by staff).

        `shared_with`: emails (editors), or {email: "reader" | "writer"}; None: anyone may edit."""
        if shared_with is not None and not isinstance(shared_with, Mapping):
            shared_with = {email: "writer" for email in shared_with}
        book = FakeSpreadsheet(key, title or f"Classeur {key[:8]}", locale=locale,
                               shared_with=dict(shared_with) if shared_with is not None else None)
        for name, values in (tabs if tabs is not None else {"Feuille 1": []}).items():
            sheet = book.add_sheet(name, rows=max(rows, len(values)),
                                   columns=max([columns, *(len(r) for r in values)]))
            sheet.rows = [[typed_cell(v) for v in row] for row in values]
        with self._lock:
            self.spreadsheets[key] = book
        return book

    def values(self, key: str, tab: str, *, render: str = "UNFORMATTED_VALUE",
               datetime_render: str = "SERIAL_NUMBER") -> list[list[Any]]:
        """What `values.get` would answer for the whole tab (trailing empty cells left out)."""
        with self._lock:
            book = self.spreadsheets[key]
            return read_values(parse_range(book, tab), render, datetime_render, "ROWS", book.locale)

    def number_format(self, key: str, tab: str, cell: str) -> dict[str, str] | None:
        """The number format of one cell ("B2"), or None."""
        with self._lock:
            grid = parse_range(self.spreadsheets[key], f"{tab}!{cell}")
            found = grid.sheet.cell(grid.r0, grid.c0)
            return found.number_format if found else None

    def set_number_format(self, key: str, tab: str, cell: str, number_format: dict[str, str] | None) -> None:
        """Give one cell ("C5") a number format, as staff would in the Sheets UI."""
        with self._lock:
            grid = parse_range(self.spreadsheets[key], f"{tab}!{cell}")
            old = grid.sheet.cell_for_write(grid.r0, grid.c0)
            grid.sheet.rows[grid.r0][grid.c0] = Cell(old.value, dict(number_format) if number_format else None)

    def token_for(self, email: str) -> str:
        """A bearer token the fake takes for `email` (for credentials that never refresh)."""
        return TOKEN_PREFIX + base64.urlsafe_b64encode(email.encode()).decode().rstrip("=")

    # -- what tests look at ----------------------------------------------------------------

    def requests(self, kind: str | None = None, *, key: str | None = None,
                 status: int | None | str = "any") -> list[LoggedRequest]:
        """Logged requests, filtered by kind ("batchGet", "append"…), spreadsheet key and status."""
        with self._lock:
            return [r for r in self.log if (kind is None or r.kind == kind) and (key is None or r.key == key)
                    and (status == "any" or r.status == status)]

    def count(self, kind: str | None = None, **filters: Any) -> int:
        return len(self.requests(kind, **filters))

    def counts(self, *, auth: bool = False) -> dict[str, int]:
        """Sheets API requests received, by kind (with `auth`: google-auth's token requests and lookups too,
        some of which google-auth sends from a background thread)."""
        with self._lock:
            return dict(collections.Counter(r.kind for r in self.log if auth or r.kind not in AUTH_KINDS))

    def reset_counts(self) -> None:
        with self._lock:
            self.log.clear()

    def fail_next(self, *actions: int | str | SheetsError, kind: str | None = None) -> None:
        """Make the next requests (of `kind`, if given) fail: a status code (429, 500…) answered with
        Google's body for it, a `SheetsError` (any body), or "drop"."""
        for action in actions:
            if not isinstance(action, (int, SheetsError)) and action != "drop":
                raise ValueError(f"unknown fault {action!r}")
        with self._lock:
            self._faults.extend((action, kind) for action in actions)

    # -- HTTP --------------------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        method = handler.command.upper()
        split = urlsplit(handler.path)
        query = parse_qs(split.query, keep_blank_values=True)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        kind, key, range_text = _route(method, split.path)
        body: Any = None
        if kind == "token":
            body = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        account = _account(handler.headers.get("Authorization"))
        if self.latency:
            self.sleep(self.latency)
        status: int | None
        payload: Any
        fault = self._take_fault(kind)
        if fault == "drop":
            status, payload = None, None
        elif isinstance(fault, SheetsError):
            status, payload = fault.code, fault.body()
        elif isinstance(fault, int):
            error = self._quota_error(kind) if fault == 429 else _forced(fault)
            status, payload = error.code, error.body()
        else:
            with self._lock:
                try:
                    status, payload = 200, self._answer(kind, method, key, range_text, query, body, account)
                except SheetsError as error:
                    status, payload = error.code, error.body()
                except _OAuthError as error:
                    status, payload = 400, {"error": error.args[0], "error_description": error.args[1]}
        with self._lock:
            self.log.append(LoggedRequest(method, split.path, kind, key, query, body, status, account))
        if status is None:
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _take_fault(self, kind: str) -> int | str | SheetsError | None:
        with self._lock:
            for index, (action, only) in enumerate(self._faults):
                if only is None or only == kind:
                    del self._faults[index]
                    return action
        return None

    def _answer(self, kind: str, method: str, key: str | None, range_text: str | None,
                query: dict[str, list[str]], body: Any, account: str | None) -> Any:
        if kind == "token":
            return self._token(body or {})
        if kind == "allowedLocations":  # google-auth's regional access boundary lookup: no restriction
            return {"locations": [], "encodedLocations": "0x0"}
        if kind == "unknown" or key is None:
            raise SheetsError(404, "NOT_FOUND", f"Method not found: {method} {range_text or ''}".strip())
        self._count_quota(kind, account)
        book = self.spreadsheets.get(key)
        if book is None:
            raise SheetsError(404, "NOT_FOUND", "Requested entity was not found.")
        if book.shared_with is not None:
            role = book.shared_with.get(account or "")
            if role is None or (role == "reader" and kind not in READ_KINDS):
                raise SheetsError(403, "PERMISSION_DENIED", "The caller does not have permission")
        options = _Options(query, body if isinstance(body, dict) else {})
        if kind == "get":
            return self._metadata(book, query)
        if kind in ("values.get", "batchGet"):
            value_option = options.choice("valueRenderOption", VALUE_RENDER, "FORMATTED_VALUE")
            datetime_option = options.choice("dateTimeRenderOption", DATETIME_RENDER, "SERIAL_NUMBER")
            major = options.choice("majorDimension", MAJOR, "ROWS")
            texts = [range_text] if kind == "values.get" else query.get("ranges", [])
            grids = [parse_range(book, text) for text in texts]  # type: ignore[arg-type]
            ranges = []
            for grid in grids:
                answer: dict[str, Any] = {
                    "range": a1(grid.sheet, grid.r0, grid.c0, grid.rows_end(), grid.cols_end()),
                    "majorDimension": "COLUMNS" if major == "COLUMNS" else "ROWS",
                }
                values = read_values(grid, value_option, datetime_option, major, book.locale)
                if values:
                    answer["values"] = values
                ranges.append(answer)
            if kind == "values.get":
                return ranges[0]
            return {"spreadsheetId": key, "valueRanges": ranges} if ranges else {"spreadsheetId": key}
        if kind in ("values.update", "append"):
            value_range = _json_object(body)
            input_option = options.required("valueInputOption", INPUT)
            major = options.choice("majorDimension", MAJOR, value_range.get("majorDimension") or "ROWS")  # null: ROWS
            grid = parse_range(book, range_text)  # type: ignore[arg-type]
            if kind == "values.update":
                return write_values(book, grid, value_range.get("values", []), input_option, major)
            insert = options.choice("insertDataOption", INSERT, "OVERWRITE")
            return append_values(book, grid, value_range.get("values", []), input_option, insert, major)
        if kind == "values.batchUpdate":
            request = _json_object(body)
            input_option = options.required("valueInputOption", INPUT, in_body=True)
            data = request.get("data") or []
            plans = [(parse_range(book, str(item.get("range"))), item) for item in data]
            for grid, item in plans:  # check every range before writing any: all or nothing
                write_values(book, grid, item.get("values", []), input_option, item.get("majorDimension") or "ROWS",
                             apply=False)
            responses = [write_values(book, grid, item.get("values", []), input_option,
                                      item.get("majorDimension") or "ROWS") for grid, item in plans]
            return {
                "spreadsheetId": key,
                "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
                "totalUpdatedColumns": sum(r["updatedColumns"] for r in responses),
                "totalUpdatedCells": sum(r["updatedCells"] for r in responses),
                "totalUpdatedSheets": len({grid.sheet.sheet_id for grid, _ in plans}),
                "responses": responses,
            }
        if kind == "batchUpdate":
            requests = _json_object(body).get("requests")
            if not isinstance(requests, list) or not requests:
                raise invalid("Must specify at least one request.")
            return {"spreadsheetId": key, "replies": apply_requests(book, requests)}
        raise SheetsError(404, "NOT_FOUND", "Method not found.")

    @staticmethod
    def _metadata(book: FakeSpreadsheet, query: Mapping[str, list[str]]) -> dict[str, Any]:
        """`spreadsheets.get`: the metadata (its `fields` mask otherwise ignored); when `fields` asks for
        cells' `dataValidation`, the GridData of each of `ranges` (only the sheets they are on), or of
        every sheet's used rows without `ranges`."""
        answer = book.metadata()
        fields = " ".join(query.get("fields", []))
        if "dataValidation" not in fields:
            return answer
        wanted: dict[int, list[dict[str, Any]]] = {}
        texts = query.get("ranges", [])
        if texts:
            for text in texts:
                grid = parse_range(book, text)
                wanted.setdefault(grid.sheet.sheet_id, []).append(
                    grid.sheet.grid_data(grid.r0, min(grid.rows_end(), grid.sheet.row_count), grid.c0, grid.cols_end()))
        else:
            for sheet in book.sheets:
                wanted[sheet.sheet_id] = [sheet.grid_data(0, max(len(sheet.rows), 2), 0, sheet.column_count)]
        answer["sheets"] = [{"properties": s.properties(), "data": wanted[s.sheet_id]}
                            for s in book.sheets if s.sheet_id in wanted]
        return answer

    def _token(self, form: Mapping[str, str]) -> dict[str, Any]:
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            raise _OAuthError("unsupported_grant_type", "Invalid grant_type")
        claims = _jwt_claims(form.get("assertion", ""))
        email = claims.get("iss") if claims else None
        if not email:
            raise _OAuthError("invalid_grant", "Invalid JWT: the assertion cannot be read")
        if email in self.revoked:
            raise _OAuthError("invalid_grant", "Invalid JWT Signature.")
        return {"access_token": self.token_for(email), "expires_in": 3599, "token_type": "Bearer"}

    def _count_quota(self, kind: str, account: str | None) -> None:
        family = "read" if kind in READ_KINDS else "write"
        limit = self.read_quota if family == "read" else self.write_quota
        if limit is None:
            return
        now = self.clock()
        hits = self._hits[(account, family)]
        while hits and hits[0] <= now - self.quota_window + EPSILON:
            hits.popleft()
        if len(hits) >= limit:
            raise self._quota_error(kind)
        hits.append(now)

    @staticmethod
    def _quota_error(kind: str) -> SheetsError:
        metric = "Read" if kind in READ_KINDS else "Write"
        return SheetsError(429, "RESOURCE_EXHAUSTED",
                           f"Quota exceeded for quota metric '{metric} requests' and limit '{metric} requests per "
                           "minute per user' of service 'sheets.googleapis.com' for consumer "
                           "'project_number:000000000000'.")


class _OAuthError(Exception):
    """An OAuth token endpoint error: {"error": ..., "error_description": ...}."""


class _Options:
    """Query parameters (and body fields) checked against the values the API accepts."""

    def __init__(self, query: Mapping[str, list[str]], body: Mapping[str, Any]):
        self.query, self.body = query, body

    def choice(self, name: str, allowed: Sequence[str], default: str) -> str:
        value = self.query.get(name, [None])[-1] or default
        if value not in allowed:
            raise invalid(f"Invalid value at '{_snake(name)}', \"{value}\"")
        return value

    def required(self, name: str, allowed: Sequence[str], *, in_body: bool = False) -> str:
        value = self.body.get(name) if in_body else self.query.get(name, [None])[-1]
        if not value:
            raise invalid(f"'{_snake(name)}' is required but not specified")
        return _check(name, value, allowed)


def _check(name: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise invalid(f"Invalid value at '{_snake(name)}', \"{value}\"")
    return value


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _route(method: str, path: str) -> tuple[str, str | None, str | None]:
    """(kind, spreadsheet key, range) of a request path, matched before unquoting (ranges are quoted)."""
    if path == "/token":
        return ("token" if method == "POST" else "unknown"), None, None
    if ALLOWED_LOCATIONS.fullmatch(path):
        return ("allowedLocations" if method == "GET" else "unknown"), None, None
    for pattern, kinds in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            key = unquote(match.group(1))
            range_text = unquote(match.group(2)) if pattern.groups > 1 else None
            return kinds.get(method, "unknown"), key, range_text
    return "unknown", None, None


def _account(header: str | None) -> str | None:
    """The account email a bearer token stands for, or None (anonymous)."""
    if not header or not header.startswith("Bearer "):
        return None
    token = header[len("Bearer "):].strip()
    if token.startswith(TOKEN_PREFIX):
        try:
            encoded = token[len(TOKEN_PREFIX):]
            return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
    claims = _jwt_claims(token)  # a self-signed service-account JWT
    return str(claims.get("iss")) if claims and claims.get("iss") else None


def _jwt_claims(token: str) -> dict[str, Any] | None:
    """The payload of a JWT, unverified (the fake trusts whoever signed it)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    return body


def _forced(status: int) -> SheetsError:
    name, message = FORCED.get(status, ("UNKNOWN", f"Forced HTTP {status}"))
    return SheetsError(status, name, message)


@functools.lru_cache(maxsize=1)
def _private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def service_account_info(email: str, token_uri: str) -> dict[str, str]:
    """A service account's JSON key, as Google gives it, with a fresh RSA key (one per process) and its
    tokens asked from `token_uri` (the fake's)."""
    return {
        "type": "service_account",
        "project_id": "cantines-tests",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": _private_key_pem(),
        "client_email": email,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a fake Google Sheets API until interrupted (Ctrl-C or SIGTERM)."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.sheets", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--spreadsheet", action="append",
                        help=f"a spreadsheet key it holds (repeatable; default {SPREADSHEET_KEY})")
    parser.add_argument("--tab", action="append", help="a tab each spreadsheet starts with (repeatable)")
    parser.add_argument("--share", action="append",
                        help="an account email the spreadsheets are shared with (repeatable; default: anyone)")
    parser.add_argument("--no-quota", action="store_true", help="never answer 429")
    args = parser.parse_args(argv)
    quota = None if args.no_quota else QUOTA_PER_MINUTE
    fake = FakeSheets(host=args.host, port=args.port, read_quota=quota, write_quota=quota)
    for key in args.spreadsheet or [SPREADSHEET_KEY]:
        fake.add_spreadsheet(key, tabs={tab: [] for tab in args.tab} if args.tab else None, shared_with=args.share)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with fake:
        print(f"Fake Google Sheets on {fake.url} (token URI {fake.token_uri}; spreadsheets "
              f"{', '.join(fake.spreadsheets)})", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
