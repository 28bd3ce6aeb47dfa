"""Benchmark: one cycle with the hub on Airtable (the local fake), requests against the lower bound
the API allows, and wall time with 150 ms of latency and 5 requests per second enforced. Beside it, a
per-record peer (one request per record written, as Zapier and Airtable Automations work): the ratio
of its write requests to ours.

The fake runs in a process of its own (tests/fakes/remote.py), as Airtable does on its own machines:
in the benchmark's process it would take CPU and the GIL from the worker measured, and count requests
late while the worker computes.

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
from pathlib import Path

from automations.cycle.backends import open_tables
from automations.demo import demo_rows, fill_tables
from automations.cycle.run import run_cycle
from automations.settings import load_settings
from connectors.tables.airtable.http import Pacer

from ..conftest import PARIS, write_config
from ..fakes.airtable import BASE_ID, TOKEN, FakeAirtable
from ..fakes.remote import Remote
from .network import network_rows

TODAY = dt.date(2026, 11, 24)


def large_rows(today: dt.date) -> dict[str, list[dict]]:
    """The scale benchmark's network (tests/bench/network.py) at 100 cantines: 5,000 opportunités,
    60 months of indicateurs, candidatures, conventions and their échéances."""
    return network_rows(100, today).rows


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
        fake.latency = 0.15
        fake.rate_limit = 5
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
            peer = sum(r.records for r in log if r.kind in ("create", "update", "upsert", "delete"))
            # how near the limit came: the shortest time the fake saw 6 consecutive requests arrive in
            # (Airtable refuses a 6th request within 1 s)
            times = sorted(r.at for r in log)
            tightest = min((later - earlier for earlier, later in zip(times, times[5:])), default=float("inf"))
            print(f"  {label}: {total} requests ({actual_reads} reads, lower bound {reads}; "
                  f"{actual_writes} writes, lower bound {writes}; {meta} schema), {rate_limited} answered 429, "
                  f"6 consecutive requests in {tightest:.3f} s at the closest; "
                  f"wall time {elapsed:.1f} s vs {floor:.1f} s at 5 requests/s "
                  f"({(elapsed / floor - 1) * 100:+.0f} %); {report.sent} messages; a per-record peer would send "
                  f"{peer} write requests ({peer / max(actual_writes, 1):.1f}× ours)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", action="store_true", help="also the scale network at 100 cantines (5,000 opportunités, 60 months)")
    args = parser.parse_args()
    print("Airtable cycle, demo size:")
    measure(False)
    if args.large:
        print("Airtable cycle, 100 cantines × 5,000 opportunités × 60 months of indicateurs (tests/bench/network.py):")
        measure(True)


if __name__ == "__main__":
    sys.exit(main())
