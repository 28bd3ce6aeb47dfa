"""The sync engine: upsert, mirror, renames, constants, ownership both ways, conflicts, duplicates."""

from __future__ import annotations

import datetime as dt

import pytest

from automations.cycle.sync import read_once, run_sync
from automations.domain.syncs import MIRROR, TARGET, SyncSpec
from connectors.tables.base import ColumnSpec, TableSpec
from connectors.errors import InvalidValueError
from connectors.tables.memory import MemoryTable

M = dt.date
SHEET = TableSpec("sheet", "Indicateurs (Lyon Vaise)", (
    ColumnSpec("Mois", "date"), ColumnSpec("Repas", "integer"), ColumnSpec("Bénévoles", "integer"),
    ColumnSpec("Remarque", "text"),
), key=("Mois",))
HUB = TableSpec("indicateurs", "Indicateurs", (
    ColumnSpec("Cantine", "link", link_table="cantines"), ColumnSpec("Mois", "date"),
    ColumnSpec("Repas servis", "integer"), ColumnSpec("Bénévoles actifs", "integer"), ColumnSpec("Commentaire", "text"),
), key=("Cantine", "Mois"))
SPEC = SyncSpec(
    name="indicateurs-lyon-vaise", key=("Cantine", "Mois"),
    columns={"Mois": "Mois", "Repas servis": "Repas", "Bénévoles actifs": "Bénévoles"},
    constants={"Cantine": "Lyon Vaise"},
)


def tables(*sheet_rows: dict, hub_rows: tuple[dict, ...] = ()) -> tuple[MemoryTable, MemoryTable]:
    sheet, hub = MemoryTable(SHEET), MemoryTable(HUB)
    sheet.create(sheet_rows)
    hub.create(hub_rows)
    sheet.write_calls = hub.write_calls = 0
    return sheet, hub


def hub_values(hub: MemoryTable) -> list[tuple]:
    return sorted((r.fields["Cantine"], r.fields["Mois"], r.fields["Repas servis"], r.fields["Bénévoles actifs"])
                  for r in hub.read())


def test_upsert_creates_renames_adds_constants_and_then_writes_nothing() -> None:
    sheet, hub = tables({"Mois": M(2026, 1, 1), "Repas": 420, "Bénévoles": 12}, {"Mois": M(2026, 2, 1), "Repas": 390, "Bénévoles": 11})
    first = run_sync(SPEC, sheet, hub, None, source_label="Lyon Vaise")
    assert (first.created, first.updated, first.problems) == (2, 0, [])
    assert hub_values(hub) == [("Lyon Vaise", M(2026, 1, 1), 420, 12), ("Lyon Vaise", M(2026, 2, 1), 390, 11)]
    calls = hub.write_calls
    second = run_sync(SPEC, sheet, hub, first.snapshot, source_label="Lyon Vaise")
    assert second.written == 0 and second.unchanged == 2 and hub.write_calls == calls


class CountingReads(MemoryTable):
    """A memory table that counts its reads."""

    reads = 0

    def read(self, columns=None):  # type: ignore[no-untyped-def]
        self.reads += 1
        return super().read(columns)


def test_syncs_into_one_table_read_it_once_and_see_each_others_writes() -> None:
    hub = CountingReads(HUB)
    hub.create([{"Cantine": "Cantine du Port", "Mois": M(2026, 1, 1), "Repas servis": 800, "Bénévoles actifs": 30},
                {"Cantine": "Lyon Vaise", "Mois": M(2026, 1, 1), "Repas servis": 1, "Bénévoles actifs": 1}])
    once, opened = read_once(hub, {}), {}
    assert read_once(hub, opened) is read_once(hub, opened)  # one per tab for the run
    results = []
    for name in ("Lyon Vaise", "Cantine du Port", "Lyon Vaise"):  # the third sees what the first wrote
        sheet = MemoryTable(SHEET)
        sheet.create([{"Mois": M(2026, 1, 1), "Repas": 420, "Bénévoles": 12}, {"Mois": M(2026, 2, 1), "Repas": 390, "Bénévoles": 11}])
        spec = SyncSpec(**{**SPEC.__dict__, "name": name, "constants": {"Cantine": name}})
        results.append(run_sync(spec, read_once(sheet, {}), once, None, source_label=name))
    assert hub.reads == 1
    assert [(r.created, r.updated, r.unchanged) for r in results] == [(1, 1, 0), (1, 1, 0), (0, 0, 2)]
    assert hub_values(hub) == [("Cantine du Port", M(2026, 1, 1), 420, 12), ("Cantine du Port", M(2026, 2, 1), 390, 11),
                               ("Lyon Vaise", M(2026, 1, 1), 420, 12), ("Lyon Vaise", M(2026, 2, 1), 390, 11)]
    once.update([(next(r.id for r in hub.read() if r.fields["Repas servis"] == 800 or r.fields["Cantine"] == "Cantine du Port"),
                  {"Cantine": "Lyon Vaise", "Mois": M(2026, 3, 1)})])  # a row moving to another scope
    assert len(once.read_where({"Cantine": "Lyon Vaise"})) == 3 and len(once.read_where({"Cantine": "Cantine du Port"})) == 1


