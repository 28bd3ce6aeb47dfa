"""The workbook's lean view (connectors/tables/xlsx.py): a save patches only the rows written and keeps
everything staff rely on (formatting, drop-downs, notes, widths, hidden columns, frozen header, their
own tabs and columns and every value they typed)."""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from automations.cycle.run import match_order
from automations.settings.files import load_schema
from connectors.tables.workbook import WorkbookStore

from .conftest import PARIS, REPO

SCHEMA = load_schema(REPO / "config" / "schema.toml")


def staff_hub(path: Path) -> None:
    """A hub as staff leave it: the worker's tabs, then their own touches."""
    store = WorkbookStore(path, timezone=PARIS)
    with store.batch():
        for code in ("cantines", "correspondances", "journal"):
            store.table(SCHEMA[code]).ensure_schema()
        store.table(SCHEMA["cantines"]).create([
            {"Nom": "Cantine des Canuts", "Ville": "Lyon", "Statut": "Ouverte", "Département": "69"},
            {"Nom": "Cantine du Port", "Ville": "Marseille", "Statut": "Ouverte", "Département": "13"},
        ])
    book = openpyxl.load_workbook(path)
    sheet = book["Cantines"]
    width = sheet.max_column
    sheet.cell(row=1, column=width + 1, value="Notes du bureau")
    sheet.cell(row=2, column=width + 1, value="à rappeler jeudi")
    sheet["A2"].font = Font(bold=True, color="C00000")
    sheet["B3"].fill = PatternFill("solid", fgColor="FFF2CC")
    sheet["A3"].comment = Comment("ouverte depuis mars", "Camille")
    sheet.column_dimensions["A"].width = 41
    sheet.column_dimensions["C"].hidden = True
    validation = DataValidation(type="list", formula1='"oui,non"', allow_blank=True)
    validation.add("Z2:Z500")
    sheet.add_data_validation(validation)
    notes = book.create_sheet("Notes de Camille")
    notes["A1"] = "ne pas toucher"
    notes["B2"] = 1234.5
    notes["C3"] = "=B2*2"
    book.save(path)


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def sheet_part(path: Path, title: str) -> str:
    book = openpyxl.load_workbook(path, read_only=True)
    index = book.sheetnames.index(title)
    book.close()
    return f"xl/worksheets/sheet{index + 1}.xml"


def test_a_write_patches_its_tab_and_copies_every_other_part_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    staff_hub(path)
    before = parts(path)
    store = WorkbookStore(path, timezone=PARIS)
    journal = store.table(SCHEMA["journal"])
    journal.create([{"Début": dt.datetime(2026, 3, 2, 7, 30, tzinfo=PARIS), "Résultat": "OK", "Lu": 12}])
    assert store.saves == 1 and store._book is None  # the lean view did it: openpyxl never loaded the book
    after = parts(path)
    assert set(after) == set(before)
    changed = {name for name in before if before[name] != after[name]}
    assert changed <= {sheet_part(path, "Journal"), "xl/styles.xml"}  # a date format may be added once
    (row,) = WorkbookStore(path, timezone=PARIS).table(SCHEMA["journal"]).read()
    assert row.fields["Début"] == dt.datetime(2026, 3, 2, 7, 30, tzinfo=PARIS) and row.fields["Lu"] == 12


