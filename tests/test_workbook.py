"""The workbook backend: round trip, staff edits kept, atomic save, schema ensured without loss."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from automations.settings.files import load_schema
from connectors.errors import SchemaError
from connectors.tables.base import TableSpec
from connectors.tables.workbook import MissingWorkbookError, WorkbookStore

from .conftest import PARIS, REPO

SCHEMA = load_schema(REPO / "config" / "schema.toml")


def table(path: Path, code: str = "cantines"):
    return WorkbookStore(path, timezone=PARIS).table(SCHEMA[code])


CANTINE = {
    "Nom": "Cantine des Canuts", "Statut": "Ouverte", "Ville": "Lyon", "Code postal": "01000",
    "Département": "69", "Quartier prioritaire": True, "Thématiques": ["Lien social", "Culture"],
    "Budget annuel": Decimal("125000.50"), "Date d'ouverture": dt.date(2019, 3, 1),
    "Email responsable": "canuts@example.org", "Reçoit les emails": False,
}


def test_round_trip_keeps_every_type(tmp_path: Path) -> None:
    cantines = table(tmp_path / "hub.xlsx")
    cantines.ensure_schema()
    (created,) = cantines.create([CANTINE])
    (row,) = table(tmp_path / "hub.xlsx").read()  # a fresh store reads from disk
    assert row.id == created.id == "2"
    assert row.position == 2
    for name, value in CANTINE.items():
        assert row.fields[name] == value, name
    assert isinstance(row.fields["Date d'ouverture"], dt.date)
    assert not isinstance(row.fields["Date d'ouverture"], dt.datetime)
    assert row.fields["Emails en copie"] == []
    assert row.fields["Association"] is None


def test_datetimes_come_back_timezone_aware(tmp_path: Path) -> None:
    journal = table(tmp_path / "hub.xlsx", "journal")
    journal.ensure_schema()
    start = dt.datetime(2026, 3, 29, 7, 30, tzinfo=PARIS)  # the day summer time starts
    journal.create([{"Début": start, "Résultat": "OK", "Lu": 12}])
    (row,) = journal.read()
    assert row.fields["Début"] == start
    assert row.fields["Début"].utcoffset() == dt.timedelta(hours=2)


def test_staff_columns_order_and_blank_rows_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Cantines"
    sheet.append(["Ville", "Notes du bureau", " nom ", "Statut", "Département"])  # reordered, extra, sloppy case
    sheet.append(["Lyon", "à rappeler", "Cantine des Canuts", "Ouverte", 69])
    sheet.append([None, None, None, None, None])
    sheet.append(["Marseille", None, "Cantine du Port", "Ouverte", "13"])
    book.save(path)

    cantines = table(path)
    changes = cantines.ensure_schema()
    assert "Nom" not in changes.added_columns and "Code postal" in changes.added_columns
    rows = cantines.read()
    assert [(r.fields["Nom"], r.fields["Ville"], r.position) for r in rows] == [
        ("Cantine des Canuts", "Lyon", 2),
        ("Cantine du Port", "Marseille", 4),
    ]
    assert rows[0].fields["Département"] == "69"  # a number typed in a text column comes back as text
    cantines.update([(rows[1].id, {"Ville": "Marseille 2e", "Budget annuel": Decimal(90000)})])
    cantines.create([{"Nom": "La Louche", "Ville": "Lille", "Statut": "Ouverte", "Département": "59"}])

    sheet = openpyxl.load_workbook(path)["Cantines"]
    header = [c.value for c in sheet[1]]
    assert header[:5] == ["Ville", "Notes du bureau", " nom ", "Statut", "Département"]
    assert sheet["B2"].value == "à rappeler"  # the staff's own column is untouched
    assert sheet["A4"].value == "Marseille 2e"
    assert sheet.cell(row=5, column=3).value == "La Louche"  # appended after the last used row
    assert len(header) == len(set(header)) == len(SCHEMA["cantines"].columns) + 1


def test_upsert_writes_only_changed_cells_and_creates_new_keys(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    cantines = table(path)
    cantines.ensure_schema()
    cantines.create([CANTINE])
    before = os.stat(path).st_mtime_ns
    result = cantines.upsert([{**CANTINE, "Budget annuel": 125000.5}], key=["Nom"])  # same value, other type
    assert (result.created, result.updated, result.unchanged) == ([], [], 1)
    assert os.stat(path).st_mtime_ns == before  # nothing written at all
    result = cantines.upsert(
        [{"Nom": "Cantine des Canuts", "Ville": "Lyon 4e"}, {"Nom": "Cantine du Port", "Ville": "Marseille"}],
        key=["Nom"],
    )
    assert [r.fields["Ville"] for r in result.updated] == ["Lyon 4e"]
    assert [r.fields["Nom"] for r in result.created] == ["Cantine du Port"]
    rows = {r.fields["Nom"]: r.fields for r in cantines.read()}
    assert rows["Cantine des Canuts"]["Ville"] == "Lyon 4e"
    assert rows["Cantine des Canuts"]["Statut"] == "Ouverte"  # columns not given are left alone


def test_upsert_refuses_a_duplicate_key_in_its_input(tmp_path: Path) -> None:
    cantines = table(tmp_path / "hub.xlsx")
    cantines.ensure_schema()
    with pytest.raises(ValueError, match="duplicate key"):
        cantines.upsert([{"Nom": "A"}, {"Nom": " A "}], key=["Nom"])


def test_delete_bottom_up_keeps_the_right_rows(tmp_path: Path) -> None:
    cantines = table(tmp_path / "hub.xlsx")
    cantines.ensure_schema()
    created = cantines.create([{"Nom": f"C{i}", "Ville": "V"} for i in range(6)])
    assert cantines.delete([created[1].id, created[4].id, created[2].id]) == 3
    assert [r.fields["Nom"] for r in cantines.read()] == ["C0", "C3", "C5"]


def test_missing_tab_and_missing_column_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    cantines = table(path)
    cantines.ensure_schema()
    with pytest.raises(SchemaError, match="Onglet « Échéances » absent.*cantines init"):
        table(path, "echeances").read()
    narrow = TableSpec("cantines", "Cantines", SCHEMA["cantines"].columns[:2], ("Nom",))
    book = openpyxl.Workbook()
    book.active.title = "Cantines"
    book.active.append(["Nom"])
    book.save(tmp_path / "narrow.xlsx")
    with pytest.raises(SchemaError, match="« Statut » absente"):
        WorkbookStore(tmp_path / "narrow.xlsx", timezone=PARIS).table(narrow).create([{"Nom": "A", "Statut": "Ouverte"}])


def test_a_read_says_which_columns_the_header_lacks(tmp_path: Path) -> None:
    narrow = openpyxl.Workbook()
    narrow.active.title = "Cantines"
    narrow.active.append(["nom ", "Ville"])
    narrow.active.append(["Cantine des Canuts", "Lyon"])
    narrow.save(tmp_path / "hub.xlsx")
    cantines = table(tmp_path / "hub.xlsx")
    (row,) = cantines.read()
    assert (row.fields["Nom"], row.fields["Statut"]) == ("Cantine des Canuts", None)
    assert cantines.absent_columns() == tuple(n for n in SCHEMA["cantines"].column_names if n not in ("Nom", "Ville"))


def test_a_missing_workbook_is_created_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "ailleurs" / "hub.xlsx"
    with pytest.raises(MissingWorkbookError, match="Classeur absent : .*hub.xlsx n'existe pas"):
        WorkbookStore(path, timezone=PARIS, create=False).table(SCHEMA["cantines"]).ensure_schema()
    assert not path.parent.exists()
    WorkbookStore(path, timezone=PARIS, create=True).table(SCHEMA["cantines"]).ensure_schema()
    assert path.exists()


def test_ensure_schema_never_drops_anything_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active["A1"] = "ne pas toucher"
    book.save(path)
    for code in SCHEMA:
        assert table(path, code).ensure_schema().created_table
    assert all(not table(path, code).ensure_schema().changed for code in SCHEMA)
    reloaded = openpyxl.load_workbook(path)
    assert reloaded["Notes"]["A1"].value == "ne pas toucher"
    assert {SCHEMA[c].name for c in SCHEMA} <= set(reloaded.sheetnames)


class Unwritable:
    def __str__(self) -> str:
        raise RuntimeError("disk full")  # stands for any failure while the file is being written

    __repr__ = __str__


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # openpyxl leaves its zip open
def test_save_is_atomic_a_failed_save_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    store = WorkbookStore(path, timezone=PARIS)
    cantines = store.table(SCHEMA["cantines"])
    cantines.ensure_schema()
    cantines.create([CANTINE])
    good = path.read_bytes()
    cell = store.book()["Cantines"]["A3"]
    cell._value, cell.data_type = Unwritable(), "n"  # a cell whose serialisation fails midway
    with pytest.raises(RuntimeError, match="disk full"):
        store.save()
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["hub.xlsx"]  # no temporary file left behind


def test_a_file_saved_by_someone_else_is_reloaded_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    cantines = table(path)
    cantines.ensure_schema()
    cantines.create([CANTINE])
    cantines.read()  # the store now holds the workbook in memory
    staff = openpyxl.load_workbook(path)
    staff["Cantines"]["C2"] = "Association des Canuts"  # a staff edit saved in the meantime
    staff.save(path)
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    cantines.update([("2", {"Ville": "Lyon 4e"})])
    (row,) = table(path).read()
    assert row.fields["Association"] == "Association des Canuts"
    assert row.fields["Ville"] == "Lyon 4e"


def test_a_batch_saves_once_at_the_end(tmp_path: Path) -> None:
    store = WorkbookStore(tmp_path / "hub.xlsx", timezone=PARIS)
    with store.batch():
        for code in ("cantines", "visites"):
            store.table(SCHEMA[code]).ensure_schema()
        store.table(SCHEMA["cantines"]).create([CANTINE])
        assert store.saves == 0 and not (tmp_path / "hub.xlsx").exists()
    assert store.saves == 1
    (row,) = WorkbookStore(tmp_path / "hub.xlsx", timezone=PARIS).table(SCHEMA["cantines"]).read()
    assert row.fields["Nom"] == CANTINE["Nom"]


def test_temporary_copies_left_by_a_killed_save_are_removed_at_open(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    cantines = table(path)
    cantines.ensure_schema()
    cantines.create([CANTINE])
    # What a save killed between writing its temporary copy and renaming it leaves: a full copy.
    killed = tmp_path / ".hub-k1ll3d_x.xlsx.tmp"
    killed.write_bytes(path.read_bytes())
    hour_and_a_bit_ago = path.stat().st_mtime - 3700
    os.utime(killed, (hour_and_a_bit_ago, hour_and_a_bit_ago))
    running = tmp_path / ".hub-runn1ng_.xlsx.tmp"  # another process saving right now: left alone
    running.write_bytes(b"partial")
    other = tmp_path / ".hub-2-abcdefgh.xlsx.tmp"  # hub-2.xlsx's, old too: not ours
    other.write_bytes(b"x")
    os.utime(other, (hour_and_a_bit_ago, hour_and_a_bit_ago))
    staff = tmp_path / ".hub-notes.xlsx.tmp.bak"
    staff.write_bytes(b"x")
    os.utime(staff, (hour_and_a_bit_ago, hour_and_a_bit_ago))

    store = WorkbookStore(path, timezone=PARIS, wall_clock=lambda: path.stat().st_mtime)
    assert [r.fields["Nom"] for r in store.table(SCHEMA["cantines"]).read()] == ["Cantine des Canuts"]
    assert not killed.exists()
    assert running.exists() and other.exists() and staff.exists()
    assert store.remove_stale_temp_files() == []  # once is enough; nothing else is ours and old


# -- what staff see (issue #14) ------------------------------------------------------------------


def test_saving_keeps_the_files_permissions(tmp_path: Path) -> None:
    import stat
    schema = load_schema(REPO / "config" / "schema.toml")
    path = tmp_path / "hub.xlsx"
    store = WorkbookStore(path, timezone=PARIS)
    store.table(schema["cantines"]).ensure_schema()
    os.chmod(path, 0o664)  # shared with the team's group
    store.table(schema["visites"]).ensure_schema()
    assert stat.S_IMODE(path.stat().st_mode) == 0o664


@pytest.mark.parametrize("lock", ["~$hub.xlsx", ".~lock.hub.xlsx#"], ids=["excel", "libreoffice"])
def test_a_workbook_open_in_excel_or_libreoffice_is_pointed_out(tmp_path: Path, lock: str) -> None:
    from connectors.tables.workbook import WorkbookTable
    from automations.cycle.backends import open_workbook_problems
    schema = load_schema(REPO / "config" / "schema.toml")
    store = WorkbookStore(tmp_path / "hub.xlsx", timezone=PARIS)
    tables = {code: WorkbookTable(store, schema[code]) for code in ("cantines", "visites")}
    assert store.lock_file() is None and open_workbook_problems(tables) == []
    (tmp_path / lock).write_text("Camille")
    assert store.lock_file() == tmp_path / lock
    (problem,) = open_workbook_problems(tables)  # one per file, whatever the number of its tabs
    assert problem.row == "hub.xlsx" and lock in problem.message and "Excel ou LibreOffice" in problem.message


def test_correspondances_open_on_the_opportunity_with_notes_and_wrapped_reasons(tmp_path: Path) -> None:
    schema = load_schema(REPO / "config" / "schema.toml")
    path = tmp_path / "hub.xlsx"
    table = WorkbookStore(path, timezone=PARIS).table(schema["correspondances"])
    table.ensure_schema()
    table.create([{"Clé": "AAP → Cantine", "Opportunité": "AAP", "Cantine": "Cantine", "Score": 80,
                   "Raisons": "✓ Territoire : Rhône (69)\n✓ Stade : Ouverte, éligible"}])
    sheet = openpyxl.load_workbook(path)["Correspondances"]
    header = {c.value: c for c in sheet[1]}
    assert sheet.column_dimensions[header["Clé"].column_letter].hidden  # the sheet opens on Opportunité
    assert not sheet.column_dimensions[header["Opportunité"].column_letter].hidden
    assert "robot" in header["État"].comment.text and "Le robot ne le modifie jamais" in header["Statut"].comment.text
    reasons = sheet.cell(row=2, column=header["Raisons"].column)
    assert reasons.alignment.wrap_text and sheet.column_dimensions[reasons.column_letter].width >= 60


def test_correspondances_are_kept_in_order_each_row_moving_whole(tmp_path: Path) -> None:
    from automations.cycle.run import match_order
    schema = load_schema(REPO / "config" / "schema.toml")
    path = tmp_path / "hub.xlsx"
    table = WorkbookStore(path, timezone=PARIS).table(schema["correspondances"])
    table.ensure_schema()
    late, soon = dt.date(2027, 3, 1), dt.date(2026, 12, 17)
    table.create([
        {"Clé": "B → X", "Opportunité": "B", "Cantine": "X", "Score": 60, "Date limite": late},
        {"Clé": "A → X", "Opportunité": "A", "Cantine": "X", "Score": 55, "Date limite": soon, "Commentaire": "à relancer"},
        {"Clé": "B → Y", "Opportunité": "B", "Cantine": "Y", "Score": 90, "Date limite": late},
        {"Clé": "A → Y", "Opportunité": "A", "Cantine": "Y", "Score": 80, "Date limite": soon},
    ])
    assert table.sort_rows(match_order)
    rows = table.read()
    assert [r.fields["Clé"] for r in rows] == ["A → Y", "A → X", "B → Y", "B → X"]
    assert rows[1].fields["Commentaire"] == "à relancer"  # staff's note moved with its row
    assert not table.sort_rows(match_order)  # already in order: nothing rewritten
