"""A team's own base (`[tables] mapping = "mapping.toml"`): the file checked at start, tables read and
written under the team's names on every backend, staff reading their names, features the base
cannot have switched off, and a cycle on a renamed base giving what the shipped schema gives."""

from __future__ import annotations

import datetime as dt
import email
import json
from collections import Counter
from collections.abc import Callable
from email import policy
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from automations.cli import cli
from automations.cycle.backends import ensure_tables, hub_batch, open_tables
from automations.cycle.run import RunReport, run_cycle
from automations.demo import demo_rows, fill_tables
from automations.settings import Settings, load_settings
from connectors.errors import ConfigurationError
from connectors.tables.airtable.http import Pacer
from connectors.tables.mapped import MappedTable

from .conftest import PARIS, write_config
from .fakes.airtable import BASE_ID, TOKEN, FakeAirtable
from .fakes.sheets import FakeSheets, service_account_info

TODAY = dt.date(2026, 11, 24)
ACCOUNT = "robot@cantines.iam.gserviceaccount.com"

# A team's base: other table names, other column names, other wordings, a column it does not have.
TEAM_MAPPING = """\
# Names of this base. Left: the worker's names. Right: this base's names.
[tables.cantines]
name = "Réseau"

[tables.cantines.columns]
"Nom" = "Nom de la cantine"
"Email responsable" = "Mail du/de la responsable"
"Thématiques" = "Thèmes"
"Date d'ouverture" = false

[tables.cantines.choices."Statut"]
"Ouverte" = "Active"
"En montage" = ["En création", "Projet"]

[tables.cantines.choices."Thématiques"]
"Lien social" = "Convivialité"

[tables.opportunites]
name = "Veille"

[tables.opportunites.columns]
"Titre" = "Intitulé de l'appel"
"Date limite" = "Date de clôture"
"Statut veille" = "Statut"

[tables.opportunites.choices."Statut veille"]
"À qualifier" = "À étudier"
"Pertinente" = "Retenue"
"Écartée" = "Non retenue"

[tables.echeances]
name = "Suivi des échéances"

[tables.echeances.columns]
"Date d'échéance" = "Pour le"
"Responsable" = "Suivi par"

[tables.echeances.choices."Statut"]
"À venir" = "À faire"
"Envoyée" = "Rendue"

[tables.candidatures.choices."Statut"]
"Déposée" = "Dossier déposé"

[tables.correspondances]
name = "Pistes"

[tables.correspondances.columns]
"Opportunité" = "Appel"
"Statut" = "Suite donnée"

[tables.correspondances.choices."Statut"]
"Proposée" = "Nouvelle"

[tables.problemes]
name = "À corriger"
"""


