"""Storms and stops: a provider's rate limit costs at most the run's delivery budget, a refused message
goes back to pending (never held as "maybe sent"), every wait wakes on SIGTERM, and the processes exit
within 10 s of it, as real subprocesses receiving real signals."""

from __future__ import annotations

import datetime as dt
import email.utils
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from automations.cycle.run import RunReport, deliver, run_cycle
from automations.demo import write_demo_workbook
from automations.settings import Settings
from connectors.mail import DeliveryWindow, SendGridBackend
from connectors.state import StateStore

from .conftest import PARIS, REPO
from .fakes.clock import FakeClock
from .fakes.sendgrid import Fault, FakeSendGrid

KEY = "SG.storm-key"
MONDAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 7, 30, tzinfo=PARIS)
STORM = Fault(status=429, headers={"Retry-After": "60"})


def clock() -> dt.datetime:
    return NOW


def queue_messages(state: StateStore, count: int) -> None:
    state.migrate(NOW)
    for number in range(count):
        body = (f"From: robot@example.org\r\nTo: cantine{number}@example.org\r\nSubject: Rappel {number}\r\n"
                f"Message-ID: <m{number}@example.org>\r\n\r\nBonjour {number}\r\n").encode()
        state.enqueue(key=f"test:{number}", kind="rappel", recipients=[f"cantine{number}@example.org"],
                      subject=f"Rappel {number}", message=body, now=NOW)


def statuses(state: StateStore) -> dict[str, int]:
    return state.counts()


def test_a_429_storm_costs_one_message_s_attempts_and_leaves_every_message_pending(tmp_path: Path) -> None:
    """The issue's storm: 27 messages, SendGrid answering 429 with Retry-After 60 to everything."""
    state = StateStore.open(None, sqlite_path=tmp_path / "state.sqlite")
    queue_messages(state, 27)
    fake_time = FakeClock()
    with FakeSendGrid(api_key=KEY) as fake:
        fake.fail_next(*[STORM] * 200)
        backend = SendGridBackend(KEY, host=fake.url)
        backend.window = DeliveryWindow(monotonic=fake_time, sleeper=fake_time.sleep)
        report = RunReport(today=MONDAY, started_at=NOW)
        deliver(state, backend, clock, report, budget_seconds=300)
    # before: 4 requests and 180 s per message, 81 minutes for 27; now one message's attempts, then stop
    assert fake.requests == 4 and sum(fake_time.sleeps) == 180
    assert statuses(state) == {"pending": 27}  # none held, none left "sending"
    assert report.sent == 0 and report.send_failures == 1 and report.held == 0
    assert any("429" in error for error in report.errors)


def test_the_delivery_budget_ends_waits_and_leaves_the_rest_pending(tmp_path: Path) -> None:
    state = StateStore.open(None, sqlite_path=tmp_path / "state.sqlite")
    queue_messages(state, 10)
    fake_time = FakeClock()
    with FakeSendGrid(api_key=KEY) as fake:
        fake.fail_next(*[Fault(status=503)] * 7)  # 1 + 2 + 4 s of backoff for the first message…
        backend = SendGridBackend(KEY, host=fake.url)
        backend.window = DeliveryWindow(monotonic=fake_time, sleeper=fake_time.sleep)
        report = RunReport(today=MONDAY, started_at=NOW)
        deliver(state, backend, clock, report, budget_seconds=10)
    # message 1: 4 attempts (7 s), pending; message 2: 3 attempts (1 s + 2 s: 10 s), then a wait of
    # 4 s would pass the budget: not tried again, and the 8 others not tried at all
    assert fake_time.sleeps == [1, 2, 4, 1, 2] and fake.requests == 7
    assert report.deferred == 8 and report.sent == 0
    assert statuses(state) == {"pending": 10}
    assert any("délai d'envoi de 10 s écoulé : 8 message(s) non tenté(s)" in e for e in report.errors)
    from automations.summary import format_report

    assert "En attente d'envoi : 10 (dont 8 non tenté(s) faute de temps" in format_report(report)


def test_x_ratelimit_reset_is_honoured_when_retry_after_is_missing(tmp_path: Path) -> None:
    state = StateStore.open(None, sqlite_path=tmp_path / "state.sqlite")
    queue_messages(state, 2)
    fake_time = FakeClock()
    with FakeSendGrid(api_key=KEY) as fake:
        reset = int(time.time()) + 5  # the fake's Date header is the real time
        fake.fail_next(Fault(status=429, headers={"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
                                                  "X-RateLimit-Reset": str(reset)}))
        backend = SendGridBackend(KEY, host=fake.url)
        backend.window = DeliveryWindow(monotonic=fake_time, sleeper=fake_time.sleep)
        report = RunReport(today=MONDAY, started_at=NOW)
        deliver(state, backend, clock, report, budget_seconds=300)
    (waited,) = fake_time.sleeps
    assert 3 <= waited <= 6  # until the reset SendGrid named, not the 1 s backoff
    assert report.sent == 2 and statuses(state) == {"sent": 2}


