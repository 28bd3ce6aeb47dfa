"""The Envois table: what the worker queued and what became of it, and the staff's « Relancer » box.

Read once per cycle (before the messages are computed, so that a relaunched message is delivered
by the same cycle and left out of the coordinator's list), written once after delivery: only the
rows whose cells differ, upserted by the message key, then the sent rows past the retention
deleted. Staff own only « Relancer »; anything else they type is put back by the next run.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email import policy

from connectors.errors import CantinesError
from connectors.mail import OutgoingMessage, build_message
from connectors.state import StateStore
from connectors.tables.base import Row, Table, comparable

from automations.domain.envois import TO_HANDLE, Envoi, envoi, envois, retention_start
from automations.domain.model import DataProblem
from automations.domain.parsing import ValueProblem, parse_bool

log = logging.getLogger(__name__)

TICK = "Relancer"
# Rebuilds the message queued under a key on a day from today's tables; None if they no longer make it.
Rebuild = Callable[[str, dt.date], OutgoingMessage | None]


@dataclass
class EnvoisStep:
    """The Envois table as read at the start of delivery, and what its boxes asked for."""

    table: Table
    rows: list[Row]
    relaunched: list[str] = field(default_factory=list)
    rebuilt: list[str] = field(default_factory=list)
    problems: list[DataProblem] = field(default_factory=list)

    @property
    def ticked(self) -> list[Row]:
        return [row for row in self.rows if is_ticked(row.fields.get(TICK))]


def is_ticked(value: object) -> bool:
    """A box as staff tick it: a real checkbox, or oui, x, vrai, 1 typed in the cell."""
    try:
        return parse_bool(value)
    except ValueProblem:  # anything else is not a request; the next write clears it
        return False


def read_envois(table: Table | None, errors: list[str]) -> EnvoisStep | None:
    """Read the table once; one that cannot be read is reported and the run goes on without it."""
    if table is None:
        return None
    try:
        return EnvoisStep(table, table.read())
    except CantinesError as exc:
        errors.append(f"{table.spec.name} : lecture impossible, aucun message relancé ni état mis à jour : {exc}")
        log.info("cannot read table %s: %s", table.spec.name, exc)
        return None


def relaunch(step: EnvoisStep, state: StateStore, rebuild: Rebuild, *, now: dt.datetime, timezone: dt.tzinfo) -> None:
    """Put back in the queue each held or refused message whose « Relancer » box is ticked: rebuilt
    from today's tables when they still make it (a corrected address is used), as it was otherwise."""
    ticked = step.ticked
    if not ticked:
        return
    wanted = {str(row.fields.get("Clé") or "").strip() for row in ticked}
    records = {e["idempotency_key"]: e for e in state.entries() if e["idempotency_key"] in wanted}
    for row in ticked:
        key = str(row.fields.get("Clé") or "").strip()
        record = records.get(key)
        item = envoi(record, timezone) if record is not None else None
        if item is None or item.state not in TO_HANDLE:
            shown = item.state.lower() if item is not None else "inconnu du worker"
            step.problems.append(DataProblem(
                step.table.spec.name, str(row.fields.get("Objet") or key), TICK, "oui",
                f"« Relancer » ne vaut que pour un message retenu ou en échec ; celui-ci est {shown} : "
                "rien n'a été renvoyé, la case a été décochée",
            ))
            continue
        rebuilt = rebuild(key, item.queued_on)
        if rebuilt is not None:
            message = build_message(rebuilt, date=now).as_bytes(policy=policy.SMTP)
            done = state.requeue(key, recipients=rebuilt.recipients, subject=rebuilt.subject, message=message)
            if done:
                step.rebuilt.append(key)
        else:  # the tables no longer make it (a draft, an item since changed): sent as it was
            done = state.release([key]) == 1
        if done:
            step.relaunched.append(key)
            log.info("message %s relaunched from the Envois table%s", key, " (rebuilt)" if rebuilt else "")


def to_handle(state: StateStore, timezone: dt.tzinfo) -> list[Envoi]:
    """The messages held or refused, for the coordinator's digest and `cantines status`."""
    return [item for item in envois(state.entries(), timezone) if item.to_handle]


@dataclass
class EnvoisWritten:
    written: int = 0
    deleted: int = 0


def write_envois(step: EnvoisStep, state: StateStore, *, today: dt.date, retention_days: int,
                 timezone: dt.tzinfo) -> EnvoisWritten:
    """Bring the table to what the state store says: upsert the rows that differ (ticked boxes
    cleared), then delete the rows of messages sent before the retention. Rows staff added for
    keys the worker never queued are left alone."""
    items: list[Envoi] = envois(state.entries(sent_since=retention_start(today, retention_days, timezone)), timezone)
    wanted: dict[str, dict[str, object]] = {item.key: item.row() for item in items}
    by_key: dict[str, Row] = {}
    for row in step.rows:
        by_key.setdefault(str(comparable(row.fields.get("Clé")) or ""), row)
    clear: list[tuple[str, Mapping[str, object]]] = []
    for key, row in by_key.items():
        if row.fields.get(TICK) not in (None, False, ""):
            if key in wanted:
                wanted[key][TICK] = False
            else:
                clear.append((row.id, {TICK: False}))
    table = step.table
    result = table.upsert(list(wanted.values()), table.spec.key)
    done = EnvoisWritten(written=result.written)
    gone = [key for key in by_key if key and key not in wanted]
    past = state.known_keys(gone) if gone else set()  # queued once, now sent before the retention
    clear = [(row_id, values) for row_id, values in clear if not any(by_key[k].id == row_id for k in past)]
    if clear:
        done.written += table.update(clear)
    if past:  # last: on a workbook, deleting shifts the rows below
        done.deleted = table.delete([by_key[key].id for key in past])
    return done
