"""API quotas: calls counted per provider and month in the state store, shown by `cantines status`,
and optional jobs (hourly syncs, imports) waiting when the month's budget, spread over the month, is short."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from automations.cycle.backends import open_state, open_tables
from automations.cycle.quotas import budget_note, usage_lines
from automations.cycle.run import SYNC, run_cycle
from automations.demo import cantine_workbook_rows, demo_rows, fill_tables, write_demo_workbook
from automations.settings import Settings, load_settings
from connectors.tables.airtable.http import Pacer
from connectors.tables.base import TableSpec
from connectors.tables.workbook import WorkbookStore

from .conftest import PARIS, write_config
from .fakes.airtable import BASE_ID, TOKEN, FakeAirtable

DAY = dt.date(2026, 11, 10)  # a third of November gone: a third of the month's budget may be used


def clock() -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(9, 0), tzinfo=PARIS)


def test_calls_add_up_per_provider_and_month(settings: Settings) -> None:
    state = open_state(settings)
    state.migrate(clock())
    state.add_calls("2026-11", {"airtable": 120, "sheets": 3})
    state.add_calls("2026-11", {"airtable": 30, "sendgrid": 0})
    state.add_calls("2026-12", {"airtable": 7})
    assert state.calls("2026-11") == {"airtable": 150, "sheets": 3} and state.calls("2026-12") == {"airtable": 7}
    state.close()


def test_an_hourly_sync_waits_when_the_budget_spread_over_the_month_is_used(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(quotas="airtable_calls_per_month = 1000")
    write_demo_workbook(settings, DAY)
    state = open_state(settings)
    state.migrate(clock())
    state.add_calls("2026-11", {"airtable": 330})  # 1,000 × 10/30 = 333 allowed by the 10th
    assert budget_note(settings, state, DAY, {"airtable": 3}) is None
    note = budget_note(settings, state, DAY, {"airtable": 4})
    assert note is not None and "quota Airtable" in note and "330" in note and "1\u202f000" in note
    assert budget_note(settings, state, DAY + dt.timedelta(days=1), {"airtable": 4}) is None  # the next day's share
    state.add_calls("2026-11", {"airtable": 10})
    report = run_cycle(settings, today=DAY, clock=clock, job="sync", parts=frozenset({SYNC}))
    assert report.quota_note is not None and not report.syncs and report.result == "OK"
    full = run_cycle(settings, today=DAY, clock=clock)  # the daily cycle is not optional: it runs
    assert full.quota_note is None and full.matches
    (coordinator,) = [m for m in full.messages if m.kind == "recapitulatif-coordination"]
    assert "QUOTAS DES API CETTE SEMAINE" in coordinator.text and report.quota_note in coordinator.text
    lines = usage_lines(settings, state, DAY)
    assert lines == ["  Airtable : 340 appel(s) sur un budget de 1\u202f000 par mois"]
    state.close()
    import openpyxl
    journal = list(openpyxl.load_workbook(settings.workbook.path)["Journal"].iter_rows(values_only=True))
    assert "travail facultatif reporté (quota Airtable)" in journal[1][-1]


def test_the_hourly_sync_job_reads_only_the_tables_it_syncs(tmp_path: Path) -> None:
    """On Airtable a request reads 100 rows: the sync job reads its target (and writes its Journal
    line), never the rest of the hub the daily cycle loads (it did: 16 requests a run at demo size)."""
    with FakeAirtable(rate_limit=None) as fake:
        books = cantine_workbook_rows(DAY)
        declarations = "".join(
            f'\n[[syncs]]\nname = "indicateurs-{n}"\nsource = {{ workbook = "{tmp_path / f"c{n}.xlsx"}", '
            f'tab = "Indicateurs" }}\ntarget = "indicateurs"\nkey = ["Cantine", "Mois"]\n'
            f'constants = {{ Cantine = "{name}" }}\n' for n, name in enumerate(books))
        environ = {"AIRTABLE_TOKEN": TOKEN, "AIRTABLE_BASE_ID": BASE_ID, "AIRTABLE_ENDPOINT_URL": fake.url}
        settings = load_settings(write_config(tmp_path, declarations, tables='backend = "airtable"'), environ)
        figures = settings.schema["indicateurs"]
        spec = TableSpec("indicateurs-cantine", "Indicateurs",
                         tuple(c for c in figures.columns if c.name != "Cantine"), ("Mois",))
        for n, own in enumerate(books.values()):
            store = WorkbookStore(tmp_path / f"c{n}.xlsx", timezone=settings.timezone)
            with store.batch():
                store.table(spec).ensure_schema()
                store.table(spec).create(own)
        options = {"pacer": Pacer(10_000, 1.0)}
        tables = open_tables(settings, airtable_options=options)
        next(iter(tables.values())).base.ensure_all()  # type: ignore[attr-defined]
        fill_tables(tables, demo_rows(DAY))
        fake.reset_counts()
        report = run_cycle(settings, today=DAY, clock=clock, job="sync", parts=frozenset({SYNC}),
                           tables=open_tables(settings, airtable_options=options))
        assert report.result == "OK" and sum(r.written for r in report.syncs) > 0
        read = {r.table for r in fake.log if r.kind == "list"}
        # the target, and Cantines for its links' record ids (names are written, ids are sent)
        assert read == {settings.schema["indicateurs"].name, settings.schema["cantines"].name}
        written = {r.table for r in fake.log if r.kind in ("create", "update", "upsert", "delete")}
        assert written == {settings.schema["indicateurs"].name, settings.schema["journal"].name}
        assert report.calls["airtable"] == len(fake.log)