def test_staff_formatting_notes_validation_widths_and_their_tab_survive_writes(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    staff_hub(path)
    cantines = WorkbookStore(path, timezone=PARIS).table(SCHEMA["cantines"])
    rows = cantines.read()
    cantines.update([(rows[0].id, {"Ville": "Lyon 4e", "Budget annuel": Decimal("1250.5")}),
                     (rows[1].id, {"Date d'ouverture": dt.date(2019, 3, 1)})])
    cantines.create([{"Nom": "La Louche", "Ville": "=HYPERLINK(\"x\")", "Statut": "Ouverte"}])

    book = openpyxl.load_workbook(path)
    sheet = book["Cantines"]
    header = {c.value: c.column_letter for c in sheet[1]}
    assert sheet.freeze_panes == "A2"
    assert sheet[f"{header['Nom']}1"].font.bold  # the worker's header style kept
    assert sheet["A2"].font.bold and sheet["A2"].font.color.rgb.endswith("C00000")
    assert sheet["B3"].fill.fgColor.rgb.endswith("FFF2CC")
    assert sheet["A3"].comment.text == "ouverte depuis mars"
    assert sheet.column_dimensions["A"].width == 41 and sheet.column_dimensions["C"].hidden
    assert any(v.formula1 == '"oui,non"' for v in sheet.data_validations.dataValidation)
    assert any(v.formula1.startswith('"Ouverte') for v in sheet.data_validations.dataValidation)  # the worker's
    assert sheet.cell(row=2, column=len(SCHEMA["cantines"].columns) + 1).value == "à rappeler jeudi"
    assert sheet[f"{header['Ville']}2"].value == "Lyon 4e"
    assert sheet[f"{header['Budget annuel']}2"].value == 1250.5
    assert sheet[f"{header['Budget annuel']}2"].number_format == '#,##0.##" €"'
    opened = sheet[header["Date d'ouverture"] + "3"]
    assert opened.value == dt.datetime(2019, 3, 1) and opened.number_format == "DD/MM/YYYY"
    formula = sheet[f"{header['Ville']}4"]
    assert formula.data_type == "s" and formula.quotePrefix  # text that looks like a formula stays text
    notes = book["Notes de Camille"]
    assert (notes["A1"].value, notes["B2"].value, notes["C3"].value) == ("ne pas toucher", 1234.5, "=B2*2")
    again = {r.fields["Nom"]: r.fields for r in WorkbookStore(path, timezone=PARIS).table(SCHEMA["cantines"]).read()}
    assert again["Cantine des Canuts"]["Budget annuel"] == Decimal("1250.5")
    assert again["Cantine du Port"]["Date d'ouverture"] == dt.date(2019, 3, 1)
    assert again["La Louche"]["Ville"] == '=HYPERLINK("x")'


def test_formats_are_made_once_not_at_every_save(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    staff_hub(path)
    journal = WorkbookStore(path, timezone=PARIS).table(SCHEMA["journal"])
    journal.create([{"Début": dt.datetime(2026, 3, 2, 7, 30, tzinfo=PARIS), "Résultat": "OK"}])
    styles = parts(path)["xl/styles.xml"]
    for day in (3, 4, 5):
        journal = WorkbookStore(path, timezone=PARIS).table(SCHEMA["journal"])
        journal.create([{"Début": dt.datetime(2026, 3, day, 7, 30, tzinfo=PARIS), "Résultat": "OK"}])
    assert parts(path)["xl/styles.xml"] == styles
    assert len(journal.read()) == 4


def test_sorting_moves_rows_whole_and_deleting_closes_the_gap(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    store = WorkbookStore(path, timezone=PARIS)
    table = store.table(SCHEMA["correspondances"])
    table.ensure_schema()
    late, soon = dt.date(2027, 3, 1), dt.date(2026, 12, 17)
    table.create([
        {"Clé": "B → X", "Opportunité": "B", "Cantine": "X", "Score": 60, "Date limite": late},
        {"Clé": "A → X", "Opportunité": "A", "Cantine": "X", "Score": 55, "Date limite": soon, "Commentaire": "à relancer"},
        {"Clé": "B → Y", "Opportunité": "B", "Cantine": "Y", "Score": 90, "Date limite": late},
    ])
    staff = openpyxl.load_workbook(path)
    staff["Correspondances"]["B3"].fill = PatternFill("solid", fgColor="FFF2CC")  # staff highlight « A → X »
    staff.save(path)
    table = WorkbookStore(path, timezone=PARIS).table(SCHEMA["correspondances"])
    assert table.sort_rows(match_order)
    assert table.store._book is None
    sheet = openpyxl.load_workbook(path)["Correspondances"]
    assert sheet["B2"].value == "A" and sheet["B2"].fill.fgColor.rgb.endswith("FFF2CC")  # moved with its row
    (gone,) = [r for r in table.read() if r.fields["Clé"] == "A → X"]
    table.delete([gone.id])
    rows = WorkbookStore(path, timezone=PARIS).table(SCHEMA["correspondances"]).read()
    assert [(r.fields["Clé"], r.position) for r in rows] == [("B → Y", 2), ("B → X", 3)]


def test_a_note_on_a_data_cell_makes_rows_move_through_openpyxl(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    table = WorkbookStore(path, timezone=PARIS).table(SCHEMA["cantines"])
    table.ensure_schema()
    table.create([{"Nom": "B", "Ville": "V"}, {"Nom": "A", "Ville": "V"}])
    staff = openpyxl.load_workbook(path)
    staff["Cantines"]["A3"].comment = Comment("la cantine A", "Camille")
    staff.save(path)
    table = WorkbookStore(path, timezone=PARIS).table(SCHEMA["cantines"])
    assert table.sort_rows(lambda fields: fields["Nom"])
    sheet = openpyxl.load_workbook(path)["Cantines"]
    assert sheet["A2"].value == "A" and sheet["A2"].comment.text == "la cantine A"  # the note went with its row


class Unwritable:
    def __str__(self) -> str:
        raise RuntimeError("disk full")


def test_nothing_written_nothing_saved_and_a_failed_save_leaves_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    staff_hub(path)
    good = path.read_bytes()
    store = WorkbookStore(path, timezone=PARIS)
    with store.batch():
        for code in ("cantines", "correspondances", "journal"):
            assert not store.table(SCHEMA[code]).ensure_schema().changed
            store.table(SCHEMA[code]).read()
    assert store.saves == 0 and path.read_bytes() == good
    journal = store.table(SCHEMA["journal"])
    with pytest.raises(RuntimeError, match="disk full"):
        journal.create([{"Résultat": Unwritable()}])  # stands for any failure while the file is written
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hub.xlsx"]  # no temporary file left behind


def test_released_rows_are_read_again_and_unsaved_writes_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    staff_hub(path)
    store = WorkbookStore(path, timezone=PARIS)
    cantines, journal = store.table(SCHEMA["cantines"]), store.table(SCHEMA["journal"])
    with store.batch():
        assert len(cantines.read()) == 2
        journal.create([{"Résultat": "OK", "Lu": 2}])
        store.release()
        assert list(store._sheets) == ["Journal"]  # the tab written, not saved yet, is kept
        assert [r.fields["Nom"] for r in cantines.read()] == ["Cantine des Canuts", "Cantine du Port"]
        assert store.saves == 0
    assert store.saves == 1
    (row,) = WorkbookStore(path, timezone=PARIS).table(SCHEMA["journal"]).read()
    assert row.fields["Lu"] == 2


def test_a_tab_written_then_released_reads_its_other_rows_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    staff_hub(path)
    store = WorkbookStore(path, timezone=PARIS)
    cantines = store.table(SCHEMA["cantines"])
    with store.batch():
        first, second = cantines.read()
        cantines.update([(second.id, {"Ville": "Marseille 2e"})])
        store.release()  # the row not written lets its values go; the written one keeps them
        assert store._sheets["Cantines"].rows[2].cells is None
        assert [(r.fields["Nom"], r.fields["Ville"]) for r in cantines.read()] == [
            ("Cantine des Canuts", "Lyon"), ("Cantine du Port", "Marseille 2e")]
        store.release()
        cantines.create([{"Nom": "La Louche", "Ville": "Lille"}])
    rows = WorkbookStore(path, timezone=PARIS).table(SCHEMA["cantines"]).read()
    assert [(r.fields["Nom"], r.fields["Ville"], r.position) for r in rows] == [
        ("Cantine des Canuts", "Lyon", 2), ("Cantine du Port", "Marseille 2e", 3), ("La Louche", "Lille", 4)]


def test_formulas_staff_typed_move_through_openpyxl_and_a_stale_calc_chain_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "hub.xlsx"
    table = WorkbookStore(path, timezone=PARIS).table(SCHEMA["cantines"])
    table.ensure_schema()
    table.create([{"Nom": "B", "Ville": "V"}, {"Nom": "A", "Ville": "V"}])
    staff = openpyxl.load_workbook(path)
    width = staff["Cantines"].max_column
    staff["Cantines"].cell(row=1, column=width + 1, value="Longueur")
    staff["Cantines"].cell(row=3, column=width + 1, value="=LEN(A3)")  # staff's own formula, on A's row
    staff.save(path)
    # What Excel adds beside formulas: its calculation chain, named in the content types and the book's rels
    with zipfile.ZipFile(path) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    contents["xl/calcChain.xml"] = (b'<calcChain xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                                    b'<c r="Z3" i="1"/></calcChain>')
    contents["[Content_Types].xml"] = contents["[Content_Types].xml"].replace(b"</Types>", (
        b'<Override PartName="/xl/calcChain.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        b'spreadsheetml.calcChain+xml"/></Types>'))
    contents["xl/_rels/workbook.xml.rels"] = contents["xl/_rels/workbook.xml.rels"].replace(b"</Relationships>", (
        b'<Relationship Id="rIdChain" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'calcChain" Target="calcChain.xml"/></Relationships>'))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            archive.writestr(name, data)

    store = WorkbookStore(path, timezone=PARIS)
    store.table(SCHEMA["journal"]).ensure_schema()  # a new tab: openpyxl (which drops the chain itself)
    store = WorkbookStore(path, timezone=PARIS)
    journal = store.table(SCHEMA["journal"])
    journal.create([{"Résultat": "OK"}])
    assert store._book is None  # patched
    after = parts(path)
    assert "xl/calcChain.xml" not in after
    assert b"calcChain" not in after["[Content_Types].xml"] + after["xl/_rels/workbook.xml.rels"]
    table = WorkbookStore(path, timezone=PARIS).table(SCHEMA["cantines"])
    assert table.sort_rows(lambda fields: fields["Nom"])
    sheet = openpyxl.load_workbook(path)["Cantines"]
    # moved with its row by openpyxl, as before this view existed (the formula's text as typed)
    assert sheet["A2"].value == "A" and sheet.cell(row=2, column=width + 1).value == "=LEN(A3)"
