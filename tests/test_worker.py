"""The scheduled worker: due times across DST, catch-up at start, one runner at a time, failures."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import pytest
import schedule

from automations.demo import write_demo_workbook
from automations.cycle.run import RunReport, run_cycle
from automations.settings import Settings
from automations.worker import JobSpec, Worker, job_specs, latest_due, next_due
from connectors.state import StateStore

from .conftest import PARIS, REPO
from .test_run import DEMO_DIGESTS

UTC = dt.timezone.utc
CYCLE = JobSpec("cycle", tuple(range(5)), dt.time(7, 30), frozenset({"matching", "reminders"}))
DIGESTS = JobSpec("digests", (0,), dt.time(8, 0), frozenset({"digests"}))  # a Monday-only job, for due times
NIGHTLY = JobSpec("nightly", tuple(range(7)), dt.time(2, 30), frozenset())


def paris(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("spec", "now", "latest_utc", "next_utc"),
    [
        pytest.param(CYCLE, paris(2026, 3, 28, 12, 0), dt.datetime(2026, 3, 27, 6, 30, tzinfo=UTC),
                     dt.datetime(2026, 3, 30, 5, 30, tzinfo=UTC), id="weekend-of-the-spring-change"),
        pytest.param(DIGESTS, paris(2026, 3, 29, 12, 0), dt.datetime(2026, 3, 23, 7, 0, tzinfo=UTC),
                     dt.datetime(2026, 3, 30, 6, 0, tzinfo=UTC), id="digest-across-the-spring-change"),
        pytest.param(NIGHTLY, paris(2026, 3, 29, 12, 0), dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
                     dt.datetime(2026, 3, 30, 0, 30, tzinfo=UTC), id="time-in-the-spring-gap"),
        pytest.param(NIGHTLY, paris(2026, 10, 25, 12, 0), dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
                     dt.datetime(2026, 10, 26, 1, 30, tzinfo=UTC), id="time-repeated-in-autumn"),
        pytest.param(CYCLE, paris(2026, 10, 23, 7, 30), dt.datetime(2026, 10, 23, 5, 30, tzinfo=UTC),
                     dt.datetime(2026, 10, 26, 6, 30, tzinfo=UTC), id="friday-before-the-autumn-change"),
        pytest.param(CYCLE, paris(2026, 11, 24, 7, 29), dt.datetime(2026, 11, 23, 6, 30, tzinfo=UTC),
                     dt.datetime(2026, 11, 24, 6, 30, tzinfo=UTC), id="a-minute-before"),
    ],
)
def test_due_times_across_dst(spec: JobSpec, now: dt.datetime, latest_utc: dt.datetime, next_utc: dt.datetime) -> None:
    assert latest_due(spec, now, PARIS) == latest_utc
    assert next_due(spec, now, PARIS) == next_utc
    assert next_due(spec, now, PARIS).astimezone(PARIS).strftime("%H:%M") in ("07:30", "08:00", "02:30", "03:30")


def test_schedule_registers_what_the_due_times_say(settings: Settings) -> None:
    worker = Worker(settings, clock=lambda: dt.datetime.now(PARIS))
    worker.register()
    now = dt.datetime.now(PARIS)
    expected = {spec.name: next_due(spec, now, PARIS) for spec in job_specs(settings)}
    for name, due in expected.items():
        runs = [j.next_run for j in worker.scheduler.get_jobs(name)]
        # schedule keeps naive local times of the machine; compare instants
        earliest = min(r.astimezone() for r in runs)
        assert abs((earliest - due).total_seconds()) < 2, name
    # the cycle on weekdays; the digests job every business day from Monday, so that a holiday
    # Monday sends them on Tuesday (keyed by week, they go once)
    assert len(worker.scheduler.get_jobs("cycle")) == 5 and len(worker.scheduler.get_jobs("digests")) == 5


@pytest.fixture
def demo(settings: Settings) -> Settings:
    write_demo_workbook(settings, dt.date(2026, 11, 23))
    return settings


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def store(settings: Settings) -> StateStore:
    return StateStore.open(settings.database_url, sqlite_path=settings.state.path)


def test_start_up_runs_every_job_that_is_late_once(demo: Settings) -> None:
    clock = Clock(paris(2026, 11, 23, 9, 0))  # Monday, after both due times
    worker = Worker(demo, clock=clock)
    worker.catch_up()
    assert worker.outcomes == [("cycle", "Avertissements"), ("digests", "Avertissements")]
    state = store(demo)
    assert state.last_success("cycle") == clock.now
    sent = state.counts()["sent"]
    assert sent > 14  # reminders and digests
    worker.catch_up()  # a restart right after: nothing is late any more
    assert len(worker.outcomes) == 2
    assert state.counts()["sent"] == sent


def test_a_25_hour_downtime_sends_each_due_reminder_and_digest_once(demo: Settings) -> None:
    clock = Clock(paris(2026, 11, 23, 7, 30))
    worker = Worker(demo, clock=clock)
    worker.run_job(CYCLE)  # Monday's cycle ran; then the platform lost the worker for 25 hours
    clock.now = paris(2026, 11, 24, 8, 31)
    restarted = Worker(demo, clock=clock)
    restarted.catch_up()
    assert restarted.outcomes == [("cycle", "Avertissements"), ("digests", "Avertissements")]
    state = store(demo)
    runs = state.last_runs(10)
    assert [r["job"] for r in runs] == ["digests", "cycle", "cycle"]
    sent = state.counts()["sent"]
    clock.now = paris(2026, 11, 24, 9, 0)
    Worker(demo, clock=clock).catch_up()  # another restart: nothing twice
    assert state.counts()["sent"] == sent
    digests = [r for r in runs if r["job"] == "digests"]
    assert digests[0]["counts"]["mis_en_file"] == DEMO_DIGESTS


def test_a_job_that_raises_every_time_does_not_stop_the_others(demo: Settings) -> None:
    calls: list[str] = []

    def runner(settings: Settings, **kwargs: object) -> RunReport:
        calls.append(str(kwargs["job"]))
        if kwargs["job"] == "cycle":
            raise RuntimeError("bug in the cycle")
        return run_cycle(settings, **kwargs)  # type: ignore[arg-type]

    clock = Clock(paris(2026, 11, 23, 9, 0))
    worker = Worker(demo, clock=clock, scheduler=schedule.Scheduler(), runner=runner)
    worker.register()
    for job in worker.scheduler.jobs:  # everything is due now
        job.next_run = dt.datetime.now() - dt.timedelta(minutes=1)
    worker.scheduler.run_pending()
    assert calls.count("cycle") == 5 and calls.count("digests") == 5  # one per weekday registration
    assert ("cycle", "failed") in worker.outcomes and ("digests", "Avertissements") in worker.outcomes
    assert worker.outcomes.count(("digests", "skipped")) == 4  # done once for its due time, then skipped
    assert all(job.next_run > dt.datetime.now() for job in worker.scheduler.jobs)  # still scheduled
    failures = [r for r in store(demo).last_runs(20) if r["job"] == "cycle"]
    assert failures and all(r["result"] == "Échec" and "bug in the cycle" in r["detail"] for r in failures)


def test_two_workers_against_one_database_run_one_cycle_per_due_time(
    make_settings: Callable[..., Settings], pg_url: str
) -> None:
    settings = make_settings(environ={"DATABASE_URL": pg_url}, worker="lock_wait_seconds = 30")
    write_demo_workbook(settings, dt.date(2026, 11, 23))
    due = paris(2026, 11, 23, 7, 30)
    clock = Clock(paris(2026, 11, 23, 7, 30))
    workers = [Worker(settings, clock=clock) for _ in range(2)]
    threads = [threading.Thread(target=w.run_job, args=(CYCLE, due)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    outcomes = sorted(o for w in workers for _, o in w.outcomes)
    assert outcomes == ["Avertissements", "skipped"]
    assert [r["job"] for r in store(settings).last_runs(10)] == ["cycle"]


def test_the_second_worker_takes_over_when_the_first_dies(make_settings: Callable[..., Settings], pg_url: str) -> None:
    settings = make_settings(environ={"DATABASE_URL": pg_url}, worker="lock_wait_seconds = 20")
    write_demo_workbook(settings, dt.date(2026, 11, 23))
    state = store(settings)
    state.migrate(paris(2026, 11, 23, 7, 0))
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from connectors.state import StateStore
            state = StateStore.open({pg_url!r}, holder="old container")
            with state.run_lock("cycle"):
                print("locked", flush=True)
                time.sleep(120)
        """)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert state.lock_holder("cycle", ).startswith("old container")  # type: ignore[union-attr]
        worker = Worker(settings, clock=Clock(paris(2026, 11, 23, 7, 30)))
        killer = threading.Timer(1.0, holder.kill)  # the old container is killed while we wait
        killer.start()
        started = time.monotonic()
        worker.run_job(CYCLE, paris(2026, 11, 23, 7, 30))
        assert worker.outcomes == [("cycle", "Avertissements")]
        assert 0.9 < time.monotonic() - started < 20
        assert state.lock_holder("cycle") is None
    finally:
        holder.kill()
        holder.wait(10)


