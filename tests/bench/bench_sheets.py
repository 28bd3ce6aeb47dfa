"""Benchmark: the Google Sheets backend's requests and time for a sync's reads and writes.

100 cantine spreadsheets × 60 months of Indicateurs are read (one SheetsBook each), then written into one
hub spreadsheet's Indicateurs tab: once in a single batch, and once flushing after each cantine. The fake
Sheets API adds 150 ms to every answer and enforces Google's quotas (60 reads and 60 writes a minute per
account). Waits for the quota (the client's pacing, its backoff, the fake's quota window) run on a
simulated clock that skips them instead of sleeping: the simulated time is real time plus skipped waits.

Then one cycle, twice, and the next day's, with the hub itself on a spreadsheet (the demo's data; `--large`: also the scale
network at 100 cantines, tests/bench/network.py), its write requests against a per-record peer (one
request per row created, updated or deleted, as Zapier and Airtable Automations work) and the bound
of the issue: at most one values:batchUpdate and one spreadsheets:batchUpdate per spreadsheet and cycle.

Run with `python -m tests.bench.bench_sheets` (`--help` for options). Prints figures; not a pass/fail test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import threading
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from automations.cycle.backends import ensure_schemas, open_tables
from automations.cycle.run import run_cycle
from automations.demo import demo_rows, fill_tables
from automations.settings import load_settings
from automations.settings.files import load_schema
from connectors.tables.sheets.client import SheetsBook, connect
from connectors.tables.sheets.http import SheetsHTTPClient

from ..conftest import REPO, write_config
from ..fakes.sheets import FakeSheets, LoggedRequest, service_account_info
from .network import network_rows

PARIS = ZoneInfo("Europe/Paris")
ACCOUNT = "bench@cantines-bench.iam.gserviceaccount.com"
INDICATEURS = load_schema(REPO / "config" / "schema.toml")["indicateurs"]
QUOTA = 60


class SimulatedClock:
    """Real monotonic time plus every wait that was skipped; `sleep` skips instead of sleeping."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._lock = threading.Lock()
        self.skipped = 0.0

    def __call__(self) -> float:
        with self._lock:
            return time.monotonic() - self._start + self.skipped

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.skipped += max(0.0, seconds)


def months(count: int, first: dt.date = dt.date(2021, 1, 1)) -> list[dt.date]:
    return [dt.date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1) for i in range(count)]


def cantine_rows(number: int, count: int) -> list[list[object]]:
    header = list(INDICATEURS.column_names)
    return [header] + [
        [f"Cantine {number:03}", month, 900 + number + i, 300 + i, 20 + i % 7, 110.5 + i, i % 5, round(0.2 + i / 300, 3)]
        for i, month in enumerate(months(count))
    ]


def quota_bound(requests: int, latency: float, quota: int = QUOTA, window: float = 60.0) -> float:
    """The least time `requests` sequential requests take when any `window` seconds admit `quota`."""
    starts: list[float] = []
    now = 0.0
    for i in range(requests):
        if i >= quota:
            now = max(now, starts[i - quota] + window)
        starts.append(now)
        now += latency
    return now


def measure(clock: SimulatedClock, step: Callable[[], object]) -> tuple[float, float]:
    real, simulated = time.monotonic(), clock()
    step()
    return time.monotonic() - real, clock() - simulated


def report(title: str, fake: FakeSheets, http: SheetsHTTPClient, times: tuple[float, float], lower: dict[str, int],
           latency: float, paced_before: float, backoff_before: float) -> None:
    counts = fake.counts()
    answered = [r for r in fake.requests() if r.kind not in ("token", "allowedLocations") and r.status != 429]
    refused = sum(counts.values()) - len(answered)
    reads = sum(v for k, v in counts.items() if k in ("get", "batchGet", "values.get"))
    writes = sum(counts.values()) - reads
    print(f"\n{title}")
    print(f"  requests: {', '.join(f'{v} {k}' for k, v in sorted(counts.items()))} "
          f"({reads} reads, {writes} writes; {refused} answered 429)")
    print(f"  lower bound: {', '.join(f'{v} {k}' for k, v in lower.items())}")
    done_reads = sum(1 for r in answered if r.kind in ("get", "batchGet", "values.get"))
    bound = quota_bound(done_reads, latency) + quota_bound(len(answered) - done_reads, latency)
    print(f"  simulated time: {times[1]:.1f} s (pacing waited {http.paced - paced_before:.1f} s, backoff "
          f"{http.backoff_waited - backoff_before:.1f} s); the quotas allow at best {bound:.1f} s for the "
          f"requests answered, sent one after the other at {latency * 1000:.0f} ms each")
    print(f"  real time: {times[0]:.1f} s")


