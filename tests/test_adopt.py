"""`cantines adopt`: the mapping proposed for three teams' own bases (tests/foreign_bases.py), how names,
choices and types are matched, nothing written to the base, and hostile bases said clearly."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from automations.cli import cli
from automations.cycle.adopt import survey_sheets
from automations.domain.adopt import (
    CONTENT, EXACT, FOLDED, SYNONYM, FoundColumn, FoundTable, Survey, check_type, choice_match, name_match, propose,
    tokens,
)
from automations.domain.adopt_file import render_toml
from connectors.errors import CantinesError
from connectors.tables.base import ColumnSpec
from connectors.tables.sheets.client import connect

from .conftest import write_config
from .fakes.airtable import BASE_ID, TOKEN, FakeAirtable
from .fakes.sheets import FakeSheets, service_account_info
from .foreign_bases import AIRTABLE, SHEETS, WORKBOOK, ForeignBase, shipped_schema

ACCOUNT = "cantines-worker@cantines-tests.iam.gserviceaccount.com"
KEY = "1ForeignSheetsOfTheWestTeam000000000000000"
WRITE_KINDS_AIRTABLE = {"create", "update", "upsert", "delete", "create-table", "create-field"}
WRITE_KINDS_SHEETS = {"batchUpdate", "values.update", "values.batchUpdate", "append"}


# -- names, choices and types ---------------------------------------------------------------------

@pytest.mark.parametrize("ours, theirs, context, how", [
    pytest.param("Nom", "Nom", "", EXACT, id="exact"),
    pytest.param("Opportunités", "opportunites", "", FOLDED, id="case-and-accents"),
    pytest.param("Email responsable", "Mail du/de la responsable", "", SYNONYM, id="mail-small-words"),
    pytest.param("Email responsable", "Courriel du responsable", "", SYNONYM, id="courriel"),
    pytest.param("Email responsable", "E-mail responsable", "", SYNONYM, id="e-mail"),
    pytest.param("Date limite", "Échéance", "", SYNONYM, id="echeance"),
    pytest.param("Date limite", "Deadline", "", SYNONYM, id="deadline"),
    pytest.param("Date d'échéance", "Date butoir", "", SYNONYM, id="date-butoir"),
    pytest.param("Responsable", "Référente", "", SYNONYM, id="referente"),
    pytest.param("Nom", "Nom de la cantine", "cantines", SYNONYM, id="the-table-s-own-name-left-out"),
    pytest.param("Référence", "N° de convention", "conventions", SYNONYM, id="numero"),
    pytest.param("Montant demandé", "Montant sollicité", "", SYNONYM, id="sollicite"),
    pytest.param("Email responsable", "Email contact", "", None, id="another-email"),
    pytest.param("Date limite", "Date de début", "", None, id="another-date"),
    pytest.param("Responsable", "Suivi par", "", None, id="no-synonym"),
])
def test_names_match_exactly_then_whatever_case_and_accents_then_by_synonyms(
        ours: str, theirs: str, context: str, how: str | None) -> None:
    assert name_match(ours, theirs, frozenset(tokens(context))) == how


@pytest.mark.parametrize("ours, theirs, how", [
    pytest.param("Ouverte", "Ouverte", EXACT, id="same"),
    pytest.param("Écartée", "ecartee", FOLDED, id="accents"),
    pytest.param("Payée", "Payé", SYNONYM, id="gender"),
    pytest.param("À qualifier", "À étudier", SYNONYM, id="a-etudier"),
    pytest.param("Pertinente", "Retenue", SYNONYM, id="retenue"),
    pytest.param("Écartée", "Non retenue", SYNONYM, id="non-retenue"),
    pytest.param("Refusée", "Non retenue", SYNONYM, id="non-retenue-is-also-refused"),
    pytest.param("En montage", "Projet", SYNONYM, id="projet"),
    pytest.param("Pertinente", "Non retenue", None, id="opposite"),
    pytest.param("Ouverte", "Fermée", None, id="other"),
])
def test_choices_match_the_same_way(ours: str, theirs: str, how: str | None) -> None:
    assert choice_match(ours, theirs) == how


def test_a_column_whose_cells_are_not_of_its_type_is_flagged_not_taken() -> None:
    date = ColumnSpec("Date limite", "date")
    texts = FoundColumn("Date limite", "singleLineText", values=("bientôt", "fin mars", "12/03/2027", "?"))
    assert not check_type(date, texts).ok
    typed_as_text = FoundColumn("Date limite", "singleLineText", values=("12/03/2027", "01/04/2027", "2027-05-02", "15/06/2027", "31/02/2027"))
    result = check_type(date, typed_as_text)
    assert result.ok and result.as_text  # a date typed as text is read (one bad cell is a data problem)
    serials = FoundColumn("Date limite", "", values=(46000.0, 46100.0))
    assert check_type(date, serials).ok and not check_type(date, serials).as_text
    schema = shipped_schema()
    opportunities = FoundTable("Opportunités", (FoundColumn("Titre", values=("Un appel",)), texts))
    proposal = propose({"opportunites": schema["opportunites"]}, Survey("une base", (opportunities,)))
    column = next(c for c in proposal.tables[0].columns if c.column == "Date limite")
    assert not column.decided and column.candidates == ("Date limite",)
    assert "ne sont pas des dates" in column.note and "bientôt" in column.note


def test_columns_matched_by_content_and_ambiguity_left_to_staff() -> None:
    schema = shipped_schema()
    funders = FoundTable("Financeurs", (FoundColumn("Nom", values=("Fondation Rivages",)),))
    watch = FoundTable("Veille", (
        FoundColumn("Titre", values=("Un appel",)),
        FoundColumn("Qui finance", "multipleRecordLinks", link_to="Financeurs", values=(["rec1"],)),
        FoundColumn("Avis", "singleSelect", choices=("À étudier", "Retenue", "Non retenue", "Archivée")),
        FoundColumn("Mail", values=("a@example.org",)),
        FoundColumn("Courriel", values=("b@example.org",)),
    ))
    codes = ("partenaires", "opportunites")
    proposal = propose({c: schema[c] for c in codes}, Survey("une base", (funders, watch)))
    table = next(t for t in proposal.tables if t.code == "opportunites")
    columns = {c.column: c for c in table.columns}
    assert (columns["Partenaire"].target, columns["Partenaire"].how) == ("Qui finance", CONTENT)
    assert "lien vers « Financeurs »" in columns["Partenaire"].note
    assert (columns["Statut veille"].target, columns["Statut veille"].how) == ("Avis", CONTENT)
    assert {c.choice: c.wordings for c in table.choices} == {
        "À qualifier": ("À étudier",), "Pertinente": ("Retenue",), "Écartée": ("Non retenue",)}
    # two columns of a team's table mean « email » and ours has none of that name: not guessed
    assert table.extra == ("Mail", "Courriel")


def test_two_columns_matching_one_of_ours_equally_are_left_to_staff() -> None:
    schema = shipped_schema()
    cantines = FoundTable("Cantines", (
        FoundColumn("Nom", values=("Cantine du Port",)),
        FoundColumn("Mail responsable", values=("a@example.org",)),
        FoundColumn("Courriel responsable", values=("b@example.org",)),
    ))
    proposal = propose({"cantines": schema["cantines"]}, Survey("une base", (cantines,)))
    column = next(c for c in proposal.tables[0].columns if c.column == "Email responsable")
    assert not column.decided and column.candidates == ("Mail responsable", "Courriel responsable")
    text = render_toml(proposal)
    assert '# "Email responsable" = ? (peut-être "Mail responsable", "Courriel responsable")' in text
    assert '"Ville" = false' not in text  # required: not declared absent
    assert '# "Ville" = ?' in text and '"Budget annuel" = false' in text
    tomllib.loads(text)


# -- the three teams' bases -------------------------------------------------------------------------

def expected_proposal(base: ForeignBase) -> dict[str, Any]:
    """The reviewed mapping less what adopt is expected to leave to staff."""
    tables = json.loads(json.dumps(base.mapping_data["tables"]))
    for code, column in base.undecided:
        del tables[code]["columns"][column]
    return comparable(tables)


def comparable(tables: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for code, table in tables.items():
        kept = {k: v for k, v in table.items() if v not in ({}, None)}
        if kept:
            out[code] = kept
    return out


def check_proposal(base: ForeignBase, text: str) -> None:
    proposed = comparable(tomllib.loads(text).get("tables", {}))
    assert proposed == expected_proposal(base)
    for code, column in base.undecided:
        assert f'# "{column}" = ?' in text
    for code, extra in base.extra.items():
        ignored = next(line for line in text.split(f"[tables.{code}]", 1)[1].splitlines()
                       if line.startswith("# colonnes de cette base que le robot ignore"))
        assert all(f'"{name}"' in ignored for name in extra)
    assert "`cantines init` ajouterait" in text and "« Correspondances »" in text


@pytest.fixture
def airtable() -> Iterator[FakeAirtable]:
    with FakeAirtable(rate_limit=None) as fake:
        yield fake


def test_adopt_an_airtable_base(airtable: FakeAirtable, tmp_path: Path) -> None:
    AIRTABLE.build(airtable)
    environ = {"AIRTABLE_TOKEN": TOKEN, "AIRTABLE_BASE_ID": BASE_ID, "AIRTABLE_ENDPOINT_URL": airtable.url}
    config = write_config(tmp_path, tables='backend = "airtable"')
    result = CliRunner().invoke(cli, ["adopt", "--config", str(config)], env=environ)
    assert result.exit_code == 0, result.output
    text = (tmp_path / "mapping.toml").read_text(encoding="utf-8")
    check_proposal(AIRTABLE, text)
    assert '"Statut veille" = "Statut"' in text and '"En montage" = ["En création", "Projet"]' in text
    assert "saisie comme texte dans cette base ; ses cellules se lisent comme des dates" in text  # the signature dates
    assert "À décider (1) : Dossiers › « Responsable » (peut-être « Suivi par »)" in result.output
    assert "rien n'a été modifié dans la base" in result.output
    kinds = {r.kind for r in airtable.requests()}
    assert kinds == {"schema", "list"} and not kinds & WRITE_KINDS_AIRTABLE
    assert airtable.count("schema") == 1


def test_adopt_a_spreadsheet_with_a_table_kept_in_two_tabs(tmp_path: Path) -> None:
    with FakeSheets() as fake:
        SHEETS.build(fake, key=KEY, account=ACCOUNT)
        environ = {"GOOGLE_SERVICE_ACCOUNT_JSON": json.dumps(service_account_info(ACCOUNT, fake.token_uri)),
                   "GOOGLE_SHEETS_ENDPOINT_URL": fake.url}
        config = write_config(tmp_path, tables='backend = "sheets"', sheets=f'spreadsheet = "{KEY}"')
        result = CliRunner().invoke(cli, ["adopt", "--config", str(config), "--out", str(tmp_path / "noms.toml")],
                                    env=environ)
        assert result.exit_code == 0, result.output
        text = (tmp_path / "noms.toml").read_text(encoding="utf-8")
        check_proposal(SHEETS, text)
        assert 'name = ["Cantines ouvertes", "Cantines en projet"]' in text
        # choices read from the data validation rules
        assert '"Payée" = "Payé"' in text
        assert fake.counts() == {"get": 2, "batchGet": 1}  # metadata, validation rules, every tab's cells
        assert not any(r.kind in WRITE_KINDS_SHEETS for r in fake.requests())


def test_adopt_a_workbook_leaves_its_bytes_as_they_were(tmp_path: Path) -> None:
    hub = tmp_path / "hub.xlsx"
    WORKBOOK.build(hub)
    before = hub.read_bytes()
    config = write_config(tmp_path)
    result = CliRunner().invoke(cli, ["adopt", "--config", str(config)])
    assert result.exit_code == 0, result.output
    check_proposal(WORKBOOK, (tmp_path / "mapping.toml").read_text(encoding="utf-8"))
    assert hub.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hub.xlsx", "mapping.toml", "settings.toml"]


def test_an_existing_mapping_file_is_kept_unless_forced(tmp_path: Path) -> None:
    WORKBOOK.build(tmp_path / "hub.xlsx")
    config = write_config(tmp_path)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text("# reviewed by Camille\n", encoding="utf-8")
    refused = CliRunner().invoke(cli, ["adopt", "--config", str(config)])
    assert refused.exit_code == 2 and "existe déjà" in refused.output and "--force" in refused.output
    assert mapping.read_text(encoding="utf-8") == "# reviewed by Camille\n"
    forced = CliRunner().invoke(cli, ["adopt", "--config", str(config), "--force"])
    assert forced.exit_code == 0, forced.output
    assert 'name = "cantines"' in mapping.read_text(encoding="utf-8")


# -- hostile bases ---------------------------------------------------------------------------------

def workbook(path: Path, tabs: dict[str, list[list[Any]]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for title, rows in tabs.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_an_empty_workbook_is_said(tmp_path: Path) -> None:
    workbook(tmp_path / "hub.xlsx", {"Feuil1": []})
    result = CliRunner().invoke(cli, ["adopt", "--config", str(write_config(tmp_path))])
    assert result.exit_code == 1
    assert "ne contient aucune table avec des colonnes" in result.output and "onglet vide" in result.output
    assert not (tmp_path / "mapping.toml").exists()


def test_a_tab_without_header_and_duplicate_columns_are_said(tmp_path: Path) -> None:
    workbook(tmp_path / "hub.xlsx", {
        "Cantines": [["Nom", "Ville", "Ville", "Statut", "Département"],
                     ["Cantine du Port", "Marseille", "Marseille 2e", "Ouverte", "13"]],
        "Notes": [[None, None], ["sans en-tête", dt.date(2026, 3, 2)]],
    })
    result = CliRunner().invoke(cli, ["adopt", "--config", str(write_config(tmp_path))])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "mapping.toml").read_text(encoding="utf-8")
    assert "« Cantines » : colonnes en double : « Ville » (seule la première est lue)" in result.output
    assert "« Notes » : pas de ligne d'en-tête" in result.output
    assert "# Illisible : « Notes » : pas de ligne d'en-tête" in text
    tomllib.loads(text)  # still a valid file


def test_a_rejected_token_and_a_server_error_are_said(airtable: FakeAirtable, tmp_path: Path) -> None:
    AIRTABLE.build(airtable)
    config = write_config(tmp_path, tables='backend = "airtable"')
    wrong = {"AIRTABLE_TOKEN": "patWrong", "AIRTABLE_BASE_ID": BASE_ID, "AIRTABLE_ENDPOINT_URL": airtable.url}
    result = CliRunner().invoke(cli, ["adopt", "--config", str(config)], env=wrong)
    assert result.exit_code == 2 and "Airtable rejected the token" in result.output
    assert "patWrong" not in result.output
    airtable.fail_next(500, 500, 500, 500, 500, 500)
    environ = {**wrong, "AIRTABLE_TOKEN": TOKEN}
    result = CliRunner().invoke(cli, ["adopt", "--config", str(config)], env=environ)
    assert result.exit_code == 1 and "Erreur d'Airtable" in result.output and "HTTP 500" in result.output
    assert not (tmp_path / "mapping.toml").exists()


def test_a_spreadsheet_server_error_is_said() -> None:
    with FakeSheets() as fake:
        fake.add_spreadsheet(KEY, tabs={"Cantines": [["Nom"], ["Cantine du Port"]]}, shared_with=[ACCOUNT])
        http = connect(json.dumps(service_account_info(ACCOUNT, fake.token_uri)), endpoint_url=fake.url,
                       sleep=lambda _seconds: None)  # its bounded retries, without waiting for real
        fake.fail_next(*[500] * 8, kind="get")
        with pytest.raises(CantinesError) as raised:
            survey_sheets(KEY, http)
        assert KEY in str(raised.value) and "500" in str(raised.value)
        assert not any(r.kind in WRITE_KINDS_SHEETS for r in fake.requests())
        other = "1NotSharedWithTheRobot00000000000000000000"
        fake.add_spreadsheet(other, tabs={"Cantines": [["Nom"]]}, shared_with=["camille@example.org"])
        with pytest.raises(CantinesError) as refused:
            survey_sheets(other, http)
        assert ACCOUNT in str(refused.value)  # share it with the service account


def test_an_empty_airtable_base_is_said(airtable: FakeAirtable, tmp_path: Path) -> None:
    environ = {"AIRTABLE_TOKEN": TOKEN, "AIRTABLE_BASE_ID": BASE_ID, "AIRTABLE_ENDPOINT_URL": airtable.url}
    config = write_config(tmp_path, tables='backend = "airtable"')
    result = CliRunner().invoke(cli, ["adopt", "--config", str(config)], env=environ)
    assert result.exit_code == 1
    assert f"la base Airtable {BASE_ID} ne contient aucune table avec des colonnes" in result.output
    assert airtable.count() == 1 and not (tmp_path / "mapping.toml").exists()
