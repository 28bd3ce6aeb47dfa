"""Benchmark: syncing 100 cantine spreadsheets × 60 months into a hub spreadsheet, through the
sync engine and the Sheets backend, against the lower bound the API allows: one batchGet per source
spreadsheet; for the hub, one batchGet, at most one batchUpdate, one append per tab and one delete
batch. A second run with no change must write nothing.

The fake adds 150 ms to every answer and enforces 60 reads and 60 writes a minute; waits for the
quota run on a simulated clock (real time plus the skipped waits). Run `python -m tests.bench.bench_syncs`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tempfile
import time
from collections import Counter
from pathlib import Path

from automations.cycle.run import RunReport, run_syncs
from connectors.state import StateStore
from automations.settings import load_settings
from connectors.tables.sheets.client import SheetsBook, connect

from ..conftest import PARIS, write_config
from ..fakes.sheets import FakeSheets, service_account_info
from .bench_sheets import SimulatedClock

ACCOUNT = "bench@cantines-bench.iam.gserviceaccount.com"
HUB = "1HubBenchSpreadsheet0000000000000000000000"
CANTINES, MONTHS = 100, 60
COLUMNS = ["Mois", "Repas servis", "Convives", "Bénévoles actifs", "Heures de bénévolat", "Animations", "Produits locaux (%)"]


def main() -> None:
    clock = SimulatedClock()
    with FakeSheets(clock=clock, sleep=clock.sleep) as fake, tempfile.TemporaryDirectory() as folder:
        months = [dt.date(2021 + m // 12, m % 12 + 1, 1) for m in range(MONTHS)]
        syncs = []
        for index in range(CANTINES):
            key = f"1Cantine{index:03d}Bench000000000000000000000"
            fake.add_spreadsheet(key, tabs={"Indicateurs": [COLUMNS, *([m, 500 + index, 300, 12, 120.5, 2, 0.4] for m in months)]},
                                 shared_with=[ACCOUNT])
            syncs.append(f'\n[[syncs]]\nname = "c{index}"\nsource = {{ spreadsheet = "{key}", tab = "Indicateurs" }}\n'
                         f'target = "indicateurs"\nkey = ["Cantine", "Mois"]\nconstants = {{ Cantine = "Cantine {index:03d}" }}\n')
        fake.add_spreadsheet(HUB, shared_with=[ACCOUNT])
        credentials = json.dumps(service_account_info(ACCOUNT, fake.token_uri))
        environ = {"GOOGLE_SERVICE_ACCOUNT_JSON": credentials, "GOOGLE_SHEETS_ENDPOINT_URL": fake.url}
        path = write_config(Path(folder), "".join(syncs), tables='backend = "sheets"', sheets=f'spreadsheet = "{HUB}"')
        settings = load_settings(path, environ)
        http = connect(credentials, endpoint_url=fake.url, clock=clock, sleep=clock.sleep)
        book = SheetsBook(HUB, http=http, timezone=PARIS, label="hub")
        book.ensure_all(settings.schema.values())
        fake.latency = 0.15
        print(f"Syncs: {CANTINES} cantine spreadsheets × {MONTHS} months into a hub spreadsheet "
              "(150 ms latency, 60 reads and 60 writes a minute):")
        state = StateStore.open(None, sqlite_path=Path(folder) / "state.sqlite")
        state.migrate(dt.datetime(2026, 11, 24, 7, 0, tzinfo=PARIS))
        for label in ("first run", "second run (no change)"):
            clock.sleep(61)  # runs an hour apart: the previous run's quota minute is over
            fake.reset_counts()
            hub = SheetsBook(HUB, http=http, timezone=PARIS, label="hub")  # a new book each run, as the cycle opens
            tables = {code: hub.table(spec) for code, spec in settings.schema.items()}
            report = RunReport(today=dt.date(2026, 11, 24), started_at=dt.datetime(2026, 11, 24, 7, 0, tzinfo=PARIS))
            started_real, started = time.perf_counter(), clock()
            run_syncs(settings, tables, state, report)
            real, simulated = time.perf_counter() - started_real, clock() - started
            counts = Counter(r.kind for r in fake.requests() if r.kind not in ("token", "allowedLocations"))
            reads = counts["batchGet"] + counts["get"] + counts["values.get"]
            writes = counts["batchUpdate"] + counts["append"] + counts["values.update"]
            read_floor = CANTINES + 1
            print(f"  {label}: {sum(r.created for r in report.syncs)} rows created, "
                  f"{sum(r.updated for r in report.syncs)} updated, errors: {len(report.errors)}")
            print(f"    requests: {dict(sorted(counts.items()))}")
            print(f"    reads {reads} (lower bound {read_floor}: one batchGet per spreadsheet), writes {writes}")
            peer = sum(r.written for r in report.syncs)  # one request per record written, as Zapier works
            if peer:
                print(f"    a per-record peer would send {peer} write requests ({peer / max(writes, 1):.0f}× ours)")
            quota_floor = (math.ceil(reads / 60) - 1) * 60.0  # 60 reads a minute: the 61st waits for the next
            print(f"    time: {simulated:.1f} s simulated (quota floor ≈ {quota_floor:.0f} s for {reads} reads), "
                  f"{real:.1f} s real")


if __name__ == "__main__":
    main()
