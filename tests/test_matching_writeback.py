"""Matches, suggestions and offer proposals written back: staff columns survive, nothing is lost,
a second run with the same data writes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automations.demo import write_demo_workbook
from automations.domain.model import Dataset, OfferRollout, PartnerOffer
from automations.domain.offers import propose_offers
from automations.cycle.run import RunReport, compute_matching, run_cycle, write_matching
from automations.settings import Settings, load_settings
from automations.cycle.writeback import write_tolerantly
from connectors.errors import InvalidValueError
from connectors.tables.base import ColumnSpec, TableSpec
from connectors.tables.memory import MemoryTable
from connectors.tables.workbook import WorkbookStore

from .conftest import PARIS, REPO
from .test_matching import REFERENCE, THEMES, cantine
from .test_matching import opportunity as opportunity_on

TODAY = dt.date(2026, 11, 24)


def opportunity(*args: object, **changes: object):  # type: ignore[no-untyped-def]
    """An opportunity due two months after this module's TODAY."""
    return opportunity_on(*args, **{"deadline": TODAY + dt.timedelta(days=60), **changes})  # type: ignore[arg-type]
DEMO_SETTINGS = load_settings(REPO / "config" / "demo.toml", {})


def memory_tables(settings: Settings) -> dict[str, MemoryTable]:
    return {code: MemoryTable(spec) for code, spec in settings.schema.items()}


def write(dataset: Dataset, tables: dict[str, MemoryTable], today: dt.date = TODAY) -> RunReport:
    report = RunReport(today=today, started_at=dt.datetime(2026, 11, 24, 7, 30, tzinfo=PARIS))
    outcome = compute_matching(DEMO_SETTINGS, dataset, today, report)
    write_matching(DEMO_SETTINGS, tables, outcome, today, report)  # type: ignore[arg-type]
    return report


datasets = st.builds(
    lambda depts, themes, territories: Dataset(
        cantines=[cantine(f"Cantine {i}", d, themes=tuple(t)) for i, (d, t) in enumerate(zip(depts, themes))],
        opportunites=[opportunity(f"Opportunité {i}", (terr,), themes=("Lien social",), collective=i % 2 == 0)
                      for i, terr in enumerate(territories)],
    ),
    st.lists(st.sampled_from([d.code for d in REFERENCE.departements]), min_size=1, max_size=8),
    st.lists(st.lists(st.sampled_from(THEMES), max_size=3), min_size=8, max_size=8),
    st.lists(st.sampled_from(["France", "Bretagne", "69", "Corse", "974", "Île-de-France"]), min_size=1, max_size=6),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dataset=datasets)
def test_two_runs_on_the_same_data_write_the_same_rows_and_the_second_writes_nothing(dataset: Dataset) -> None:
    tables = memory_tables(DEMO_SETTINGS)
    first = write(dataset, tables)
    snapshot = {code: [dict(r.fields) for r in t.read()] for code, t in tables.items()}
    calls = {code: t.write_calls for code, t in tables.items()}
    second = write(dataset, tables)
    assert second.rows_written == 0
    assert {code: t.write_calls for code, t in tables.items()} == calls
    assert {code: [dict(r.fields) for r in t.read()] for code, t in tables.items()} == snapshot
    assert len(tables["correspondances"].rows) == len(first.matches)
    france = any(t.kind == "france" for o in dataset.opportunites for t in o.territories)
    if france and any("Lien social" in c.themes for c in dataset.cantines):
        assert first.matches  # the property is not vacuous: these data do match


def test_staff_columns_survive_and_stale_matches_are_marked_not_deleted() -> None:
    tables = memory_tables(DEMO_SETTINGS)
    canuts = cantine(themes=("Lien social",))
    opp = opportunity(themes=("Lien social",))
    write(Dataset(cantines=[canuts], opportunites=[opp]), tables)
    (row_id, fields), = tables["correspondances"].rows.items()
    assert fields["Statut"] == "Proposée" and fields["Proposée le"] == TODAY and fields["État"] == "Active"
    tables["correspondances"].rows[row_id].update({"Statut": "Intéressée", "Commentaire": "On se lance !"})

    later = TODAY + dt.timedelta(days=7)
    set_aside = opportunity(themes=("Lien social",), watch_status="Écartée")
    write(Dataset(cantines=[canuts], opportunites=[set_aside]), tables, later)
    (fields,) = tables["correspondances"].rows.values()
    assert fields["État"] == "Opportunité écartée"
    assert (fields["Statut"], fields["Commentaire"]) == ("Intéressée", "On se lance !")
    assert fields["Proposée le"] == TODAY and fields["Mise à jour le"] == later

    write(Dataset(cantines=[canuts], opportunites=[opp]), tables, later + dt.timedelta(days=1))
    (fields,) = tables["correspondances"].rows.values()
    assert fields["État"] == "Active" and fields["Statut"] == "Intéressée"  # back, comment still there