def write_mapping(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mapping.toml").write_text(text, encoding="utf-8")


def clock() -> dt.datetime:
    return dt.datetime(2026, 11, 24, 7, 30, tzinfo=PARIS)


# -- the file ---------------------------------------------------------------------------------


def test_a_mapping_renames_tables_columns_and_choices(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    write_mapping(tmp_path / "deploy", TEAM_MAPPING)
    settings = make_settings(tables='mapping = "mapping.toml"')
    base = settings.base
    # the worker's code reads the shipped columns, in tables named as staff know them
    assert settings.schema["cantines"].name == "Réseau"
    assert settings.schema["cantines"].column_names[0] == "Nom"
    assert settings.schema["cantines"].column("Statut").choices == ("Ouverte", "En montage", "En pause", "Fermée")
    # the base's schema: what `cantines init` creates, without the column the base does not have
    cantines = base.base_schema()["cantines"]
    assert cantines.name == "Réseau" and cantines.primary == "Nom de la cantine" and cantines.key == ("Nom de la cantine",)
    assert "Date d'ouverture" not in cantines.column_names and "Mail du/de la responsable" in cantines.column_names
    assert cantines.column("Statut").choices == ("Active", "En création", "Projet", "En pause", "Fermée")
    assert base.base_schema()["partenaires"] == settings.schema["partenaires"]  # left out: shipped names
    assert base.unmapped() == {"cantines": frozenset({"Date d'ouverture"})}
    assert not base.identity and make_settings(folder="plain").base.identity


def test_every_problem_of_a_mapping_file_at_once(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    write_mapping(tmp_path / "deploy", """\
version = 2
[tables.cantine]
name = "Réseau"
[tables.cantines]
nom = "Réseau"
name = "Partenaires"
[tables.cantines.columns]
"Nom" = false
"Ville" = false
"Email" = "Mail"
"Responsable" = "Association"
"Budget annuel" = 12
[tables.cantines.choices."Statut"]
"Ouvert" = "Active"
"En pause" = "Fermée"
[tables.cantines.choices."Ville"]
"Lyon" = "Lyon"
[tables.journal]
absent = true
""")
    with pytest.raises(ConfigurationError) as caught:
        make_settings(tables='mapping = "mapping.toml"')
    problems = caught.value.problems
    expected = [
        "unknown key 'version'",
        "[tables.cantine]: unknown table",
        "[tables.cantines]: unknown key 'nom'",
        "'Nom': cannot be false: it is its first column",
        "'Ville': cannot be false: it is a required column",
        "unknown column 'Email' of cantines",
        "'Association' names both 'Association' and 'Responsable'",
        "'Budget annuel': expected the column's name in this base, or false, got 12",
        "unknown choice 'Ouvert'",
        "'Fermée' stands for both 'En pause' and 'Fermée'",
        "\"Ville\": 'Ville' has no choices to map",
        "[tables.journal] absent: the worker writes this table",
        "table name 'Partenaires' is given to both [tables.cantines] and [tables.partenaires]",
    ]
    for text in expected:
        assert any(text in p for p in problems), (text, problems)
    assert all(p.startswith("[tables] mapping: mapping.toml") for p in problems)


def test_a_missing_mapping_file_is_one_clear_error(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_settings(tables='mapping = "absent.toml"')
    assert any("mapping: file not found" in p and "absent.toml" in p for p in caught.value.problems)


# -- the wrapper, on each backend ----------------------------------------------------------------

SPLIT_MAPPING = TEAM_MAPPING.replace('name = "Réseau"', 'name = ["Cantines Nord", "Cantines Sud"]')

CANTINES = [
    {"Nom": "La Cantine du Nord", "Statut": "Ouverte", "Ville": "Lille", "Département": "59",
     "Thématiques": ["Lien social", "Insertion"], "Email responsable": "nord@example.org", "Reçoit les emails": True},
    {"Nom": "La Cantine en projet", "Statut": "En montage", "Ville": "Lyon", "Département": "69"},
]


def check_round_trip(table: MappedTable, raw_rows: Callable[[str], list[dict]]) -> None:
    """Rows written under the shipped names land under the base's; read back under the shipped names."""
    created = table.create(CANTINES)
    assert [r.fields["Nom"] for r in created] == ["La Cantine du Nord", "La Cantine en projet"]
    stored = raw_rows(table.parts[0].spec.name)
    assert stored[0]["Nom de la cantine"] == "La Cantine du Nord" and stored[0]["Statut"] == "Active"
    assert stored[0]["Mail du/de la responsable"] == "nord@example.org"
    assert stored[1]["Statut"] == "En création"  # several wordings: the first is the one written
    assert "Date d'ouverture" not in stored[0] and "Nom" not in stored[0]
    rows = {r.fields["Nom"]: r for r in table.read()}
    assert rows["La Cantine du Nord"].fields["Statut"] == "Ouverte"
    assert rows["La Cantine du Nord"].fields["Thématiques"] == ["Lien social", "Insertion"]
    assert rows["La Cantine du Nord"].fields["Email responsable"] == "nord@example.org"
    assert rows["La Cantine en projet"].fields["Statut"] == "En montage"
    assert rows["La Cantine du Nord"].fields["Date d'ouverture"] is None
    assert table.absent_columns() == ()  # a column mapped to false is no missing column
    # update and upsert by the shipped key
    table.update([(rows["La Cantine en projet"].id, {"Statut": "Ouverte"})])
    result = table.upsert([{"Nom": "La Cantine du Nord", "Ville": "Roubaix"},
                           {"Nom": "Nouvelle", "Statut": "En pause", "Ville": "Metz", "Département": "57"}], ["Nom"])
    assert (len(result.created), len(result.updated)) == (1, 1)
    read = {r.fields["Nom"]: r.fields for r in table.read()}
    assert read["La Cantine en projet"]["Statut"] == "Ouverte" and read["La Cantine du Nord"]["Ville"] == "Roubaix"
    assert read["Nouvelle"]["Statut"] == "En pause"  # a choice the mapping leaves alone keeps its wording
    assert {r["Statut"] for r in raw_rows(table.parts[0].spec.name)} == {"Active", "En pause"}


def test_the_workbook_through_the_mapping(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    write_mapping(tmp_path / "deploy", SPLIT_MAPPING)
    settings = make_settings(tables='mapping = "mapping.toml"')
    tables = open_tables(settings, create=True)
    with hub_batch(tables):
        ensure_tables(tables)
    cantines = tables["cantines"]
    assert isinstance(cantines, MappedTable) and [p.spec.name for p in cantines.parts] == ["Cantines Nord", "Cantines Sud"]

    def raw_rows(tab: str) -> list[dict]:
        sheet = openpyxl.load_workbook(settings.workbook.path)[tab]
        header = [c.value for c in sheet[1]]
        return [dict(zip(header, (c.value for c in row))) for row in sheet.iter_rows(min_row=2)]

    check_round_trip(cantines, raw_rows)
    # staff keep some cantines in a second tab, in their own wordings (any case): read from both
    book = openpyxl.load_workbook(settings.workbook.path)
    sud = book["Cantines Sud"]
    header = [c.value for c in sud[1]]
    line = {"Nom de la cantine": "La Cantine du Sud", "Statut": "projet", "Ville": "Nice", "Département": "06",
            "Thèmes": "Convivialité, Culture"}
    sud.append([line.get(h) for h in header])
    book.save(settings.workbook.path)
    tables = open_tables(settings)
    rows = {r.fields["Nom"]: r for r in tables["cantines"].read()}
    assert rows["La Cantine du Sud"].fields["Statut"] == "En montage"
    assert rows["La Cantine du Sud"].fields["Thématiques"] == ["Lien social", "Culture"]
    assert rows["La Cantine du Sud"].id.startswith("1:") and rows["Nouvelle"].id.startswith("0:")
    tables["cantines"].update([(rows["La Cantine du Sud"].id, {"Statut": "Ouverte"})])
    tables["cantines"].delete([rows["Nouvelle"].id])
    assert [r["Statut"] for r in raw_rows("Cantines Sud")] == ["Active"]
    assert "Nouvelle" not in {r["Nom de la cantine"] for r in raw_rows("Cantines Nord")}


def test_airtable_through_the_mapping(tmp_path: Path) -> None:
    write_mapping(tmp_path, TEAM_MAPPING)
    with FakeAirtable(rate_limit=None) as fake:
        environ = {"AIRTABLE_TOKEN": TOKEN, "AIRTABLE_BASE_ID": BASE_ID, "AIRTABLE_ENDPOINT_URL": fake.url}
        settings = load_settings(write_config(tmp_path, tables='backend = "airtable"\nmapping = "mapping.toml"'), environ)
        tables = open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)})
        ensure_tables(tables)

        def raw_rows(name: str) -> list[dict]:
            return fake.rows(name)

        check_round_trip(tables["cantines"], raw_rows)  # type: ignore[arg-type]
        # a link column under the base's name: échéances name their convention and cantine
        fields = {f["name"]: f["type"] for f in fake.table_model("Suivi des échéances")["fields"]}
        assert fields["Pour le"] == "date" and fields["Convention"] == "multipleRecordLinks"
        assert fields["Suivi par"] == "email" and "Date d'échéance" not in fields


def test_google_sheets_through_the_mapping(tmp_path: Path) -> None:
    write_mapping(tmp_path, TEAM_MAPPING)
    with FakeSheets() as fake:
        hub = "1HubDesCantinesDeLEquipe0000000000000000000"
        fake.add_spreadsheet(hub, title="Hub", shared_with=[ACCOUNT])
        environ = {"GOOGLE_SERVICE_ACCOUNT_JSON": json.dumps(service_account_info(ACCOUNT, fake.token_uri)),
                   "GOOGLE_SHEETS_ENDPOINT_URL": fake.url}
        settings = load_settings(write_config(tmp_path, tables='backend = "sheets"\nmapping = "mapping.toml"',
                                              sheets=f'spreadsheet = "{hub}"'), environ)
        tables = open_tables(settings)
        with hub_batch(tables):
            ensure_tables(tables)

        def raw_rows(tab: str) -> list[dict]:
            values = fake.values(hub, tab)
            return [dict(zip(values[0], row)) for row in values[1:]]

        check = tables["cantines"]
        assert isinstance(check, MappedTable)

        def written(tab: str) -> list[dict]:
            check.parts[0].book.flush()  # type: ignore[attr-defined]
            return raw_rows(tab)

        check_round_trip(check, written)


# -- full cycles on teams' bases ---------------------------------------------------------------


def outbox(settings: Settings) -> dict[str, tuple[str, str, str]]:
    """Each message queued: its key → (recipients, subject, text)."""
    found = {}
    for path in Path(settings.mail.outbox_dir).glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        found[str(message["X-Cantines-Key"])] = (str(message["To"]), str(message["Subject"]), text)
    return found


def assert_same_results(team: Settings, team_report: RunReport, shipped: Settings, shipped_report: RunReport,
                        tables_of: Callable[[Settings], dict] = open_tables) -> None:
    """A cycle on a team's base gives what the same data gives in the shipped schema."""
    assert not team_report.errors and not shipped_report.errors, (team_report.errors, shipped_report.errors)
    assert sorted((m.key, m.score) for m in team_report.matches) == sorted((m.key, m.score) for m in shipped_report.matches)
    assert team_report.matches and team_report.reminders > 0 and team_report.digests > 0 and team_report.drafts > 0
    counts = {k: v for k, v in team_report.counts.items() if not k.startswith("appels_")}
    assert counts == {k: v for k, v in shipped_report.counts.items() if not k.startswith("appels_")}
    assert [p.offer.name for p in team_report.offer_proposals] == [p.offer.name for p in shipped_report.offer_proposals]
    assert Counter(p.value for p in team_report.problems) == Counter(p.value for p in shipped_report.problems)
    team_sent, shipped_sent = outbox(team), outbox(shipped)
    assert {k: v[:2] for k, v in team_sent.items()} == {k: v[:2] for k, v in shipped_sent.items()}
    # the rows the worker wrote, read back under the shipped names
    def written(settings: Settings, code: str, columns: tuple[str, ...]) -> Counter:
        return Counter(tuple(str(r.fields.get(c)) for c in columns) for r in tables_of(settings)[code].read())

    assert written(team, "correspondances", ("Clé", "Score", "État", "Statut", "Proposée le")) == \
        written(shipped, "correspondances", ("Clé", "Score", "État", "Statut", "Proposée le"))
    assert written(team, "suggestions", ("Opportunité", "Cantines", "État")) == \
        written(shipped, "suggestions", ("Opportunité", "Cantines", "État"))
    assert written(team, "declinaisons", ("Offre", "Cantine", "Statut")) == \
        written(shipped, "declinaisons", ("Offre", "Cantine", "Statut"))
    assert len(tables_of(team)["problemes"].read()) == len(tables_of(shipped)["problemes"].read())
    assert any(note.startswith("Fonctionnalité désactivée : vie du réseau (événements, invitations, rappels) (pas de table Événements ;")
               for note in team_report.features_off), team_report.features_off
    assert not team_report.postponed and not team_report.incomplete  # what the base lacks is no incomplete read


def test_a_cycle_on_the_nord_workbook_equals_the_shipped_schema(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    from automations.demo import write_demo_workbook

    from .foreign_bases import WORKBOOK

    write_mapping(tmp_path / "nord", WORKBOOK.mapping)
    team = make_settings(folder="nord", tables='mapping = "mapping.toml"')
    WORKBOOK.build(team.workbook.path)
    shipped = make_settings(folder="shipped")
    write_demo_workbook(shipped, TODAY)
    team_report = run_cycle(team, today=TODAY, clock=clock)
    shipped_report = run_cycle(shipped, today=TODAY, clock=clock)
    assert_same_results(team, team_report, shipped, shipped_report)
    # staff read their own names: the tab « cantines », the statuses « Accordée / Rejetée »
    book = openpyxl.load_workbook(team.workbook.path)
    assert "Correspondances" in book.sheetnames and "Cantines" not in book.sheetnames
    # a second cycle with nothing new writes nothing but its journal line
    again = run_cycle(team, today=TODAY, clock=clock)
    assert again.rows_written == 0 and again.queued == 0


def test_a_cycle_on_the_ouest_spreadsheet_equals_the_shipped_schema(tmp_path: Path) -> None:
    from .foreign_bases import SHEETS

    with FakeSheets() as fake:
        environ = {"GOOGLE_SERVICE_ACCOUNT_JSON": json.dumps(service_account_info(ACCOUNT, fake.token_uri)),
                   "GOOGLE_SHEETS_ENDPOINT_URL": fake.url}
        team_key, shipped_key = "1OuestCantinesEquipe00000000000000000000000", "1HubLivreAvecLeSchema0000000000000000000000"
        SHEETS.build(fake, key=team_key, account=ACCOUNT)
        write_mapping(tmp_path / "ouest", SHEETS.mapping)
        team = load_settings(write_config(tmp_path / "ouest", tables='backend = "sheets"\nmapping = "mapping.toml"',
                                          sheets=f'spreadsheet = "{team_key}"'), environ)
        fake.add_spreadsheet(shipped_key, title="Hub", shared_with=[ACCOUNT])
        shipped = load_settings(write_config(tmp_path / "shipped", tables='backend = "sheets"',
                                             sheets=f'spreadsheet = "{shipped_key}"'), environ)
        result = CliRunner().invoke(cli, ["init", "sheets", "--config", str(shipped.path), "--with-demo-data",
                                          "--today", TODAY.isoformat()], env=environ)
        assert result.exit_code == 0, result.output
        team_report = run_cycle(team, today=TODAY, clock=clock)
        shipped_report = run_cycle(shipped, today=TODAY, clock=clock)
        assert_same_results(team, team_report, shipped, shipped_report)
        # cantines read from both tabs; the worker's tabs created under their shipped names
        assert len(fake.values(team_key, "Cantines ouvertes")) > 1 and len(fake.values(team_key, "Cantines en projet")) > 1
        assert fake.values(team_key, "Journal")[1][2] == "Avertissements"


def test_a_cycle_on_the_reseau_sud_airtable_base_equals_the_shipped_schema(tmp_path: Path) -> None:
    from .foreign_bases import AIRTABLE

    with FakeAirtable(rate_limit=None) as team_fake, FakeAirtable(rate_limit=None) as shipped_fake:
        AIRTABLE.build(team_fake)
        write_mapping(tmp_path / "sud", AIRTABLE.mapping)
        team_environ = {"AIRTABLE_TOKEN": TOKEN, "AIRTABLE_BASE_ID": BASE_ID, "AIRTABLE_ENDPOINT_URL": team_fake.url}
        team = load_settings(write_config(tmp_path / "sud", tables='backend = "airtable"\nmapping = "mapping.toml"'),
                             team_environ)
        shipped_environ = {**team_environ, "AIRTABLE_ENDPOINT_URL": shipped_fake.url}
        shipped = load_settings(write_config(tmp_path / "shipped", tables='backend = "airtable"'), shipped_environ)
        shipped_tables = open_tables(shipped, create=True, airtable_options={"pacer": Pacer(1000, 1.0)})
        ensure_tables(shipped_tables)
        fill_tables(shipped_tables, demo_rows(TODAY))
        team_tables = open_tables(team, airtable_options={"pacer": Pacer(1000, 1.0)})
        team_report = run_cycle(team, today=TODAY, clock=clock, tables=team_tables)
        shipped_report = run_cycle(shipped, today=TODAY, clock=clock, tables=shipped_tables)
        assert_same_results(team, team_report, shipped, shipped_report,
                            lambda settings: open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)}))
        # a signature date typed as text in their base is read like a date
        assert not any("Date de signature" in p.column for p in team_report.problems if p not in team_report.checks)
        assert {r["Statut"] for r in team_fake.rows("Veille") if "Statut" in r} <= {"À étudier", "Retenue", "Non retenue", "Archivée"}