def test_only_differing_cells_are_written_and_other_cantines_untouched() -> None:
    other = {"Cantine": "Cantine du Port", "Mois": M(2026, 1, 1), "Repas servis": 800, "Bénévoles actifs": 30}
    sheet, hub = tables({"Mois": M(2026, 1, 1), "Repas": 420, "Bénévoles": 12}, hub_rows=(other,))
    snapshot = run_sync(SPEC, sheet, hub, None, source_label="LV").snapshot
    (row_id,) = [r.id for r in sheet.read()]
    sheet.update([(row_id, {"Repas": 425})])
    result = run_sync(SPEC, sheet, hub, snapshot, source_label="LV")
    assert result.updated == 1
    (changed,) = [r for r in hub.read() if r.fields["Cantine"] == "Lyon Vaise"]
    assert changed.fields["Repas servis"] == 425
    assert ("Cantine du Port", M(2026, 1, 1), 800, 30) in hub_values(hub)


def test_mirror_deletes_rows_whose_key_left_the_source_in_its_scope_only() -> None:
    other = {"Cantine": "Cantine du Port", "Mois": M(2026, 3, 1), "Repas servis": 800}
    sheet, hub = tables({"Mois": M(2026, 1, 1), "Repas": 420}, {"Mois": M(2026, 2, 1), "Repas": 390}, hub_rows=(other,))
    mirror = SyncSpec(**{**SPEC.__dict__, "mode": MIRROR})
    snapshot = run_sync(mirror, sheet, hub, None, source_label="LV").snapshot
    february = next(r.id for r in sheet.read() if r.fields["Mois"] == M(2026, 2, 1))
    sheet.delete([february])
    result = run_sync(mirror, sheet, hub, snapshot, source_label="LV")
    assert result.deleted == 1
    assert [v[:2] for v in hub_values(hub)] == [("Cantine du Port", M(2026, 3, 1)), ("Lyon Vaise", M(2026, 1, 1))]
    upsert = run_sync(SPEC, MemoryTable(SHEET), hub, None, source_label="LV")
    assert upsert.deleted == 0  # upsert never deletes


def test_duplicate_keys_in_the_source_are_problems_not_crashes() -> None:
    sheet, hub = tables({"Mois": M(2026, 1, 1), "Repas": 420}, {"Mois": M(2026, 1, 1), "Repas": 999}, {"Mois": M(2026, 2, 1), "Repas": 1})
    result = run_sync(SPEC, sheet, hub, None, source_label="Lyon Vaise (classeur)")
    (problem,) = result.problems
    assert problem.table == "Lyon Vaise (classeur)" and "doublon" in problem.message
    assert hub_values(hub)[0][2] == 420 and result.created == 2


TWO_WAY = SyncSpec(
    name="correspondances-lyon-vaise", key=("Cantine", "Mois"),
    columns={"Mois": "Mois", "Repas servis": "Repas", "Commentaire": "Remarque"},
    constants={"Cantine": "Lyon Vaise"}, owners={"Commentaire": TARGET},
)


