"""Read the files the settings name (the table schema, the reference data, the reminder rules, the
Aides-territoires mapping) and hand their contents to the domain, which checks them."""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path
from typing import Any

from connectors.errors import ConfigurationError

from automations.domain.reference import Reference, reference_from_rows
from automations.domain.rules import Rule, rules_from_toml
from automations.domain.schema import Schema, schema_from_toml


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file's contents, or one configuration problem naming the file."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{what} not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: invalid TOML: {exc}") from None


def load_schema(path: Path) -> Schema:
    """Read and check the schema file; every problem is reported at once."""
    return schema_from_toml(read_toml(path, "schema file"), path.name)


def load_rules(path: Path, templates: Path) -> tuple[Rule, ...]:
    """Read and check every reminder rule; each problem is one line naming the rule and the key."""
    emails = templates / "emails"
    return rules_from_toml(
        read_toml(path, "reminder rules"), path.name,
        template_exists=lambda name: (emails / name / "subject.txt").is_file(), templates_label=str(emails),
    )


def load_reference(path: Path) -> Reference:
    """Read `departements.csv` (code, nom, region)."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise ConfigurationError(f"reference data not found: {path}") from None
    return reference_from_rows(rows, path.name)
