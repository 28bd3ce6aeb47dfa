"""API quotas: calls counted per provider and month in the state store, shown by `cantines status`,
and optional jobs (hourly syncs, imports) waiting when the month's budget, spread over the month, is short."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from automations.cycle.backends import open_state
from automations.cycle.quotas import budget_note, usage_lines
from automations.cycle.run import SYNC, run_cycle
from automations.demo import write_demo_workbook
from automations.settings import Settings

from .conftest import PARIS

DAY = dt.date(2026, 11, 10)  # a third of November gone: a third of the month's budget may be used


def clock() -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(9, 0), tzinfo=PARIS)


def test_calls_add_up_per_provider_and_month(settings: Settings) -> None:
    state = open_state(settings)
    state.migrate(clock())
    state.add_calls("2026-11", {"airtable": 120, "sheets": 3})
    state.add_calls("2026-11", {"airtable": 30, "sendgrid": 0})
    state.add_calls("2026-12", {"airtable": 7})
    assert state.calls("2026-11") == {"airtable": 150, "sheets": 3} and state.calls("2026-12") == {"airtable": 7}
    state.close()


def test_an_hourly_sync_waits_when_the_budget_spread_over_the_month_is_used(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(quotas="airtable_calls_per_month = 1000")
    write_demo_workbook(settings, DAY)
    state = open_state(settings)
    state.migrate(clock())
    state.add_calls("2026-11", {"airtable": 330})  # 1,000 × 10/30 = 333 allowed by the 10th
    assert budget_note(settings, state, DAY, {"airtable": 3}) is None
    note = budget_note(settings, state, DAY, {"airtable": 4})
    assert note is not None and "quota Airtable" in note and "330" in note and "1\u202f000" in note
    assert budget_note(settings, state, DAY + dt.timedelta(days=1), {"airtable": 4}) is None  # the next day's share
    state.add_calls("2026-11", {"airtable": 10})
    report = run_cycle(settings, today=DAY, clock=clock, job="sync", parts=frozenset({SYNC}))
    assert report.quota_note is not None and not report.syncs and report.result == "OK"
    full = run_cycle(settings, today=DAY, clock=clock)  # the daily cycle is not optional: it runs
    assert full.quota_note is None and full.matches
    (coordinator,) = [m for m in full.messages if m.kind == "recapitulatif-coordination"]
    assert "QUOTAS DES API CETTE SEMAINE" in coordinator.text and report.quota_note in coordinator.text
    lines = usage_lines(settings, state, DAY)
    assert lines == ["  Airtable : 340 appel(s) sur un budget de 1\u202f000 par mois"]
    state.close()
    import openpyxl
    journal = list(openpyxl.load_workbook(settings.workbook.path)["Journal"].iter_rows(values_only=True))
    assert "travail facultatif reporté (quota Airtable)" in journal[1][-1]
