"""Open the backends the settings name: tables, mail and state. Resolved once, at the edge."""

from __future__ import annotations

from connectors.errors import ConfigurationError
from connectors.mail import MailBackend, OutboxBackend, SendGridBackend, SmtpBackend
from connectors.state import StateStore
from connectors.tables.base import Table, TableSpec
from connectors.tables.workbook import WorkbookStore

from .settings import Settings
from .sync_settings import TableRef


def open_tables(settings: Settings) -> dict[str, Table]:
    """Every table of the schema, each in the backend the settings bind it to."""
    stores: dict[str, WorkbookStore] = {}
    tables: dict[str, Table] = {}
    for code, spec in settings.schema.items():
        backend = settings.backend_for(code)
        if backend == "workbook":
            path = settings.workbook.path
            if path is None:
                raise ConfigurationError("[workbook] path is needed when a table is in the workbook")
            store = stores.setdefault(str(path), WorkbookStore(path, timezone=settings.timezone))
            tables[code] = store.table(spec)
        else:  # settings validation lists the available backends
            raise ConfigurationError(f"table backend '{backend}' is not available")
    return tables


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
