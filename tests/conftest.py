"""Shared fixtures: settings in a temporary folder, and a PostgreSQL schema per test when available."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from automations.settings import Settings, load_settings
from connectors.state import StateStore, engine_url

REPO = Path(__file__).resolve().parent.parent
PARIS = ZoneInfo("Europe/Paris")
PG_ENV = "CANTINES_TEST_DATABASE_URL"


def write_config(folder: Path, extra: str = "", *, network: str | None = None, **sections: str) -> Path:
    """A settings file in `folder` using the project's schema, reference data and templates.

    `network` replaces the [network] options; each keyword adds lines to that section; `extra` is
    appended as is (new sections)."""
    folder.mkdir(parents=True, exist_ok=True)
    body = {
        "network": network if network is not None else (
            'coordinator_email = "coordination@example.org"\n'
            'sender = "robot@example.org"\n'
            'signature = "La coordination"\n'
        ),
        "tables": f'schema = "{REPO / "config" / "schema.toml"}"\n',
        "workbook": 'path = "hub.xlsx"\n',
        "state": 'path = "state.sqlite"\n',
        "mail": 'outbox_dir = "outbox"\n',
        "reminders": f'rules = "{REPO / "config" / "reminders.toml"}"\n',
        "paths": f'templates = "{REPO / "templates"}"\nreference = "{REPO / "config" / "departements.csv"}"\n',
    }
    for section, lines in sections.items():
        body[section] = body.get(section, "") + lines + "\n"
    path = folder / "settings.toml"
    path.write_text(
        "".join(f"[{name}]\n{lines}\n" for name, lines in body.items()) + extra, encoding="utf-8"
    )
    return path


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(extra: str = "", environ: dict[str, str] | None = None, folder: str = "deploy", **sections: str) -> Settings:
        return load_settings(write_config(tmp_path / folder, extra, **sections), environ or {})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def fixed_clock() -> Callable[[], dt.datetime]:
    """A clock that advances one second per call from 24/11/2026 07:30 in Paris."""
    moments = iter(dt.datetime(2026, 11, 24, 7, 30, tzinfo=PARIS) + dt.timedelta(seconds=s) for s in range(10**6))
    return lambda: next(moments)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (CI sets it to the local server)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(engine_url(base))
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    """The state store on SQLite, and on PostgreSQL when CANTINES_TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        state = StateStore.open(None, sqlite_path=tmp_path / "state.sqlite")
    else:
        state = StateStore.open(request.getfixturevalue("pg_url"))
    state.migrate(dt.datetime(2026, 11, 24, 7, 0, tzinfo=PARIS))
    try:
        yield state
    finally:
        state.close()
