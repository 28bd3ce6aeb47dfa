"""`cantines status`: what the worker did, what it will do next, and what is waiting."""

from __future__ import annotations

import datetime as dt

from automations.cycle.backends import open_state_if_present
from automations.domain.envois import counts_by_state, describe_counts, envois, retention_start
from automations.domain.french import pluriel
from automations.cycle.quotas import usage_lines
from automations.settings import Settings
from connectors.state import StateStore
from automations.worker import job_specs, latest_due, next_due


def _local(value: dt.datetime | None, settings: Settings) -> str:
    return value.astimezone(settings.timezone).strftime("%d/%m/%Y %H:%M") if value else "—"


def message_lines(state: StateStore, settings: Settings, now: dt.datetime) -> list[str]:
    """The messages as the Envois table shows them: the same rows (sent ones within the retention),
    the same states, reasons and what to do."""
    today = now.astimezone(settings.timezone).date()
    days = settings.envois.retention_days
    items = envois(state.entries(sent_since=retention_start(today, days, settings.timezone)), settings.timezone)
    counts = counts_by_state(items)
    lines = [
        "Messages (comme dans la table Envois) : "
        + describe_counts(counts)
        + f" (ceux envoyés ces {days} derniers jours)"
    ]
    for item in items:
        if item.to_handle:
            lines.append(
                f"  {item.state.lower()} : « {item.subject} » à {', '.join(item.recipients)}, mis en file le "
                f"{item.queued_on.strftime('%d/%m/%Y')} — {item.reason} ; que faire : {item.what_to_do} "
                f"(ou `cantines release {item.key}`)"
            )
    return lines


def format_status(settings: Settings, now: dt.datetime) -> str:
    """A few lines for a person checking that the worker runs."""
    state = open_state_if_present(settings)
    lines = [f"État au {_local(now, settings)} ({settings.network.timezone})"]
    if state is None:
        lines.append("  Aucun cycle n'a encore tourné (pas de base d'état).")
        for spec in job_specs(settings):
            lines.append(f"  Prochain « {spec.name} » : {_local(next_due(spec, now, settings.timezone), settings)}")
        return "\n".join(lines)
    try:
        lines.append("Tâches :")
        for spec in job_specs(settings):
            last = state.last_success(spec.name, or_counted=spec.counted)
            due = latest_due(spec, now, settings.timezone)
            late = due is not None and (last is None or last < due)
            lines.append(
                f"  {spec.name} : dernier succès {_local(last, settings)}, prochaine échéance "
                f"{_local(next_due(spec, now, settings.timezone), settings)}"
                + (" (en retard : sera lancée au démarrage du worker)" if late else "")
            )
        lines.append("Derniers cycles :")
        runs = state.last_runs(10)
        if not runs:
            lines.append("  aucun")
        for run in runs:
            counts = run["counts"] or {}
            lines.append(
                f"  {_local(run['started_at'], settings)} {run['job']} ({run['today'].strftime('%d/%m/%Y')}) : "
                f"{run['result'] or 'en cours ou interrompu'} — {pluriel(counts.get('envoyes', 0), 'envoyé')}, "
                f"{pluriel(counts.get('problemes', 0), 'problème')}"
                + (f" — {run['detail'].splitlines()[0]}" if run["detail"] else "")
            )
        lines.extend(message_lines(state, settings, now))
        lines.append(f"Appels aux API en {now.astimezone(settings.timezone).strftime('%m/%Y')} :")
        lines.extend(usage_lines(settings, state, now.astimezone(settings.timezone).date()))
        holder = state.lock_holder("cycle")
        lines.append(f"Verrou : {'tenu par ' + holder if holder else 'libre'}")
    finally:
        state.close()
    return "\n".join(lines)
