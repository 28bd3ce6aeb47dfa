"""The daily import of Aides-territoires aids into Opportunités, through the sync engine.

New aids become rows (Statut veille « À qualifier », Source « Aides-territoires »); an aid updated
on Aides-territoires rewrites only the columns the import owns, and only those a person has not
edited since (their edit is kept); nothing is ever deleted: an aid that vanished or expired stays.
Aids already expired are not created. A financer missing from Partenaires is added (« Identifié »).
With `network_only`, the aids of a commune or an EPCI are placed in the département whose query gave
them, and those outside the network's départements are left out (counted, not reported as problems).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from connectors.aides_territoires import AidesTerritoiresClient
from connectors.tables.base import Table
from connectors.tables.memory import MemoryTable

from automations.domain.aides import OWNED_COLUMNS, SOURCE, TERRITORIES, MappedAid, is_local, map_aid
from automations.domain.french import accord
from automations.domain.model import DataProblem
from automations.domain.reference import Departement, fold
from automations.settings import Settings, load_import_config
from automations.cycle.sync import SyncResult, run_sync
from automations.domain.syncs import SyncSpec
from automations.cycle.writeback import write_tolerantly

SYNC_NAME = "aides-territoires"
KEY = ("Source", "Identifiant source")


@dataclass
class ImportResult:
    fetched: int = 0
    expired_skipped: int = 0
    outside_skipped: int = 0  # commune and EPCI aids outside the network's départements
    partners_added: list[str] = field(default_factory=list)
    sync: SyncResult | None = None
    problems: list[DataProblem] = field(default_factory=list)


def unique_titles(mapped: list[MappedAid], existing: Iterable[tuple[str, str | None]]) -> None:
    """Opportunities are named by their Titre (Candidatures link to it): a title another row already
    has gets the aid's number, « (Aides-territoires n° 1234) »."""
    holders: dict[str, set[str | None]] = {}
    for title, source_id in existing:
        holders.setdefault(title, set()).add(source_id)
    titles = Counter(m.title for m in mapped)
    for aid in mapped:
        title = aid.title
        others = holders.get(title, set()) - {aid.source_id}  # rows with this title that are not this aid
        if titles[title] > 1 or others:
            aid.values["Titre"] = f"{title} (Aides-territoires n° {aid.source_id})"


def import_aides(
    settings: Settings, tables: dict[str, Table], client: AidesTerritoiresClient, today: dt.date,
    snapshot: dict[str, dict[str, Any]] | None,
) -> ImportResult:
    """Fetch the aids of the configured query and write them into Opportunités."""
    config = load_import_config(settings)
    result = ImportResult()
    mapped: list[MappedAid] = []
    fetched = fetch_aids(settings, tables, client, dict(config.query), result)
    for aid, departements in fetched.aids:
        result.fetched += 1
        one = map_aid(aid, settings.reference, config.category_themes, today,
                      perimeter_territories=config.perimeter_territories, departements=departements)
        if fetched.territory is not None and is_local(aid) and not fetched.territory & set(one.values[TERRITORIES]):
            result.outside_skipped += 1  # a commune's or an EPCI's aid elsewhere: not for the network
            continue
        mapped.append(one)
    opportunites = tables["opportunites"]
    existing = [(r.fields.get("Titre"), r.fields.get("Identifiant source")) for r in opportunites.read()
                if r.fields.get("Titre")]
    known_ids = {source_id for _t, source_id in existing if source_id}
    fresh = [m for m in mapped if not (m.expired and m.source_id not in known_ids)]
    result.expired_skipped = len(mapped) - len(fresh)
    unique_titles(fresh, [(str(t), s and str(s)) for t, s in existing])
    for aid in fresh:
        for problem in aid.problems:
            result.problems.append(DataProblem(
                "Opportunités", aid.title, getattr(problem, "column", "") or "", str(getattr(problem, "value", "") or ""),
                f"import Aides-territoires : {problem}",
            ))
    result.partners_added = add_partners(tables["partenaires"], fresh, result)
    spec = settings.schema["opportunites"]
    source = MemoryTable(spec, timezone=settings.timezone)
    source.create([{c: aid.values.get(c) for c in OWNED_COLUMNS} for aid in fresh])
    sync = SyncSpec(
        name=SYNC_NAME, key=KEY, columns={c: c for c in OWNED_COLUMNS},
        create_only={"Statut veille": "À qualifier"}, report_edits=False,
    )
    result.sync = run_sync(sync, source, opportunites, snapshot, source_label=SOURCE)
    result.problems.extend(result.sync.problems)
    return result


