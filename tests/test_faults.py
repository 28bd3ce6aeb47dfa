"""Fault tests against PostgreSQL and a real SMTP server: processes killed at random points, killed
between the provider's acceptance and the ledger write, stopped with SIGTERM while sending.

The documented guarantee: a message is handed to the provider at most once, except in one window,
between the provider accepting it and the ledger recording it; a message caught in that window is
sent again by SMTP with the same Message-ID (so receivers can drop it). Nothing is ever lost.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from automations.demo import write_demo_workbook
from automations.cycle.run import run_cycle
from automations.settings import Settings, load_settings
from connectors.state import StateStore, engine_url, outbox

from .conftest import PARIS, PG_ENV, REPO, write_config
from .fakes.smtp import RecordingHandler, SmtpServer

MONDAY = dt.date(2026, 11, 23)
TRIALS = 30


class Slow(RecordingHandler):
    """A provider that takes its time to accept each message."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.first_at: float | None = None  # time.monotonic() of the first message's DATA

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.first_at is None:
            self.first_at = time.monotonic()
        await asyncio.sleep(self.seconds)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(scope="module")
def base_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"fault tests run against PostgreSQL: set {PG_ENV} (CI sets it)")
    return url


@pytest.fixture(scope="module")
def demo_workbook(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The Monday demo workbook, and how many messages a full run sends on it."""
    folder = tmp_path_factory.mktemp("demo")
    settings = load_settings(write_config(folder), {})
    write_demo_workbook(settings, MONDAY)
    pristine = folder / "pristine.xlsx"
    shutil.copy(settings.workbook.path, pristine)
    # a full run on a copy (outbox backend) says how many messages a run queues: reminders, digests, drafts
    reference = run_cycle(settings, today=MONDAY, clock=lambda: dt.datetime(2026, 11, 23, 7, 30, tzinfo=PARIS))
    return pristine, reference.queued


class Deployment:
    """One deployment for one trial: its own PostgreSQL schema, workbook copy and SMTP server."""

    def __init__(self, base_url: str, folder: Path, workbook: Path, server: SmtpServer):
        self.schema = f"f_{uuid.uuid4().hex[:10]}"
        self.engine = sa.create_engine(engine_url(base_url))
        with self.engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
        separator = "&" if "?" in base_url else "?"
        self.database_url = f"{base_url}{separator}options=-csearch_path%3D{self.schema}"
        self.config = write_config(folder, mail='backend = "smtp"\ntimeout_seconds = 5')
        shutil.copy(workbook, folder / "hub.xlsx")
        self.server = server
        self.environ = {**os.environ, "DATABASE_URL": self.database_url, "SMTP_URL": server.url()}

    @property
    def settings(self) -> Settings:
        return load_settings(self.config, {"DATABASE_URL": self.database_url, "SMTP_URL": self.server.url()})

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "automations", *args, "--config", str(self.config)],
            cwd=REPO, env=self.environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )

    def rerun(self) -> None:
        run_cycle(self.settings, today=MONDAY, clock=lambda: dt.datetime(2026, 11, 23, 7, 45, tzinfo=PARIS))

    def ledger(self) -> list[sa.Row]:
        state = StateStore.open(self.database_url)
        try:
            with state.engine.connect() as conn:
                return list(conn.execute(sa.select(outbox.c.idempotency_key, outbox.c.status, outbox.c.attempts)))
        finally:
            state.close()

    def drop(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.engine.dispose()


@pytest.fixture
def deployment(base_url: str, demo_workbook: tuple[Path, int], tmp_path: Path) -> Iterator[Deployment]:
    with SmtpServer() as server:
        trial = Deployment(base_url, tmp_path / "deploy", demo_workbook[0], server)
        try:
            yield trial
        finally:
            trial.drop()


def received_ids(server: SmtpServer) -> Counter[str]:
    return Counter(str(r.parsed()["Message-ID"]) for r in server.received)


def assert_nothing_lost_nothing_doubled(trial: Deployment, expected: int) -> Counter[str]:
    ledger = trial.ledger()
    assert len(ledger) == expected, "every message queued once"
    assert all(row.status == "sent" for row in ledger), Counter(row.status for row in ledger)
    ids = received_ids(trial.server)
    assert len(ids) == expected, "every message delivered"
    duplicates = {i: n for i, n in ids.items() if n > 1}
    # only the message caught in the window may arrive twice, and it was claimed twice
    assert len(duplicates) <= 1 and all(n == 2 for n in duplicates.values())
    if duplicates:
        assert sum(1 for row in ledger if row.attempts >= 2) >= 1
    openpyxl.load_workbook(trial.config.parent / "hub.xlsx")  # atomic saves: never a torn workbook
    return ids


@pytest.mark.slow  # 31 full runs: about 2.5 minutes; `.ci/run` runs it on its own line (-m slow)
def test_killed_at_random_points_then_rerun(base_url: str, demo_workbook: tuple[Path, int], tmp_path: Path) -> None:
    """30 cycles killed with SIGKILL at random moments (reading, writing the tables, queueing,
    sending), each rerun to completion: nothing lost, nothing sent twice beyond the window. Every
    other kill is drawn within the sending part of the run (measured on the uninterrupted one), so
    that sending is hit whatever share of the run it takes on a loaded machine."""
    workbook, expected = demo_workbook
    rng = random.Random(20261124)
    windows: Counter[str] = Counter()
    with SmtpServer() as server:
        handler = Slow(0.03)  # a provider taking 30 ms per message, so that kills land while sending too
        server.handler = server._controller.handler = handler
        reference = Deployment(base_url, tmp_path / "reference", workbook, server)
        try:  # how long an uninterrupted run takes, to draw kill times within it
            started = time.monotonic()
            assert reference.start("run", "--today", MONDAY.isoformat()).wait(60) == 0
            duration = time.monotonic() - started
            assert handler.first_at is not None
            sending_from = handler.first_at - started
        finally:
            reference.drop()
        for trial_number in range(TRIALS):
            handler.received.clear()
            trial = Deployment(base_url, tmp_path / f"trial{trial_number}", workbook, server)
            try:
                process = trial.start("run", "--today", MONDAY.isoformat())
                time.sleep(rng.uniform(0.2, duration) if trial_number % 2 else rng.uniform(sending_from, duration))
                process.send_signal(signal.SIGKILL)
                process.wait(10)
                before = len(server.received)
                windows["killed before sending" if before == 0 else "killed while sending" if before < expected else "after sending"] += 1
                trial.rerun()
                assert_nothing_lost_nothing_doubled(trial, expected)
            finally:
                trial.drop()
    assert sum(windows.values()) == TRIALS
    assert windows["killed while sending"] >= 3 and windows["killed before sending"] >= 3
    print(f"\nfault trials ({duration:.1f} s per run): {dict(windows)}")


class KillOnData(RecordingHandler):
    """Accepts the k-th message, then kills the client before it can record it in its ledger."""

    def __init__(self, k: int):
        super().__init__()
        self.k = k
        self.pid: int | None = None

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        reply = await super().handle_DATA(server, session, envelope)
        if len(self.received) == self.k and self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)  # the provider has it; the client never hears "250"
        return reply


def test_killed_between_acceptance_and_ledger_the_message_goes_again_with_its_message_id(
    deployment: Deployment, demo_workbook: tuple[Path, int]
) -> None:
    _, expected = demo_workbook
    handler = KillOnData(k=3)
    deployment.server.handler = handler
    deployment.server._controller.handler = handler  # the next connections use it
    process = deployment.start("run", "--today", MONDAY.isoformat())
    handler.pid = process.pid
    assert process.wait(30) == -signal.SIGKILL
    assert len(handler.received) == 3
    caught = str(handler.received[2].parsed()["Message-ID"])
    states = Counter(row.status for row in deployment.ledger())
    assert states["sending"] == 1 and states["sent"] == 2  # the third: accepted, not recorded
    deployment.rerun()
    ids = assert_nothing_lost_nothing_doubled(deployment, expected)
    assert [i for i, n in ids.items() if n == 2] == [caught]  # resent once, same Message-ID


def test_sigterm_while_sending_exits_quickly_with_a_consistent_outbox(deployment: Deployment) -> None:
    handler = Slow(0.4)
    deployment.server.handler = handler
    deployment.server._controller.handler = handler
    state = StateStore.open(deployment.database_url)
    state.migrate(dt.datetime(2026, 11, 23, 7, tzinfo=PARIS))
    for n in range(30):  # messages already waiting when the worker starts, whatever today is
        state.enqueue(key=f"test:{n}", kind="test", recipients=["c@example.org"], subject=f"Message {n}",
                      message=f"From: a@example.org\r\nTo: c@example.org\r\nSubject: Message {n}\r\n"
                              f"Message-ID: <{n}@test>\r\n\r\nCorps\r\n".encode(),
                      now=dt.datetime(2026, 11, 23, 7, tzinfo=PARIS))
    worker = deployment.start("worker")
    try:
        deadline = time.monotonic() + 60
        while len(handler.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(handler.received) >= 2, "the worker started sending"
        stopped_at = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(20)
        assert time.monotonic() - stopped_at < 20
        assert code == 0
    finally:
        worker.kill()
    output = worker.stdout.read().decode() if worker.stdout else ""
    assert "stop requested (SIGTERM)" in output and "worker stopped" in output
    rows = [r for r in deployment.ledger() if r.idempotency_key.startswith("test:")]
    statuses = Counter(r.status for r in rows)
    assert statuses["sending"] == 0  # the message being sent finished; none left half-done
    assert statuses["sent"] == len([r for r in handler.received if "@test>" in str(r.parsed()["Message-ID"])])
    assert statuses["pending"] > 0  # the rest wait for the next run
    assert deployment.database_url.split("@")[0] not in output  # no secret in the logs
