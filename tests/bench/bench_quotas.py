"""Benchmark: the API calls a month of the default schedule makes with the hub on Airtable, at the
demo's size and for 100 cantines (tests/bench/network.py), against Airtable's plans (Free: 1,000
calls a month per workspace; Team: 100,000).

Each job of the worker (the daily cycle, the digests job, the hourly syncs when syncs are declared)
runs once on the local Airtable fake, its requests counted; a month's count is each job's requests
times its due times in November 2026 (the worker's own schedule). The sync job's figure has 5
cantine workbooks synced into the hub. Run `python -m tests.bench.bench_quotas`. Not a test.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

from automations.cycle.backends import open_tables
from automations.cycle.run import run_cycle
from automations.demo import cantine_workbook_rows, demo_rows, fill_tables
from automations.settings import load_settings
from automations.worker import due_times, job_specs
from connectors.tables.airtable.http import Pacer
from connectors.tables.base import TableSpec
from connectors.tables.workbook import WorkbookStore

from ..conftest import PARIS, write_config
from ..fakes.airtable import BASE_ID, TOKEN, FakeAirtable
from .network import book_path, network_rows, sync_declarations

TODAY = dt.date(2026, 11, 23)  # a Monday
MONTH = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))


def measure(label: str, rows: dict, books: dict) -> None:
    with FakeAirtable(rate_limit=None) as fake, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        environ = {"AIRTABLE_TOKEN": TOKEN, "AIRTABLE_BASE_ID": BASE_ID, "AIRTABLE_ENDPOINT_URL": fake.url}
        network = type("N", (), {"cantine_books": books})()
        settings = load_settings(write_config(folder, sync_declarations(folder, network), tables='backend = "airtable"'),
                                 environ)
        figures = settings.schema["indicateurs"]
        spec = TableSpec("indicateurs-cantine", "Indicateurs",
                         tuple(c for c in figures.columns if c.name != "Cantine"), ("Mois",))
        for name, own in books.items():
            store = WorkbookStore(book_path(folder, name), timezone=settings.timezone)
            with store.batch():
                table = store.table(spec)
                table.ensure_schema()
                table.create(own)
        options = {"pacer": Pacer(10_000, 1.0)}  # the fake does not limit: requests are what is counted
        tables = open_tables(settings, airtable_options=options)
        next(iter(tables.values())).base.ensure_all()  # type: ignore[attr-defined]
        fill_tables(tables, rows)
        clock = lambda: dt.datetime.combine(TODAY, dt.time(7, 30), tzinfo=PARIS)  # noqa: E731
        run_cycle(settings, today=TODAY, clock=clock, tables=open_tables(settings, airtable_options=options))
        total = 0
        print(f"{label}:")
        for job in job_specs(settings):
            fake.reset_counts()
            run_cycle(settings, today=TODAY, clock=clock, job=job.name, parts=job.parts,
                      tables=open_tables(settings, airtable_options=options))
            requests = len(fake.log)
            due = sum(1 for _ in due_times(job, PARIS, *MONTH))
            total += requests * due
            print(f"  {job.name}: {requests} requests a run (nothing new) × {due} runs in November 2026 "
                  f"= {requests * due:,} calls")
        print(f"  a month: {total:,} calls (Airtable Free allows 1,000, Team 100,000)")


def main() -> None:
    measure("demo size, its 3 cantine workbooks synced", demo_rows(TODAY), cantine_workbook_rows(TODAY))
    network = network_rows(100, TODAY, books=5)
    measure("100 cantines × 5,000 opportunités × 60 months, 5 cantine workbooks synced", network.rows,
            network.cantine_books)


if __name__ == "__main__":
    sys.exit(main())