def rows_written(log: list[LoggedRequest]) -> int:
    """Rows a run created, updated or deleted, read from its write requests: what a per-record peer
    would send one request each for."""
    rows = 0
    for request in log:
        if request.kind == "values.batchUpdate":
            rows += len({(d["range"].rpartition("!")[0], d["range"].rpartition("!")[2].split(":")[0].lstrip(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ")) for d in request.body.get("data", [])})
        elif request.kind == "batchUpdate":
            for item in request.body.get("requests", []):
                for kind in ("insertDimension", "deleteDimension"):
                    if kind in item:
                        rows += item[kind]["range"]["endIndex"] - item[kind]["range"]["startIndex"]
    return rows


def cycle(large: bool) -> None:
    """Two cycles with the hub on a spreadsheet (the fake, no latency): write requests, bound, peer."""
    import tempfile
    from pathlib import Path

    today = dt.date(2026, 11, 24)
    rows = network_rows(100, today).rows if large else demo_rows(today)
    with FakeSheets(read_quota=None, write_quota=None) as fake, tempfile.TemporaryDirectory() as folder:
        fake.add_spreadsheet("hub", title="Hub", shared_with=[ACCOUNT])
        environ = {"GOOGLE_SERVICE_ACCOUNT_JSON": json.dumps(service_account_info(ACCOUNT, fake.token_uri)),
                   "GOOGLE_SHEETS_ENDPOINT_URL": fake.url}
        settings = load_settings(write_config(Path(folder), tables='backend = "sheets"', sheets='spreadsheet = "hub"'),
                                 environ)
        _, tables = ensure_schemas(settings)
        book = next(iter(tables.values())).book  # type: ignore[attr-defined]
        with book.batch():
            fill_tables(tables, rows)  # loading is not what is measured
        size = "100 cantines × 5,000 opportunités × 60 months" if large else "demo size"
        print(f"\nSheets cycle, hub on one spreadsheet, {size}:")
        for label, day in (("first cycle", today), ("second cycle (nothing new)", today),
                           ("the next day's cycle", today + dt.timedelta(days=1))):
            fake.reset_counts()
            started = time.perf_counter()
            report = run_cycle(settings, today=day, clock=lambda d=day: dt.datetime.combine(d, dt.time(7, 30), tzinfo=PARIS),
                               tables=open_tables(settings))
            elapsed = time.perf_counter() - started
            log = [r for r in fake.requests() if r.kind not in ("token", "allowedLocations")]
            counts = fake.counts()
            writes = {k: v for k, v in counts.items() if k not in ("get", "batchGet", "values.get")}
            reads = sum(counts.values()) - sum(writes.values())
            peer = rows_written(log)
            within = writes.get("values.batchUpdate", 0) <= 1 and writes.get("batchUpdate", 0) <= 1 and \
                set(writes) <= {"values.batchUpdate", "batchUpdate"}
            print(f"  {label}: {reads} reads ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()) if k not in writes)}), "
                  f"{sum(writes.values())} writes ({', '.join(f'{v} {k}' for k, v in sorted(writes.items())) or 'none'}; "
                  f"{'within' if within else 'OVER'} the bound of 1 values:batchUpdate + 1 batchUpdate); "
                  f"{peer} rows written ({report.rows_written} counted by the run, + the Journal line); "
                  f"a per-record peer would send {peer} write requests ({peer / max(sum(writes.values()), 1):.0f}× ours); "
                  f"{elapsed:.1f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_sheets", description=__doc__.split("\n")[0])
    parser.add_argument("--cantines", type=int, default=100)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--latency", type=float, default=0.15, help="seconds the fake adds to each answer")
    parser.add_argument("--unpaced", action="store_true",
                        help="also read with the client's pacing off (backoff on 429 only)")
    parser.add_argument("--large", action="store_true", help="the cycle also at 100 cantines (tests/bench/network.py)")
    parser.add_argument("--cycle-only", action="store_true", help="only the cycle's figures")
    args = parser.parse_args(argv)
    cycle(False)
    if args.large:
        cycle(True)
    if args.cycle_only:
        return
    clock = SimulatedClock()
    with FakeSheets(clock=clock, latency=args.latency, read_quota=QUOTA, write_quota=QUOTA) as fake:
        keys = [f"cantine-{n:03}" for n in range(args.cantines)]
        for n, key in enumerate(keys):
            fake.add_spreadsheet(key, tabs={"Indicateurs": cantine_rows(n, args.months)}, shared_with=[ACCOUNT])
        for key in ("hub-batch", "hub-flushes"):
            fake.add_spreadsheet(key, tabs={"Indicateurs": [list(INDICATEURS.column_names)]}, shared_with=[ACCOUNT])
        text = json.dumps(service_account_info(ACCOUNT, fake.token_uri))
        print(f"Google Sheets backend: {args.cantines} cantine spreadsheets × {args.months} months of Indicateurs; "
              f"fake latency {args.latency * 1000:.0f} ms; quotas {QUOTA} reads and {QUOTA} writes per minute")

        def read_all(http: SheetsHTTPClient) -> list[dict[str, object]]:
            rows = []
            for key in keys:
                rows.extend(dict(r.fields) for r in SheetsBook(key, http=http, timezone=PARIS).table(INDICATEURS).read())
            return rows

        http = connect(text, endpoint_url=fake.url, clock=clock, sleep=clock.sleep)
        SheetsBook("hub-batch", http=http, timezone=PARIS).prefetch([INDICATEURS])  # the token, outside the figures
        fake.reset_counts()
        rows: list[dict[str, object]] = []
        times = measure(clock, lambda: rows.extend(read_all(http)))
        report(f"read: {len(rows)} rows from {len(keys)} spreadsheets, one SheetsBook each", fake, http, times,
               {"batchGet": len(keys)}, args.latency, 0.0, 0.0)

        if args.unpaced:
            clock.sleep(120)  # let the quota window empty
            unpaced = connect(text, endpoint_url=fake.url, clock=clock, sleep=clock.sleep, reads_per_minute=None,
                              writes_per_minute=None)
            SheetsBook("hub-batch", http=unpaced, timezone=PARIS).prefetch([INDICATEURS])
            fake.reset_counts()
            times = measure(clock, lambda: read_all(unpaced))
            report("read again, client pacing off (bounded backoff on 429 only)", fake, unpaced, times,
                   {"batchGet": len(keys)}, args.latency, 0.0, 0.0)

        clock.sleep(120)
        fake.reset_counts()
        paced, backoff = http.paced, http.backoff_waited
        hub = SheetsBook("hub-batch", http=http, timezone=PARIS)
        table = hub.table(INDICATEURS)

        def one_batch() -> None:
            with hub.batch():
                table.upsert(rows, INDICATEURS.key)

        times = measure(clock, one_batch)
        report(f"write: {len(rows)} rows into the hub's Indicateurs tab in one batch", fake, http, times,
               {"batchGet": 1, "append": 1}, args.latency, paced, backoff)
        print("  (+ 1 get for the tab's id and 1 batchUpdate giving the new rows' Mois cells a date format)")

        clock.sleep(120)
        fake.reset_counts()
        paced, backoff = http.paced, http.backoff_waited
        hub = SheetsBook("hub-flushes", http=http, timezone=PARIS)
        table = hub.table(INDICATEURS)

        def per_cantine() -> None:
            for start in range(0, len(rows), args.months):
                with hub.batch():
                    table.upsert(rows[start:start + args.months], INDICATEURS.key)

        times = measure(clock, per_cantine)
        report(f"write: the same rows, one batch (flush) per cantine: {math.ceil(len(rows) / args.months)} flushes",
               fake, http, times, {"batchGet": 1, "append": 1}, args.latency, paced, backoff)
        check = SheetsBook("hub-flushes", http=http, timezone=PARIS).table(INDICATEURS).read()
        assert len(check) == len(rows), (len(check), len(rows))


if __name__ == "__main__":
    main()