def test_a_stop_wakes_a_rate_limit_wait_at_once_and_the_message_stays_pending(tmp_path: Path) -> None:
    state = StateStore.open(None, sqlite_path=tmp_path / "state.sqlite")
    queue_messages(state, 3)
    stop = threading.Event()
    with FakeSendGrid(api_key=KEY) as fake:
        fake.fail_next(*[STORM] * 10)
        backend = SendGridBackend(KEY, host=fake.url)  # the real waits: on the stop event
        report = RunReport(today=MONDAY, started_at=NOW)
        threading.Timer(0.5, stop.set).start()
        started = time.monotonic()
        deliver(state, backend, clock, report, stop=stop, budget_seconds=300)
        elapsed = time.monotonic() - started
    assert elapsed < 3 and fake.requests == 1  # not the 60 s SendGrid asked for
    assert report.stopped and statuses(state) == {"pending": 3}


def test_a_crash_during_a_wait_leaves_the_message_pending_not_held(tmp_path: Path) -> None:
    """While the backend waits between refused attempts the message is not "sending": a process
    killed then (simulated: the wait raises) leaves it pending, and the next run does not hold it."""
    state = StateStore.open(None, sqlite_path=tmp_path / "state.sqlite")
    queue_messages(state, 1)
    seen: list[dict[str, int]] = []

    def killed(seconds: float) -> None:
        seen.append(statuses(state))
        raise KeyboardInterrupt  # the process dies here

    with FakeSendGrid(api_key=KEY) as fake:
        fake.fail_next(STORM)
        backend = SendGridBackend(KEY, host=fake.url, sleeper=killed)
        with pytest.raises(KeyboardInterrupt):
            deliver(state, backend, clock, RunReport(today=MONDAY, started_at=NOW), budget_seconds=300)
        assert seen == [{"pending": 1}]
        after = RunReport(today=MONDAY, started_at=NOW)
        deliver(state, SendGridBackend(KEY, host=fake.url), clock, after)
    assert after.held == 0 and after.sent == 1 and statuses(state) == {"sent": 1}


# -- real processes, real signals ---------------------------------------------------------------


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "automations", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _environ(**values: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "TMPDIR", "SYSTEMROOT")}
    return keep | values


