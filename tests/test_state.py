"""The state store on SQLite and PostgreSQL: migrations, outbox and ledger, journal, run lock."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from connectors.errors import LockBusyError, StopRequested
from connectors.state import MIGRATIONS, StateStore, engine_url, schema_migrations

from .conftest import PARIS, PG_ENV

NOW = dt.datetime(2026, 11, 24, 7, 30, tzinfo=PARIS)


def queue(store: StateStore, key: str, body: bytes = b"Subject: x\r\n\r\nbody\r\n") -> bool:
    return store.enqueue(key=key, kind="test", recipients=["a@example.org"], subject="x", message=body, now=NOW)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("postgres://u:p@h:5432/db", "postgresql+psycopg://u:p@h:5432/db", id="heroku-form"),
        pytest.param("postgresql://u@h/db", "postgresql+psycopg://u@h/db", id="standard-form"),
        pytest.param("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db", id="already-explicit"),
        pytest.param("sqlite:///x.db", "sqlite:///x.db", id="sqlite-untouched"),
    ],
)
def test_engine_url_accepts_what_paas_give(given: str, expected: str) -> None:
    assert engine_url(given) == expected


def test_migrate_is_applied_once_and_recorded(store: StateStore) -> None:
    assert store.migrate(NOW) == []  # the fixture already migrated
    with store.engine.connect() as conn:
        versions = conn.execute(sa.select(schema_migrations.c.version)).scalars().all()
    assert versions == [v for v, _, _ in MIGRATIONS]


def test_a_key_is_queued_once(store: StateStore) -> None:
    assert queue(store, "reminder:a") is True
    assert queue(store, "reminder:a", b"Subject: other\r\n\r\nother\r\n") is False
    pending = store.pending()
    assert [m.idempotency_key for m in pending] == ["reminder:a"]
    assert pending[0].message.endswith(b"body\r\n")  # the first version is kept
    assert store.known_keys(["reminder:a", "reminder:b"]) == {"reminder:a"}


def test_sent_messages_stay_in_the_ledger_and_are_never_pending_again(store: StateStore) -> None:
    queue(store, "k1")
    queue(store, "k2")
    first, second = store.pending()
    assert store.claim(first.id) is True
    assert store.claim(first.id) is False  # a second claimant loses
    store.mark_sent(first.id, backend="outbox", provider_id="f1.eml", now=NOW)
    assert [m.idempotency_key for m in store.pending()] == ["k2"]
    assert queue(store, "k1") is False  # sent long ago: still never queued again
    assert store.counts() == {"sent": 1, "pending": 1}


def test_a_failed_message_goes_back_to_pending_or_is_held(store: StateStore) -> None:
    queue(store, "retry")
    queue(store, "hold")
    retry, hold = store.pending()
    for message in (retry, hold):
        store.claim(message.id)
    store.mark_failed(retry.id, "connexion refusée")
    store.mark_failed(hold.id, "adresse refusée", hold=True)
    again = store.pending()
    assert [m.idempotency_key for m in again] == ["retry"]
    assert again[0].attempts == 1
    assert store.counts() == {"pending": 1, "failed": 1}


def test_journal_records_a_run(store: StateStore) -> None:
    run_id = store.start_run(job="cycle", today=dt.date(2026, 11, 24), now=NOW)
    store.finish_run(run_id, result="OK", counts={"envoyes": 3}, detail="", now=NOW + dt.timedelta(seconds=5))
    (last,) = store.last_runs(1)
    assert last["result"] == "OK"
    assert last["counts"] == {"envoyes": 3}
    assert last["today"] == dt.date(2026, 11, 24)
    assert last["finished_at"] is not None


def test_run_lock_excludes_a_second_holder(store: StateStore) -> None:
    with store.run_lock("test-lock"):
        with pytest.raises(LockBusyError):
            with store.run_lock("test-lock"):
                pass
    with store.run_lock("test-lock"):  # released: can be taken again
        pass


def test_run_lock_waits_for_the_holder(store: StateStore) -> None:
    released = threading.Event()
    taken = threading.Event()

    def hold() -> None:
        with store.run_lock("wait-lock"):
            taken.set()
            released.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(5)
    threading.Timer(0.3, released.set).start()
    with store.run_lock("wait-lock", wait_seconds=5):  # waits until the holder lets go
        assert released.is_set()
    holder.join(5)


def test_postgres_lock_is_released_when_its_connection_drops(pg_url: str) -> None:
    first = StateStore.open(pg_url)
    second = StateStore.open(pg_url)
    try:
        context = first.run_lock("dropped")
        context.__enter__()
        with pytest.raises(LockBusyError):
            with second.run_lock("dropped"):
                pass
        first.engine.dispose()  # the pooled connection is checked out: kill it server-side instead
        with second.engine.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND pid <> pg_backend_pid()"
                )
            )
            conn.commit()
        with second.run_lock("dropped", wait_seconds=5):
            pass
    finally:
        second.close()


def test_waiting_for_the_run_lock_ends_at_once_when_a_stop_is_asked(store: StateStore) -> None:
    stop = threading.Event()
    with store.run_lock("stop-lock"):
        threading.Timer(0.3, stop.set).start()
        started = time.monotonic()
        with pytest.raises(StopRequested):
            with store.run_lock("stop-lock", wait_seconds=60, stop=stop):
                pass
        assert time.monotonic() - started < 2  # not the 60 s it was ready to wait


def test_a_stop_asked_before_the_lock_takes_nothing(store: StateStore) -> None:
    stop = threading.Event()
    stop.set()
    with pytest.raises(StopRequested):
        with store.run_lock("stop-lock", wait_seconds=5, stop=stop):
            pass
    assert store.lock_holder("stop-lock") is None


def test_two_deployments_in_two_schemas_of_one_database_do_not_share_the_lock(pg_url: str) -> None:
    """Each deployment's lock is keyed by its schema: the second deployment runs while the first
    holds its lock, and a second copy of the first deployment still waits."""
    base = os.environ[PG_ENV]
    engine = sa.create_engine(engine_url(base))
    other = f"t_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{other}"'))
    separator = "&" if "?" in base else "?"
    first, same, second = (StateStore.open(pg_url), StateStore.open(pg_url),
                           StateStore.open(f"{base}{separator}options=-csearch_path%3D{other}"))
    try:
        for state in (first, second):
            state.migrate(NOW)
        assert first.lock_scope != second.lock_scope and first.lock_scope == same.lock_scope
        with first.run_lock("cycle"):
            with second.run_lock("cycle"):  # another deployment: not blocked
                assert second.lock_holder("cycle") is not None
            with pytest.raises(LockBusyError):  # the same deployment: blocked
                with same.run_lock("cycle"):
                    pass
            assert same.lock_holder("cycle") is not None and second.lock_holder("cycle") is None
    finally:
        for state in (first, same, second):
            state.close()
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{other}" CASCADE'))
        engine.dispose()
