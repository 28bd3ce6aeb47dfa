"""A declared sync between two tables: which columns it carries, its key, its mode and which side
owns each column. Pure values; `automations.cycle.sync` runs them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.tables.base import Value

SOURCE, TARGET = "source", "target"
UPSERT, MIRROR = "upsert", "mirror"


@dataclass(frozen=True)
class SyncSpec:
    """One declared sync (validated from the settings)."""

    name: str  # stable: snapshots are kept under it
    key: tuple[str, ...]  # target column names
    columns: Mapping[str, str]  # target column → source column
    constants: Mapping[str, Value] = field(default_factory=dict)  # target column → value
    where: Mapping[str, Value] = field(default_factory=dict)  # source column → value (rows kept)
    mode: str = UPSERT
    owners: Mapping[str, str] = field(default_factory=dict)  # target column → "source" | "target"
    create_only: Mapping[str, Value] = field(default_factory=dict)  # set on new target rows, then left alone
    report_edits: bool = True  # report an edit on the side that does not own a column (else keep it quietly)

    def owner(self, column: str) -> str:
        return self.owners.get(column, SOURCE)