def _wait_until(condition: Callable[[], bool], timeout: float, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the process ended early ({process.returncode}):\n{process.stdout.read() if process.stdout else ''}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("timed out waiting for the process")
        time.sleep(0.05)


def _sendgrid_deployment(make_settings: Callable[..., Settings], fake: FakeSendGrid) -> tuple[Settings, dict[str, str]]:
    environ = {"SENDGRID_API_KEY": KEY, "SENDGRID_HOST": fake.url}
    settings = make_settings(mail='backend = "sendgrid"', environ=environ)
    write_demo_workbook(settings, MONDAY)
    return settings, _environ(**environ)


@pytest.mark.slow
def test_sigterm_during_a_429_storm_ends_cantines_run_within_10_s(make_settings: Callable[..., Settings]) -> None:
    with FakeSendGrid(api_key=KEY) as fake:
        fake.fail_next(*[STORM] * 200)
        settings, env = _sendgrid_deployment(make_settings, fake)
        process = _start(["run", "--config", str(settings.path), "--today", MONDAY.isoformat()], env)
        try:
            _wait_until(lambda: fake.requests >= 1, 120, process)
            time.sleep(0.5)  # inside the 60 s wait
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            output, _ = process.communicate(timeout=15)
            elapsed = time.monotonic() - started
        finally:
            process.kill()
    print(f"exited {elapsed:.2f} s after SIGTERM")
    assert elapsed < 10, elapsed
    assert process.returncode == 3, output  # interrupted: not a success
    assert "Interrompu" in output and fake.requests == 1
    state = StateStore.open(None, sqlite_path=settings.state.path)
    assert set(statuses(state)) == {"pending"}  # nothing held, nothing "sending"


@pytest.mark.slow
def test_sigkill_during_a_429_wait_leaves_the_message_pending_and_the_next_run_sends_it(
    make_settings: Callable[..., Settings],
) -> None:
    with FakeSendGrid(api_key=KEY) as fake:
        fake.fail_next(*[STORM] * 200)
        settings, env = _sendgrid_deployment(make_settings, fake)
        process = _start(["run", "--config", str(settings.path), "--today", MONDAY.isoformat()], env)
        try:
            _wait_until(lambda: fake.requests >= 1, 120, process)
            time.sleep(0.5)
            process.kill()  # the platform's SIGKILL
            process.wait(10)
        finally:
            process.kill()
        state = StateStore.open(None, sqlite_path=settings.state.path)
        queued = statuses(state)["pending"]
        assert statuses(state) == {"pending": queued}  # SendGrid refused it: not "maybe sent"
    with FakeSendGrid(api_key=KEY) as fake:
        settings = make_settings(mail='backend = "sendgrid"', environ={"SENDGRID_API_KEY": KEY, "SENDGRID_HOST": fake.url})
        again = run_cycle(settings, today=MONDAY, clock=clock)
    assert again.held == 0 and again.sent == queued == len(fake.received)


@pytest.mark.slow
def test_sigterm_while_the_worker_waits_for_the_lock_ends_it_within_10_s(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(worker="lock_wait_seconds = 120")
    write_demo_workbook(settings, MONDAY)
    holder = StateStore.open(None, sqlite_path=settings.state.path, holder="the other container")
    holder.migrate(NOW)
    with holder.run_lock("cycle"):
        process = _start(["worker", "--config", str(settings.path)], _environ())
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
        reader.start()
        try:
            _wait_until(lambda: any("job cycle: starting" in line for line in lines), 60, process)
            time.sleep(1.0)  # waiting for the lock now
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            process.wait(15)
            elapsed = time.monotonic() - started
        finally:
            process.kill()
        reader.join(5)
    output = "".join(lines)
    print(f"exited {elapsed:.2f} s after SIGTERM")
    assert elapsed < 10, elapsed
    assert process.returncode == 0, output
    assert "job cycle: stopped" in output and "worker stopped" in output


def test_a_process_still_busy_after_the_grace_period_is_interrupted(tmp_path: Path) -> None:
    """Any state the cooperative stop does not reach (a library's own sleep, a request that does not
    answer): StopRequested is raised in the main thread after the grace period."""
    script = textwrap.dedent("""
        import sys, time
        from automations.stopping import StopSignals
        from connectors.errors import StopRequested
        signals = StopSignals(grace=1.0).install()
        print("ready", flush=True)
        try:
            time.sleep(60)  # deaf to the stop event
        except StopRequested as exc:
            print("interrupted:", exc, "event set:", signals.event.is_set(), flush=True)
            sys.exit(3)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=_environ())
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        output, _ = process.communicate(timeout=15)
        elapsed = time.monotonic() - started
    finally:
        process.kill()
    assert 0.9 < elapsed < 5 and process.returncode == 3
    assert "interrupted: stopped by SIGTERM" in output and "event set: True" in output


@pytest.mark.slow
def test_sigterm_during_a_429_storm_ends_the_worker_within_10_s(make_settings: Callable[..., Settings]) -> None:
    with FakeSendGrid(api_key=KEY) as fake:
        fake.fail_next(*[STORM] * 200)
        settings, env = _sendgrid_deployment(make_settings, fake)
        process = _start(["worker", "--config", str(settings.path)], env)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
        reader.start()
        try:
            _wait_until(lambda: fake.requests >= 1, 120, process)  # the catch-up's first job is sending
            time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            process.wait(15)
            elapsed = time.monotonic() - started
        finally:
            process.kill()
        reader.join(5)
    output = "".join(lines)
    print(f"exited {elapsed:.2f} s after SIGTERM")
    assert elapsed < 10, elapsed
    assert process.returncode == 0 and "stopped" in output and "worker stopped" in output, output
    assert fake.requests == 1
    state = StateStore.open(None, sqlite_path=settings.state.path)
    assert set(statuses(state)) == {"pending"}  # refused: pending for the next run, not held


def test_an_error_kept_with_a_message_never_holds_a_secret_the_provider_echoed(tmp_path: Path) -> None:
    """SendGrid's error body may quote the request back; what the outbox keeps (and `cantines envois`
    shows) goes through the settings' mask like everything else people read."""
    state = StateStore.open(None, sqlite_path=tmp_path / "state.sqlite")
    queue_messages(state, 1)
    echo = {"errors": [{"message": f"invalid request with key {KEY}", "field": None, "help": None}]}
    with FakeSendGrid(api_key=KEY) as fake:
        fake.fail_next(Fault(status=400, body=echo))
        report = RunReport(today=MONDAY, started_at=NOW)
        deliver(state, SendGridBackend(KEY, host=fake.url), clock, report,
                mask=lambda text: text.replace(KEY, "***"))
    [entry] = state.entries()
    assert entry["status"] == "failed" and "***" in entry["last_error"] and KEY not in entry["last_error"]