def test_score_changes_update_worker_columns_only() -> None:
    tables = memory_tables(DEMO_SETTINGS)
    canuts = cantine(themes=("Lien social",))
    write(Dataset(cantines=[canuts], opportunites=[opportunity(themes=("Lien social",))]), tables)
    (row_id, _), = tables["correspondances"].rows.items()
    tables["correspondances"].rows[row_id]["Commentaire"] = "à voir"
    richer = cantine(themes=("Lien social", "Culture"))
    write(Dataset(cantines=[richer], opportunites=[opportunity(themes=("Lien social", "Culture"))]), tables)
    (fields,) = tables["correspondances"].rows.values()
    assert "Culture" in fields["Raisons"] and fields["Commentaire"] == "à voir"


def offer(name: str = "Dons de pain", places: int | None = 2, territories: tuple[str, ...] = ("France",), **changes: object) -> PartnerOffer:
    values: dict[str, object] = dict(
        name=name, partner="Levain d'Or", places=places, status="Ouverte",
        territories=tuple(REFERENCE.territory(t) for t in territories),
        starts_on=TODAY - dt.timedelta(days=10), ends_on=TODAY + dt.timedelta(days=100),
    )
    values.update(changes)
    return PartnerOffer(**values)  # type: ignore[arg-type]


def test_offers_respect_places_territory_and_never_repeat() -> None:
    cantines = [cantine("A", "69"), cantine("B", "13"), cantine("C", "69"), cantine("D", "69", status="En montage")]
    rollouts = [OfferRollout(offer="Dons de pain", cantine="A", status="Déclinée")]
    dataset = Dataset(cantines=cantines, offres=[offer(places=2, territories=("Rhône",))], declinaisons=rollouts)
    proposals = propose_offers(dataset, TODAY)
    assert [p.cantine.name for p in proposals] == ["C"]  # A declined already (never twice), B elsewhere, D not open
    full = Dataset(cantines=cantines, offres=[offer(places=1)],
                   declinaisons=[OfferRollout(offer="Dons de pain", cantine="B", status="Proposée")])
    assert propose_offers(full, TODAY) == []


def test_an_offer_whose_declinaisons_exceed_its_places_is_proposed_to_no_one() -> None:
    cantines = [cantine(n, "69") for n in "ABCDEFGH"]
    taken = [OfferRollout(offer="Dons de pain", cantine=n, status="Acceptée") for n in "ABC"]
    dataset = Dataset(cantines=cantines, offres=[offer(places=1)], declinaisons=taken)
    assert propose_offers(dataset, TODAY) == []  # free places 1 - 3 is none, not "all but the last two"


@settings(max_examples=150, deadline=None)
@given(
    places=st.none() | st.integers(min_value=0, max_value=12),
    statuses=st.lists(st.sampled_from(["Proposée", "Acceptée", "Déclinée", "Réalisée", None]), max_size=12),
    open_count=st.integers(min_value=0, max_value=12),
)
def test_an_offer_is_never_proposed_beyond_its_free_places(
    places: int | None, statuses: list[str | None], open_count: int
) -> None:
    cantines = [cantine(f"C{i}", "69") for i in range(open_count)]
    rollouts = [OfferRollout(offer="Dons de pain", cantine=f"R{i}", status=s) for i, s in enumerate(statuses)]
    dataset = Dataset(cantines=cantines, offres=[offer(places=places)], declinaisons=rollouts)
    proposals = propose_offers(dataset, TODAY)
    taken = sum(1 for s in statuses if s != "Déclinée")
    limit = open_count if places is None else max(0, min(open_count, places - taken))
    assert len(proposals) == limit
    assert len({p.cantine.name for p in proposals}) == len(proposals)


def test_offers_go_first_to_cantines_that_benefited_least_recently() -> None:
    cantines = [cantine(n, "69") for n in ("A", "B", "C", "D")]
    history = [
        OfferRollout(offer="Ancienne", cantine="A", status="Réalisée", planned_on=TODAY - dt.timedelta(days=10)),
        OfferRollout(offer="Ancienne", cantine="B", status="Réalisée", planned_on=TODAY - dt.timedelta(days=300)),
        OfferRollout(offer="Ancienne", cantine="C", status="Déclinée", planned_on=TODAY - dt.timedelta(days=5)),
    ]
    dataset = Dataset(cantines=cantines, offres=[offer(places=3), offer("Ateliers", places=2)], declinaisons=history)
    proposals = [(p.offer.name, p.cantine.name) for p in propose_offers(dataset, TODAY)]
    # C and D never benefited (a declined offer is no benefit), then B (long ago), then A (recently);
    # the second offer goes to those the first one did not serve.
    assert proposals == [
        ("Ateliers", "C"), ("Ateliers", "D"), ("Dons de pain", "B"), ("Dons de pain", "A"), ("Dons de pain", "C"),
    ]


