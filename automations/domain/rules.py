"""Reminder rules, as read from a TOML file (`config/reminders.toml` by default) and checked at start."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.errors import ConfigurationError

SOURCES = ("echeances", "budgets", "candidatures", "correspondances", "partenaires", "conventions", "questions")
RECIPIENTS = ("responsable", "cantine", "coordinator", "partner_owner")
RULE_KEYS = {
    "id", "source", "offsets", "recipients", "template", "types", "statuses", "business_days", "calendar",
    "description",
}


@dataclass(frozen=True)
class Rule:
    """One kind of reminder: what it watches, when it fires, to whom, with which template.

    `offsets` are days relative to the item's date, negative before it (-7: a week ahead), positive
    after it (+1: a day late); in business days when `business_days` is true. `statuses` narrows the
    items kept alive (for échéances: types; for others: the statuses that still need a reminder).
    """

    id: str
    source: str
    offsets: tuple[int, ...]
    recipients: tuple[str, ...]
    template: str
    types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    business_days: bool = False
    calendar: bool = True  # attach an .ics for the date
    description: str = ""


def rules_from_toml(
    raw: Mapping[str, Any], source: str, *, template_exists: Callable[[str], bool], templates_label: str
) -> tuple[Rule, ...]:
    """Check every rule as read from its file; each problem is one line naming the rule and the key."""
    problems: list[str] = []
    rules: list[Rule] = []
    ids: set[str] = set()
    for number, entry in enumerate(raw.get("rules", []), start=1):
        where = f"{source}: rule {number} ({entry.get('id', '?')})"
        for key in sorted(set(entry) - RULE_KEYS):
            problems.append(f"{where}: unknown key '{key}'")
        rule_id = entry.get("id")
        if not isinstance(rule_id, str) or not rule_id:
            problems.append(f"{where}: 'id' is required")
            continue
        if rule_id in ids:
            problems.append(f"{where}: id '{rule_id}' is used twice")
        ids.add(rule_id)
        if entry.get("source") not in SOURCES:
            problems.append(f"{where}: source must be one of {', '.join(SOURCES)}")
        offsets = entry.get("offsets")
        if not isinstance(offsets, list) or not offsets or not all(type(o) is int for o in offsets):
            problems.append(f"{where}: offsets must be a non-empty list of whole numbers of days")
            offsets = []
        recipients = entry.get("recipients", [])
        unknown = [r for r in recipients if r not in RECIPIENTS]
        if not recipients or unknown:
            problems.append(f"{where}: recipients must be some of {', '.join(RECIPIENTS)}")
        template = entry.get("template", "")
        if not template_exists(str(template)):
            problems.append(f"{where}: template '{template}' not found in {templates_label}")
        rules.append(
            Rule(
                id=rule_id, source=str(entry.get("source")), offsets=tuple(sorted(set(offsets))),
                recipients=tuple(recipients), template=str(template), types=tuple(entry.get("types", ())),
                statuses=tuple(entry.get("statuses", ())), business_days=bool(entry.get("business_days", False)),
                calendar=bool(entry.get("calendar", True)), description=str(entry.get("description", "")),
            )
        )
    if problems:
        raise ConfigurationError(problems)
    return tuple(rules)
