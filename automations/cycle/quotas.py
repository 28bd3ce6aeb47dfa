"""API quotas: the calls each run makes, counted per provider and month in the state store, and
whether optional work (the hourly syncs, the imports) still fits in what the plan's monthly budget
leaves, spread evenly over the month so that the daily cycles never run out of it."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping

from connectors.state import StateStore

from automations.domain.french import date_longue, nombre
from automations.settings import Settings

NOTE_START = "travail facultatif reporté"
MAIL_NOTE_START = "envois reportés"
# provider → its [quotas] option and how staff name it
BUDGETS = {"airtable": ("airtable_calls_per_month", "Airtable"), "sheets": ("sheets_calls_per_month", "Google Sheets")}


def month_of(day: dt.date) -> str:
    return day.strftime("%Y-%m")


def record_calls(settings: Settings, state: StateStore, today: dt.date, before: Mapping[str, int],
                 after: Mapping[str, int], sent: int) -> dict[str, int]:
    """Add one run's calls (the clients' counts after minus before; SendGrid: the emails sent) to
    the month's counts; returns them."""
    calls = {provider: count - before.get(provider, 0) for provider, count in after.items()}
    if settings.mail.backend == "sendgrid" and sent:
        calls["sendgrid"] = sent
    calls = {provider: count for provider, count in calls.items() if count > 0}
    state.add_calls(month_of(today), calls)
    return calls


def last_calls(state: StateStore, job: str) -> dict[str, int]:
    """The calls the last recorded run of `job` made, by provider: what the next one will likely make."""
    for run in state.last_runs(50):
        if run["job"] == job and run["counts"]:
            return {k.removeprefix("appels_"): v for k, v in run["counts"].items() if k.startswith("appels_")}
    return {}


def budget_note(settings: Settings, state: StateStore, today: dt.date, estimate: Mapping[str, int]) -> str | None:
    """Why optional work waits: with what it made last time, a provider's calls this month would pass
    the share of the monthly budget due by today. None when it fits (or no budget is set)."""
    used = state.calls(month_of(today))
    days = calendar.monthrange(today.year, today.month)[1]
    for provider, (option, label) in BUDGETS.items():
        budget = settings.quotas[option]
        if not budget:
            continue
        share = budget * today.day // days
        if used.get(provider, 0) + estimate.get(provider, 0) > share:
            return (f"{NOTE_START} (quota {label}) : {nombre(used.get(provider, 0))} appels ce mois-ci, "
                    f"environ {nombre(estimate.get(provider, 0))} de plus pour cette tâche, pour un budget de "
                    f"{nombre(budget)} par mois réparti sur le mois ({nombre(share)} jusqu'au {date_longue(today)})")
    return None


def emails_left_today(settings: Settings, state: StateStore, today: dt.date) -> int | None:
    """The emails SendGrid may still send on `today` (settings' time zone) under
    `sendgrid_emails_per_day`, each recipient counted; None when no daily limit applies."""
    limit = settings.quotas["sendgrid_emails_per_day"]
    if settings.mail.backend != "sendgrid" or not limit:
        return None
    start = dt.datetime.combine(today, dt.time(0), tzinfo=settings.timezone)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), tzinfo=settings.timezone)
    return max(0, limit - state.recipients_sent("sendgrid", start, end))


def mail_limit_note(settings: Settings, today: dt.date, waiting: int) -> str:
    """Why `waiting` messages stay queued: the day's SendGrid limit is reached (French, for the
    Journal, the summary and the coordinator's digest)."""
    limit = settings.quotas["sendgrid_emails_per_day"]
    left = f"{nombre(waiting)} message{'s' if waiting > 1 else ''} en attente"
    return (f"{MAIL_NOTE_START} (quota SendGrid) : la limite de {nombre(limit)} emails par jour est atteinte "
            f"le {date_longue(today)} ; {left}, {'ils partiront' if waiting > 1 else 'il partira'} "
            "dès demain")


def recent_notes(state: StateStore, today: dt.date, days: int = 7) -> tuple[str, ...]:
    """The budget notes of the runs of the last `days` days (for the coordinator's digest), each once."""
    since = today - dt.timedelta(days=days)
    notes = [line for run in state.last_runs(500) if run["today"] > since
             for line in (run["detail"] or "").splitlines() if line.startswith((NOTE_START, MAIL_NOTE_START))]
    return tuple(dict.fromkeys(reversed(notes)))


def usage_lines(settings: Settings, state: StateStore, today: dt.date) -> list[str]:
    """`cantines status`: this month's calls per provider, against the budget when one is set."""
    used = state.calls(month_of(today))
    lines = []
    for provider, count in sorted(used.items()):
        option, label = BUDGETS.get(provider, ("", provider))
        budget = settings.quotas[option] if option else 0
        if provider == "sendgrid":
            label, what = "SendGrid", "email(s) envoyé(s)"
        else:
            what = "appel(s)"
        lines.append(f"  {label} : {nombre(count)} {what}" + (f" sur un budget de {nombre(budget)} par mois" if budget else ""))
    left = emails_left_today(settings, state, today)
    if left is not None:
        limit = settings.quotas["sendgrid_emails_per_day"]
        lines.append(f"  SendGrid aujourd'hui : {nombre(limit - left)} email(s) sur une limite de {nombre(limit)} par jour")
    return lines or ["  aucun appel compté"]
