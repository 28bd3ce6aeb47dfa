"""The state store: the worker's only memory (outbox and sent ledger, run journal, job runs, run lock).

SQLAlchemy Core over a SQLite file (local default) or PostgreSQL (`DATABASE_URL` on a PaaS, where the
filesystem is wiped at every restart). Migrations are applied at start, each in one transaction with
its own record, so a half-applied migration never exists.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from connectors.errors import BackendError, LockBusyError, StopRequested
from connectors.mail.message import KEY_MAX_LENGTH

log = logging.getLogger(__name__)

metadata = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

# One row per message: queued once under its idempotency key, then delivered and marked sent.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("idempotency_key", sa.String(KEY_MAX_LENGTH), nullable=False, unique=True),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("recipients", sa.Text, nullable=False),  # JSON list
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("message", sa.LargeBinary, nullable=False),  # the full RFC 5322 bytes
    sa.Column("status", sa.String(20), nullable=False, index=True),  # pending, sending, sent, held, failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("backend", sa.String(50)),
    sa.Column("provider_id", sa.String(500)),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("job", sa.String(100), nullable=False),
    sa.Column("today", sa.Date, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("result", sa.String(20)),  # OK, Avertissements, Échec
    sa.Column("counts", sa.Text),  # JSON
    sa.Column("detail", sa.Text),
)

# Who holds each run lock, for `cantines status` (the lock itself is the advisory lock or lock file).
locks = sa.Table(
    "locks",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("holder", sa.String(300), nullable=False),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
)

# What each sync last agreed on, row by row: how it tells which side changed a cell since.
sync_snapshots = sa.Table(
    "sync_snapshots",
    metadata,
    sa.Column("sync_name", sa.String(300), primary_key=True),
    sa.Column("row_key", sa.String(1000), primary_key=True),
    sa.Column("row_values", sa.Text, nullable=False),  # JSON: column → value
)

# API calls made, by provider and month (Airtable counts its quota per month and workspace).
api_calls = sa.Table(
    "api_calls",
    metadata,
    sa.Column("provider", sa.String(50), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),  # YYYY-MM
    sa.Column("calls", sa.Integer, nullable=False),
)

MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "outbox, runs", lambda conn: metadata.create_all(conn, tables=[outbox, runs])),
    (2, "locks", lambda conn: metadata.create_all(conn, tables=[locks])),
    (3, "sync snapshots", lambda conn: metadata.create_all(conn, tables=[sync_snapshots])),
    (4, "api calls", lambda conn: metadata.create_all(conn, tables=[api_calls])),
]

PENDING, SENDING, SENT, HELD = "pending", "sending", "sent", "held"
# Refused by the provider for good (an address it will not take): held until a person fixes the
# address and releases it. HELD alone is for a send that may or may not have gone.
FAILED = "failed"


def engine_url(url: str) -> str:
    """Accept what PaaS give (postgres://…) and use the psycopg 3 driver. A password holding a raw
    '@' or ':' is percent-encoded (SQLAlchemy would cut it at the first '@' and take the rest for
    the host, and print it in its errors)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
            break
    scheme, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if not sep or not at:
        return url
    user, colon, password = userinfo.partition(":")
    quoted = urllib.parse.quote(urllib.parse.unquote(password), safe="")
    user = urllib.parse.quote(urllib.parse.unquote(user), safe="")
    return f"{scheme}://{user}{colon}{quoted}@{host}{slash}{tail}"


def lock_id(name: str, scope: str = "") -> int:
    """A stable signed 64-bit advisory lock id for a lock name within a scope (a deployment)."""
    return int.from_bytes(hashlib.sha256(f"{scope}\0{name}".encode()).digest()[:8], "big", signed=True)


LOCK_POLL_SECONDS = 0.5  # how often a waiting run tries the lock again (and notices a stop)


@dataclass(frozen=True)
class QueuedMessage:
    id: int
    idempotency_key: str
    kind: str
    recipients: list[str]
    subject: str
    message: bytes
    status: str
    attempts: int


class StateStore:
    """Open with `StateStore.open(url_or_path)`; call `migrate()` once at start."""

    def __init__(self, engine: Engine, lock_path: Path | None = None, holder: str | None = None):
        self.engine = engine
        self.lock_path = lock_path
        self.holder = holder or f"{socket.gethostname()} (pid {os.getpid()})"
        self._lock_scope: str | None = None

    @classmethod
    def open(cls, database_url: str | None, sqlite_path: Path | None = None, holder: str | None = None) -> StateStore:
        if database_url:
            engine = sa.create_engine(engine_url(database_url), pool_pre_ping=True, future=True)
            return cls(engine, holder=holder)
        if sqlite_path is None:
            raise BackendError("state store: no DATABASE_URL and no SQLite path")
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(f"sqlite:///{sqlite_path}", future=True)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

        return cls(engine, lock_path=sqlite_path.with_suffix(sqlite_path.suffix + ".lock"), holder=holder)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def close(self) -> None:
        self.engine.dispose()

    @property
    def lock_scope(self) -> str:
        """What a run lock is unique within: on PostgreSQL the database and the schema the tables live
        in (the first of the search_path), so that two deployments sharing one server, each in its own
        schema, never block each other; on SQLite the lock file already sits beside the database."""
        if self._lock_scope is None:
            if self.is_postgresql:
                with self.engine.connect() as conn:
                    database, schema = conn.execute(sa.text("SELECT current_database(), current_schema()")).one()
                self._lock_scope = f"{database}/{schema or '-'}"
            else:
                self._lock_scope = ""
        return self._lock_scope

    def _lock_id(self, name: str) -> int:
        return lock_id(name, self.lock_scope)

    # -- migrations -------------------------------------------------------------------------

    def is_migrated(self) -> bool:
        """Whether the store has its tables (without creating anything)."""
        return sa.inspect(self.engine).has_table("outbox")

    def migrate(self, now: dt.datetime) -> list[int]:
        """Apply the migrations not yet applied; returns their versions."""
        applied: list[int] = []
        with self.engine.begin() as conn:
            if self.is_postgresql:  # two workers starting together migrate one after the other
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": self._lock_id("migrate")})
            schema_migrations.create(conn, checkfirst=True)
        for version, name, apply in MIGRATIONS:
            with self.engine.begin() as conn:
                if self.is_postgresql:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": self._lock_id("migrate")})
                done = conn.execute(
                    sa.select(schema_migrations.c.version).where(schema_migrations.c.version == version)
                ).first()
                if done:
                    continue
                apply(conn)
                conn.execute(schema_migrations.insert().values(version=version, name=name, applied_at=_utc(now)))
                applied.append(version)
        return applied

    # -- run lock ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def run_lock(
        self, name: str = "cycle", wait_seconds: float = 0, stop: threading.Event | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> Iterator[None]:
        """Hold the lock named `name` across processes and machines, or raise LockBusyError.

        PostgreSQL: a session advisory lock on a dedicated connection (released if the connection
        drops, so a dead worker never keeps it), keyed by the deployment (`lock_scope`). SQLite: a lock
        file beside the database. A busy lock is tried again every half second for `wait_seconds`;
        the wait ends at once when `stop` is set (SIGTERM), with StopRequested.
        """
        deadline = monotonic() + max(0.0, wait_seconds)
        waker = stop if stop is not None else threading.Event()  # nobody sets a private one

        def keep_waiting() -> bool:
            left = deadline - monotonic()
            if left <= 0:
                return False
            if waker.wait(min(LOCK_POLL_SECONDS, left)):
                raise StopRequested(f"stop requested while waiting for the '{name}' lock")
            return True

        if stop is not None and stop.is_set():
            raise StopRequested(f"stop requested before taking the '{name}' lock")
        if self.is_postgresql:
            ident = self._lock_id(name)
            with self.engine.connect() as conn:
                while True:
                    got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:id)"), {"id": ident}).scalar()
                    conn.commit()
                    if got or not keep_waiting():
                        break
                if not got:
                    raise LockBusyError(f"another run holds the '{name}' lock ({self._holder_of(name)})")
                self._set_holder(name)
                try:
                    yield
                finally:
                    self._clear_holder(name)
                    try:
                        conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": ident})
                        conn.commit()
                    except sa.exc.DBAPIError as exc:  # the connection died, and the lock with it
                        log.warning("run lock '%s': connection lost before unlock (%s)", name, exc.orig)
        else:
            lock = self._file_lock(name)
            while True:
                try:
                    lock.acquire(timeout=0)
                    break
                except filelock.Timeout:
                    if not keep_waiting():
                        raise LockBusyError(f"another run holds the '{name}' lock ({self._holder_of(name)})") from None
            self._set_holder(name)
            try:
                yield
            finally:
                self._clear_holder(name)
                lock.release()

    def _file_lock(self, name: str) -> filelock.FileLock:
        assert self.lock_path is not None
        return filelock.FileLock(str(self.lock_path.with_name(f"{self.lock_path.stem}.{name}.lock")))

    def _set_holder(self, name: str) -> None:
        if not self.is_migrated():
            return
        with self.engine.begin() as conn:
            conn.execute(locks.delete().where(locks.c.name == name))
            conn.execute(locks.insert().values(name=name, holder=self.holder, since=_utc(dt.datetime.now(dt.timezone.utc))))

    def _clear_holder(self, name: str) -> None:
        try:
            if self.is_migrated():
                with self.engine.begin() as conn:
                    conn.execute(locks.delete().where(locks.c.name == name, locks.c.holder == self.holder))
        except sa.exc.DBAPIError as exc:  # the lock went with the connection anyway
            log.warning("run lock '%s': could not clear its holder (%s)", name, exc.orig)

    def _holder_of(self, name: str) -> str:
        if not self.is_migrated():
            return "unknown holder"
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(locks.c.holder, locks.c.since).where(locks.c.name == name)).first()
        return f"{row.holder} since {_aware(row.since).isoformat(timespec='seconds')}" if row else "unknown holder"

    def lock_holder(self, name: str = "cycle") -> str | None:
        """Who holds the run lock now, or None when it is free (checked against the lock itself)."""
        if self.is_postgresql:
            with self.engine.connect() as conn:
                ident = self._lock_id(name)
                held = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                        "AND ((classid::bigint << 32) | objid::bigint) = :id"
                    ),
                    {"id": ident},
                ).scalar()
            if not held:
                return None
            return self._holder_of(name)
        lock = self._file_lock(name)
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            return self._holder_of(name)
        lock.release()
        return None

    # -- outbox -----------------------------------------------------------------------------

    def enqueue(
        self, *, key: str, kind: str, recipients: list[str], subject: str, message: bytes, now: dt.datetime
    ) -> bool:
        """Queue a message under its idempotency key; False if that key was ever queued before."""
        values = dict(
            idempotency_key=key, kind=kind, recipients=json.dumps(recipients), subject=subject,
            message=message, status=PENDING, attempts=0, queued_at=_utc(now),
        )
        insert = (postgresql.insert if self.is_postgresql else sqlite.insert)(outbox).values(**values)
        with self.engine.begin() as conn:
            statement = insert.on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(outbox.c.id)
            return conn.execute(statement).first() is not None

    def known_keys(self, keys: list[str]) -> set[str]:
        """The keys among `keys` already queued (whatever became of them)."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                found.update(
                    conn.execute(sa.select(outbox.c.idempotency_key).where(outbox.c.idempotency_key.in_(chunk))).scalars()
                )
        return found

    def has_prefix(self, prefix: str) -> bool:
        """Whether any message was ever queued under a key starting with `prefix`."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(outbox.c.id).where(outbox.c.idempotency_key.like(escaped + "%", escape="\\")).limit(1)
            ).first() is not None

    def pending(self, limit: int | None = None) -> list[QueuedMessage]:
        """Messages waiting to be delivered, oldest first."""
        query = sa.select(outbox).where(outbox.c.status == PENDING).order_by(outbox.c.id)
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_queued(row) for row in conn.execute(query)]

    def claim(self, message_id: int) -> bool:
        """Move one message from pending to sending; False if another process took it first."""
        with self.engine.begin() as conn:
            result = conn.execute(
                outbox.update()
                .where(outbox.c.id == message_id, outbox.c.status == PENDING)
                .values(status=SENDING, attempts=outbox.c.attempts + 1)
            )
            return result.rowcount == 1

    def unclaim(self, message_id: int, note: str | None = None) -> bool:
        """Move a message from sending back to pending: the provider refused every attempt so far
        (nothing in flight), so a crash now must not leave it looking "maybe sent"."""
        with self.engine.begin() as conn:
            result = conn.execute(
                outbox.update()
                .where(outbox.c.id == message_id, outbox.c.status == SENDING)
                .values(status=PENDING, last_error=note[:2000] if note else outbox.c.last_error)
            )
            return result.rowcount == 1

    def interrupted(self) -> list[QueuedMessage]:
        """Messages left in "sending" by a process that died while handing them over."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(outbox).where(outbox.c.status == SENDING).order_by(outbox.c.id))
            return [_queued(row) for row in rows]

    def recover(self, message_id: int, *, resend: bool, note: str) -> None:
        """Deal with an interrupted message: back to pending (resend) or held for a person."""
        with self.engine.begin() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == message_id, outbox.c.status == SENDING)
                .values(status=PENDING if resend else HELD, last_error=note)
            )

    def mark_sent(self, message_id: int, *, backend: str, provider_id: str | None, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == message_id)
                .values(status=SENT, sent_at=_utc(now), backend=backend, provider_id=provider_id, last_error=None)
            )

    def recipients_sent(self, backend: str, start: dt.datetime, end: dt.datetime) -> int:
        """How many recipients the messages `backend` sent in [start, end) had (a provider's daily
        limit counts each recipient as one email)."""
        query = sa.select(outbox.c.recipients).where(
            outbox.c.status == SENT, outbox.c.backend == backend, outbox.c.sent_at >= _utc(start),
            outbox.c.sent_at < _utc(end))
        with self.engine.connect() as conn:
            return sum(len(json.loads(recipients)) or 1 for (recipients,) in conn.execute(query))

    def mark_failed(self, message_id: int, error: str, *, hold: bool = False) -> None:
        """Back to pending (tried again next run) with the error kept; held if it must not be retried."""
        with self.engine.begin() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == message_id)
                .values(status=FAILED if hold else PENDING, last_error=error[:2000])
            )

    def release(self, keys: list[str] | None = None) -> int:
        """Put held messages back in the queue (all of them when `keys` is None); how many."""
        statement = outbox.update().where(outbox.c.status.in_((HELD, FAILED)))
        if keys is not None:
            statement = statement.where(outbox.c.idempotency_key.in_(keys))
        with self.engine.begin() as conn:
            return conn.execute(statement.values(status=PENDING, last_error=None)).rowcount

    def held(self) -> list[dict[str, Any]]:
        """Messages held for a person to check, with the reason."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox.c.idempotency_key, outbox.c.subject, outbox.c.last_error, outbox.c.queued_at)
                .where(outbox.c.status.in_((HELD, FAILED))).order_by(outbox.c.id)
            ).mappings()
            return [dict(r) for r in rows]

    def requeue(self, key: str, *, recipients: list[str], subject: str, message: bytes) -> bool:
        """Put one held or failed message back in the queue with its content rebuilt (a corrected
        address); False if it is not held or failed any more."""
        with self.engine.begin() as conn:
            return conn.execute(
                outbox.update()
                .where(outbox.c.idempotency_key == key, outbox.c.status.in_((HELD, FAILED)))
                .values(status=PENDING, last_error=None, recipients=json.dumps(recipients), subject=subject,
                        message=message)
            ).rowcount == 1

    def entries(self, *, sent_since: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Every message's record without its bytes, oldest first; with `sent_since`, those sent
        before it are left out (what the Envois table no longer shows)."""
        columns = [outbox.c[name] for name in (
            "idempotency_key", "kind", "recipients", "subject", "status", "last_error", "queued_at", "sent_at",
            "provider_id")]
        query = sa.select(*columns).order_by(outbox.c.id)
        if sent_since is not None:
            query = query.where(sa.or_(outbox.c.status != SENT, outbox.c.sent_at >= _utc(sent_since)))
        with self.engine.connect() as conn:
            return [
                dict(r) | {"recipients": json.loads(r["recipients"]), "queued_at": _aware(r["queued_at"]),
                           "sent_at": _aware(r["sent_at"])}
                for r in conn.execute(query).mappings()
            ]

    def counts(self) -> dict[str, int]:
        """How many messages are in each status."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status))
            return {status: count for status, count in rows}

    # -- sync snapshots ---------------------------------------------------------------------

    def load_snapshot(self, sync_name: str) -> dict[str, dict[str, Any]]:
        """The values a sync last agreed on, by row key."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(sync_snapshots.c.row_key, sync_snapshots.c.row_values)
                .where(sync_snapshots.c.sync_name == sync_name)
            )
            return {key: json.loads(values) for key, values in rows}

    def save_snapshot(self, sync_name: str, snapshot: dict[str, dict[str, Any]]) -> None:
        """Replace a sync's snapshot, in one transaction (with the work it describes done)."""
        with self.engine.begin() as conn:
            conn.execute(sync_snapshots.delete().where(sync_snapshots.c.sync_name == sync_name))
            if snapshot:
                conn.execute(
                    sync_snapshots.insert(),
                    [{"sync_name": sync_name, "row_key": key, "row_values": json.dumps(values, sort_keys=True)}
                     for key, values in snapshot.items()],
                )

    # -- journal ----------------------------------------------------------------------------

    def start_run(self, *, job: str, today: dt.date, now: dt.datetime) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(runs.insert().values(job=job, today=today, started_at=_utc(now)))
            return int(result.inserted_primary_key[0])

    def finish_run(self, run_id: int, *, result: str, counts: dict[str, int], detail: str, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(finished_at=_utc(now), result=result, counts=json.dumps(counts), detail=detail)
            )

    def last_completed_day(self, job: str, before: dt.date) -> dt.date | None:
        """The latest `today` before `before` for which `job` ran to the end (with or without
        warnings): the start of the window the next run must cover."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.max(runs.c.today)).where(
                    runs.c.job == job, runs.c.result.in_(("OK", "Avertissements")), runs.c.today < before
                )
            ).scalar()

    def last_success(self, job: str, *, or_counted: str | None = None) -> dt.datetime | None:
        """When the latest run of `job` that went to the end (with or without warnings) started; with
        `or_counted`, also any successful run (of any job) whose counts[or_counted] is above zero: a
        manual `cantines run` that sent the digests did the digests job's work."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(sa.func.max(runs.c.started_at)).where(
                    runs.c.job == job, runs.c.result.in_(("OK", "Avertissements"))
                )
            ).scalar()
            if or_counted:
                rows = conn.execute(
                    sa.select(runs.c.started_at, runs.c.counts)
                    .where(runs.c.result.in_(("OK", "Avertissements")), runs.c.counts.like(f'%"{or_counted}"%'))
                    .order_by(runs.c.started_at.desc()).limit(200)
                )
                found = next((r.started_at for r in rows if json.loads(r.counts or "{}").get(or_counted, 0) > 0), None)
                if found is not None and (value is None or _aware(found) > _aware(value)):  # type: ignore[operator]
                    value = found
        return _aware(value)

    def add_calls(self, month: str, calls: dict[str, int]) -> None:
        """Add calls made to each provider's count for `month` (YYYY-MM), in one transaction."""
        with self.engine.begin() as conn:
            for provider, count in sorted(calls.items()):
                if count <= 0:
                    continue
                insert = (postgresql.insert if self.is_postgresql else sqlite.insert)(api_calls).values(
                    provider=provider, month=month, calls=count)
                conn.execute(insert.on_conflict_do_update(
                    index_elements=["provider", "month"], set_={"calls": api_calls.c.calls + insert.excluded.calls}))

    def calls(self, month: str) -> dict[str, int]:
        """The calls made to each provider during `month` (YYYY-MM)."""
        if not sa.inspect(self.engine).has_table("api_calls"):
            return {}  # a store not migrated since: `cantines status` reads it as it is
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_calls.c.provider, api_calls.c.calls).where(api_calls.c.month == month))
            return {provider: calls for provider, calls in rows}

    def last_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(runs).order_by(runs.c.id.desc()).limit(limit)).mappings()
            return [
                dict(r) | {"counts": json.loads(r["counts"] or "{}"), "started_at": _aware(r["started_at"]),
                           "finished_at": _aware(r["finished_at"])}
                for r in rows
            ]


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite gives back naive datetimes: they were stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc)


def _queued(row: Any) -> QueuedMessage:
    return QueuedMessage(
        id=row.id, idempotency_key=row.idempotency_key, kind=row.kind,
        recipients=json.loads(row.recipients), subject=row.subject, message=bytes(row.message),
        status=row.status, attempts=row.attempts,
    )