def network_departements(settings: Settings, tables: dict[str, Table]) -> list[Departement]:
    """The départements where the network has cantines (open or in preparation)."""
    found: dict[str, Departement] = {}
    for row in tables["cantines"].read(["Département", "Statut"]):
        if row.fields.get("Statut") == "Fermée" or not row.fields.get("Département"):
            continue
        departement = settings.reference.departement(str(row.fields["Département"]))
        if departement is not None:
            found[departement.code] = departement
    return sorted(found.values(), key=lambda d: d.code)


@dataclass
class FetchedAids:
    """The aids read, each with the network départements whose query gave it; `territory`: the codes of
    the network's départements when the import reads only their aids (None: the query as configured)."""

    aids: list[tuple[dict[str, Any], tuple[str, ...]]] = field(default_factory=list)
    territory: frozenset[str] | None = None


def fetch_aids(
    settings: Settings, tables: dict[str, Table], client: AidesTerritoiresClient, query: dict[str, Any],
    result: ImportResult,
) -> FetchedAids:
    """The aids of the query, in the network's territory: one query per département where there are
    cantines (Aides-territoires answers, for a perimeter, the aids of the perimeters it lies in, national
    and régional ones, and of those inside it, its communes and EPCIs), each aid once, with the
    départements that gave it. Without `network_only`, or when the query names its own perimeter, the
    query as it is."""
    fetched = FetchedAids()
    if not settings.aides_territoires.network_only or "perimeter_id" in query:
        fetched.aids = [(aid, ()) for aid in client.aids(**query)]
        return fetched
    departements = network_departements(settings, tables)
    fetched.territory = frozenset(d.code for d in departements)
    found: dict[Any, tuple[dict[str, Any], list[str]]] = {}
    unplaced: list[str] = []
    for departement in departements:
        # `q` alone would also find every commune whose name holds it ("Ain": Saint-…): ask for départements
        perimeter = next((p for p in client.perimeters(departement.name, scale="department")
                          if fold(str(p.get("scale") or "")) == "departement"
                          and str(p.get("code")) == departement.code), None)
        if perimeter is None:
            unplaced.append(departement.label)
            continue
        for aid in client.aids(**query, perimeter_id=perimeter["id"]):
            found.setdefault(aid.get("id"), (aid, []))[1].append(departement.code)
    if unplaced:  # better too many aids than missing those of a département
        result.problems.append(DataProblem(
            "Opportunités", "", "", ", ".join(unplaced),
            f"import Aides-territoires : {accord(len(unplaced), 'département introuvable')} dans les périmètres "
            "d'Aides-territoires ; "
            "toutes les aides de la requête ont été lues pour ne rien manquer (celles d'une commune ou d'une "
            "intercommunalité hors des départements du réseau sont ignorées)",
        ))
        for aid in client.aids(**query):
            found.setdefault(aid.get("id"), (aid, []))
    fetched.aids = [(aid, tuple(codes)) for aid, codes in found.values()]
    return fetched


def add_partners(partenaires: Table, aids: list[MappedAid], result: ImportResult) -> list[str]:
    """Financers not yet in Partenaires, added so that the Partenaire links of the aids hold."""
    known = {str(r.fields.get("Nom") or "").strip().casefold() for r in partenaires.read()}
    missing: dict[str, None] = {}
    for aid in aids:
        name = aid.values.get("Partenaire")
        if name and str(name).strip().casefold() not in known:
            missing[str(name).strip()] = None
    rows = [{"Nom": name, "Statut": "Identifié", "Notes": "Financeur ajouté par l'import Aides-territoires."}
            for name in missing]

    def refused(row: dict[str, Any], exc: Exception) -> None:
        result.problems.append(DataProblem("Partenaires", row["Nom"], "Nom", row["Nom"], f"ajout refusé : {exc}"))

    write_tolerantly(partenaires.create, rows, refused)
    return list(missing)
