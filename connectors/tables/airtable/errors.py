"""Airtable's failures turned into ours: one line naming what to fix (the token, a table, a field, a value).

Lines about the data are French (staff fix them); lines about the deployment name the environment
variable or the command in English, like the rest of `connectors.errors`' messages.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Mapping, Sequence

import requests

from connectors.errors import (
    BackendError, CantinesError, ConfigurationError, InvalidValueError, RetriableBackendError, RowGoneError,
    SchemaError,
)
from connectors.tables.base import TableSpec, Value

TOKEN_HELP = ("set AIRTABLE_TOKEN to a personal access token with the scopes data.records:read, "
              "data.records:write, schema.bases:read and schema.bases:write")
INIT_HINT = "lancez `cantines init airtable`"
VALUE_ERRORS = frozenset({"INVALID_VALUE_FOR_COLUMN", "INVALID_MULTIPLE_CHOICE_OPTIONS", "INVALID_RECORD_ID"})
ROW_GONE = "ROW_DOES_NOT_EXIST"  # 422 on updating a record deleted meanwhile (a row gone, not a bad value)
ITERATOR_EXPIRED = "LIST_RECORDS_ITERATOR_NOT_AVAILABLE"  # 422: the listing's offset expired, start again
RECORD_ID_IN_TEXT = re.compile(r"\brec[A-Za-z0-9]{14}\b")


def translate(
    exc: requests.RequestException,
    *,
    base_id: str,
    table: TableSpec | None,
    sent: Sequence[Mapping[str, Value]],
    max_rate_limit_wait: float,
    fields_of: Callable[[str], Collection[str] | None],
) -> CantinesError:
    """The error to raise for a request on `table` (None: the base) that failed after sending `sent`.

    `fields_of(name)` gives the fields the base's table has (None: no such table; raises CantinesError
    if the schema cannot be read): it tells a missing table from a token without access, which Airtable
    answers alike, and lists every missing field where Airtable names the first only."""
    response = exc.response if isinstance(exc, requests.HTTPError) else None
    if response is None:
        return RetriableBackendError(f"Airtable injoignable pour la base {base_id} ({_cause(exc)}) : "
                                     "le prochain cycle réessaiera")
    status = response.status_code
    kind, message = error_of(response)
    where = f"« {table.name} »" if table else f"la base {base_id}"
    if status == 401:
        return ConfigurationError(f"Airtable rejected the token (HTTP 401 {kind}): {TOKEN_HELP}, "
                                  f"with access to base {base_id}")
    if kind == "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND" or (status in (403, 404) and kind != "NOT_FOUND"):
        return not_found(base_id, table, fields_of)
    if kind == "UNKNOWN_FIELD_NAME":
        return missing_fields(table, [quoted(message) or message], fields_of)
    if kind == ROW_GONE or (kind == "NOT_FOUND" and table is not None and RECORD_ID_IN_TEXT.search(message)):
        return RowGoneError(f"Airtable: row(s) of {where} deleted meanwhile ({kind}: {message})",
                            ids=RECORD_ID_IN_TEXT.findall(message))
    if kind in VALUE_ERRORS and table is not None:
        return invalid_value(table, message, sent)
    if status == 429:
        return RetriableBackendError(f"Airtable limite encore le débit de la base {base_id} (HTTP 429) après "
                                     f"{max_rate_limit_wait:.0f} s d'attente : le prochain cycle réessaiera")
    if status >= 500 or status == 404:  # 404 NOT_FOUND: a record deleted while the worker ran
        return RetriableBackendError(f"Erreur d'Airtable sur {where} (HTTP {status} {kind} : {message}) : "
                                     "le prochain cycle réessaiera")
    return BackendError(f"Airtable a refusé la requête sur {where} (HTTP {status} {kind} : {message})")


def _cause(exc: BaseException) -> str:
    """Why a request got no answer, in French: a timeout, a refused connection…"""
    name = exc.__class__.__name__
    if isinstance(exc, requests.Timeout):
        return f"délai dépassé, {name}"
    if isinstance(exc, requests.ConnectionError):
        return f"connexion impossible, {name}"
    return name


def not_found(base_id: str, table: TableSpec | None,
              fields_of: Callable[[str], Collection[str] | None]) -> CantinesError:
    """A 403/404 on a table: the table is missing, or the token cannot reach the base or write to it."""
    no_base = ConfigurationError(f"Airtable base {base_id} not found, or AIRTABLE_TOKEN has no access to it: "
                                 f"check the base id, and {TOKEN_HELP}")
    if table is None:
        return no_base
    try:
        fields = fields_of(table.name)
    except CantinesError:
        return no_base
    if fields is None:
        return SchemaError(f"Table « {table.name} » absente de la base Airtable {base_id} ({INIT_HINT})")
    return ConfigurationError(f"AIRTABLE_TOKEN may not write to « {table.name} » in base {base_id}: {TOKEN_HELP}")


def missing_fields(table: TableSpec | None, named: list[str],
                   fields_of: Callable[[str], Collection[str] | None]) -> SchemaError:
    """Every column of `table` its Airtable table lacks (Airtable names one: `named`), in one line."""
    missing = named
    if table is not None:
        try:
            fields = fields_of(table.name)
        except CantinesError:
            fields = None
        if fields is not None:
            missing = [name for name in table.column_names if name not in fields] or named
    where = f"« {table.name} »" if table is not None else ""
    many = len(missing) > 1
    return SchemaError(f"{'Champs' if many else 'Champ'} {', '.join(f'« {m} »' for m in missing)} "
                       f"{'absents' if many else 'absent'} de la table Airtable "
                       f"{where} ({INIT_HINT})")


def invalid_value(table: TableSpec, message: str, sent: Sequence[Mapping[str, Value]]) -> InvalidValueError:
    """Airtable's refusal of a value, naming the column and the value sent when its message allows."""
    columns = sorted({name for row in sent for name in row}, key=len, reverse=True)
    column = next((c for c in columns if f'"{c}"' in message or f"field {c}" in message), None)
    candidates = [(c, row[c]) for row in sent for c in ([column] if column else columns) if c in row]
    value = next((v for _, v in candidates if v not in (None, "", []) and show(v) in message), None)
    if value is not None and column is None:
        column = next(c for c, v in candidates if v is value)
    elif value is None and column is not None:
        distinct = list(dict.fromkeys(show(v) for _, v in candidates))
        value = distinct[0] if len(distinct) == 1 else None
    if column is None:
        text = f"Airtable refuse une valeur de la table « {table.name} » : {message}"
    else:
        shown = f" « {show(value)} »" if value is not None else ""
        text = f"Airtable refuse la valeur{shown} de la colonne « {column} » (table « {table.name} ») : {message}"
    return InvalidValueError(text, table=table.name, column=column, value=value)


def error_of(response: requests.Response) -> tuple[str, str]:
    """Airtable's error type and message, from {"error": {"type", "message"}} or {"error": "TYPE"}."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return f"HTTP_{response.status_code}", response.text[:200]
    if isinstance(error, dict):
        return str(error.get("type", "")), str(error.get("message", ""))
    return str(error or f"HTTP_{response.status_code}"), ""


def quoted(message: str) -> str | None:
    """The first "quoted" word of a message (Airtable quotes field names)."""
    found = re.search(r'"([^"]+)"', message)
    return found.group(1) if found else None


def show(value: Value) -> str:
    """A value as staff would write it: lists joined, dates as JJ/MM/AAAA."""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(show, value))
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)