def test_closed_or_out_of_date_offers_are_not_proposed() -> None:
    cantines = [cantine()]
    for stale in (offer(status="Fermée"), offer(ends_on=TODAY - dt.timedelta(days=1)), offer(starts_on=TODAY + dt.timedelta(days=1))):
        assert propose_offers(Dataset(cantines=cantines, offres=[stale]), TODAY) == []


def test_demo_cycle_writes_matches_with_reasons_and_keeps_staff_edits(settings: Settings) -> None:
    write_demo_workbook(settings, TODAY)
    first = run_cycle(settings, today=TODAY, clock=lambda: dt.datetime(2026, 11, 24, 7, 30, tzinfo=PARIS))
    assert first.matches and first.new_matches == len(first.matches)
    assert first.suggestions and first.offer_proposals
    book = openpyxl.load_workbook(settings.workbook.path)
    sheet = book["Correspondances"]
    header = [c.value for c in sheet[1]]
    sheet.cell(row=2, column=header.index("Statut") + 1, value="Intéressée")
    sheet.cell(row=2, column=header.index("Commentaire") + 1, value="Appeler la fondation")
    key = sheet.cell(row=2, column=header.index("Clé") + 1).value
    book.save(settings.workbook.path)

    second = run_cycle(settings, today=TODAY, clock=lambda: dt.datetime(2026, 11, 24, 8, 0, tzinfo=PARIS))
    assert second.new_matches == 0 and not second.offer_proposals  # offers are never proposed twice
    rows = WorkbookStore(settings.workbook.path, timezone=PARIS).table(settings.schema["correspondances"]).read()
    (edited,) = [r.fields for r in rows if r.fields["Clé"] == key]
    assert (edited["Statut"], edited["Commentaire"]) == ("Intéressée", "Appeler la fondation")
    assert edited["Raisons"].startswith("✓ Territoire : ")
    assert Decimal(edited["Score"]) >= 50


def test_an_offer_is_never_proposed_twice_even_when_its_row_has_a_data_problem(settings: Settings) -> None:
    write_demo_workbook(settings, TODAY)
    first = run_cycle(settings, today=TODAY, clock=lambda: dt.datetime(2026, 11, 24, 7, 30, tzinfo=PARIS))
    proposal = first.offer_proposals[0]
    book = openpyxl.load_workbook(settings.workbook.path)
    sheet = book["Déclinaisons"]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[header.index("Offre")].value == proposal.offer.name and row[header.index("Cantine")].value == proposal.cantine.name:
            row[header.index("Valeur valorisée")].value = "environ 200"  # the row is now skipped as a data problem
    book.save(settings.workbook.path)
    second = run_cycle(settings, today=TODAY, clock=lambda: dt.datetime(2026, 11, 24, 8, 0, tzinfo=PARIS))
    assert any(p.table == "Déclinaisons" for p in second.problems)
    pairs = [(r.fields["Offre"], r.fields["Cantine"])
             for r in WorkbookStore(settings.workbook.path, timezone=PARIS).table(settings.schema["declinaisons"]).read()]
    assert pairs.count((proposal.offer.name, proposal.cantine.name)) == 1
    assert len(pairs) == len(set(pairs))


class Batched(MemoryTable):
    """A memory table whose backend takes `write_batch` rows per request, all or nothing, and
    refuses any row whose Nom is « refusé »."""

    def __init__(self, spec, write_batch):  # type: ignore[no-untyped-def]
        super().__init__(spec)
        self.write_batch = write_batch
        self.sizes: list[int] = []

    def create(self, rows):  # type: ignore[no-untyped-def]
        rows = list(rows)
        self.sizes.append(len(rows))
        bad = next((r for r in rows if r.get("Nom") == "refusé"), None)
        if bad is not None:
            raise InvalidValueError("refusé", table=self.spec.name, column="Nom", value="refusé")
        return super().create(rows)


@pytest.mark.parametrize(("batch", "sizes"), [
    pytest.param(None, [25] + [1] * 25, id="workbook-or-sheets-one-call"),  # refused: then row by row
    pytest.param(10, [10, 10, 5, 1, 1, 1, 1, 1], id="airtable-10-per-request"),
])
def test_rows_are_written_in_as_few_calls_as_the_backend_takes(batch: int | None, sizes: list[int]) -> None:
    spec = TableSpec("t", "T", (ColumnSpec("Nom", "text"),), ("Nom",))
    table = Batched(spec, batch)
    rows = [{"Nom": f"ligne {i}"} for i in range(25)]
    rows[-3] = {"Nom": "refusé"}
    refused: list[object] = []
    done = write_tolerantly(table.create, rows, lambda row, _exc: refused.append(row))
    assert done == 24 and refused == [{"Nom": "refusé"}] and len(table.rows) == 24  # nothing twice
    assert table.sizes == sizes
