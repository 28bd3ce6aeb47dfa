"""The Aides-territoires import in the cycle, through the local fake: new aids become opportunities
« À qualifier », re-importing writes nothing, an update keeps staff edits, a failing API leaves the
rest of the cycle running, and matching waits for staff to qualify imported opportunities."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner

from automations.cycle.backends import open_tables
from automations.cli import cli
from automations.demo import write_demo_workbook
from automations.cycle.run import AIDES, run_cycle
from automations.settings import Settings

from .conftest import PARIS, REPO
from .fakes.aides_territoires import API_TOKEN, FakeAidesTerritoires, make_aid

TODAY = dt.date(2026, 11, 24)
AIDS = [
    make_aid(501, name="Appel à projets Manger ensemble", submission_deadline="2027-03-31", is_call_for_project=True),
    make_aid(502, name="Soutien aux cantines solidaires du Rhône", perimeter="Rhône", perimeter_scale="Département",
             financers=["Département du Rhône"], submission_deadline="2027-02-15"),
    make_aid(503, name="Aide déjà close", submission_deadline="2026-06-30"),
    make_aid(504, name="Appel à projets Manger ensemble", submission_deadline="2027-05-31",
             financers=["Fondation Terre Commune"]),  # the same title as 501
    make_aid(505, name="Aide à la vie locale", perimeter="Quelque-Part-sur-Loire", perimeter_scale="commune",
             submission_deadline="2027-01-31"),  # a commune no département's query gives: not the network's
    make_aid(506, name="Fonds d'initiatives locales de Villeurbanne", perimeter="Villeurbanne",
             perimeter_scale="commune", financers=["Ville de Villeurbanne"], submission_deadline="2027-01-31"),
]


def clock() -> dt.datetime:
    return dt.datetime(2026, 11, 24, 6, 30, tzinfo=PARIS)


@pytest.fixture
def fake() -> Iterator[FakeAidesTerritoires]:
    with FakeAidesTerritoires(aids=AIDS) as server:
        yield server


@pytest.fixture
def settings(make_settings: Callable[..., Settings], fake: FakeAidesTerritoires) -> Settings:
    settings = make_settings(
        aides_territoires=f'config = "{REPO / "config" / "aides_territoires.toml"}"',
        environ={"AIDES_TERRITOIRES_TOKEN": API_TOKEN, "AIDES_TERRITOIRES_URL": fake.url},
    )
    write_demo_workbook(settings, TODAY)
    return settings


def imported(settings: Settings) -> dict[str, dict]:
    rows = open_tables(settings)["opportunites"].read()
    return {str(r.fields["Identifiant source"]): dict(r.fields) for r in rows if r.fields.get("Source") == "Aides-territoires"}


def test_new_aids_become_opportunities_to_qualify_and_a_reimport_writes_nothing(settings: Settings) -> None:
    report = run_cycle(settings, today=TODAY, clock=clock, job="aides", parts=frozenset({AIDES}))
    assert report.aides is not None and report.aides.fetched == 6 and report.aides.expired_skipped == 1
    assert report.aides.outside_skipped == 1
    rows = imported(settings)
    assert set(rows) == {"501", "502", "504", "506"}  # the closed aid is not created, nor the one elsewhere
    assert rows["506"]["Territoires éligibles"] == ["69"]  # Villeurbanne: given by the Rhône's query
    assert all(r["Statut veille"] == "À qualifier" for r in rows.values())
    assert rows["502"]["Territoires éligibles"] == ["69"] and rows["502"]["Partenaire"] == "Département du Rhône"
    assert rows["501"]["Titre"] != rows["504"]["Titre"]  # titles name rows: the homonym is told apart
    assert "Aides-territoires n° 504" in rows["504"]["Titre"] or "Aides-territoires n° 501" in rows["501"]["Titre"]
    assert "Département du Rhône" in report.aides.partners_added
    assert not any("Quelque-Part" in p.message or "Quelque-Part" in p.value for p in report.problems)
    again = run_cycle(settings, today=TODAY, clock=clock, job="aides", parts=frozenset({AIDES}))
    assert again.aides is not None and again.aides.sync is not None
    assert again.aides.sync.written == 0 and not again.aides.partners_added


def test_an_updated_aid_refreshes_the_import_columns_and_keeps_staff_edits(settings: Settings, fake: FakeAidesTerritoires) -> None:
    run_cycle(settings, today=TODAY, clock=clock, job="aides", parts=frozenset({AIDES}))
    table = open_tables(settings)["opportunites"]
    (row,) = [r for r in table.read() if r.fields.get("Identifiant source") == "502"]
    table.update([(row.id, {"Statut veille": "Pertinente", "Description": "Vu avec la DRAAF : éligible."})])
    fake.aids[1] = make_aid(502, name="Soutien aux cantines solidaires du Rhône", perimeter="Rhône",
                            perimeter_scale="Département", financers=["Département du Rhône"],
                            submission_deadline="2027-03-15", date_updated="2026-11-20T10:00:00+01:00")
    report = run_cycle(settings, today=TODAY, clock=clock, job="aides", parts=frozenset({AIDES}))
    assert report.aides is not None and report.aides.sync is not None and report.aides.sync.updated == 1
    after = imported(settings)["502"]
    assert after["Date limite"] == dt.date(2027, 3, 15)  # the aid's new deadline
    assert after["Statut veille"] == "Pertinente"  # staff's
    assert after["Description"] == "Vu avec la DRAAF : éligible."  # edited by a person: kept


def test_matching_waits_for_staff_to_qualify_an_imported_opportunity(settings: Settings) -> None:
    first = run_cycle(settings, today=TODAY, clock=clock)
    assert not [m for m in first.matches if m.opportunity.source == "Aides-territoires"]
    table = open_tables(settings)["opportunites"]
    (row,) = [r for r in table.read() if r.fields.get("Identifiant source") == "501"]
    table.update([(row.id, {"Statut veille": "Pertinente", "Thématiques": ["Lien social", "Alimentation durable"]})])
    second = run_cycle(settings, today=TODAY, clock=clock)
    assert [m for m in second.matches if m.opportunity.source == "Aides-territoires"]


def test_a_failing_api_leaves_the_rest_of_the_cycle_running(settings: Settings, fake: FakeAidesTerritoires) -> None:
    fake.fail_next(*[503] * 10)
    report = run_cycle(settings, today=TODAY, clock=clock)
    assert any(e.startswith("import Aides-territoires impossible") for e in report.errors)
    assert report.sent > 0 and report.matches and not report.fatal
    assert imported(settings) == {}


def test_without_a_token_the_import_is_off_and_says_so(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    write_demo_workbook(settings, TODAY)
    report = run_cycle(settings, today=TODAY, clock=clock)
    assert report.aides is None and report.aides_note and "AIDES_TERRITOIRES_TOKEN" in report.aides_note
    result = CliRunner().invoke(cli, ["import-aides", "--config", str(settings.path)])
    assert result.exit_code == 2 and "AIDES_TERRITOIRES_TOKEN" in result.output


def test_import_aides_command(settings: Settings, fake: FakeAidesTerritoires) -> None:
    env = {"AIDES_TERRITOIRES_TOKEN": API_TOKEN, "AIDES_TERRITOIRES_URL": fake.url}
    result = CliRunner().invoke(cli, ["import-aides", "--config", str(settings.path), "--today", TODAY.isoformat()], env=env)
    assert result.exit_code == 0, result.output
    assert "Import Aides-territoires : 6 aides lues, 4 nouvelles opportunités" in result.output


def test_only_aids_of_the_network_territory_are_imported(make_settings: Callable[..., Settings]) -> None:
    aids = [
        make_aid(601, name="Aide nationale", submission_deadline="2027-03-31"),
        make_aid(602, name="Aide du Rhône", perimeter="Rhône", perimeter_scale="Département",
                 submission_deadline="2027-03-31"),
        make_aid(603, name="Aide de l'Ain", perimeter="Ain", perimeter_scale="Département",
                 submission_deadline="2027-03-31"),  # no cantine in the Ain
        make_aid(604, name="Aide de Corse-du-Sud", perimeter="Corse-du-Sud", perimeter_scale="Département",
                 submission_deadline="2027-03-31"),
        # a département's query also gives the aids of its communes and EPCIs (Aides-territoires' perimeter_id)
        make_aid(605, name="Aide de la Métropole de Lyon", perimeter="Métropole de Lyon", perimeter_scale="epci",
                 financers=["Métropole de Lyon"], submission_deadline="2027-03-31"),
        make_aid(606, name="Aide de Villeurbanne", perimeter="Villeurbanne", perimeter_scale="commune",
                 financers=["Ville de Villeurbanne"], submission_deadline="2027-03-31"),
        make_aid(607, name="Aide de Gex", perimeter="Gex", perimeter_scale="commune",
                 financers=["Ville de Gex"], submission_deadline="2027-03-31"),  # in the Ain
    ]
    with FakeAidesTerritoires(aids=aids, perimeters=french_perimeters()) as fake:
        settings = make_settings(
            aides_territoires=f'config = "{REPO / "config" / "aides_territoires.toml"}"',
            environ={"AIDES_TERRITOIRES_TOKEN": API_TOKEN, "AIDES_TERRITOIRES_URL": fake.url},
        )
        write_demo_workbook(settings, TODAY)
        report = run_cycle(settings, today=TODAY, clock=clock, job="aides", parts=frozenset({AIDES}))
        rows = imported(settings)
        assert set(rows) == {"601", "602", "604", "605", "606"}
        assert rows["605"]["Territoires éligibles"] == ["69"] and rows["606"]["Territoires éligibles"] == ["69"]
        assert report.aides is not None and report.aides.fetched == 5  # each aid once, whatever the queries
        assert not any("introuvable" in p.message for p in report.problems)
        lookups = fake.requests("/api/perimeters/")
        assert len(lookups) == len({c["Département"] for c in demo_rows_cantines() if c["Département"] != "99"})
        assert all(call.param("scale") == ["department"] for call in lookups)  # one page, not every commune
        assert all(call.param("perimeter_id")[0].split("-")[0].isdigit() and "-" in call.param("perimeter_id")[0]
                   for call in fake.requests("/api/aids/"))  # the perimeter's id as the API gives it


def french_perimeters() -> list:
    """Europe, France, every département of config/departements.csv, and a few EPCIs and communes in them."""
    from automations.settings.files import load_reference

    from .fakes.aides_territoires import PERIMETERS, Perimeter

    reference = load_reference(REPO / "config" / "departements.csv")
    france = [p for p in PERIMETERS if p.scale in ("continent", "country")]
    departements = {d.code: Perimeter(80000 + i, d.name, "department", d.code, within=(70973, 70971))
                    for i, d in enumerate(reference.departements)}
    rhone, ain = departements["69"].id, departements["01"].id
    local = [
        Perimeter(72301, "Métropole de Lyon", "epci", "200046977", within=(rhone, 70973, 70971)),
        Perimeter(95266, "Villeurbanne", "commune", "69266", ("69100",), within=(72301, rhone, 70973, 70971)),
        Perimeter(95001, "Gex", "commune", "01173", ("01170",), within=(ain, 70973, 70971)),
        Perimeter(95002, "Saint-Genis-Pouilly", "commune", "01354", ("01630",), within=(ain, 70973, 70971)),
    ]
    return [*france, *departements.values(), *local]


def demo_rows_cantines() -> list[dict]:
    from automations.demo import demo_rows

    return [c for c in demo_rows(TODAY)["cantines"] if c["Statut"] != "Fermée"]


def test_a_departement_aides_territoires_does_not_know_falls_back_to_the_whole_query(
    make_settings: Callable[..., Settings],
) -> None:
    aids = [make_aid(701, name="Aide de l'Ain", perimeter="Ain", perimeter_scale="Département",
                     submission_deadline="2027-03-31"),
            make_aid(702, name="Aide de Villeurbanne", perimeter="Villeurbanne", perimeter_scale="commune",
                     submission_deadline="2027-03-31"),  # found by the Rhône's query
            make_aid(703, name="Aide d'Ajaccio", perimeter="Ajaccio", perimeter_scale="commune",
                     submission_deadline="2027-03-31"),  # found by the Corse-du-Sud's query
            make_aid(704, name="Aide de Saint-Denis", perimeter="Saint-Denis", perimeter_scale="commune",
                     submission_deadline="2027-03-31"),  # La Réunion (974): found by its query
            make_aid(705, name="Aide de Gex", perimeter="Gex", perimeter_scale="commune",
                     submission_deadline="2027-03-31")]  # the Ain's: only the whole query gives it
    with FakeAidesTerritoires(aids=aids) as fake:  # its perimeters know only a few départements
        settings = make_settings(
            aides_territoires=f'config = "{REPO / "config" / "aides_territoires.toml"}"',
            environ={"AIDES_TERRITOIRES_TOKEN": API_TOKEN, "AIDES_TERRITOIRES_URL": fake.url},
        )
        write_demo_workbook(settings, TODAY)
        report = run_cycle(settings, today=TODAY, clock=clock, job="aides", parts=frozenset({AIDES}))
    rows = imported(settings)
    assert set(rows) == {"701", "702", "703", "704"}  # better too many than missing a département's aids
    assert [rows[i]["Territoires éligibles"] for i in ("702", "703", "704")] == [["69"], ["2A"], ["974"]]
    assert report.aides is not None and report.aides.outside_skipped == 1  # Gex, in the Ain
    [lookup] = [p for p in report.problems if "introuvable" in p.message]  # no aid is « introuvable »
    assert not lookup.row and "départements introuvables" in lookup.message


def test_an_imported_homonym_keeps_its_distinct_title_run_after_run(settings: Settings) -> None:
    table = open_tables(settings)["opportunites"]
    table.create([{"Titre": "Soutien aux cantines solidaires du Rhône", "Statut veille": "Pertinente"}])  # staff's own
    for _ in range(2):
        run_cycle(settings, today=TODAY, clock=clock, job="aides", parts=frozenset({AIDES}))
        titles = [r.fields["Titre"] for r in table.read()]
        assert titles.count("Soutien aux cantines solidaires du Rhône") == 1
        assert "Soutien aux cantines solidaires du Rhône (Aides-territoires n° 502)" in titles
