"""Benchmark: one cycle with the hub on Airtable (the local fake), requests against the lower bound
the API allows, and wall time with 150 ms of latency and 5 requests per second enforced.

Run with `make bench` or `python -m tests.bench.bench_airtable [--large]`. Prints figures; not a test.
Lower bound: reads = Σ ceil(rows / 100) over the tables read, writes = Σ ceil(changed rows / 10).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

from automations.cycle.backends import open_tables
from automations.demo import demo_rows, fill_tables
from automations.cycle.run import run_cycle
from automations.settings import load_settings
from connectors.tables.airtable.http import Pacer

from ..conftest import PARIS, write_config
from ..fakes.airtable import BASE_ID, TOKEN, FakeAirtable

TODAY = dt.date(2026, 11, 24)


def large_rows(today: dt.date) -> dict[str, list[dict]]:
    """100 cantines × 2,000 opportunités × 5 years of indicateurs, built from the demo's shapes."""
    rows = demo_rows(today)
    base_cantine = rows["cantines"][0]
    departements = ["69", "13", "33", "59", "75", "2A", "974", "35", "31", "67"]
    rows["cantines"] = [
        {**base_cantine, "Nom": f"Cantine {i:03d}", "Ville": "Ville", "Département": departements[i % 10],
         "Email responsable": f"cantine{i:03d}@example.org", "Emails en copie": []}
        for i in range(100)
    ]
    template = rows["opportunites"][0]
    places = [f"{n:02d}" for n in range(1, 96) if n != 20]  # one département each: most fit no cantine
    rows["opportunites"] = [
        {**template, "Titre": f"Opportunité {i:04d}", "Territoires éligibles": [places[i % len(places)]],
         "Date limite": today + dt.timedelta(days=20 + i % 200), "Statut veille": "Pertinente"}
        for i in range(2000)
    ]
    months = [dt.date(today.year - 5 + (m // 12), m % 12 + 1, 1) for m in range(60)]
    rows["indicateurs"] = [
        {"Cantine": f"Cantine {i:03d}", "Mois": month, "Repas servis": 500 + i, "Convives": 300,
         "Bénévoles actifs": 12, "Heures de bénévolat": Decimal(120), "Animations": 2,
         "Produits locaux (%)": Decimal("0.4")}
        for i in range(100) for month in months
    ]
    names = {c["Nom"] for c in rows["cantines"]}
    for code in ("candidatures", "conventions", "echeances", "declinaisons", "questions", "visites"):
        rows[code] = []  # they name the demo's cantines: left out of the large case
    rows["offres"] = []
    assert names
    return rows


def lower_bound(log: list, rows_by_table: dict[str, int]) -> tuple[int, int]:
    reads = sum(math.ceil(rows_by_table.get(table, 0) / 100) or 1 for table in {r.table for r in log if r.kind == "list"})
    written: Counter[str] = Counter()
    for request in log:
        if request.kind in ("create", "update", "upsert", "delete"):
            records = request.records
            written[request.table] += records
    writes = sum(math.ceil(n / 10) for n in written.values())
    return reads, writes


def measure(large: bool) -> None:
    rows = large_rows(TODAY) if large else demo_rows(TODAY)
    with FakeAirtable(rate_limit=None) as fake, tempfile.TemporaryDirectory() as folder:
        environ = {"AIRTABLE_TOKEN": TOKEN, "AIRTABLE_BASE_ID": BASE_ID, "AIRTABLE_ENDPOINT_URL": fake.url}
        settings = load_settings(write_config(Path(folder), tables='backend = "airtable"'), environ)
        fast = open_tables(settings, airtable_options={"pacer": Pacer(10_000, 1.0)})
        next(iter(fast.values())).base.ensure_all()  # type: ignore[attr-defined]
        fill_tables(fast, rows)  # loading is not what is measured
        clock = lambda: dt.datetime.combine(TODAY, dt.time(7, 30), tzinfo=PARIS)  # noqa: E731
        fake.latency, fake.rate_limit = 0.15, 5
        for label in ("first cycle", "second cycle (nothing new)"):
            fake.reset_counts()
            sizes = {spec.name: len(fake.rows(spec.name)) for spec in settings.schema.values()}  # as read
            tables = open_tables(settings)  # the real pacing: 5 requests per second per base
            started = time.perf_counter()
            report = run_cycle(settings, today=TODAY, clock=clock, tables=tables)
            elapsed = time.perf_counter() - started
            log = list(fake.log)
            counts = Counter(r.kind for r in log)
            reads, writes = lower_bound(log, sizes)
            actual_reads = counts["list"]
            actual_writes = sum(counts[k] for k in ("create", "update", "upsert", "delete"))
            meta = counts["schema"]
            total = len(log)
            floor = (reads + writes + meta) / 5
            rate_limited = sum(1 for r in log if r.status == 429)
            print(f"  {label}: {total} requests ({actual_reads} reads, lower bound {reads}; "
                  f"{actual_writes} writes, lower bound {writes}; {meta} schema), {rate_limited} answered 429; "
                  f"wall time {elapsed:.1f} s vs {floor:.1f} s at 5 requests/s "
                  f"({(elapsed / floor - 1) * 100:+.0f} %); {report.sent} messages")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", action="store_true", help="also 100 cantines × 2,000 opportunités × 5 years")
    args = parser.parse_args()
    print("Airtable cycle, demo size:")
    measure(False)
    if args.large:
        print("Airtable cycle, 100 cantines × 2,000 opportunités × 60 months of indicateurs:")
        measure(True)


if __name__ == "__main__":
    sys.exit(main())