def test_two_way_each_column_flows_from_its_owner() -> None:
    sheet, hub = tables({"Mois": M(2026, 1, 1), "Repas": 420})
    snapshot = run_sync(TWO_WAY, sheet, hub, None, source_label="LV").snapshot
    (hub_row,) = hub.read()
    hub.update([(hub_row.id, {"Commentaire": "chiffre vérifié"})])  # the hub owns Commentaire
    (sheet_row,) = sheet.read()
    sheet.update([(sheet_row.id, {"Repas": 430})])  # the sheet owns Repas
    result = run_sync(TWO_WAY, sheet, hub, snapshot, source_label="LV")
    assert result.problems == [] and result.updated == 2
    assert sheet.read()[0].fields["Remarque"] == "chiffre vérifié"
    assert hub.read()[0].fields["Repas servis"] == 430
    again = run_sync(TWO_WAY, sheet, hub, result.snapshot, source_label="LV")
    assert again.written == 0


def test_a_cell_changed_on_both_sides_is_a_conflict_and_neither_is_overwritten() -> None:
    sheet, hub = tables({"Mois": M(2026, 1, 1), "Repas": 420})
    snapshot = run_sync(SPEC, sheet, hub, None, source_label="LV").snapshot
    sheet.update([(sheet.read()[0].id, {"Repas": 430})])
    hub.update([(hub.read()[0].id, {"Repas servis": 440})])
    result = run_sync(SPEC, sheet, hub, snapshot, source_label="LV")
    (problem,) = result.problems
    assert result.conflicts == 1 and "conflit" in problem.message and "« 430 »" in problem.message and "« 440 »" in problem.message
    assert sheet.read()[0].fields["Repas"] == 430 and hub.read()[0].fields["Repas servis"] == 440
    assert result.snapshot == snapshot  # nothing agreed: the next run sees the same conflict
    sheet.update([(sheet.read()[0].id, {"Repas": 440})])  # someone sets both sides alike
    settled = run_sync(SPEC, sheet, hub, result.snapshot, source_label="LV")
    assert settled.problems == [] and settled.written == 0


def test_an_edit_on_the_side_that_does_not_own_the_column_is_reported_not_overwritten() -> None:
    sheet, hub = tables({"Mois": M(2026, 1, 1), "Repas": 420})
    snapshot = run_sync(SPEC, sheet, hub, None, source_label="LV").snapshot
    hub.update([(hub.read()[0].id, {"Repas servis": 400})])  # the hub edits what the cantine's sheet owns
    result = run_sync(SPEC, sheet, hub, snapshot, source_label="LV")
    (problem,) = result.problems
    assert "du côté qui ne possède pas la colonne" in problem.message and problem.column == "Repas servis"
    assert hub.read()[0].fields["Repas servis"] == 400  # the staff edit survives


@pytest.mark.parametrize(
    ("sheet_value", "hub_value"),
    [
        pytest.param(1.5, "1.5", id="number-and-text"),
        pytest.param(420, 420.0, id="int-and-float"),
        pytest.param(None, "", id="empty-and-blank"),
    ],
)
def test_values_equal_after_normalisation_are_not_rewritten(sheet_value: object, hub_value: object) -> None:
    spec = SyncSpec(name="n", key=("Cantine", "Mois"), columns={"Mois": "Mois", "Commentaire": "Remarque"},
                    constants={"Cantine": "LV"})
    sheet, hub = tables({"Mois": M(2026, 1, 1), "Remarque": sheet_value},
                        hub_rows=({"Cantine": "LV", "Mois": M(2026, 1, 1), "Commentaire": hub_value},))
    result = run_sync(spec, sheet, hub, None, source_label="LV")
    assert result.written == 0 and result.unchanged == 1


# -- declared in the settings, run in the cycle ------------------------------------------------

from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import openpyxl  # noqa: E402

from automations.demo import write_cantine_workbooks, write_demo_workbook  # noqa: E402
from automations.cycle.run import run_cycle  # noqa: E402
from automations.settings import Settings  # noqa: E402
from connectors.errors import ConfigurationError  # noqa: E402
from connectors.tables.workbook import WorkbookStore  # noqa: E402

from .conftest import PARIS, write_config  # noqa: E402

_DEMO = (Path(__file__).resolve().parent.parent / "config" / "demo.toml").read_text()
DEMO_SYNCS = _DEMO[_DEMO.index("[[syncs]]"):]
DAY = M(2026, 11, 24)


