"""The scheduled worker: the Procfile's `worker:` process on Scalingo, Clever Cloud or Heroku.

One `schedule.Scheduler()` runs the jobs at their Europe/Paris times. On start-up, a job whose last
successful run (read from the state store) is older than its latest due time runs at once: the
platform wiped the filesystem and restarted the process, nothing was lost. Every job is wrapped: an
exception is logged with its traceback and recorded in the journal, and the loop goes on. Jobs run
under the run lock, so that during a deploy the old and the new container never run one cycle twice.
On SIGTERM or SIGINT no new step starts, every wait (the run lock, a provider's rate limit) wakes at
once, and the process exits within 10 s, well within the platforms' 30 s (see automations/stopping.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from zoneinfo import ZoneInfo

import schedule

from connectors.errors import LockBusyError, StopRequested

from automations.cycle.run import AIDES, DIGESTS, DRAFTS, HOTLINE, MATCHING, REMINDERS, SYNC, RunReport, run_cycle
from automations.settings import Settings
from automations.settings.days import parse_days, parse_time
from automations.stopping import StopSignals

log = logging.getLogger("cantines.worker")

CATCH_UP_EVERY = 15 * 60  # seconds between two checks for jobs left late
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True)
class JobSpec:
    """A job: when it is due (days and a wall-clock time in the settings' time zone) and what it does."""

    name: str
    days: tuple[int, ...]  # weekdays, Monday = 0
    at: dt.time
    parts: frozenset[str]
    every_hours: int = 0  # > 0: every so many hours from `at`, instead of once a day
    counted: str | None = None  # a run count showing another job (a manual run) did this job's work

def job_specs(settings: Settings) -> list[JobSpec]:
    """The jobs the settings ask for: the cycle (matching and reminders) and the weekly digests."""
    worker = settings.worker
    digests = settings.digests
    specs = [JobSpec("cycle", parse_days(worker.cycle_days), parse_time(worker.cycle_at),
                     frozenset({SYNC, MATCHING, REMINDERS, DRAFTS, HOTLINE}))]
    if digests.enabled:
        # every business day from the digest day on: keyed by week, a digest goes once, and a holiday
        # Monday (Easter, Whit Monday) sends it on the Tuesday
        first = parse_days(digests.weekday)[0]
        specs.append(JobSpec("digests", tuple(range(first, 5)) or (first,), dt.time(digests.hour, 0), frozenset({DIGESTS}),
                             counted="recapitulatifs"))
    if settings.secrets.get("AIDES_TERRITOIRES_TOKEN"):
        aides = settings.aides_territoires
        specs.append(JobSpec("aides", parse_days(aides.import_days), parse_time(aides.import_at), frozenset({AIDES})))
    if settings.secrets.get("IMAP_URL"):  # the hotline mailbox, read often: questions are acknowledged within the hour
        specs.append(JobSpec("hotline", tuple(range(7)), dt.time(0, 0), frozenset({HOTLINE}),
                             every_hours=settings.hotline.every_hours))
    if settings.syncs:
        specs.append(JobSpec("sync", tuple(range(7)), dt.time(0, 0), frozenset({SYNC}), every_hours=1))
    return specs


def describe(spec: JobSpec, timezone: str) -> str:
    """A job's schedule in a log line: "cycle at 07:30 (Europe/Paris) on weekdays", "sync every hour"."""
    if spec.every_hours:
        every = "every hour" if spec.every_hours == 1 else f"every {spec.every_hours} hours"
        start = f" from {spec.at.strftime('%H:%M')}" if spec.at.hour >= spec.every_hours or spec.at.minute else ""
        when = every + start
    else:
        when = f"at {spec.at.strftime('%H:%M')}"
    days = tuple(sorted(spec.days))
    named = {tuple(range(7)): "every day", tuple(range(5)): "on weekdays", (5, 6): "on weekends"}
    on = named.get(days) or "on " + ", ".join(DAY_NAMES[d] for d in days)
    return f"{spec.name} {when} ({timezone})" + ("" if on == "every day" and spec.every_hours else f" {on}")


def due_times(spec: JobSpec, tz: ZoneInfo, start: dt.date, end: dt.date) -> Iterator[dt.datetime]:
    """Every due instant of a job between two dates, in UTC (instants compare without surprises
    around DST). A wall-clock time that does not exist (in the spring gap) comes one hour later,
    02:30 becoming 03:30; one that happens twice (the autumn change) is its first occurrence."""
    day = start
    while day <= end:
        if day.weekday() in spec.days:
            times = [spec.at] if not spec.every_hours else [
                dt.time(h, spec.at.minute) for h in range(spec.at.hour % spec.every_hours, 24, spec.every_hours)]
            for at in times:
                yield dt.datetime.combine(day, at, tzinfo=tz).astimezone(dt.timezone.utc)
        day += dt.timedelta(days=1)


def latest_due(spec: JobSpec, now: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """The latest due instant at or before `now` (within the last week)."""
    today = now.astimezone(tz).date()
    past = [t for t in due_times(spec, tz, today - dt.timedelta(days=7), today) if t <= now]
    return past[-1] if past else None


def next_due(spec: JobSpec, now: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """The first due instant after `now`."""
    today = now.astimezone(tz).date()
    return next(t for t in due_times(spec, tz, today, today + dt.timedelta(days=8)) if t > now)


class Worker:
    """Runs the jobs on a `schedule.Scheduler` until asked to stop."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], dt.datetime],
        scheduler: schedule.Scheduler | None = None,
        runner: Callable[..., RunReport] = run_cycle,
    ):
        self.settings = settings
        self.clock = clock
        self.tz = settings.timezone
        self.scheduler = scheduler if scheduler is not None else schedule.Scheduler()
        self.runner = runner
        self.stop_event = threading.Event()
        self.specs = job_specs(settings)
        self.outcomes: list[tuple[str, str]] = []  # (job, outcome) for the log and tests

    # -- scheduling -----------------------------------------------------------------------------

    def register(self) -> None:
        """One schedule job per (job, day), at its time in the settings' time zone."""
        zone = self.settings.network.timezone
        for spec in self.specs:
            if spec.every_hours:
                self.scheduler.every(spec.every_hours).hours.at(spec.at.strftime(":%M")).do(self.run_job, spec).tag(spec.name)
                continue
            for day in spec.days:
                every = getattr(self.scheduler.every(), DAY_NAMES[day])
                every.at(spec.at.strftime("%H:%M"), zone).do(self.run_job, spec).tag(spec.name)

    def catch_up(self) -> None:
        """Run once, now, every job whose last success is older than its latest due time."""
        from automations.cycle.backends import open_state

        state = open_state(self.settings)
        try:
            state.migrate(self.clock())
            for spec in self.specs:
                due = latest_due(spec, self.clock(), self.tz)
                last = state.last_success(spec.name, or_counted=spec.counted)
                if due is not None and (last is None or last < due):
                    log.info("job %s: last success %s is older than its due time %s: running it now",
                             spec.name, last.isoformat() if last else "never", due.isoformat())
                    self.run_job(spec, due)
        finally:
            state.close()

    # -- running --------------------------------------------------------------------------------

    def run_job(self, spec: JobSpec, due: dt.datetime | None = None) -> None:
        """Run one job; never raises (the loop must go on), records what happened."""
        if self.stop_event.is_set():
            return
        now = self.clock()
        due = due or latest_due(spec, now, self.tz) or now
        today = now.astimezone(self.tz).date()
        log.info("job %s: starting for %s (due %s)", spec.name, today.isoformat(), due.isoformat())
        try:
            report = self.runner(
                self.settings, today=today, clock=self.clock, job=spec.name, parts=spec.parts,
                lock_wait_seconds=self.settings.worker.lock_wait_seconds, skip_if_done_since=due,
                stop=self.stop_event,
            )
        except StopRequested as exc:  # interrupted after the grace period: the catch-up runs it again
            self._outcome(spec, "stopped", str(exc))
            return
        except LockBusyError as exc:
            self._outcome(spec, "skipped", f"{exc}: another worker is running; it will do this job")
            return
        except Exception as exc:  # recorded and logged; the next run is scheduled as usual
            self._outcome(spec, "failed", f"{type(exc).__name__}: {exc}")
            log.error("job %s failed:\n%s", spec.name, traceback.format_exc().rstrip())
            self._record_failure(spec, today, now, exc)
            return
        if report.skipped:
            self._outcome(spec, "stopped" if report.stopped else "skipped", report.skipped)
        else:
            for error in report.errors:  # what went wrong, for whoever reads the platform's logs
                log.warning("job %s: %s", spec.name, error)
            self._outcome(
                spec, "stopped" if report.stopped else report.result,
                f"{report.queued} queued, {report.sent} sent, {len(report.problems)} data problems, "
                f"{len(report.errors)} errors",
            )

    def _outcome(self, spec: JobSpec, outcome: str, detail: str) -> None:
        self.outcomes.append((spec.name, outcome))
        log.info("job %s: %s (%s)", spec.name, outcome, detail)

    def _record_failure(self, spec: JobSpec, today: dt.date, now: dt.datetime, exc: BaseException) -> None:
        """A failure before the cycle could journal it (settings, database…): journal it here."""
        from automations.cycle.backends import open_state

        try:
            state = open_state(self.settings)
            try:
                state.migrate(now)
                recorded = [r for r in state.last_runs(1) if r["job"] == spec.name and r["result"] == "Échec"
                            and r["started_at"] and r["started_at"] >= now.astimezone(dt.timezone.utc) - dt.timedelta(seconds=1)]
                if not recorded:
                    run_id = state.start_run(job=spec.name, today=today, now=now)
                    state.finish_run(run_id, result="Échec", counts={}, detail=f"{type(exc).__name__}: {exc}", now=self.clock())
            finally:
                state.close()
        except Exception:  # the database itself is down: the log line above is all we can do
            log.error("job %s: could not record the failure in the state store", spec.name)

    def request_stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        if not self.stop_event.is_set():
            log.info("stop requested (%s): finishing the current step", signal.Signals(signum).name if signum else "stop")
        self.stop_event.set()

    def serve_health(self, port: int) -> ThreadingHTTPServer:
        """A tiny HTTP endpoint answering 200 while the loop runs, for platforms (Clever Cloud) that
        expect every application to listen on a port."""
        worker = self

        class Health(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                body = ("ok: " + ", ".join(f"{j}={o}" for j, o in worker.outcomes[-5:]) + "\n").encode()
                self.send_response(503 if worker.stop_event.is_set() else 200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # health checks are not events
                return

        server = ThreadingHTTPServer(("0.0.0.0", port), Health)
        threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
        log.info("health endpoint listening on port %d", port)
        return server

    def run_forever(self, *, install_signals: bool = True, max_sleep: float = 30.0) -> None:
        """Catch up, then run the jobs when due until SIGTERM/SIGINT."""
        signals = StopSignals(self.stop_event).install() if install_signals else None
        try:
            self._loop(max_sleep)
        except StopRequested as exc:  # the grace period ran out in the middle of something
            log.warning("%s", exc)
        finally:
            if signals is not None:
                signals.cancel()
        log.info("worker stopped")

    def _loop(self, max_sleep: float) -> None:
        self.register()
        log.info("worker started: %s", ", ".join(describe(s, self.settings.network.timezone) for s in self.specs))
        self.catch_up()
        next_catch_up = time.monotonic() + CATCH_UP_EVERY
        while not self.stop_event.is_set():
            self.scheduler.run_pending()
            if time.monotonic() >= next_catch_up:
                # a job skipped because another worker held the lock (and then died during a deploy),
                # or left incomplete, runs again until it has succeeded for its due time
                self.catch_up()
                next_catch_up = time.monotonic() + CATCH_UP_EVERY
            idle = self.scheduler.idle_seconds
            self.stop_event.wait(max(0.5, min(idle if idle is not None else max_sleep, max_sleep)))