def test_worker_logs_mask_every_secret() -> None:
    import io
    import logging

    from automations.logs import configure_worker_logging

    stream = io.StringIO()
    environ = {"DATABASE_URL": "postgres://app:pg-pass-123@db:5432/app", "SMTP_URL": "smtps://u:mail%40pass@smtp:465",
               "SENDGRID_API_KEY": "SG.very-secret"}
    handler = configure_worker_logging(environ, stream)
    try:
        log = logging.getLogger("cantines.test")
        log.info("connecting to %s", environ["DATABASE_URL"])
        log.info("key %s and password %s", "SG.very-secret", "mail%40pass")
        try:
            raise RuntimeError("failed with pg-pass-123")
        except RuntimeError:
            log.exception("job failed")
    finally:
        logging.getLogger().removeHandler(handler)
    output = stream.getvalue()
    for secret in ("pg-pass-123", "SG.very-secret", "mail%40pass"):
        assert secret not in output
    assert output.count("***") >= 4
    assert all(" INFO " in line or " ERROR " in line or not line.strip() or line.startswith(("Traceback", "  ", "RuntimeError"))
               for line in output.splitlines())


def test_status_shows_runs_due_times_messages_and_the_lock(demo: Settings) -> None:
    from click.testing import CliRunner

    from automations.cli import cli

    Worker(demo, clock=Clock(paris(2026, 11, 23, 9, 0))).catch_up()
    result = CliRunner().invoke(cli, ["status", "--config", str(demo.path)])
    assert result.exit_code == 0, result.output
    assert "cycle : dernier succès 23/11/2026 09:00" in result.output
    assert "digests : dernier succès 23/11/2026 09:00" in result.output
    assert "Derniers cycles :" in result.output and "Avertissements" in result.output
    assert "0 en attente" in result.output and "Verrou : libre" in result.output
    assert "Appels aux API en " in result.output and "aucun appel compté" in result.output  # the workbook is local
    state = store(demo)
    with state.run_lock("cycle"):
        held = CliRunner().invoke(cli, ["status", "--config", str(demo.path)])
    assert "Verrou : tenu par " in held.output and "pid" in held.output