def demo_with_syncs(make_settings: Callable[..., Settings], extra: str = "") -> Settings:
    text = "\n".join(line for line in DEMO_SYNCS.splitlines() if not line.startswith("#"))
    text = text.replace("../demo/cantines/", "cantines/")
    settings = make_settings(extra=text + extra)
    write_demo_workbook(settings, DAY)
    write_cantine_workbooks(settings, DAY)
    return settings


def clock() -> dt.datetime:
    return dt.datetime(2026, 11, 24, 7, 30, tzinfo=PARIS)


def test_cycle_runs_the_declared_syncs_and_a_second_run_writes_nothing(make_settings: Callable[..., Settings]) -> None:
    settings = demo_with_syncs(make_settings)
    first = run_cycle(settings, today=DAY, clock=clock)
    assert [r.name for r in first.syncs] == [d.spec.name for d in settings.syncs]
    assert sum(r.created for r in first.syncs) == 3  # this month, for each of the three cantines
    # the correction made in one cantine's sheet, and the three actual amounts only La Marmite des
    # Chartrons' accounting sheet had, brought into Budgets
    assert sum(r.updated for r in first.syncs) == 4
    hub = WorkbookStore(settings.workbook.path, timezone=PARIS).table(settings.schema["budgets"]).read()
    budget = {r.fields["Libellé"]: r.fields["Montant réalisé"] for r in hub if r.fields["Convention"] == "CONV-2026-05"}
    assert budget["Salaire de la cheffe de cantine (0,8 ETP)"] == 22900 and None not in budget.values()
    hub = openpyxl.load_workbook(settings.workbook.path)["Indicateurs"]
    header = [c.value for c in hub[1]]
    months = {(r[header.index("Cantine")], r[header.index("Mois")].date()) for r in hub.iter_rows(min_row=2, values_only=True)}
    assert ("Cantine du Port", DAY.replace(day=1)) in months
    run_cycle(settings, today=DAY, clock=clock)  # brings the matches written by the first into the sheet
    third = run_cycle(settings, today=DAY, clock=clock)
    assert all(r.written == 0 for r in third.syncs)


def test_a_cantine_marks_interest_in_its_sheet_and_the_hub_follows(make_settings: Callable[..., Settings]) -> None:
    settings = demo_with_syncs(make_settings)
    run_cycle(settings, today=DAY, clock=clock)
    run_cycle(settings, today=DAY, clock=clock)
    path = settings.path.parent / "cantines" / "cantine-du-port.xlsx"
    book = openpyxl.load_workbook(path)
    sheet = book["Opportunités"]
    header = [c.value for c in sheet[1]]
    title = sheet.cell(row=2, column=header.index("Opportunité") + 1).value
    sheet.cell(row=2, column=header.index("Statut") + 1, value="Intéressée")
    book.save(path)
    report = run_cycle(settings, today=DAY, clock=clock)
    assert not [p for p in report.problems if "conflit" in p.message]
    hub = openpyxl.load_workbook(settings.workbook.path)["Correspondances"]
    header = [c.value for c in hub[1]]
    (statut,) = [r[header.index("Statut")] for r in hub.iter_rows(min_row=2, values_only=True)
                 if r[header.index("Opportunité")] == title and r[header.index("Cantine")] == "Cantine du Port"]
    assert statut == "Intéressée"


