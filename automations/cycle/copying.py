"""`cantines copy`: every table of one deployment into another, through the sync engine."""

from __future__ import annotations

from collections.abc import Iterator

from automations.cycle.backends import ensure_schemas, open_tables
from automations.domain.model import DOMAIN_TABLES
from automations.domain.french import pluriel
from automations.settings import Settings
from automations.cycle.sync import run_sync
from automations.domain.syncs import SyncSpec


def copy_deployment(source: Settings, target: Settings) -> Iterator[str]:
    """Copy the tables in link order (a linked row exists before the rows naming it); French lines
    saying what was done. Only cells that differ are written: a second copy writes nothing."""
    lines, target_tables = ensure_schemas(target)
    yield from lines
    source_tables = open_tables(source)
    order = [*DOMAIN_TABLES, *(code for code in target.schema if code not in DOMAIN_TABLES)]
    for code in order:
        if code not in source.schema or code not in target.schema:
            continue
        spec = target.schema[code]
        columns = [c for c in spec.column_names if c in source.schema[code].column_names]
        sync = SyncSpec(name=f"copy:{code}", key=spec.key, columns={c: c for c in columns})
        result = run_sync(sync, source_tables[code], target_tables[code], None, source_label=source.schema[code].name)
        for problem in result.problems:
            yield f"  {problem}"
        yield (f"{spec.name} : {pluriel(result.created, 'ligne créée')}, {pluriel(result.updated, 'mise à jour')}, "
               f"{pluriel(result.unchanged, 'identique')}")