# -- what staff read -----------------------------------------------------------------------------


@pytest.fixture
def team(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    """TEAM_MAPPING's base in a workbook, holding the demo's data and two more mistakes in its wordings."""
    write_mapping(tmp_path / "deploy", TEAM_MAPPING)
    settings = make_settings(tables='mapping = "mapping.toml"')
    tables = open_tables(settings, create=True)
    rows = demo_rows(TODAY)
    rows["cantines"][0]["Statut"] = "Fermée définitivement"
    rows["echeances"][0]["Statut"] = "Bidule"
    with hub_batch(tables):
        ensure_tables(tables)
        fill_tables(tables, rows)
    return settings


def test_problemes_name_the_tables_columns_and_choices_as_the_base_does(team: Settings) -> None:
    report = run_cycle(team, today=TODAY, clock=clock)
    book = openpyxl.load_workbook(team.workbook.path)
    assert "À corriger" in book.sheetnames and "Problèmes" not in book.sheetnames
    sheet = book["À corriger"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, values)) for values in sheet.iter_rows(min_row=2, values_only=True)]
    by_value = {r["Valeur"]: r for r in rows}
    statut = by_value["Fermée définitivement"]
    assert (statut["Table"], statut["Colonne"]) == ("Réseau", "Statut")
    assert "(attendu : Active, En création, En pause, Fermée)" in statut["Problème"]  # their wordings
    assert by_value["Bidule"]["Table"] == "Suivi des échéances"
    assert "(attendu : À faire, En préparation, Rendue, Acceptée, Payée, Annulée)" in by_value["Bidule"]["Problème"]
    duplicate = by_value["La Tablée de Vaise"]
    assert duplicate["Colonne"] == "Nom de la cantine" and "(même « Nom de la cantine »)" in duplicate["Problème"]
    assert by_value["31/02/2027"]["Colonne"] == "Date de clôture" and by_value["31/02/2027"]["Table"] == "Veille"
    assert by_value["marie.dupont@"]["Colonne"] == "Suivi par"
    link = by_value["Cantine des Canut"]
    assert "ne correspond à aucune ligne de Réseau" in link["Problème"]
    assert not any("Email responsable" in str(r.values()) for r in rows)
    # the summary says the same
    from automations.summary import format_report

    summary = format_report(report)
    assert "Réseau, ligne 32 (La Tablée de Vaise), colonne « Nom de la cantine »" in summary
    assert "Cantines," not in summary


