"""Benchmark: one cycle on the workbook backend for a network of 100, 300 and 1,000 cantines (the
generator of tests/bench/network.py: 5N opportunités, 2N candidatures, N/4 conventions, 60 months of
figures, N/20 cantines syncing their own workbook), on a Monday so that every digest is built.

For each size, the dataset is written in one process, then the first cycle and a rerun with nothing
new each run in a fresh process of their own, so that each one's CPU time and peak RSS
(`resource.getrusage`) are its own, imports included (what a worker container pays). Prints the
figures and the growth exponent in N between consecutive sizes (log(cost ratio) / log(N ratio)).

Run with `make bench` or `python -m tests.bench.bench_scale [--sizes 100 300 1000]`. Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TODAY = dt.date(2026, 11, 23)  # a Monday: the weekly digests are due
MODULE = "tests.bench.bench_scale"


def usage() -> tuple[float, float]:
    """CPU seconds (user + system) and peak RSS in MB of this process so far."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime, own.ru_maxrss / 1024


def prepare(folder: Path, cantines: int) -> None:
    """Write the hub workbook, the cantines' own workbooks and the settings into `folder`."""
    from automations.settings import load_settings
    from connectors.tables.base import TableSpec
    from connectors.tables.workbook import WorkbookStore

    from ..conftest import write_config
    from .network import book_path, network_rows, sync_declarations

    network = network_rows(cantines, TODAY)
    path = write_config(folder, sync_declarations(folder, network))
    settings = load_settings(path, {})
    store = WorkbookStore(settings.workbook.path, timezone=settings.timezone)
    with store.batch():
        for code, spec in settings.schema.items():
            table = store.table(spec)
            table.ensure_schema()
            if network.rows.get(code):
                table.create(network.rows[code])
    figures = settings.schema["indicateurs"]
    spec = TableSpec("indicateurs-cantine", "Indicateurs", tuple(c for c in figures.columns if c.name != "Cantine"),
                     ("Mois",))
    for name, rows in network.cantine_books.items():
        book = WorkbookStore(book_path(folder, name), timezone=settings.timezone)
        with book.batch():
            table = book.table(spec)
            table.ensure_schema()
            table.create(rows)
    print(json.dumps({"sizes": network.sizes(), "syncs": len(network.cantine_books)}))


def cycle(folder: Path) -> None:
    """One cycle on the prepared folder; prints its figures as JSON."""
    started = time.perf_counter()
    from automations.cycle.run import run_cycle
    from automations.settings import load_settings

    from ..conftest import PARIS

    settings = load_settings(folder / "settings.toml", {})
    imported = usage()
    clock = lambda: dt.datetime.combine(TODAY, dt.time(7, 30), tzinfo=PARIS)  # noqa: E731
    report = run_cycle(settings, today=TODAY, clock=clock)
    cpu, rss = usage()
    print(json.dumps({
        "cpu": cpu, "rss": rss, "wall": time.perf_counter() - started, "import_cpu": imported[0],
        "import_rss": imported[1], "read": report.rows_read, "written": report.rows_written,
        "matches": len(report.matches), "queued": report.queued, "already": report.already_queued,
        "sent": report.sent, "drafts": report.drafts, "problems": len(report.problems), "result": report.result,
        "errors": report.errors[:3],
    }))


def child(*args: str) -> dict:
    done = subprocess.run([sys.executable, "-m", MODULE, *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def exponent(sizes: list[int], values: list[float]) -> str:
    parts = []
    for (n0, v0), (n1, v1) in zip(zip(sizes, values), zip(sizes[1:], values[1:])):
        parts.append(f"{n0}→{n1}: N^{math.log(v1 / v0) / math.log(n1 / n0):.2f}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--prepare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cycle", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        return prepare(args.folder, args.prepare)
    if args.cycle:
        return cycle(args.folder)
    print(f"Workbook cycle on {TODAY.isoformat()} (a Monday), one process per cycle:")
    firsts, reruns = [], []
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            made = child("--prepare", str(size), "--folder", str(folder))
            print(f"\n{size} cantines: {made['sizes']}; {made['syncs']} cantine workbooks synced")
            for label, runs in (("first cycle", firsts), ("rerun, nothing new", reruns)):
                figures = child("--cycle", "--folder", str(folder))
                runs.append(figures)
                print(f"  {label}: {figures['cpu']:.1f} s CPU ({figures['import_cpu']:.1f} s of it importing), "
                      f"peak RSS {figures['rss']:.0f} MB ({figures['import_rss']:.0f} MB after imports), "
                      f"wall {figures['wall']:.1f} s; read {figures['read']}, wrote {figures['written']}, "
                      f"{figures['matches']} matches, {figures['queued']} queued ({figures['already']} already), "
                      f"{figures['drafts']} drafts, {figures['problems']} problems, {figures['result']}"
                      + (f"; errors: {figures['errors']}" if figures["errors"] else ""))
    if len(args.sizes) > 1:
        for label, runs in (("first cycle", firsts), ("rerun", reruns)):
            print(f"growth in N, {label}: CPU {exponent(args.sizes, [r['cpu'] for r in runs])}; "
                  f"peak RSS {exponent(args.sizes, [r['rss'] for r in runs])}")


if __name__ == "__main__":
    sys.exit(main())
