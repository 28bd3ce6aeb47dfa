"""`cantines status` and the worker's start-up line say what happened and what will: digests sent by a
manual run count as the digests' last success; an hourly sync reads "every hour"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from click.testing import CliRunner

from automations.cli import cli
from automations.cycle.run import run_cycle
from automations.demo import write_demo_workbook
from automations.settings import Settings
from automations.worker import JobSpec, Worker, describe

from .conftest import PARIS


def test_digests_sent_by_a_manual_run_are_the_digests_last_success(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    monday = dt.date(2026, 11, 23)
    write_demo_workbook(settings, monday)
    report = run_cycle(settings, today=monday, clock=lambda: dt.datetime(2026, 11, 23, 9, 15, tzinfo=PARIS))
    assert report.digests > 10  # the demo's digests went out through `cantines run`, not the digests job
    result = CliRunner().invoke(cli, ["status", "--config", str(settings.path)])
    assert result.exit_code == 0, result.output
    assert "digests : dernier succès 23/11/2026 09:15" in result.output
    assert "dernier succès —" not in result.output.split("Derniers cycles")[0].split("digests")[1]
    # and the worker starting after it does not run the digests job again for the same due time
    worker = Worker(settings, clock=lambda: dt.datetime(2026, 11, 23, 9, 30, tzinfo=PARIS))
    worker.catch_up()
    assert [job for job, _ in worker.outcomes] == []


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        pytest.param(JobSpec("sync", tuple(range(7)), dt.time(0, 0), frozenset(), every_hours=1),
                     "sync every hour (Europe/Paris)", id="hourly-sync"),
        pytest.param(JobSpec("sync", tuple(range(7)), dt.time(0, 30), frozenset(), every_hours=2),
                     "sync every 2 hours from 00:30 (Europe/Paris)", id="every-two-hours"),
        pytest.param(JobSpec("cycle", tuple(range(5)), dt.time(7, 30), frozenset()),
                     "cycle at 07:30 (Europe/Paris) on weekdays", id="weekdays"),
        pytest.param(JobSpec("aides", tuple(range(7)), dt.time(6, 30), frozenset()),
                     "aides at 06:30 (Europe/Paris) every day", id="daily"),
        pytest.param(JobSpec("digests", (2, 3, 4), dt.time(8, 0), frozenset()),
                     "digests at 08:00 (Europe/Paris) on wednesday, thursday, friday", id="some-days"),
    ],
)
def test_the_start_up_line_says_each_schedule_plainly(spec: JobSpec, line: str) -> None:
    assert describe(spec, "Europe/Paris") == line
