"""Open the backends the settings name: tables, mail and state. Resolved once, at the edge."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from connectors.errors import ConfigurationError
from connectors.mail import MailBackend, OutboxBackend, SendGridBackend, SmtpBackend
from connectors.state import StateStore
from connectors.tables.airtable.client import AirtableBase, AirtableTable
from connectors.tables.base import Table, TableSpec
from connectors.tables.mapped import MappedTable, unwrap
from connectors.tables.sheets.client import SheetsBook, SheetsTable, connect
from connectors.tables.sheets.http import SheetsHTTPClient
from connectors.tables.workbook import WorkbookStore, WorkbookTable

from automations.domain.model import DataProblem
from automations.settings import Settings
from automations.settings.syncs import TableRef


def airtable_base(settings: Settings, **options: Any) -> AirtableBase:
    """The Airtable base holding the tables bound to Airtable (token and base id from the environment
    or the settings; AIRTABLE_ENDPOINT_URL for a compatible endpoint)."""
    secrets = settings.secrets
    if secrets.get("AIRTABLE_ENDPOINT_URL"):
        options.setdefault("endpoint_url", secrets.get("AIRTABLE_ENDPOINT_URL"))
    specs = [spec for code in settings.schema if settings.backend_for(code) == "airtable"
             for spec in settings.base.base_specs(code)]
    return AirtableBase(
        secrets.get("AIRTABLE_TOKEN") or "", secrets.get("AIRTABLE_BASE_ID") or settings.airtable.base_id,
        specs=specs, timezone=settings.timezone, timeout=(10.0, float(settings.airtable.timeout_seconds)),
        requests_per_second=settings.airtable.requests_per_second, **options,
    )


def sheets_http(settings: Settings) -> SheetsHTTPClient:
    """The Google Sheets client of the service account (shared by every spreadsheet of a run)."""
    secrets = settings.secrets
    return connect(secrets.get("GOOGLE_SERVICE_ACCOUNT_JSON") or "",
                   endpoint_url=secrets.get("GOOGLE_SHEETS_ENDPOINT_URL"), timeout=float(settings.sheets.timeout_seconds))


def open_tables(settings: Settings, *, airtable_options: Mapping[str, Any] | None = None,
                create: bool = False) -> dict[str, Table]:
    """Every table of the schema, each in the backend the settings bind it to (`airtable_options`
    go to AirtableBase: a test's own pacer or clock). A missing workbook file is an error, not a
    new empty hub, unless `create` (`cantines init`, `cantines copy`'s target)."""
    store: WorkbookStore | None = None
    base: AirtableBase | None = None
    book: SheetsBook | None = None
    tables: dict[str, Table] = {}
    names = settings.base
    for code, spec in settings.schema.items():
        backend = settings.backend_for(code)
        parts: list[Table] = []
        for base_spec in names.base_specs(code):  # the table under this base's names (none: absent)
            if backend == "workbook":
                store = store or WorkbookStore(settings.workbook.path, timezone=settings.timezone, create=create)
                parts.append(store.table(base_spec))
            elif backend == "airtable":
                base = base or airtable_base(settings, **(airtable_options or {}))
                parts.append(base.table(base_spec))
            elif backend == "sheets":
                book = book or SheetsBook(settings.sheets.spreadsheet, http=sheets_http(settings),
                                          timezone=settings.timezone, label="hub")
                parts.append(book.table(base_spec))
            else:  # settings validation lists the available backends
                raise ConfigurationError(f"table backend '{backend}' is not available")
        # renamed tables, columns or choices: read and written under the shipped names (the code's)
        tables[code] = parts[0] if names.of(code).identity and len(parts) == 1 else MappedTable(spec, names.of(code), parts)
    return tables


def backend_tables(tables: Mapping[str, Table] | Iterable[Table]) -> list[Table]:
    """The backends' own tables behind these (a mapped table's parts)."""
    values = tables.values() if isinstance(tables, Mapping) else tables
    return [part for table in values for part in unwrap(table)]


def paced_requests(tables: Mapping[str, Table], codes: Iterable[str]) -> bool:
    """Whether every read and write of these tables is a request of its own to a paced API (Airtable,
    5 a second), not a change held for the hub's one save or batchUpdate: the run can read or write
    them from a thread while it computes, instead of leaving the CPU idle while they wait."""
    parts = backend_tables([tables[code] for code in codes if code in tables])
    return bool(parts) and all(isinstance(part, AirtableTable) for part in parts)


@contextlib.contextmanager
def hub_batch(tables: Mapping[str, Table]) -> Iterator[None]:
    """Buffer the hub's writes and send them together at the end: one save of the workbook, at most
    one values:batchUpdate and one spreadsheets:batchUpdate for the spreadsheet."""
    with contextlib.ExitStack() as stack:
        holders: dict[int, Any] = {}
        for table in backend_tables(tables):
            holder = getattr(table, "store", None) if isinstance(table, WorkbookTable) else (
                table.book if isinstance(table, SheetsTable) else None)
            if holder is not None and id(holder) not in holders:
                holders[id(holder)] = holder
                stack.enter_context(holder.batch())
        yield


def calls_made(tables: Mapping[str, Table]) -> dict[str, int]:
    """The requests sent so far by the API clients behind these tables, by provider (each client
    counts its own, retries included: they count against the quotas too)."""
    clients: dict[int, tuple[str, Any]] = {}
    for table in backend_tables(tables):
        if isinstance(table, AirtableTable):
            clients.setdefault(id(table.base), ("airtable", table.base))
        elif isinstance(table, SheetsTable):
            clients.setdefault(id(table.book.http), ("sheets", table.book.http))
    calls: dict[str, int] = {}
    for provider, client in clients.values():
        sent = client.adapter.requests if provider == "airtable" else sum(getattr(client, "sent", {}).values())
        calls[provider] = calls.get(provider, 0) + sent
    return calls


def hub_flush(tables: Mapping[str, Table]) -> None:
    """Send what the hub's open batch holds now (save the workbook, send the spreadsheet's writes),
    for a step that must know its rows are written before it goes on (the hotline flags messages)."""
    seen: set[int] = set()
    for table in backend_tables(tables):
        holder = getattr(table, "store", None) if isinstance(table, WorkbookTable) else (
            table.book if isinstance(table, SheetsTable) else None)
        if holder is None or id(holder) in seen:
            continue
        seen.add(id(holder))
        holder.flush()


def hub_release(tables: Mapping[str, Table]) -> None:
    """Let the workbook forget the rows it read and holds unchanged (the cycle has its dataset)."""
    for store in {id(t.store): t.store for t in tables.values() if isinstance(t, WorkbookTable)}.values():
        store.release()


def ensure_tables(tables: Mapping[str, Table]) -> None:
    """Create what these tables lack; the Airtable ones in one go (one Meta API read)."""
    tables = {str(i): t for i, t in enumerate(backend_tables(tables))}
    airtable = [t for t in tables.values() if isinstance(t, AirtableTable)]
    if airtable:
        airtable[0].base.ensure_all([t.spec for t in airtable])
    books: dict[int, tuple[SheetsBook, list[TableSpec]]] = {}
    for table in tables.values():
        if isinstance(table, SheetsTable):
            books.setdefault(id(table.book), (table.book, []))[1].append(table.spec)
    for book, specs in books.values():
        book.prefetch()  # every tab of the run in one batchGet: the headers come with it
        book.ensure_all(specs)
    for table in tables.values():
        if not isinstance(table, (AirtableTable, SheetsTable)):
            table.ensure_schema()


def ensure_schemas(settings: Settings, backend: str | None = None) -> tuple[list[str], dict[str, Table]]:
    """Create what is missing in every backend (or one); French lines saying what was created."""
    tables = {code: t for code, t in open_tables(settings, create=True).items()
              if backend is None or settings.backend_for(code) == backend}
    lines: list[str] = []
    parts = backend_tables(tables)
    airtable = [t for t in parts if isinstance(t, AirtableTable)]
    if airtable:
        lines.extend(airtable[0].base.ensure_all([t.spec for t in airtable]).lines())
    sheets = [t for t in parts if isinstance(t, SheetsTable)]
    if sheets:
        for name, changes in sheets[0].book.ensure_all([t.spec for t in sheets]).items():
            if changes.created_table:
                lines.append(f"Créé : onglet « {name} »")
            elif changes.added_columns:
                lines.append(f"« {name} » : colonnes ajoutées : {', '.join(changes.added_columns)}")
    for table in parts:
        if isinstance(table, (AirtableTable, SheetsTable)):
            continue
        changes = table.ensure_schema()
        if changes.created_table:
            lines.append(f"Créé : onglet « {table.spec.name} »")
        elif changes.added_columns:
            lines.append(f"« {table.spec.name} » : colonnes ajoutées : {', '.join(changes.added_columns)}")
    return lines, tables


def open_sync_side(
    settings: Settings, ref: TableRef, spec: TableSpec, tables: dict[str, Table], books: dict[str, Any]
) -> Table:
    """One side of a sync: a hub table already opened, or another workbook's or spreadsheet's tab
    (`books` keeps one book per file or spreadsheet in a run: one read for all its tabs)."""
    if ref.table is not None:
        return tables[ref.table]
    if ref.workbook is not None:
        key = str(ref.workbook)
        if key not in books:
            books[key] = WorkbookStore(ref.workbook, timezone=settings.timezone, create=False)
        return books[key].table(spec)
    assert ref.spreadsheet is not None
    if ref.spreadsheet not in books:
        hub = next((t for t in backend_tables(tables) if isinstance(t, SheetsTable)), None)
        http = hub.book.http if hub is not None else books.setdefault("_sheets_http", sheets_http(settings))
        books[ref.spreadsheet] = SheetsBook(ref.spreadsheet, http=http, timezone=settings.timezone, label=ref.label)
    return books[ref.spreadsheet].table(spec)


def open_mail(settings: Settings) -> MailBackend:
    """The mail backend of the settings; the local outbox unless a provider is configured (nothing
    is ever emailed by surprise)."""
    mail = settings.mail
    if mail.backend == "smtp":
        return SmtpBackend(settings.secrets.get("SMTP_URL") or "", timeout=mail.timeout_seconds)
    if mail.backend == "sendgrid":
        host = settings.secrets.get("SENDGRID_HOST")
        options = {"host": host} if host else {}
        return SendGridBackend(
            settings.secrets.get("SENDGRID_API_KEY") or "", sandbox=mail.sendgrid_sandbox,
            timeout=mail.timeout_seconds, **options,
        )
    return OutboxBackend(mail.outbox_dir)


def open_state(settings: Settings) -> StateStore:
    """PostgreSQL when DATABASE_URL is set (unless [state] backend = 'sqlite'), else the SQLite file."""
    return StateStore.open(settings.database_url, sqlite_path=settings.state.path)


def open_state_if_present(settings: Settings) -> StateStore | None:
    """The state store if it already exists, for commands that must not create anything."""
    if settings.database_url is None and not settings.state.path.exists():
        return None
    state = open_state(settings)
    if not state.is_migrated():
        state.close()
        return None
    return state


def open_workbook_problems(tables: Mapping[str, Table]) -> list[DataProblem]:
    """A warning for staff when the workbook is open in Excel or LibreOffice: saving it there would
    overwrite what the worker has just written."""
    stores = {id(t.store): t.store for t in backend_tables(tables) if isinstance(t, WorkbookTable)}
    problems = []
    for store in stores.values():
        lock = store.lock_file()
        if lock is not None:
            problems.append(DataProblem(
                "Classeur", store.path.name, "", "",
                f"le classeur est ouvert dans Excel ou LibreOffice (fichier « {lock.name} ») : le robot y écrit "
                "pendant ce temps ; fermez-le sans enregistrer puis rouvrez-le, sinon vos enregistrements "
                "effaceraient ce qu'il a écrit",
            ))
    return problems