def test_emails_name_the_tables_and_choices_as_the_base_does(team: Settings) -> None:
    run_cycle(team, today=TODAY, clock=clock)
    texts = [text.replace("\u00a0", " ").replace("\u202f", " ") for _, _, text in outbox(team).values()]
    reminders = [t for t in texts if "les rappels s'arrêteront" in t]
    assert reminders and all("dans le tableau Suivi des échéances" in t for t in reminders)
    assert all("« Rendue »" in t and "« Envoyée »" not in t for t in reminders)
    digests = [t for t in texts if "dans le tableau Pistes" in t]
    assert digests and all("« Intéressée »" in t for t in digests)  # left alone by the mapping
    assert not any("dans le tableau Correspondances" in t or "dans le tableau Échéances" in t for t in texts)


# -- features a base cannot have ------------------------------------------------------------------

NO_DEADLINES = """\
[tables.opportunites.columns]
"Date limite" = false

[tables.questions.columns]
"Message-ID" = false

[tables.evenements]
absent = true
"""


def test_a_feature_whose_column_the_base_lacks_is_off_and_check_says_why(
    make_settings: Callable[..., Settings], tmp_path: Path,
) -> None:
    write_mapping(tmp_path / "deploy", NO_DEADLINES)
    settings = make_settings(tables='mapping = "mapping.toml"')
    tables = open_tables(settings, create=True)
    with hub_batch(tables):
        ensure_tables(tables)
        fill_tables(tables, demo_rows(TODAY))
    assert "Date limite" not in [c.value for c in openpyxl.load_workbook(settings.workbook.path)["Opportunités"][1]]
    off = settings.features_off()
    assert set(off) == {"matching", "hotline", "events"}
    assert off["matching"] == ("Fonctionnalité désactivée : correspondances opportunité ↔ cantine et suggestions "
                               "collectives (Opportunités sans la colonne « Date limite »)")
    result = CliRunner().invoke(cli, ["check", "--config", str(settings.path), "--today", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert "Noms de la base :" in result.output and "1 table absente" in result.output
    assert "Correspondances opportunité ↔ cantine : désactivées" in result.output
    assert "(Opportunités sans la colonne « Date limite »)" in result.output
    assert "hotline (questions reçues par email) (Questions sans la colonne « Message-ID »)" in result.output
    assert "Fonctionnalité désactivée : vie du réseau (événements, invitations, rappels) (pas de table Événements)" \
        in result.output

    report = run_cycle(settings, today=TODAY, clock=clock)
    assert not report.errors and not report.incomplete and not report.postponed  # no error, nothing waits
    assert report.matches == [] and report.reminders > 0 and report.digests > 0  # the rest goes on
    assert not any("Date limite" in p.message for p in report.problems)
    assert len(report.features_off) == 3  # said once, in the summary
    book = openpyxl.load_workbook(settings.workbook.path)
    assert book["Correspondances"].max_row == 1  # nothing proposed without deadlines
