"""adopt → review → check → run, end to end: the file `cantines adopt` writes for a team's base (completed
where it said it could not decide, as staff would) gives a full cycle whose results equal the same data
in the shipped schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from automations.cli import cli
from automations.cycle.backends import ensure_tables, open_tables
from automations.cycle.run import run_cycle
from automations.demo import demo_rows, fill_tables, write_demo_workbook
from automations.settings import Settings, load_settings
from connectors.tables.airtable.http import Pacer

from .conftest import write_config
from .fakes.airtable import BASE_ID, TOKEN, UNPACED, FakeAirtable
from .fakes.sheets import FakeSheets, service_account_info
from .foreign_bases import AIRTABLE, SHEETS, WORKBOOK, ForeignBase
from .test_adopt import ACCOUNT
from .test_mapping import TODAY, assert_same_results, clock

# `cantines check` refuses example.org addresses: the network of a real deployment, for both sides
NETWORK = ('coordinator_email = "coordination@petites-cantines.fr"\nsender = "robot@petites-cantines.fr"\n'
           'signature = "La coordination"\n')


def adopt_and_review(config: Path, base: ForeignBase, environ: dict[str, str]) -> None:
    """`cantines adopt`, then what staff do: fill in the lines it left undecided, point the settings at
    the file, `cantines init` (the worker's own tables), `cantines check`."""
    result = CliRunner().invoke(cli, ["adopt", "--config", str(config)], env=environ)
    assert result.exit_code == 0, result.output
    mapping = config.parent / "mapping.toml"
    text = mapping.read_text(encoding="utf-8")
    reviewed = base.mapping_data["tables"]
    for code, column in base.undecided:
        line = re.search(rf'^# "{re.escape(column)}" = \?.*$', text, re.M)
        assert line is not None, f"{code}.{column} not left to staff"
        text = text.replace(line.group(0), f'"{column}" = "{reviewed[code]["columns"][column]}"', 1)
    mapping.write_text(text, encoding="utf-8")
    settings = config.read_text(encoding="utf-8").replace("[tables]\n", '[tables]\nmapping = "mapping.toml"\n', 1)
    config.write_text(settings, encoding="utf-8")
    created = CliRunner().invoke(cli, ["init", "--config", str(config)], env=environ)  # the worker's own tables
    assert created.exit_code == 0, created.output
    checked = CliRunner().invoke(cli, ["check", "--config", str(config), "--today", TODAY.isoformat()], env=environ)
    assert checked.exit_code == 0, checked.output


def test_adopt_then_a_cycle_on_the_nord_workbook(tmp_path: Path) -> None:
    config = write_config(tmp_path / "nord", network=NETWORK)
    WORKBOOK.build(tmp_path / "nord" / "hub.xlsx")
    adopt_and_review(config, WORKBOOK, {})
    team = load_settings(config, {})
    shipped = load_settings(write_config(tmp_path / "shipped", network=NETWORK), {})
    write_demo_workbook(shipped, TODAY)
    assert_same_results(team, run_cycle(team, today=TODAY, clock=clock),
                        shipped, run_cycle(shipped, today=TODAY, clock=clock))


def test_adopt_then_a_cycle_on_the_reseau_sud_airtable_base(tmp_path: Path) -> None:
    with FakeAirtable(rate_limit=None) as team_fake, FakeAirtable(rate_limit=None) as shipped_fake:
        AIRTABLE.build(team_fake)
        environ = {"AIRTABLE_TOKEN": TOKEN, "AIRTABLE_BASE_ID": BASE_ID, "AIRTABLE_ENDPOINT_URL": team_fake.url}
        config = write_config(tmp_path / "sud", tables='backend = "airtable"', airtable=UNPACED, network=NETWORK)
        adopt_and_review(config, AIRTABLE, environ)
        # adopt and check only read; init created the worker's own tables, nothing of the team's
        assert {r.kind for r in team_fake.requests()} <= {"schema", "list", "create-table"}
        assert all(r.status != 200 or r.body["name"] in ("Correspondances", "Suggestions collectives", "Journal", "Problèmes", "Envois")
                   for r in team_fake.requests("create-table"))
        team = load_settings(config, environ)
        shipped = load_settings(write_config(tmp_path / "shipped", tables='backend = "airtable"', network=NETWORK),
                                {**environ, "AIRTABLE_ENDPOINT_URL": shipped_fake.url})

        def tables_of(settings: Settings) -> dict:
            return open_tables(settings, airtable_options={"pacer": Pacer(1000, 1.0)})

        shipped_tables = open_tables(shipped, create=True, airtable_options={"pacer": Pacer(1000, 1.0)})
        ensure_tables(shipped_tables)
        fill_tables(shipped_tables, demo_rows(TODAY))
        team_report = run_cycle(team, today=TODAY, clock=clock, tables=tables_of(team))
        shipped_report = run_cycle(shipped, today=TODAY, clock=clock, tables=shipped_tables)
        assert_same_results(team, team_report, shipped, shipped_report, tables_of)


def test_adopt_then_a_cycle_on_the_ouest_spreadsheet(tmp_path: Path) -> None:
    with FakeSheets() as fake:
        environ = {"GOOGLE_SERVICE_ACCOUNT_JSON": json.dumps(service_account_info(ACCOUNT, fake.token_uri)),
                   "GOOGLE_SHEETS_ENDPOINT_URL": fake.url}
        team_key, shipped_key = "1OuestAdopteParLeRobot000000000000000000000", "1HubLivreAvecLeSchemaAdopt00000000000000000"
        SHEETS.build(fake, key=team_key, account=ACCOUNT)
        config = write_config(tmp_path / "ouest", tables='backend = "sheets"', sheets=f'spreadsheet = "{team_key}"',
                              network=NETWORK)
        adopt_and_review(config, SHEETS, environ)
        team = load_settings(config, environ)
        fake.add_spreadsheet(shipped_key, title="Hub", shared_with=[ACCOUNT])
        shipped = load_settings(write_config(tmp_path / "shipped", tables='backend = "sheets"',
                                             sheets=f'spreadsheet = "{shipped_key}"', network=NETWORK), environ)
        result = CliRunner().invoke(cli, ["init", "sheets", "--config", str(shipped.path), "--with-demo-data",
                                          "--today", TODAY.isoformat()], env=environ)
        assert result.exit_code == 0, result.output
        assert_same_results(team, run_cycle(team, today=TODAY, clock=clock),
                            shipped, run_cycle(shipped, today=TODAY, clock=clock))
        # the team's two cantines tabs are still theirs; the worker's tabs were added beside them
        titles = [s.title for s in fake.spreadsheets[team_key].sheets]
        assert titles[:2] == ["Cantines ouvertes", "Cantines en projet"] and "Correspondances" in titles