def test_a_failing_source_beside_working_ones(make_settings: Callable[..., Settings]) -> None:
    broken = '\n[[syncs]]\nname = "indicateurs-absente"\nsource = { workbook = "cantines/absente.xlsx", tab = "Indicateurs" }\n' \
             'target = "indicateurs"\nkey = ["Cantine", "Mois"]\nconstants = { Cantine = "Cantine des Forges" }\n'
    settings = demo_with_syncs(make_settings, broken)
    report = run_cycle(settings, today=DAY, clock=clock)
    assert len(report.syncs) == 5 and sum(r.created for r in report.syncs) == 3
    assert any("indicateurs-absente" in e and "absent" in e for e in report.errors)
    assert report.sent > 0 and not report.fatal


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        pytest.param('name = "x"\nsource = "indicateur"\ntarget = "indicateurs"\nkey = ["Mois"]', "unknown table 'indicateur'", id="unknown-table"),
        pytest.param('name = "x"\nsource = { workbook = "a.xlsx" }\ntarget = "indicateurs"\nkey = ["Mois"]', "'tab' (the tab's name) is required", id="no-tab"),
        pytest.param('name = "x"\nsource = { workbook = "a.xlsx", tab = "T" }\ntarget = { workbook = "b.xlsx", tab = "U" }\nkey = ["Mois"]', "one side must be a table of the schema", id="two-external"),
        pytest.param('name = "x"\nsource = { workbook = "a.xlsx", tab = "T" }\ntarget = "indicateurs"\nkey = ["Cantine", "Mois"]\nconstants = { Cantin = "A" }', "target Indicateurs has no column 'Cantin'", id="bad-constant"),
        pytest.param('name = "x"\nsource = { workbook = "a.xlsx", tab = "T" }\ntarget = "indicateurs"\nkey = ["Mois"]\nmode = "replace"', "mode must be 'upsert' or 'mirror'", id="bad-mode"),
        pytest.param('source = "cantines"\ntarget = "indicateurs"\nkey = ["Mois"]', "'name' is required", id="no-name"),
    ],
)
def test_sync_declarations_are_checked(tmp_path: Path, block: str, expected: str) -> None:
    from automations.settings import load_settings

    path = write_config(tmp_path, "\n[[syncs]]\n" + block + "\n")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(path, {})
    assert any(expected in p for p in caught.value.problems), caught.value.problems


class Refusing(MemoryTable):
    """A backend that refuses one value, as Airtable refuses an unknown option."""

    def update(self, changes):  # type: ignore[no-untyped-def]
        changes = list(changes)
        if any(values.get("Repas servis") == 999 for _id, values in changes):
            raise InvalidValueError("valeur refusée", table=self.spec.name, column="Repas servis", value=999)
        return super().update(changes)


def test_a_refused_write_is_reported_and_tried_again_not_taken_for_an_edit() -> None:
    sheet, hub = MemoryTable(SHEET), Refusing(HUB)
    sheet.create([{"Mois": M(2026, 1, 1), "Repas": 420}, {"Mois": M(2026, 2, 1), "Repas": 390}])
    snapshot = run_sync(SPEC, sheet, hub, None, source_label="LV").snapshot
    january = next(r.id for r in sheet.read() if r.fields["Mois"] == M(2026, 1, 1))
    february = next(r.id for r in sheet.read() if r.fields["Mois"] == M(2026, 2, 1))
    sheet.update([(january, {"Repas": 999}), (february, {"Repas": 395})])
    result = run_sync(SPEC, sheet, hub, snapshot, source_label="LV")
    assert [p.message for p in result.problems] == ["écriture refusée : valeur refusée"]
    assert sorted(v[2] for v in hub_values(hub)) == [395, 420]  # the other row went through
    sheet.update([(january, {"Repas": 430})])
    again = run_sync(SPEC, sheet, hub, result.snapshot, source_label="LV")
    assert again.problems == [] and 430 in [v[2] for v in hub_values(hub)]


def test_a_column_deleted_in_a_cantines_sheet_is_not_synced_as_empty(make_settings: Callable[..., Settings]) -> None:
    from automations.demo import cantine_workbook_path

    settings = demo_with_syncs(make_settings)
    path = cantine_workbook_path(settings, "Cantine du Port")
    book = openpyxl.load_workbook(path)
    sheet = book["Indicateurs"]
    sheet.delete_cols([c.value for c in sheet[1]].index("Repas servis") + 1)  # the cantine tidied its sheet
    book.save(path)

    def port_meals() -> list[object]:
        hub = openpyxl.load_workbook(settings.workbook.path)["Indicateurs"]
        header = [c.value for c in hub[1]]
        return [r[header.index("Repas servis")] for r in hub.iter_rows(min_row=2, values_only=True)
                if r[header.index("Cantine")] == "Cantine du Port"]

    before = port_meals()
    report = run_cycle(settings, today=DAY, clock=clock)
    assert any("indicateurs-cantine-du-port" in e and "colonne(s) « Repas servis » absente(s)" in e for e in report.errors)
    assert len(report.syncs) == 4 and not report.fatal  # the other syncs went on
    assert port_meals()[:len(before)] == before and None not in before  # not overwritten with empty cells
