"""Open the backends the settings name: tables, mail and state. Resolved once, at the edge."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.errors import ConfigurationError
from connectors.mail import MailBackend, OutboxBackend, SendGridBackend, SmtpBackend
from connectors.state import StateStore
from connectors.tables.airtable import AirtableBase, AirtableTable
from connectors.tables.base import Table, TableSpec
from connectors.tables.workbook import WorkbookStore

from .settings import Settings
from .sync_settings import TableRef


def airtable_base(settings: Settings, **options: Any) -> AirtableBase:
    """The Airtable base holding the tables bound to Airtable (token and base id from the environment
    or the settings; AIRTABLE_ENDPOINT_URL for a compatible endpoint)."""
    secrets = settings.secrets
    if secrets.get("AIRTABLE_ENDPOINT_URL"):
        options.setdefault("endpoint_url", secrets.get("AIRTABLE_ENDPOINT_URL"))
    specs = [spec for code, spec in settings.schema.items() if settings.backend_for(code) == "airtable"]
    return AirtableBase(
        secrets.get("AIRTABLE_TOKEN") or "", secrets.get("AIRTABLE_BASE_ID") or settings.airtable.base_id,
        specs=specs, timezone=settings.timezone, timeout=(10.0, float(settings.airtable.timeout_seconds)), **options,
    )


def open_tables(settings: Settings, *, airtable_options: Mapping[str, Any] | None = None) -> dict[str, Table]:
    """Every table of the schema, each in the backend the settings bind it to (`airtable_options`
    go to AirtableBase: a test's own pacer or clock)."""
    store: WorkbookStore | None = None
    base: AirtableBase | None = None
    tables: dict[str, Table] = {}
    for code, spec in settings.schema.items():
        backend = settings.backend_for(code)
        if backend == "workbook":
            store = store or WorkbookStore(settings.workbook.path, timezone=settings.timezone)
            tables[code] = store.table(spec)
        elif backend == "airtable":
            base = base or airtable_base(settings, **(airtable_options or {}))
            tables[code] = base.table(spec)
        else:  # settings validation lists the available backends
            raise ConfigurationError(f"table backend '{backend}' is not available")
    return tables


def ensure_tables(tables: Mapping[str, Table]) -> None:
    """Create what these tables lack; the Airtable ones in one go (one Meta API read)."""
    airtable = [t for t in tables.values() if isinstance(t, AirtableTable)]
    if airtable:
        airtable[0].base.ensure_all([t.spec for t in airtable])
    for table in tables.values():
        if not isinstance(table, AirtableTable):
            table.ensure_schema()


def ensure_schemas(settings: Settings, backend: str | None = None) -> tuple[list[str], dict[str, Table]]:
    """Create what is missing in every backend (or one); French lines saying what was created."""
    tables = {code: t for code, t in open_tables(settings).items()
              if backend is None or settings.backend_for(code) == backend}
    lines: list[str] = []
    airtable = [t for t in tables.values() if isinstance(t, AirtableTable)]
    if airtable:
        lines.extend(airtable[0].base.ensure_all([t.spec for t in airtable]).lines())
    for table in tables.values():
        if isinstance(table, AirtableTable):
            continue
        changes = table.ensure_schema()
        if changes.created_table:
            lines.append(f"Créé : onglet « {table.spec.name} »")
        elif changes.added_columns:
            lines.append(f"« {table.spec.name} » : colonnes ajoutées : {', '.join(changes.added_columns)}")
    return lines, tables


def open_sync_side(settings: Settings, ref: TableRef, spec: TableSpec, tables: dict[str, Table]) -> Table:
    """One side of a sync: a hub table already opened, or another workbook's or spreadsheet's tab."""
    if ref.table is not None:
        return tables[ref.table]
    if ref.workbook is not None:
        return WorkbookStore(ref.workbook, timezone=settings.timezone).table(spec)
    raise ConfigurationError(f"sync source {ref.label}: the Google Sheets backend is not configured")


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
