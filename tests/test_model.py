"""Parsing staff rows into domain objects with the real schema and reference data; bad rows become problems."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from automations.domain.model import (
    DONE_STATUSES,
    Cantine,
    DataProblem,
    Dataset,
    LinkIndex,
    parse_dataset,
    parse_table,
    row_label,
)
from automations.domain.reference import Reference
from automations.settings.files import load_reference
from automations.domain.schema import Schema
from automations.settings.files import load_schema
from connectors.tables.base import Row

REPO = Path(__file__).parent.parent
PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema(REPO / "config" / "schema.toml")


@pytest.fixture(scope="module")
def reference() -> Reference:
    return load_reference(REPO / "config" / "departements.csv")


def cantine_row(position: int, name: str, **fields: Any) -> Row:
    values: dict[str, Any] = {"Nom": name, "Statut": "Ouverte", "Ville": "Lyon", "Département": "69"}
    values.update(fields)
    return Row(f"rec{position}", values, position)


def parse_cantines(
    rows: list[Row], schema: Schema, reference: Reference
) -> tuple[list[Cantine], list[DataProblem]]:
    return parse_table(schema["cantines"], rows, schema, LinkIndex(), reference, PARIS)


def dataset(schema: Schema, reference: Reference, **tables: list[Row]) -> Dataset:
    return parse_dataset(tables, schema, reference, PARIS)


PARTNER = Row("recP1", {"Nom": "Fondation Avenir"}, 2)
CONVENTION = Row("recC1", {"Référence": "CONV-2026-01", "Partenaire": "Fondation Avenir"}, 2)


def convention_row(position: int, number: str, *cantines: str, partner: str = "Fondation Avenir") -> Row:
    values: dict[str, Any] = {"Référence": number, "Partenaire": partner, "Cantines": list(cantines)}
    return Row(f"recC{position}", values, position)


def echeance_row(position: int, **fields: Any) -> Row:
    values: dict[str, Any] = {
        "Convention": "CONV-2026-01",
        "Type": "Bilan final",
        "Date d'échéance": dt.date(2026, 6, 30),
        "Statut": "À venir",
    }
    values.update(fields)
    return Row(f"recE{position}", values, position)


# -- cantines --------------------------------------------------------------------------------


def test_valid_cantine(schema: Schema, reference: Reference) -> None:
    row = cantine_row(
        2,
        "Cantine  Lyon   Guillotière",
        **{
            "Statut": "en montage",
            "Association": "Les Petites Cantines Lyon",
            "Code postal": "69007",
            "Quartier prioritaire": "oui",
            "Thématiques": ["lien social", "Anti-gaspillage", "Lien social"],
            "Besoins": "Emploi; investissement",
            "Budget annuel": "120 000 €",
            "Responsable": "Jeanne Martin",
            "Email responsable": "Jeanne Martin <jeanne@exemple.fr>",
            "Emails en copie": "a@exemple.fr; b@exemple.fr",
            "Reçoit les emails": True,
            "Date d'ouverture": "02/03/2026",
        },
    )
    cantines, problems = parse_cantines([row], schema, reference)
    assert problems == []
    (cantine,) = cantines
    assert cantine.name == "Cantine  Lyon   Guillotière"  # text is kept as typed, only stripped
    assert cantine.status == "En montage"
    assert cantine.city == "Lyon"
    assert cantine.departement.code == "69"
    assert cantine.departement.name == "Rhône"
    assert cantine.region == "Auvergne-Rhône-Alpes"
    assert cantine.postcode == "69007"
    assert cantine.qpv is True
    assert cantine.themes == ("Lien social", "Anti-gaspillage")
    assert cantine.needs == ("Emploi", "Investissement")
    assert cantine.annual_budget == Decimal("120000")
    assert cantine.manager_email == "jeanne@exemple.fr"
    assert cantine.cc_emails == ("a@exemple.fr", "b@exemple.fr")
    assert cantine.receives_emails is True
    assert cantine.opened_on == dt.date(2026, 3, 2)


def test_empty_optional_cells_keep_defaults(schema: Schema, reference: Reference) -> None:
    row = cantine_row(2, "Cantine Lyon", **{"Thématiques": [], "Budget annuel": "", "Reçoit les emails": None})
    (cantine,), problems = parse_cantines([row], schema, reference)
    assert problems == []
    assert cantine.themes == ()
    assert cantine.annual_budget is None
    assert cantine.receives_emails is False
    assert cantine.qpv is False


@pytest.mark.parametrize(
    ("departement", "code", "region"),
    [
        pytest.param("69", "69", "Auvergne-Rhône-Alpes", id="code"),
        pytest.param("1", "01", "Auvergne-Rhône-Alpes", id="code-lost-its-zero"),
        pytest.param("2a", "2A", "Corse", id="corsica-lowercase"),
        pytest.param("974", "974", "La Réunion", id="overseas"),
        pytest.param("Seine Saint Denis", "93", "Île-de-France", id="name-without-hyphens"),
        pytest.param("rhone", "69", "Auvergne-Rhône-Alpes", id="name-without-accent"),
    ],
)
def test_departement_and_region_are_derived(
    schema: Schema, reference: Reference, departement: str, code: str, region: str
) -> None:
    (cantine,), problems = parse_cantines([cantine_row(2, "C", Département=departement)], schema, reference)
    assert problems == []
    assert cantine.departement.code == code
    assert cantine.region == region


def test_unknown_departement_is_a_problem_and_the_row_is_skipped(schema: Schema, reference: Reference) -> None:
    rows = [cantine_row(2, "Cantine Nulle Part", Département="99"), cantine_row(3, "Cantine Lyon")]
    cantines, problems = parse_cantines(rows, schema, reference)
    assert [c.name for c in cantines] == ["Cantine Lyon"]
    (problem,) = problems
    assert problem.table == "Cantines"
    assert problem.row == "ligne 2 (Cantine Nulle Part)"
    assert problem.column == "Département"
    assert problem.value == "99"
    assert problem.message == (
        "Département « 99 » inconnu (attendu : un numéro comme 69, 2A ou 974, ou un nom comme Rhône)"
    )


@pytest.mark.parametrize(
    ("postcode", "expected"),
    [
        pytest.param("1000", "01000", id="leading-zero-eaten"),
        pytest.param(1000, "01000", id="number-leading-zero-eaten"),
        pytest.param("69007", "69007", id="five-digits-unchanged"),
        pytest.param("20000", "20000", id="corsica-unchanged"),
        pytest.param("CEDEX 9", "CEDEX 9", id="not-digits-unchanged"),
    ],
)
def test_postcode(schema: Schema, reference: Reference, postcode: object, expected: str) -> None:
    (cantine,), problems = parse_cantines([cantine_row(2, "C", **{"Code postal": postcode})], schema, reference)
    assert problems == []
    assert cantine.postcode == expected


def test_duplicate_key_keeps_the_first_row(schema: Schema, reference: Reference) -> None:
    rows = [
        cantine_row(2, "Cantine Lyon", Ville="Lyon"),
        cantine_row(3, "cantine  LYON", Ville="Villeurbanne"),
        cantine_row(4, "Cantine Rennes", Département="35", Ville="Rennes"),
    ]
    cantines, problems = parse_cantines(rows, schema, reference)
    assert [(c.name, c.city) for c in cantines] == [("Cantine Lyon", "Lyon"), ("Cantine Rennes", "Rennes")]
    (problem,) = problems
    assert problem.row == "ligne 3 (cantine  LYON)"
    assert problem.column == "Nom"
    assert "doublon" in problem.message
    assert "ligne 2 (Cantine Lyon)" in problem.message
    assert problem.message.endswith("cette ligne est ignorée")


def test_a_skipped_row_does_not_make_the_next_one_a_duplicate(schema: Schema, reference: Reference) -> None:
    rows = [cantine_row(2, "Cantine Lyon", Département="99"), cantine_row(3, "Cantine Lyon")]
    cantines, problems = parse_cantines(rows, schema, reference)
    assert [c.name for c in cantines] == ["Cantine Lyon"]
    assert [p.column for p in problems] == ["Département"]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        pytest.param("Ville", None, id="none"),
        pytest.param("Ville", "", id="empty-text"),
        pytest.param("Statut", None, id="required-choice"),
        pytest.param("Département", None, id="departement"),
    ],
)
def test_missing_required_value(schema: Schema, reference: Reference, column: str, value: object) -> None:
    cantines, problems = parse_cantines([cantine_row(5, "Cantine Lyon", **{column: value})], schema, reference)
    assert cantines == []
    (problem,) = problems
    assert problem.column == column
    assert problem.value == ""
    assert problem.message == f"« {column} » est obligatoire et n'est pas rempli"
    assert problem.row == "ligne 5 (Cantine Lyon)"


def test_bad_values_do_not_stop_the_next_rows(schema: Schema, reference: Reference) -> None:
    rows = [
        cantine_row(2, "Cantine A"),
        cantine_row(3, "Cantine B", **{"Budget annuel": "beaucoup", "Statut": "Fermée définitivement"}),
        cantine_row(4, "Cantine C", **{"Date d'ouverture": "31/02/2026"}),
        cantine_row(5, "Cantine D", **{"Email responsable": "marie.dupont@"}),
        cantine_row(6, "Cantine E"),
    ]
    cantines, problems = parse_cantines(rows, schema, reference)
    assert [c.name for c in cantines] == ["Cantine A", "Cantine E"]
    assert [(p.row, p.column, p.value) for p in problems] == [
        ("ligne 3 (Cantine B)", "Statut", "Fermée définitivement"),
        ("ligne 3 (Cantine B)", "Budget annuel", "beaucoup"),
        ("ligne 4 (Cantine C)", "Date d'ouverture", "31/02/2026"),
        ("ligne 5 (Cantine D)", "Email responsable", "marie.dupont@"),
    ]
    assert problems[2].message == "« 31/02/2026 » n'est pas une date valide (attendu : JJ/MM/AAAA)"


def test_problem_reads_as_a_french_sentence(schema: Schema, reference: Reference) -> None:
    row = cantine_row(4, "Cantine C", **{"Date d'ouverture": "31/02/2026"})
    _, (problem,) = parse_cantines([row], schema, reference)
    assert str(problem) == (
        "Cantines, ligne 4 (Cantine C), colonne « Date d'ouverture » : "
        "« 31/02/2026 » n'est pas une date valide (attendu : JJ/MM/AAAA)"
    )


# -- row labels ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        pytest.param(Row("rec1", {"Nom": "Cantine Lyon"}, 12), "ligne 12 (Cantine Lyon)", id="position-and-name"),
        pytest.param(Row("rec1", {"Nom": ""}, 12), "ligne 12", id="no-name"),
        pytest.param(Row("rec1", {}, 12), "ligne 12", id="no-first-cell"),
        pytest.param(
            Row("recAbc", {"Nom": "Cantine Lyon"}), "l'enregistrement recAbc (Cantine Lyon)", id="airtable"
        ),
    ],
)
def test_row_label(schema: Schema, row: Row, expected: str) -> None:
    assert row_label(schema["cantines"], row) == expected


def test_row_label_of_a_link_and_a_date_first_column(schema: Schema) -> None:
    assert row_label(schema["indicateurs"], Row("r", {"Cantine": ["Cantine Lyon"]}, 3)) == "ligne 3 (Cantine Lyon)"
    assert row_label(schema["journal"], Row("r", {"Début": dt.date(2026, 3, 2)}, 4)) == "ligne 4 (02/03/2026)"


# -- links -----------------------------------------------------------------------------------


def test_link_to_unknown_cantine_suggests_a_close_name(schema: Schema, reference: Reference) -> None:
    data = dataset(
        schema,
        reference,
        cantines=[cantine_row(2, "Cantine Rennes", Département="35")],
        partenaires=[PARTNER],
        conventions=[
            convention_row(2, "CONV-1", "Cantine Renes"),
            convention_row(3, "CONV-2", "Cantine Brest"),
            convention_row(4, "CONV-3", "Cantine Rennes"),
        ],
    )
    assert [c.reference for c in data.conventions] == ["CONV-3"]
    close, far = data.problems
    assert (close.table, close.row, close.column) == ("Conventions", "ligne 2 (CONV-1)", "Cantines")
    assert close.message == (
        "« Cantine Renes » ne correspond à aucune ligne de Cantines (vouliez-vous dire « Cantine Rennes » ?)"
    )
    assert far.message == "« Cantine Brest » ne correspond à aucune ligne de Cantines"
    assert "vouliez-vous dire" not in far.message


@pytest.mark.parametrize(
    "written",
    [
        pytest.param("cantine lyon", id="lowercase"),
        pytest.param("CANTINE LYON", id="uppercase"),
        pytest.param("  Cantine   Lyon ", id="spaces"),
        pytest.param("Cantine Lyon", id="exact"),
    ],
)
def test_link_resolves_to_the_real_name(schema: Schema, reference: Reference, written: str) -> None:
    data = dataset(
        schema,
        reference,
        cantines=[cantine_row(2, "Cantine Lyon")],
        partenaires=[PARTNER],
        conventions=[convention_row(2, "CONV-1", written, partner="fondation avenir")],
    )
    assert data.problems == []
    (convention,) = data.conventions
    assert convention.partner == "Fondation Avenir"
    assert convention.cantines == ("Cantine Lyon",)
    assert data.cantine(convention.cantines[0]) is not None


def test_link_resolves_to_a_name_typed_with_extra_spaces(schema: Schema, reference: Reference) -> None:
    data = dataset(
        schema,
        reference,
        cantines=[cantine_row(2, "Cantine  Lyon   Guillotière ")],
        partenaires=[PARTNER],
        conventions=[
            convention_row(2, "CONV-1", "Cantine Lyon Guillotière")
        ],
    )
    assert data.problems == []
    (convention,) = data.conventions
    assert convention.cantines == (data.cantines[0].name,)
    assert data.cantine(convention.cantines[0]) is data.cantines[0]


def test_link_resolves_to_the_kept_row_when_a_duplicate_is_spelled_differently(
    schema: Schema, reference: Reference
) -> None:
    data = dataset(
        schema,
        reference,
        cantines=[cantine_row(2, "Cantine Lyon"), cantine_row(3, "cantine lyon")],
        partenaires=[PARTNER],
        conventions=[
            convention_row(2, "CONV-1", "Cantine Lyon"),
            convention_row(3, "CONV-2", "cantine lyon"),
        ],
    )
    assert [c.name for c in data.cantines] == ["Cantine Lyon"]
    assert [c.cantines for c in data.conventions] == [("Cantine Lyon",), ("Cantine Lyon",)]
    for convention in data.conventions:
        assert data.cantine(convention.cantines[0]) is not None


def test_link_resolves_to_the_valid_row_when_an_earlier_duplicate_was_skipped(
    schema: Schema, reference: Reference
) -> None:
    data = dataset(
        schema,
        reference,
        cantines=[cantine_row(2, "CANTINE LYON", Département="99"), cantine_row(3, "Cantine Lyon")],
        partenaires=[PARTNER],
        conventions=[
            convention_row(2, "CONV-1", "cantine lyon")
        ],
    )
    assert [c.name for c in data.cantines] == ["Cantine Lyon"]
    assert data.conventions[0].cantines == ("Cantine Lyon",)


def test_single_link_with_two_values_is_a_problem(schema: Schema, reference: Reference) -> None:
    data = dataset(
        schema,
        reference,
        partenaires=[PARTNER, Row("recP2", {"Nom": "Fondation B"}, 3)],
        conventions=[
            Row("recC1", {"Référence": "CONV-1", "Partenaire": ["Fondation Avenir", "Fondation B"]}, 2)
        ],
    )
    assert data.conventions == []
    (problem,) = data.problems
    assert problem.column == "Partenaire"
    assert "une seule ligne de Partenaires attendue" in problem.message


def test_link_to_a_table_read_empty_is_a_problem(schema: Schema, reference: Reference) -> None:
    data = dataset(schema, reference, partenaires=[], conventions=[CONVENTION])
    assert data.conventions == []
    (problem,) = data.problems
    assert problem.column == "Partenaire"
    assert problem.message == "« Fondation Avenir » ne correspond à aucune ligne de Partenaires"


def test_link_to_a_table_that_was_not_read_is_not_checked(schema: Schema, reference: Reference) -> None:
    data = dataset(schema, reference, conventions=[CONVENTION])  # Partenaires could not be read
    assert [c.partner for c in data.conventions] == ["Fondation Avenir"]
    assert data.problems == []  # not a problem of this row: nothing to check it against
    assert data.incomplete["partenaires"] == "Partenaires non lue"
    assert "conventions" not in data.incomplete


def test_an_absent_column_is_one_structural_problem(schema: Schema, reference: Reference) -> None:
    rows = [Row(f"rec{i}", {"Nom": f"Fondation {i}", "Type": None}, i) for i in range(2, 40)]
    data = parse_dataset({"partenaires": rows}, schema, reference, PARIS, {"partenaires": ("Type", "Notes")})
    assert len(data.partenaires) == 38  # the rows are read, the absent columns empty
    assert [(p.table, p.row, p.column) for p in data.problems] == [
        ("Partenaires", "en-têtes", "Type"), ("Partenaires", "en-têtes", "Notes")]
    assert data.problems[0].message.startswith("colonne « Type » absente de Partenaires : ce qui en dépend attend")
    assert data.incomplete["partenaires"] == "Partenaires sans les colonnes « Type », « Notes »"


def test_a_table_without_its_first_column_yields_no_rows_and_its_links_are_not_checked(
    schema: Schema, reference: Reference,
) -> None:
    rows = [Row("recP1", {"Nom": None, "Type": "Fondation"}, 2)]
    data = parse_dataset({"partenaires": rows, "conventions": [CONVENTION]}, schema, reference, PARIS,
                         {"partenaires": ("Nom",)})
    assert data.partenaires == []
    assert [p.column for p in data.problems] == ["Nom"]  # one problem, not one per row or per link
    assert [c.partner for c in data.conventions] == ["Fondation Avenir"]


# -- échéances -------------------------------------------------------------------------------


def parse_echeances(schema: Schema, reference: Reference, *rows: Row) -> Dataset:
    return dataset(
        schema,
        reference,
        cantines=[cantine_row(2, "Cantine Lyon")],
        partenaires=[PARTNER],
        conventions=[CONVENTION],
        echeances=list(rows),
    )


@pytest.mark.parametrize(
    ("status", "done"),
    [
        pytest.param("À venir", False, id="a-venir"),
        pytest.param("En préparation", False, id="en-preparation"),
        pytest.param("Envoyée", True, id="envoyee"),
        pytest.param("Acceptée", True, id="acceptee"),
        pytest.param("Payée", True, id="payee"),
        pytest.param("Annulée", True, id="annulee"),
        pytest.param("payee", True, id="typed-without-accent"),
    ],
)
def test_echeance_is_done_by_status(schema: Schema, reference: Reference, status: str, done: bool) -> None:
    data = parse_echeances(schema, reference, echeance_row(2, Statut=status))
    assert data.problems == []
    (item,) = data.echeances
    assert item.is_done is done


def test_done_statuses_are_all_schema_choices(schema: Schema) -> None:
    assert DONE_STATUSES < set(schema["echeances"].column("Statut").choices)


@pytest.mark.parametrize(
    "status", [pytest.param("À venir", id="a-venir"), pytest.param("En préparation", id="en-preparation")]
)
def test_echeance_with_fait_le_is_done(schema: Schema, reference: Reference, status: str) -> None:
    data = parse_echeances(schema, reference, echeance_row(2, Statut=status, **{"Fait le": "15/06/2026"}))
    (item,) = data.echeances
    assert item.done_on == dt.date(2026, 6, 15)
    assert item.is_done is True


def test_echeance_fields_and_key(schema: Schema, reference: Reference) -> None:
    data = parse_echeances(
        schema,
        reference,
        echeance_row(
            2,
            **{
                "Cantine": "cantine lyon",
                "Type": "versement",
                "Date d'échéance": "30/06/2026",
                "Date interne": "2026-06-15",
                "Montant": "12 500 €",
                "Responsable": "Jeanne Martin <jeanne@exemple.fr>",
            },
        ),
        echeance_row(3, Type="Bilan final", **{"Date d'échéance": "31/12/2026"}),
    )
    assert data.problems == []
    versement, bilan = data.echeances
    assert schema["echeances"].key == ("Convention", "Type", "Cantine", "Date d'échéance")
    assert versement.key == "CONV-2026-01|Versement|Cantine Lyon|2026-06-30"
    assert bilan.key == "CONV-2026-01|Bilan final||2026-12-31"
    assert versement.agreement == "CONV-2026-01"
    assert versement.cantine == "Cantine Lyon"
    assert versement.type == "Versement"
    assert versement.due_on == dt.date(2026, 6, 30)
    assert versement.internal_due_on == dt.date(2026, 6, 15)
    assert versement.amount == Decimal("12500")
    assert versement.owner_email == "jeanne@exemple.fr"
    assert versement.title == "Versement – CONV-2026-01"
    assert versement.is_done is False


def test_echeance_duplicate_key_across_several_columns(schema: Schema, reference: Reference) -> None:
    data = parse_echeances(
        schema,
        reference,
        echeance_row(2, Intitulé="Bilan 2026"),
        echeance_row(3, Intitulé="Bilan 2026 (copie)", Type="bilan final", **{"Date d'échéance": "30/06/2026"}),
        echeance_row(4, Intitulé="Bilan 2026 Lyon", Cantine="Cantine Lyon"),
    )
    assert [e.label for e in data.echeances] == ["Bilan 2026", "Bilan 2026 Lyon"]
    (problem,) = data.problems
    assert problem.row == "ligne 3 (Bilan 2026 (copie))"
    assert problem.column == ""  # a key of several columns points at no single one
    assert "doublon de la ligne 2 (Bilan 2026)" in problem.message
    assert "« Convention », « Type », « Cantine », « Date d'échéance »" in problem.message


def test_echeance_missing_due_date(schema: Schema, reference: Reference) -> None:
    data = parse_echeances(schema, reference, echeance_row(7, **{"Date d'échéance": None}))
    assert data.echeances == []
    (problem,) = data.problems
    assert (problem.table, problem.row, problem.column) == ("Échéances", "ligne 7", "Date d'échéance")
    assert problem.message.startswith("« Date d'échéance » est obligatoire (sauf pour un compte rendu financier")


def test_financial_report_without_date_is_due_six_months_after_the_financial_year(
    schema: Schema, reference: Reference
) -> None:
    row = echeance_row(7, **{"Date d'échéance": None, "Type": "Compte rendu financier"})
    ending = Row("recC9", {**CONVENTION.fields, "Date de fin": dt.date(2026, 8, 31)}, 2)
    data = dataset(schema, reference, cantines=[cantine_row(2, "Cantine Lyon")], partenaires=[PARTNER],
                   conventions=[ending], echeances=[row])
    assert data.problems == []
    (item,) = data.echeances
    assert item.due_on == dt.date(2027, 6, 30)  # end of the 2026 financial year + 6 months
    without_end = parse_echeances(schema, reference, row)  # CONVENTION has no Date de fin
    assert without_end.echeances == []
    (problem,) = without_end.problems
    assert problem.column == "Date d'échéance" and "date de fin" in problem.message


# -- the whole dataset -----------------------------------------------------------------------


def test_dataset_counts_rows_and_leaves_unread_tables_empty(schema: Schema, reference: Reference) -> None:
    data = dataset(
        schema,
        reference,
        cantines=[cantine_row(2, "Cantine Lyon"), cantine_row(3, "Cantine X", Département="99")],
        indicateurs=[
            Row("recI1", {"Cantine": ["Cantine Lyon"], "Mois": "mars 2026", "Repas servis": 1200.0,
                          "Produits locaux (%)": "45 %"}, 2),
        ],
    )
    assert data.rows_read == 3
    assert [c.name for c in data.cantines] == ["Cantine Lyon"]
    assert data.partenaires == [] and data.conventions == [] and data.echeances == []
    (figures,) = data.indicateurs
    assert figures.cantine == "Cantine Lyon"
    assert figures.month == dt.date(2026, 3, 1)
    assert figures.meals == 1200
    assert figures.local_share == Decimal("0.45")
    assert [p.column for p in data.problems] == ["Département"]
    assert data.cantine("Cantine Lyon") is data.cantines[0]
    assert data.cantine("Cantine X") is None


def test_row_urls_reach_the_dataset_by_table_and_key(schema: Schema, reference: Reference) -> None:
    """Where each row lives (given by the backend) is kept by its table and key, for links in emails."""
    parsed = dataset(
        schema, reference,
        cantines=[Row("rec1", cantine_row(2, "Cantine des Canuts").fields, 2, url="https://airtable.com/app/tbl/rec1")],
        partenaires=[PARTNER], conventions=[CONVENTION],
        echeances=[Row("recE", echeance_row(2, Cantine="Cantine des Canuts").fields, 2, url="https://sheet.example#range=A2")],
    )
    (item,) = parsed.echeances
    assert parsed.link("cantines", "Cantine des Canuts") == "https://airtable.com/app/tbl/rec1"
    assert parsed.link("echeances", item.key) == "https://sheet.example#range=A2"
    assert parsed.link("conventions", "CONV-2026-01") is None  # the backend gave none
